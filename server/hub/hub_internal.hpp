// What the hub's files share and nobody else needs: the strand helper and
// small formatting functions. Included only by server/hub/*.cpp.
#pragma once

#include <boost/asio/post.hpp>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "common/protocol/errors.hpp"
#include "server/hub/hub.hpp"

namespace calma {

namespace hub_detail {
inline std::string new_id(const char* prefix) { return prefix + auth::random_token(12); }
inline double round1(double v) { return std::round(v * 10.0) / 10.0; }
}  // namespace hub_detail

// The names every hub file uses (this header is theirs alone).
using nlohmann::json;
using protocol::error_code;
namespace asio = boost::asio;
using hub_detail::new_id;
using hub_detail::round1;

// Every entry into hub state goes through here: onto the strand, and with the
// users table current (a reload swaps it; see refresh_users).
template <class F>
void hub::on_strand(F&& f) {
  boost::asio::post(strand_, [self = this, f = std::forward<F>(f)]() mutable {
    self->refresh_users();
    f();
  });
}

// A store's answer: at once when it comes on the strand (the memory store
// answers inside the call), else posted. The caller must not touch hub state
// after starting the store call, since the answer may already have run.
template <class F>
void hub::on_strand_now(F&& f) {
  if (strand_.running_in_this_thread()) return f();
  on_strand(std::forward<F>(f));
}

}  // namespace calma

// What the hub's files share and nobody else needs: the strand helper and
// small formatting functions. Included only by server/hub/*.cpp.
#pragma once

#include <chrono>
#include <ctime>

#include <boost/asio/dispatch.hpp>
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

// Counts the CPU time of the strand's handlers into
// calma_hub_busy_seconds_total: the thread's CPU clock around one handler in
// every 32, counted 32 times (reading it is a system call: one in 8 was a
// quarter of a system call a chat message; thousands of handlers a second
// are sample enough). CPU time, not wall time: a handler
// preempted by another process does not count as the hub being busy.
class busy_scope {
 public:
  busy_scope(metrics& m, int shard) : m_(m), shard_(static_cast<std::size_t>(shard)) {
    thread_local unsigned n = 0;
    sampled_ = (n++ & 31u) == 0;
    if (sampled_) start_ = thread_cpu_ns();
  }
  ~busy_scope() {
    if (!sampled_) return;
    const auto ns = 32 * (thread_cpu_ns() - start_);
    m_.hub_busy_ns += ns;
    if (shard_ < m_.hub_shard_busy_ns.size()) m_.hub_shard_busy_ns[shard_] += ns;
  }
  busy_scope(const busy_scope&) = delete;
  busy_scope& operator=(const busy_scope&) = delete;

 private:
  static std::uint64_t thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
  }
  metrics& m_;
  std::size_t shard_;
  bool sampled_ = false;
  std::uint64_t start_ = 0;
};

// Every entry into hub state goes through here: onto the strand, and with the
// users table current (a reload swaps it; see refresh_users). After
// step_down(), or once the node's lease is in doubt, nothing more runs
// (frames, store answers: dropped; clients resend to the next leader).
template <class F>
auto hub::strand_step(F&& f) {
  return [self = this, f = std::forward<F>(f)]() mutable {
    // Stepped down, or the lease in doubt (the node steps down): nothing more is decided here.
    if (self->deposed_ || !self->may_decide()) return;
    busy_scope busy(self->metrics_, self->shard_);
    self->refresh_users();
    f();
  };
}

template <class F>
void hub::on_strand(F&& f) {
  boost::asio::post(strand_, strand_step(std::forward<F>(f)));
}

// What a session says (hello, a frame, its end): run at once, inside the
// read's completion, when the strand is free and this thread runs the
// io_context: no hop through the scheduler's queue, which under load adds a
// turn of everyone else's handlers to every message. Else queued behind what
// the strand holds, as on_strand. Every entry of a session comes this way, so
// its hello, frames and detach keep their order.
template <class F>
void hub::on_strand_from_session(F&& f) {
  boost::asio::dispatch(strand_, strand_step(std::forward<F>(f)));
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

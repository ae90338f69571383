// What the cluster tests share: clients that retry across a leader change as
// the web client does, and the check that a conversation shows each message once.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/common.hpp"

namespace calma::test {

using namespace std::chrono_literals;

/// Connects and says hello with `token` until welcomed (a node answers 1012 or
/// 1013 while the cluster changes leader, as a real client would retry).
inline std::unique_ptr<ws_client> connect_retry(std::uint16_t port, const std::string& token, json* welcome,
                                         std::chrono::milliseconds within = 20s) {
  auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    auto c = std::make_unique<ws_client>(port);
    c->send(json{{"type", "hello"}, {"token", token}});
    while (auto f = c->next(3s)) {
      if ((*f)["type"] == "welcome") {
        if (welcome) *welcome = *f;
        return c;
      }
    }
    std::this_thread::sleep_for(100ms);  // another process's failover: no clock to inject
  }
  throw std::runtime_error("no welcome within the time allowed");
}

/// Every message of a conversation as seen in one history page.
inline std::vector<json> history_of(ws_client& c, const std::string& conv) {
  c.send(json{{"type", "history"}, {"conversation_id", conv}, {"after_seq", 0}});
  auto h = c.expect_if("history", [&](const json& j) { return j["conversation_id"] == conv; }, 10s);
  return h["messages"].get<std::vector<json>>();
}

/// What a client saw while sending one chat.send until it was acked.
struct sent_once {
  json ack;
  int unavailable = 0;  ///< `error{unavailable}` answers naming it (then sent again)
  int welcomes = 0;     ///< welcomes on this open connection meanwhile (a new leader: sent again)
  json welcome;         ///< the last of them
  std::vector<json> other;
};

/// Sends `frame` until acked, as the web client does across a leader change:
/// an `unavailable` naming it, a new `welcome` (the new leader: its outbox is
/// resent) or a long silence puts it on the wire again, same client_msg_id.
/// Fails if the connection closes.
inline sent_once send_until_acked(ws_client& c, const json& frame, std::chrono::milliseconds within = 15s) {
  sent_once out;
  const auto cmid = frame.at("client_msg_id");
  auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    REQUIRE_FALSE(c.is_closed());
    c.send(frame);
    while (auto f = c.next(3s)) {
      if ((*f)["type"] == "ack" && (*f)["client_msg_id"] == cmid) {
        out.ack = *f;
        return out;
      }
      if ((*f)["type"] == "error" && (*f)["ref"] == cmid) {
        CHECK((*f)["code"] == "unavailable");
        ++out.unavailable;
        std::this_thread::sleep_for(150ms);  // a client's backoff (under the rate limit)
        break;
      }
      if ((*f)["type"] == "welcome") {
        ++out.welcomes;
        out.welcome = *f;
        break;
      }
      out.other.push_back(*f);
    }
  }
  throw std::runtime_error("not acked within the time allowed");
}

/// Seqs are 1..n without gaps and every client_msg_id of `sender` appears once.
inline void check_exactly_once(const std::vector<json>& msgs) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    CHECK(msgs[i]["seq"] == static_cast<std::int64_t>(i + 1));
    auto key = msgs[i]["from"]["id"].get<std::string>() + "/" + msgs[i]["client_msg_id"].get<std::string>();
    CHECK_MESSAGE(seen.insert(key).second, "shown twice: " << key);
  }
}

}  // namespace calma::test

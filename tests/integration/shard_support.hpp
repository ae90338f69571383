// What the hub-shard tests share: three stores (north, south, east) and a
// shopper of a chosen store.
#pragma once

#include <memory>
#include <string>

#include "tests/integration/common.hpp"

namespace calma::test {

/// North (en), south (es) and east (pl).
inline json three_stores() {
  return json::array({json{{"id", "north"}, {"name", "North"}, {"languages", {"en"}}},
                      json{{"id", "south"}, {"name", "South"}, {"languages", {"es"}}},
                      json{{"id", "east"}, {"name", "East"}, {"languages", {"pl"}}}});
}

/// A shopper of `store`, welcomed.
struct store_shopper {
  std::unique_ptr<ws_client> ws;
  json welcome;
  store_shopper(std::uint16_t port, const std::string& store, const std::string& lang) {
    ws = std::make_unique<ws_client>(port);
    ws->send(json{{"type", "hello"}, {"role", "shopper"}, {"store", store}, {"name", "Kim"}, {"language", lang}});
    welcome = ws->expect("welcome");
  }
  ws_client* operator->() { return ws.get(); }
  std::string say(const std::string& text, const std::string& cmid, const std::string& conv = {}) {
    json m{{"type", "chat.send"}, {"client_msg_id", cmid}, {"text", text}};
    if (!conv.empty()) m["conversation_id"] = conv;
    ws->send(m);
    return ws->expect_if("ack", [&](const json& a) { return a["client_msg_id"] == cmid; })["conversation_id"];
  }
};

/// A new shopper of `store` says hello on `c` and is welcomed.
inline void shopper_hello(ws_client& c, const std::string& store) {
  c.send(json{{"type", "hello"}, {"role", "shopper"}, {"store", store}, {"name", "Kim"}});
  c.expect("welcome");
}

/// A welcomed shopper's first message: "ack", or the code of the error naming
/// its client_msg_id (e.g. "rate_limited").
inline std::string first_message(ws_client& c, const std::string& cmid) {
  c.send(json{{"type", "chat.send"}, {"client_msg_id", cmid}, {"text", "hello"}});
  for (;;) {
    auto f = c.next(std::chrono::seconds(5));
    if (!f) return "no answer";
    if ((*f)["type"] == "ack") return "ack";
    if ((*f)["type"] == "error" && (*f)["ref"] == cmid) return (*f)["code"].get<std::string>();
  }
}

/// Both: a new shopper of `store` on `c` opens a conversation (or is refused).
inline std::string open_as_shopper(ws_client& c, const std::string& store, const std::string& cmid) {
  shopper_hello(c, store);
  return first_message(c, cmid);
}

}  // namespace calma::test

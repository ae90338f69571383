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

}  // namespace calma::test

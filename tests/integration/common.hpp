// Shared set-up for the integration tests.
#pragma once

#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/harness.hpp"

namespace calma::test {

/// A config file for a test server; `extra` is merged over the defaults used here.
inline std::string test_config(const json& extra = json::object()) {
  json j{{"auth", {{"token_secret", "integration-test-secret-0123456789abcdef"}}},
         {"routing", {{"disconnect_grace_s", 1}}}};
  j.merge_patch(extra);
  return temp_file(j.dump());
}

inline std::vector<std::string> test_args(const json& extra = json::object()) {
  return {"--config", test_config(extra), "--users", std::string(CALMA_SOURCE_DIR) + "/config/users.json",
          "--bind", "127.0.0.1"};
}

/// The password hashes of config/users.json's demo "agent" and "supervisor"
/// (passwords "agent" and "supervisor"), for users files of a test's own.
struct demo_hashes {
  std::string agent, supervisor;
  demo_hashes() {
    std::ifstream in(std::string(CALMA_SOURCE_DIR) + "/config/users.json");
    for (const auto& u : json::parse(in)) {
      if (u["username"] == "agent") agent = u["password_hash"];
      if (u["username"] == "supervisor") supervisor = u["password_hash"];
    }
  }
};

/// A logged-in staff member's WebSocket connection, after its welcome.
struct staff {
  std::unique_ptr<ws_client> ws;
  json welcome;
  std::string token;
  /// Demo users' password is their username unless given.
  staff(std::uint16_t port, const std::string& user, const std::string& password = {}) {
    token = login(port, user, password.empty() ? user : password);
    ws = std::make_unique<ws_client>(port);
    welcome = hello_token(*ws, token);
  }
  ws_client* operator->() { return ws.get(); }
};

/// A shopper who said hello; `token` is its shopper token.
struct shopper {
  std::unique_ptr<ws_client> ws;
  json welcome;
  std::string token;
  explicit shopper(std::uint16_t port, const std::string& name = "Ana", const std::string& lang = "es") {
    ws = std::make_unique<ws_client>(port);
    welcome = hello_shopper(*ws, name, lang);
    token = welcome.at("token").get<std::string>();
  }
  ws_client* operator->() { return ws.get(); }
  /// Sends text (opening a conversation if none) and returns the ack.
  json say(const std::string& text, const std::string& cmid, const std::string& conv = {}) {
    json m{{"type", "chat.send"}, {"client_msg_id", cmid}, {"text", text}};
    if (!conv.empty()) m["conversation_id"] = conv;
    ws->send(m);
    return ws->expect_if("ack", [&](const json& a) { return a["client_msg_id"] == cmid; });
  }
};

inline json chat(const std::string& conv, const std::string& text, const std::string& cmid) {
  return json{{"type", "chat.send"}, {"conversation_id", conv}, {"client_msg_id", cmid}, {"text", text}};
}

/// `make()` (a staff or shopper connection, after its welcome) made again
/// while the node closes the hello with 1012 or 1013, as a real client
/// reconnects: a leader that steps down and takes its lease again (a renewal
/// answered too late on a loaded machine) refuses the hellos relayed to it
/// meanwhile (1013). Anything else fails as before.
template <class Make>
auto welcomed(Make make, std::chrono::milliseconds within = 20s) -> decltype(make()) {
  const auto until = std::chrono::steady_clock::now() + within;
  for (;;) {
    try {
      return make();
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      const bool retry = what.find("'welcome' frame (connection closed, code 1013)") != std::string::npos ||
                         what.find("'welcome' frame (connection closed, code 1012)") != std::string::npos;
      if (!retry || std::chrono::steady_clock::now() >= until) throw;
      MESSAGE("hello refused while the cluster changed leader; again: " << what);
    }
    std::this_thread::sleep_for(100ms);  // a client's backoff: another process's failover, no clock to inject
  }
}

inline int count_type(const std::vector<json>& frames, const std::string& type) {
  int n = 0;
  for (const auto& f : frames) n += f.value("type", "") == type;
  return n;
}

}  // namespace calma::test

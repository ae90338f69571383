#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "common/config/config.hpp"

using namespace calma;
using nlohmann::json;

TEST_CASE("config/calma.json parses without errors") {
  std::ifstream in(std::string(CALMA_SOURCE_DIR) + "/config/calma.json");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  config c;
  std::vector<std::string> errors;
  parse_config(json::parse(ss.str()), c, errors);
  for (const auto& e : errors) FAIL_CHECK(e);
  // The file documents the defaults: it must not change them.
  config d;
  CHECK(c.server.port == d.server.port);
  CHECK(c.websocket.max_frame_bytes == d.websocket.max_frame_bytes);
  CHECK(c.websocket.hello_timeout_ms == d.websocket.hello_timeout_ms);
  CHECK(c.rate_limit.frames_per_s == d.rate_limit.frames_per_s);
  CHECK(c.routing.router.default_capacity == d.routing.router.default_capacity);
  CHECK(c.routing.disconnect_grace_s == d.routing.disconnect_grace_s);
  CHECK(c.limits.max_text_bytes == d.limits.max_text_bytes);
}

TEST_CASE("every problem is listed at once") {
  config c;
  std::vector<std::string> errors;
  parse_config(json{{"server", {{"port", "x"}, {"threads", -1}, {"colour", "red"}}},
                    {"websocket", {{"max_frame_bytes", 100000}, {"hard_frame_bytes", 1000}}},
                    {"routing", {{"status_on_connect", "busy"}, {"queues", json::array()}}},
                    {"auth", {{"token_secret", "short"}}},
                    {"nonsense", 1}},
               c, errors);
  auto has = [&](const std::string& s) {
    for (const auto& e : errors)
      if (e.find(s) != std::string::npos) return true;
    return false;
  };
  CHECK(has("config.server.port: must be an integer"));
  CHECK(has("config.server.threads"));
  CHECK(has("config.server.colour: unknown key"));
  CHECK(has("config.nonsense: unknown key"));
  CHECK(has("hard_frame_bytes"));
  CHECK(has("status_on_connect"));
  CHECK(has("config.routing.queues"));
  CHECK(has("token_secret"));
}

TEST_CASE("values are applied and comment keys are ignored") {
  config c;
  std::vector<std::string> errors;
  parse_config(json{{"_comment", "hi"},
                    {"server", {{"_doc", "x"}, {"port", 9000}, {"allowed_origins", {"https://shop.example"}}}},
                    {"routing", {{"initial_handle_time_s", 120}, {"default_capacity", 6}}},
                    {"anger", {{"half_life_s", 90}}}},
               c, errors);
  CHECK(errors.empty());
  CHECK(c.server.port == 9000);
  CHECK(c.server.allowed_origins == std::vector<std::string>{"https://shop.example"});
  CHECK(c.routing.router.initial_handle_time_ms == 120'000);
  CHECK(c.routing.router.default_capacity == 6);
  CHECK(c.anger["half_life_s"] == 90);
}

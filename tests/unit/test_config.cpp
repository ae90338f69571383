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

TEST_CASE("stores - parsed whole and origins allowed per store") {
  std::vector<std::string> errors;
  calma::config c;
  calma::parse_config(nlohmann::json::parse(R"({"stores":[
      {"id":"es","name":"Tienda","languages":["es"],"allowed_origins":["https://tienda.example"]},
      {"id":"pl","languages":["pl"],"allowed_origins":["https://sklep.example"],"queues":["vip","default"],
       "hours":{"tz":"Europe/Warsaw","weekly":[{"days":[1],"from":"08:00","to":"16:00"}]}}]})"),
                      c, errors);
  REQUIRE(errors.empty());
  REQUIRE(c.stores.size() == 2);
  CHECK(c.find_store("pl")->name == "pl");  // name defaults to the id
  CHECK(c.queues_of(*c.find_store("pl")).front() == "vip");
  CHECK(c.queues_of(*c.find_store("es")) == c.routing.queues);
  CHECK_FALSE(c.find_store("pl")->hours.always_open());
  CHECK(c.find_store("es")->hours.always_open());
  const auto* es = c.find_store("es");
  const auto* pl = c.find_store("pl");
  CHECK(calma::origin_allowed(c, nullptr, "https://sklep.example", "chat.example"));   // at the upgrade: any store's
  CHECK(calma::origin_allowed(c, pl, "https://sklep.example", "chat.example"));
  CHECK_FALSE(calma::origin_allowed(c, es, "https://sklep.example", "chat.example"));  // the Polish page, the Spanish store
  CHECK(calma::origin_allowed(c, es, "https://chat.example", "chat.example"));         // the server's own pages
  CHECK(calma::origin_allowed(c, es, "", "chat.example"));                             // not a browser
  CHECK_FALSE(calma::origin_allowed(c, nullptr, "https://evil.example", "chat.example"));
}

TEST_CASE("stores - every problem is listed") {
  std::vector<std::string> errors;
  calma::config c;
  calma::parse_config(nlohmann::json::parse(R"({"stores":[
      {"id":"bad id","languages":[]},
      {"id":"x","languages":["pl"],"colour":"red","hours":{"tz":"Europe/Warsaw","weekly":[{"days":[8],"from":"8","to":"16:00"}]}},
      {"id":"x","languages":["pl"]}]})"),
                      c, errors);
  auto has = [&](const char* s) {
    for (const auto& e : errors)
      if (e.find(s) != std::string::npos) return true;
    return false;
  };
  CHECK(has("config.stores[0].id"));
  CHECK(has("config.stores[0].languages"));
  CHECK(has("config.stores[1].colour: unknown key"));
  CHECK(has("config.stores[1].hours: weekly[0].days"));
  CHECK(has("config.stores[1].hours: weekly[0].from"));
  CHECK(has("config.stores[2].id: duplicate store 'x'"));
  errors.clear();
  calma::parse_config(nlohmann::json::parse(R"({"stores":[]})"), c, errors);
  CHECK(has("config.stores: must be a non-empty array"));
}

TEST_CASE("the shipped config has the two demo stores") {
  std::ifstream in(std::string(CALMA_SOURCE_DIR) + "/config/calma.json");
  std::vector<std::string> errors;
  calma::config c;
  calma::parse_config(nlohmann::json::parse(in), c, errors);
  CHECK(errors.empty());
  REQUIRE(c.find_store("demo"));
  REQUIRE(c.find_store("demo-pl"));
  CHECK(c.find_store("demo-pl")->hours.tz_name() == "Europe/Warsaw");
}

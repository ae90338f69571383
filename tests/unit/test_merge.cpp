#include <doctest/doctest.h>

#include "common/protocol/merge.hpp"

using namespace calma::protocol;
using nlohmann::json;

TEST_CASE("merge - a frame's top-level type is read without parsing it") {
  CHECK(top_level_type(R"({"type":"anger.update","level":3})") == "anger.update");
  // A json tree's dump puts "type" late; nested types are not it.
  CHECK(top_level_type(R"({"transcript_tail":[{"type":"chat.message"}],"type":"escalation.raised"})") ==
        "escalation.raised");
  CHECK(top_level_type(R"({"a":{"type":"x"},"b":"type","type":"welcome"})") == "welcome");
  // A string value "type" is not a key; escaped quotes do not end a string.
  CHECK(top_level_type(R"({"text":"\"type\":\"fake\"","type":"chat.message"})") == "chat.message");
  CHECK(top_level_type(R"({"k":"type","v":1})") == "");
  CHECK(top_level_type(R"({"type":5})") == "");
  CHECK(top_level_type("not json") == "");
  CHECK(top_level_type(R"({"type":"unterminated)") == "");
}

TEST_CASE("merge - each id after a key is found at any depth and never inside a string") {
  std::vector<std::string> seen;
  each_string_value(R"({"conversation_id":"c1","waiting":[{"conversation_id":"c2"}],"text":"\"conversation_id\":\"c9\""})",
                    "conversation_id", [&](std::string_view v) { seen.emplace_back(v); });
  CHECK(seen == std::vector<std::string>{"c1", "c2"});
}

TEST_CASE("merge - welcomes keep the first one's fields and everyone's lists") {
  auto w = merge_welcomes({json::parse(R"({"type":"welcome","user_id":"boss","conversations":[{"conversation_id":"a"}],
                                           "escalations":[],"stores":[{"id":"north"}]})"),
                           json::parse(R"({"type":"welcome","user_id":"boss","conversations":[{"conversation_id":"b"}],
                                           "escalations":[{"escalation_id":"e"}],"stores":[{"id":"south"}],
                                           "presence":{"status":"away"}})")});
  CHECK(w["user_id"] == "boss");
  CHECK(w["conversations"].size() == 2);
  CHECK(w["escalations"].size() == 1);
  CHECK(w["stores"].size() == 2);
  CHECK(w["presence"]["status"] == "away");
  CHECK(merge_welcomes({}).is_object());
}

TEST_CASE("merge - boards add up and keep the hubs' order of agents - capped with truncated") {
  auto a = json::parse(R"({"type":"queue.snapshot","ts":5,"queues":[{"store":"north"}],"agents_total":2,
    "agents":[{"id":"zoe","name":"Zoe","status":"online","load":0,"capacity":2},
              {"id":"al","name":"Al","status":"away","load":0,"capacity":2}],
    "agents_by_status":{"online":1,"away":1,"offline":0},"truncated":false})");
  auto b = json::parse(R"({"type":"queue.snapshot","ts":9,"queues":[{"store":"south"}],"agents_total":1,
    "agents":[{"id":"bo","name":"Bo","status":"online","load":2,"capacity":2}],
    "agents_by_status":{"online":1,"away":0,"offline":0},"truncated":false})");
  auto m = merge_snapshots({&a, nullptr, &b}, 10);
  CHECK(m["type"] == "queue.snapshot");
  CHECK(m["ts"] == 9);
  CHECK(m["queues"].size() == 2);
  CHECK(m["agents_total"] == 3);
  CHECK(m["agents_by_status"]["online"] == 2);
  CHECK(m["agents_by_status"]["away"] == 1);
  REQUIRE(m["agents"].size() == 3);
  CHECK(m["agents"][0]["id"] == "zoe");  // free
  CHECK(m["agents"][1]["id"] == "bo");   // online, full
  CHECK(m["agents"][2]["id"] == "al");   // away
  CHECK(m["truncated"] == false);
  auto capped = merge_snapshots({&a, &b}, 2);
  CHECK(capped["agents"].size() == 2);
  CHECK(capped["truncated"] == true);
  CHECK(capped["agents_total"] == 3);
}

TEST_CASE("merge - a page of colleagues across hubs is the page of the merged list") {
  agents_list m;
  m.offset = 600;
  m.limit = 100;
  auto ask = widen_agents_list(m);
  CHECK(ask.offset == 0);
  CHECK(ask.limit == 700);  // past one client's cap: every page of the merge is exact
  auto row = [](const std::string& name, const char* status) {
    return json{{"id", name}, {"name", name}, {"status", status}, {"load", 0}, {"capacity", 1}};
  };
  json p1{{"type", "agents.list"}, {"ts", 1}, {"total", 3}, {"agents", {row("c", "online"), row("e", "online"), row("f", "away")}}};
  json p2{{"type", "agents.list"}, {"ts", 2}, {"total", 2}, {"agents", {row("a", "offline"), row("d", "online")}}};
  auto page = merge_agents_pages({p1, p2}, 1, 2);
  CHECK(page["total"] == 5);
  CHECK(page["offset"] == 1);
  REQUIRE(page["agents"].size() == 2);
  CHECK(page["agents"][0]["id"] == "d");
  CHECK(page["agents"][1]["id"] == "e");
  CHECK(page["more"] == true);
  auto last = merge_agents_pages({p1, p2}, 4, 2);
  REQUIRE(last["agents"].size() == 1);
  CHECK(last["agents"][0]["id"] == "a");
  CHECK(last["more"] == false);
  CHECK(merge_agents_pages({p1, p2}, 9, 2)["agents"].empty());
}

// The anger curve and escalations, live: staff see the curve move, the
// shopper never does; a manager request escalates at once to supervisors
// and the agent with what they need to act; ack, re-notify, resolve.
#include "tests/integration/common.hpp"

using namespace calma::test;

TEST_CASE("staff see the anger curve - the shopper never does") {
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  staff sup(srv.port(), "supervisor");
  shopper s(srv.port(), "Ana", "es");
  auto conv = s.say("Hola, tengo una pregunta sobre tallas", "1")["conversation_id"].get<std::string>();
  agent->expect("history");
  auto calm = agent->expect("anger.update");
  CHECK(calm["conversation_id"] == conv);
  CHECK(calm["level"].get<double>() < 30);
  CHECK(calm["phase"] == "calm");

  s.say("ESTO ES UNA VERGÜENZA!!! Tercera vez que escribo, nunca más compro aquí", "2", conv);
  auto angry = agent->expect_if("anger.update", [](const json& j) { return j["level"].get<double>() > 30; });
  CHECK(angry["phase"] != "calm");
  CHECK_FALSE(angry["cues"].empty());
  CHECK(angry["trend"].is_number());
  CHECK(angry["coaching"].is_string());
  CHECK(sup->expect_if("anger.update", [](const json& j) { return j["level"].get<double>() > 30; })["conversation_id"] == conv);

  // An apology is a point too, and the level does not rise.
  agent->send(chat(conv, "Lo siento muchísimo, entiendo su enfado. Lo soluciono ahora mismo.", "a1"));
  auto after = agent->expect_if("anger.update", [&](const json& j) { return j["ts"].get<long long>() >= angry["ts"].get<long long>() && j != angry; });
  CHECK(after["level"].get<double>() <= angry["level"].get<double>());

  for (const auto& f : s->barrier()) {
    CHECK(f["type"] != "anger.update");
    CHECK(f["type"] != "escalation.raised");
  }
  // The REST API returns the timeline with its cues.
  auto detail = http(srv.port(), "GET", "/api/v1/conversations/" + conv, {}, agent.token).j();
  CHECK(detail["anger"].size() >= 3);
  // Closed, the API still gives the curve (rebuilt from the messages).
  agent->send(json{{"type", "conversation.close"}, {"conversation_id", conv}});
  s->expect("conversation.closed");
  auto closed = http(srv.port(), "GET", "/api/v1/conversations/" + conv, {}, agent.token).j();
  CHECK(closed["conversation"]["state"] == "closed");
  REQUIRE(closed["anger"].size() >= 3);
  double peak = 0;
  for (const auto& p : closed["anger"]) peak = std::max(peak, p["level"].get<double>());
  CHECK(peak > 30);
}

TEST_CASE("a new staff connection gets the curve so far in its welcome") {
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  shopper s(srv.port(), "Ana", "es");
  auto conv = s.say("Hola, tengo una pregunta sobre tallas", "1")["conversation_id"].get<std::string>();
  agent->expect("history");
  s.say("ESTO ES UNA VERGÜENZA!!! Tercera vez que escribo, nunca más compro aquí", "2", conv);
  agent->expect_if("anger.update", [](const json& j) { return j["level"].get<double>() > 30; });
  staff again(srv.port(), "agent");
  REQUIRE(again.welcome["conversations"].size() == 1);
  CHECK(again.welcome["conversations"][0]["anger"].size() >= 3);
}

TEST_CASE("a manager request escalates at once - ack and resolve reach everyone concerned") {
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  staff sup(srv.port(), "supervisor");
  shopper s(srv.port(), "John", "en");
  auto conv = s.say("My order arrived broken", "1")["conversation_id"].get<std::string>();
  agent->expect("history");
  s.say("I want to speak to a manager right now", "2", conv);
  auto e = sup->expect("escalation.raised");
  CHECK(e["conversation_id"] == conv);
  CHECK(e["severity"] == "high");
  REQUIRE_FALSE(e["reasons"].empty());
  CHECK(e["curve"].is_array());
  CHECK_FALSE(e["curve"].empty());
  CHECK(e["transcript_tail"].size() == 2);
  CHECK(e["transcript_tail"][1]["text"] == "I want to speak to a manager right now");
  CHECK(e["transcript_tail"][1]["type"] == "chat.message");
  CHECK(e["transcript_tail"][1]["from"]["role"] == "shopper");
  CHECK(e["transcript_tail"][1]["seq"] == 2);
  for (const auto& p : e["curve"]) {
    CHECK(p.size() == 2);
    CHECK(p["ts"].is_number_integer());
    CHECK(p["level"].is_number());
  }
  // The curve ends where the escalation stands.
  CHECK(e["curve"].back()["level"] == e["level"]);
  CHECK(e["raised_ts"].is_number_integer());
  CHECK(e["level"].is_number());
  CHECK(e["handled_by"] == json::array({"agent"}));
  const std::string id = e["escalation_id"];
  CHECK(agent->expect("escalation.raised")["escalation_id"] == id);
  CHECK(count_type(s->barrier(), "escalation.raised") == 0);

  // One open escalation per conversation: a legal threat joins it.
  s.say("and I will sue you and file a chargeback", "3", conv);
  auto upd = sup->expect("escalation.raised");
  CHECK(upd["escalation_id"] == id);
  CHECK(upd["reasons"].size() > e["reasons"].size());

  // Staff who connect now see it in their welcome.
  staff sup2(srv.port(), "supervisor");
  REQUIRE(sup2.welcome["escalations"].size() == 1);
  CHECK(sup2.welcome["escalations"][0]["escalation_id"] == id);

  agent->send(json{{"type", "escalation.ack"}, {"escalation_id", id}});
  CHECK(agent->expect("error")["code"] == "forbidden");
  sup->send(json{{"type", "escalation.ack"}, {"escalation_id", id}});
  auto acked = sup->expect("escalation.acked");
  CHECK(acked["by"] == "supervisor");
  CHECK(agent->expect("escalation.acked")["escalation_id"] == id);
  sup->send(json{{"type", "escalation.resolve"}, {"escalation_id", id}, {"note", "refund issued"}});
  auto res = agent->expect("escalation.resolved");
  CHECK(res["escalation_id"] == id);
  CHECK(res["by"] == "supervisor");
  CHECK(sup->expect("escalation.resolved")["note"] == "refund issued");
  sup->send(json{{"type", "escalation.resolve"}, {"escalation_id", id}});
  CHECK(sup->expect("error")["code"] == "not_found");
}

TEST_CASE("an escalation nobody acknowledges is re-sent with a higher severity") {
  server_process srv(test_args({{"escalation", {{"ack_timeout_s", 1}}}}));
  staff agent(srv.port(), "agent");
  staff sup(srv.port(), "supervisor");
  shopper s(srv.port(), "Ola", "pl");
  auto conv = s.say("Chcę rozmawiać z kierownikiem", "1")["conversation_id"].get<std::string>();
  auto first = sup->expect("escalation.raised");
  CHECK(first["severity"] == "high");
  auto again = sup->expect_if("escalation.raised", [](const json& j) { return j.value("renotified", 0) >= 1; }, 5s);
  CHECK(again["escalation_id"] == first["escalation_id"]);
  CHECK(again["severity"] == "critical");
}

TEST_CASE("a queued conversation whose customer gets angry moves up the queue") {
  server_process srv(test_args({{"routing", {{"status_on_connect", "away"}}}}));
  staff agent(srv.port(), "agent");
  shopper calm(srv.port(), "Calm"), angry(srv.port(), "Angry");
  calm.say("Hello, a question about sizes", "1");
  calm->expect("conversation.queued");
  auto conv = angry.say("hello", "1")["conversation_id"].get<std::string>();
  angry->expect_if("conversation.queued", [](const json& q) { return q["position"] == 2; });
  angry.say("THIS IS UNACCEPTABLE!!! Third time I ask, you are useless, never again", "2", conv);
  agent->send(json{{"type", "presence.set"}, {"status", "online"}, {"capacity", 1}});
  CHECK(agent->expect("conversation.assigned")["conversation_id"] == conv);
}

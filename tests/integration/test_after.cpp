// After the conversation (issue 9): the rating, the audit trail, corrected
// causes; on the memory store and on a real Redis (kept across a restart).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "tests/integration/common.hpp"
#include "tests/store/support.hpp"

using namespace calma::test;

namespace {

std::vector<std::string> with_redis(std::vector<std::string> a, const redis_server* r) {
  if (r) {
    a.push_back("--redis");
    a.push_back(r->url());
  }
  return a;
}

std::vector<std::string> actions(const json& detail) {
  std::vector<std::string> out;
  for (const auto& e : detail["audit"]) out.push_back(e["action"]);
  return out;
}

// The report over that one conversation, and the refusals.
void check_report(std::uint16_t port, const std::string& sup_token, const std::string& agent_token, const std::string& conv) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string window = "from=" + std::to_string(now - 3'600'000) + "&to=" + std::to_string(now + 60'000);
  auto r = http(port, "GET", "/api/v1/reports/summary?" + window, {}, sup_token);
  REQUIRE(r.status == 200);
  auto j = r.j();
  CHECK(j["conversations"] == 1);
  CHECK(j["escalations"] == 1);
  CHECK(j["escalations_by_reason"].size() >= 1);
  CHECK(j["categories"] == json{{"delivery", 1}, {"service", 1}});
  CHECK(j["csat"]["count"] == 1);
  CHECK(j["csat"]["average"] == 4.0);
  CHECK(j["first_response_s"]["median"].is_number());
  CHECK(j["anger"]["peak_median"].get<double>() > 30);
  REQUIRE(j["agents"].size() == 1);
  CHECK(j["agents"][0]["id"] == "agent");
  CHECK(j["agents"][0]["conversations"] == 1);
  CHECK(j["agents"][0]["deescalation"].is_number());
  CHECK(j["agents"][0]["csat_average"] == 4.0);
  // The same window per store: demo has it; a store nobody configured is unknown.
  CHECK(http(port, "GET", "/api/v1/reports/summary?" + window + "&store=demo", {}, sup_token).j()["conversations"] == 1);
  CHECK(http(port, "GET", "/api/v1/reports/summary?" + window + "&store=nope", {}, sup_token).status == 404);
  // A window before it: nothing, and nulls rather than zeros.
  auto before = http(port, "GET", "/api/v1/reports/summary?from=1000&to=2000", {}, sup_token).j();
  CHECK(before["conversations"] == 0);
  CHECK(before["csat"]["average"].is_null());
  // The CSV: a header and one row, the comment quoted.
  auto csv = http(port, "GET", "/api/v1/reports/conversations.csv?" + window, {}, sup_token);
  REQUIRE(csv.status == 200);
  CHECK(csv.content_type.find("text/csv") == 0);
  CHECK(csv.body.rfind("conversation_id,store,", 0) == 0);
  CHECK(csv.body.find(conv + ",demo,") != std::string::npos);
  CHECK(std::count(csv.body.begin(), csv.body.end(), '\n') == 2);
  // Bad input: the error PROTOCOL names, nothing computed.
  CHECK(http(port, "GET", "/api/v1/reports/summary?" + window, {}, agent_token).status == 403);
  CHECK(http(port, "GET", "/api/v1/reports/summary?" + window).status == 401);
  CHECK(http(port, "GET", "/api/v1/reports/summary?from=5000&to=1000", {}, sup_token).status == 400);
  CHECK(http(port, "GET", "/api/v1/reports/summary?from=0&to=" + std::to_string(94LL * 86'400'000), {}, sup_token).status == 400);
  CHECK(http(port, "GET", "/api/v1/reports/summary?from=abc&to=1", {}, sup_token).status == 400);
  CHECK(http(port, "GET", "/api/v1/reports/summary", {}, sup_token).j()["error"]["code"] == "bad_request");
}

// A conversation from open to close, with a supervisor joining and an escalation.
void lifecycle(const redis_server* r) {
  server_process srv(with_redis(test_args(), r));
  staff agent(srv.port(), "agent");
  staff sup(srv.port(), "supervisor");
  shopper s(srv.port(), "Marta", "es");
  auto conv = s.say("ESTO ES UNA VERGÜENZA!!! quiero hablar con el gerente", "1")["conversation_id"].get<std::string>();
  agent->expect("history");
  auto esc = sup->expect("escalation.raised");
  sup->send(json{{"type", "escalation.ack"}, {"escalation_id", esc["escalation_id"]}});
  sup->expect("escalation.acked");
  sup->send(json{{"type", "conversation.join"}, {"conversation_id", conv}, {"mode", "whisper"}});
  sup->expect("conversation.joined");
  agent->send(chat(conv, "Lo siento mucho, entiendo su enfado. Lo solucionamos ahora.", "a1"));
  agent->expect("ack");
  s->expect("chat.message");

  // A rating before the close: refused, nothing stored.
  s->send(json{{"type", "csat"}, {"conversation_id", conv}, {"score", 5}});
  CHECK(s->expect("error")["code"] == "bad_request");
  agent->send(json{{"type", "conversation.close"}, {"conversation_id", conv}, {"reason", "resuelto"}});
  s->expect("conversation.closed");

  // Out of range, someone else's, staff: refused.
  s->send(json{{"type", "csat"}, {"conversation_id", conv}, {"score", 6}});
  CHECK(s->expect("error")["code"] == "bad_request");
  s->send(json{{"type", "csat"}, {"conversation_id", conv}, {"score", 0}});
  CHECK(s->expect("error")["code"] == "bad_request");
  shopper other(srv.port(), "Eve");
  other->send(json{{"type", "csat"}, {"conversation_id", conv}, {"score", 1}});
  CHECK(other->expect("error")["code"] == "not_found");
  agent->send(json{{"type", "csat"}, {"conversation_id", conv}, {"score", 1}});
  CHECK(agent->expect("error")["code"] == "forbidden");

  s->send(json{{"type", "csat"}, {"conversation_id", conv}, {"score", 4}, {"comment", "Al final bien"}});
  CHECK(s->expect("csat.saved")["conversation_id"] == conv);
  s->send(json{{"type", "csat"}, {"conversation_id", conv}, {"score", 1}});
  CHECK(s->expect("error")["code"] == "bad_request");  // one rating per conversation

  // Staff correct the causes: audited, and what the report counts.
  sup->send(json{{"type", "causes.set"}, {"conversation_id", conv}, {"causes", {"service", "delivery"}}});
  CHECK(sup->expect_if("causes.updated", [](const json& j) { return j["corrected"] == true; })["causes"] ==
        json({"service", "delivery"}));
  sup->send(json{{"type", "causes.set"}, {"conversation_id", conv}, {"causes", {"weather"}}});
  CHECK(sup->expect("error")["code"] == "bad_request");
  s->send(json{{"type", "causes.set"}, {"conversation_id", conv}, {"causes", {"other"}}});
  CHECK(s->expect("error")["code"] == "forbidden");

  auto check_detail = [&](std::uint16_t port, const std::string& token) {
    auto d = http(port, "GET", "/api/v1/conversations/" + conv, {}, token).j();
    CHECK(d["csat"] == json{{"score", 4}, {"comment", "Al final bien"}, {"ts", d["csat"]["ts"]}});
    CHECK(d["categories"] == json({"service", "delivery"}));
    CHECK(d["conversation"]["categories_corrected"] == true);
    auto a = actions(d);
    for (const char* want : {"opened", "queued", "assigned", "escalated", "escalation_acked", "joined", "closed",
                             "escalation_resolved", "csat", "causes_corrected"})
      CHECK_MESSAGE(std::find(a.begin(), a.end(), want) != a.end(), want);
    REQUIRE(!a.empty());
    CHECK(a.front() == "opened");
    for (std::size_t i = 1; i < d["audit"].size(); ++i) CHECK(d["audit"][i]["ts"] >= d["audit"][i - 1]["ts"]);
    for (const auto& e : d["audit"]) {
      if (e["action"] == "joined") {
        CHECK(e["mode"] == "whisper");
        CHECK(e["by"]["id"] == "supervisor");
      }
      if (e["action"] == "csat") CHECK(e["by"]["role"] == "shopper");
    }
    // The figures: the curve's peak, and the agent's reply measured.
    CHECK(d["conversation"]["figures"]["peak_level"].get<double>() > 30);
    CHECK(d["conversation"]["figures"]["agents"][0]["id"] == "agent");
    CHECK(d["conversation"]["figures"]["agents"][0]["replies"] == 1);
    CHECK(d["conversation"]["figures"]["escalations"] == 1);
  };
  check_detail(srv.port(), agent.token);
  check_report(srv.port(), sup.token, agent.token, conv);
  if (r) {
    // Nothing of it is lost on a restart.
    const auto token = sup.token;
    srv.signal_and_wait(SIGTERM);
    server_process again(with_redis(test_args(), r));
    check_detail(again.port(), token);
  }
}

}  // namespace

TEST_CASE("after the conversation - rating - audit trail - corrected causes (memory store)") { lifecycle(nullptr); }

TEST_CASE("after the conversation - rating - audit trail - corrected causes (Redis - kept across a restart)") {
  redis_server r({"--appendonly", "yes", "--appendfsync", "always"});
  lifecycle(&r);
}

TEST_CASE("after the conversation - causes are tagged from the shopper's words and staff see why") {
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  shopper s(srv.port(), "Marta", "es");
  auto conv = s.say("Hola, mi pedido no ha llegado todavía", "1")["conversation_id"].get<std::string>();
  // Tagged before the agent had it: the assignment carries the causes so far.
  CHECK(agent->expect("conversation.assigned")["categories"] == json({"delivery"}));
  // The shopper never sees it.
  for (const auto& f : s->barrier()) CHECK(f["type"] != "causes.updated");
  s.say("y además la caja llegó rota", "2", conv);
  auto u2 = agent->expect_if("causes.updated", [&](const json& j) { return j["causes"].size() == 2; });
  CHECK(u2["causes"] == json({"delivery", "damaged"}));
  CHECK(u2["corrected"] == false);
  REQUIRE(u2["hits"].size() >= 2);
  CHECK(u2["hits"][0]["cause"] == "delivery");  // explainable: which words gave which cause
  CHECK(u2["hits"][1]["cause"] == "damaged");
  CHECK(u2["conversation_id"] == conv);
  CHECK(u2.size() == 5);  // type, conversation_id, causes, corrected, hits
  for (const auto& h : u2["hits"]) {
    CHECK(h.size() == 3);
    CHECK(h["term"].is_string());
    CHECK_FALSE(h["words"].get<std::string>().empty());
  }
  auto d = http(srv.port(), "GET", "/api/v1/conversations/" + conv, {}, agent.token).j();
  CHECK(d["categories"] == json({"delivery", "damaged"}));
  // Corrected by staff: the words no longer change it.
  agent->send(json{{"type", "causes.set"}, {"conversation_id", conv}, {"causes", {"damaged"}}});
  agent->expect_if("causes.updated", [](const json& j) { return j["corrected"] == true; });
  s.say("y me cobraron dos veces con la tarjeta", "3", conv);
  agent->expect_if("chat.message", [](const json& j) { return j["seq"] == 3; });
  CHECK(http(srv.port(), "GET", "/api/v1/conversations/" + conv, {}, agent.token).j()["categories"] == json({"damaged"}));
}

namespace {

// A scripted morning: four conversations, two agents, one escalation, two ratings.
void scripted_morning(const redis_server* r) {
  server_process srv(with_redis(test_args(), r));
  staff agent(srv.port(), "agent");
  staff sup(srv.port(), "supervisor");
  auto close = [&](staff& who, const std::string& conv) {
    who->send(json{{"type", "conversation.close"}, {"conversation_id", conv}});
    who->expect_if("conversation.closed", [&](const json& j) { return j["conversation_id"] == conv; });
  };
  auto set_causes = [&](const std::string& conv, const json& causes) {
    sup->send(json{{"type", "causes.set"}, {"conversation_id", conv}, {"causes", causes}});
    sup->expect_if("causes.updated", [&](const json& j) { return j["conversation_id"] == conv && j["corrected"] == true; });
  };
  auto rate = [&](shopper& s, const std::string& conv, int score) {
    s->send(json{{"type", "csat"}, {"conversation_id", conv}, {"score", score}});
    s->expect("csat.saved");
  };

  // 1. Angry about a late order; the agent apologises; rated 5.
  shopper s1(srv.port(), "Marta", "es");
  auto c1 = s1.say("ESTO ES UNA VERGÜENZA!!! mi pedido no ha llegado", "1")["conversation_id"].get<std::string>();
  agent->expect_if("conversation.assigned", [&](const json& j) { return j["conversation_id"] == c1; });
  agent->send(chat(c1, "Lo siento muchísimo, entiendo su enfado. Lo solucionamos ahora mismo.", "a1"));
  agent->expect("ack");
  s1.say("vale, gracias", "2", c1);
  close(agent, c1);
  rate(s1, c1, 5);
  set_causes(c1, {"delivery"});

  // 2. Asks for a manager (an escalation); the agent argues; rated 1.
  shopper s2(srv.port(), "Jorge", "es");
  auto c2 = s2.say("quiero hablar con el gerente, el producto llegó roto", "1")["conversation_id"].get<std::string>();
  agent->expect_if("conversation.assigned", [&](const json& j) { return j["conversation_id"] == c2; });
  sup->expect_if("escalation.raised", [&](const json& j) { return j["conversation_id"] == c2; });
  agent->send(chat(c2, "Eso no es culpa nuestra, debió revisarlo al recibirlo.", "a2"));
  agent->expect("ack");
  s2.say("ESTO ES INACEPTABLE!!! NUNCA MÁS", "2", c2);
  close(agent, c2);
  rate(s2, c2, 1);
  set_causes(c2, {"damaged", "service"});

  // The first agent steps away; the second takes the rest.
  agent->send(json{{"type", "presence.set"}, {"status", "away"}});
  agent->expect("presence");
  staff agent2(srv.port(), "agent2");
  // 3. A double charge, answered by agent2, not rated.
  shopper s3(srv.port(), "Ana", "es");
  auto c3 = s3.say("me cobraron dos veces", "1")["conversation_id"].get<std::string>();
  agent2->expect_if("conversation.assigned", [&](const json& j) { return j["conversation_id"] == c3; });
  agent2->send(chat(c3, "Perdone las molestias, lo reviso y se lo devolvemos.", "b1"));
  agent2->expect("ack");
  close(agent2, c3);
  set_causes(c3, {"payment"});
  // 4. Still open, unanswered.
  shopper s4(srv.port(), "Leo", "es");
  auto c4 = s4.say("hola?", "1")["conversation_id"].get<std::string>();
  agent2->expect_if("conversation.assigned", [&](const json& j) { return j["conversation_id"] == c4; });

  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto j = http(srv.port(), "GET",
                "/api/v1/reports/summary?from=" + std::to_string(now - 3'600'000) + "&to=" + std::to_string(now + 60'000), {},
                sup.token)
               .j();
  CHECK(j["conversations"] == 4);
  CHECK(j["escalations"] == 1);
  CHECK(j["escalations_by_reason"]["manager_request"] == 1);
  CHECK(j["categories"] == json{{"damaged", 1}, {"delivery", 1}, {"other", 1}, {"payment", 1}, {"service", 1}});
  CHECK(j["csat"]["count"] == 2);
  CHECK(j["csat"]["average"] == 3.0);
  CHECK(j["csat"]["scores"] == json{{"1", 1}, {"2", 0}, {"3", 0}, {"4", 0}, {"5", 1}});
  CHECK(j["first_response_s"]["count"] == 3);
  CHECK(j["anger"]["closing_median"].is_number());
  REQUIRE(j["agents"].size() == 2);
  std::map<std::string, json> by;
  for (const auto& a : j["agents"]) by[a["id"]] = a;
  CHECK(by["agent"]["conversations"] == 2);
  CHECK(by["agent"]["replies_measured"] == 2);
  CHECK(by["agent"]["csat_average"] == 3.0);
  CHECK(by["agent2"]["conversations"] == 1);
  CHECK(by["agent2"]["csat_average"].is_null());
  CHECK(by["agent2"]["replies_measured"] == 1);
  // An apology calms: agent2's one reply (an apology, then the close) is a fall.
  CHECK(by["agent2"]["deescalation"].get<double>() > 0);
  // Per store: all of it is the demo store's.
  CHECK(http(srv.port(), "GET",
             "/api/v1/reports/summary?store=demo&from=" + std::to_string(now - 3'600'000) + "&to=" + std::to_string(now + 60'000),
             {}, sup.token)
            .j()["conversations"] == 4);
}

}  // namespace

TEST_CASE("after the conversation - a scripted morning gives exactly the expected report (memory store)") {
  scripted_morning(nullptr);
}

TEST_CASE("after the conversation - a scripted morning gives exactly the expected report (Redis)") {
  redis_server r;
  scripted_morning(&r);
}

TEST_CASE("doors - logout refuses the token from then on and closes the sessions holding it") {
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  staff other(srv.port(), "agent2");
  CHECK(http(srv.port(), "GET", "/api/v1/followups", {}, agent.token).status == 200);
  CHECK(http(srv.port(), "POST", "/api/v1/logout", {}, agent.token).status == 204);
  CHECK(agent->wait_closed());
  CHECK(agent->close_code() == 4401);
  CHECK(http(srv.port(), "GET", "/api/v1/followups", {}, agent.token).status == 401);
  CHECK(http(srv.port(), "POST", "/api/v1/logout", {}, agent.token).status == 401);  // once
  ws_client again(srv.port());
  again.send(json{{"type", "hello"}, {"token", agent.token}});
  CHECK(again.wait_closed());
  CHECK(again.close_code() == 4401);
  // Another session of someone else is untouched; a new login works.
  CHECK(http(srv.port(), "GET", "/api/v1/followups", {}, other.token).status == 200);
  CHECK_FALSE(other->is_closed());
  staff fresh(srv.port(), "agent");
  CHECK(fresh.welcome["type"] == "welcome");
  CHECK(http(srv.port(), "GET", "/api/v1/logout").status == 405);
  CHECK(http(srv.port(), "POST", "/api/v1/logout").status == 401);
}

TEST_CASE("doors - a shopper is never told of a whispered seq") {
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  staff sup(srv.port(), "supervisor");
  shopper s(srv.port(), "Marta", "es");
  auto conv = s.say("hola", "1")["conversation_id"].get<std::string>();
  agent->expect("history");
  sup->send(json{{"type", "conversation.join"}, {"conversation_id", conv}, {"mode", "whisper"}});
  sup->expect("conversation.joined");
  sup->send(chat(conv, "ojo: cliente VIP", "w1"));  // seq 2, staff only
  sup->expect("ack");
  // After a reconnect the shopper's welcome says seq 1, and history accounts up to 2 without showing it.
  ws_client back(srv.port());
  auto w = hello_token(back, s.token);
  REQUIRE(w["conversations"].size() == 1);
  CHECK(w["conversations"][0]["last_seq"] == 1);
  back.send(json{{"type", "history"}, {"conversation_id", conv}, {"after_seq", 1}});
  auto h = back.expect("history");
  CHECK(h["messages"].empty());
  CHECK(h["upto"] == 2);
}

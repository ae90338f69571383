// calma-server on the Redis store: what is acked survives a server restart;
// with Redis gone, sends are refused `unavailable` (not acked) and /healthz
// says 503; when Redis returns, everything resumes by itself.
#include <signal.h>

#include "tests/integration/common.hpp"
#include "tests/store/support.hpp"

using namespace calma::test;

namespace {
std::vector<std::string> redis_args(const redis_server& r, const json& extra = json::object()) {
  auto a = test_args(extra);
  a.push_back("--redis");
  a.push_back(r.url());
  return a;
}
// Polls /healthz until it answers `want` (the server reconnects on its own schedule).
bool health_becomes(std::uint16_t port, unsigned want, std::chrono::milliseconds timeout = 15s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (http(port, "GET", "/healthz").status == want) return true;
    std::this_thread::sleep_for(50ms);  // polling another process: no clock to inject
  }
  return false;
}
}  // namespace

TEST_CASE("on Redis - conversations and messages survive a restart of the server") {
  redis_server r({"--appendonly", "yes", "--appendfsync", "always"});
  std::string token, conv;
  {
    server_process a(redis_args(r, {{"routing", {{"disconnect_grace_s", 10}}}}));
    CHECK(http(a.port(), "GET", "/healthz").j()["store"] == "redis");
    staff agent(a.port(), "agent");
    shopper s(a.port(), "Marta", "es");
    token = s.token;
    conv = s.say("Hola, ¿dónde está mi pedido?", "1")["conversation_id"].get<std::string>();
    agent->expect("history");
    agent->send(chat(conv, "Lo miro ahora mismo", "a1"));
    CHECK(agent->expect("ack")["seq"] == 2);
    CHECK(a.signal_and_wait(SIGTERM) == 0);
  }
  server_process b(redis_args(r, {{"routing", {{"disconnect_grace_s", 10}}}}));
  ws_client back(b.port());
  auto w = hello_token(back, token);
  REQUIRE(w["conversations"].size() == 1);
  CHECK(w["conversations"][0]["conversation_id"] == conv);
  CHECK(w["conversations"][0]["state"] == "assigned");
  CHECK(w["conversations"][0]["last_seq"] == 2);
  back.send(json{{"type", "history"}, {"conversation_id", conv}, {"after_seq", 0}});
  auto h = back.expect("history");
  REQUIRE(h["messages"].size() == 2);
  CHECK(h["messages"][1]["text"] == "Lo miro ahora mismo");
  // The agent comes back within its grace period and carries on.
  staff agent(b.port(), "agent");
  REQUIRE(agent.welcome["conversations"].size() == 1);
  agent->send(chat(conv, "Ya está en reparto", "a2"));
  CHECK(agent->expect("ack")["seq"] == 3);
  CHECK(back.expect("chat.message")["seq"] == 3);
  // A resend of an old message is still recognised after the restart.
  back.send(json{{"type", "chat.send"}, {"conversation_id", conv}, {"client_msg_id", "1"}, {"text", "Hola, ¿dónde está mi pedido?"}});
  CHECK(back.expect("ack")["seq"] == 1);
}

TEST_CASE("Redis goes away: sends are refused unavailable - then everything resumes") {
  redis_server r({"--appendonly", "yes", "--appendfsync", "always"});
  server_process srv(redis_args(r));
  shopper s(srv.port());
  auto conv = s.say("hola", "1")["conversation_id"].get<std::string>();
  r.kill();
  s->send(chat(conv, "¿hay alguien?", "2"));
  auto e = s->expect("error", 10s);
  CHECK(e["code"] == "unavailable");
  CHECK(e["ref"] == "2");
  CHECK(count_type(s->barrier(), "ack") == 0);
  CHECK(http(srv.port(), "GET", "/healthz").status == 503);
  // A close the store cannot take is refused and changes nothing.
  staff agent(srv.port(), "agent");
  agent->send(json{{"type", "conversation.close"}, {"conversation_id", conv}});
  CHECK(agent->expect("error", 10s)["code"] == "unavailable");
  CHECK(count_type(s->barrier(), "conversation.closed") == 0);
  r.restart();
  REQUIRE(health_becomes(srv.port(), 200));
  // The client resends what was not acked: stored once, next seq, no gap.
  auto ack = s.say("¿hay alguien?", "2", conv);
  CHECK(ack["seq"] == 2);
  s->send(json{{"type", "history"}, {"conversation_id", conv}, {"after_seq", 0}});
  CHECK(s->expect("history")["messages"].size() == 2);
  agent->send(json{{"type", "conversation.close"}, {"conversation_id", conv}});
  CHECK(s->expect("conversation.closed")["conversation_id"] == conv);
}

TEST_CASE("an unreachable Redis at start is a one-line error and exit 1") {
  auto args = test_args();
  args.push_back("--redis");
  args.push_back("redis://127.0.0.1:" + std::to_string(free_port()));
  server_process p(args, false);
  CHECK(p.wait_exit(20s) == 1);
  CHECK(p.output().find("cannot reach Redis") != std::string::npos);
}

TEST_CASE("after a restart on Redis the anger curves and open escalations are back") {
  redis_server r({"--appendonly", "yes", "--appendfsync", "always"});
  std::string conv;
  {
    server_process a(redis_args(r, {{"routing", {{"disconnect_grace_s", 10}}}}));
    staff agent(a.port(), "agent");
    shopper s(a.port(), "John", "en");
    conv = s.say("My order is late", "1")["conversation_id"].get<std::string>();
    s.say("THIS IS RIDICULOUS!!! I want to speak to a manager NOW", "2", conv);
    auto raised = agent->expect("escalation.raised");
    staff sup(a.port(), "supervisor");
    sup->send(json{{"type", "escalation.ack"}, {"escalation_id", raised["escalation_id"]}});
    agent->expect("escalation.acked");
    CHECK(a.signal_and_wait(SIGTERM) == 0);
  }
  server_process b(redis_args(r, {{"routing", {{"disconnect_grace_s", 10}}}}));
  staff sup(b.port(), "supervisor");
  REQUIRE(sup.welcome["escalations"].size() == 1);
  auto e = sup.welcome["escalations"][0];
  CHECK(e["conversation_id"] == conv);
  CHECK(e["severity"] == "high");
  CHECK_FALSE(e["reasons"].empty());
  CHECK(e["acked"] == true);
  CHECK(e["acked_by"] == "supervisor");
  staff agent(b.port(), "agent");
  REQUIRE(agent.welcome["conversations"].size() == 1);
  CHECK(agent.welcome["conversations"][0]["anger"].size() >= 2);
  CHECK(agent.welcome["conversations"][0]["level"].get<double>() > 30);
}

// The deadlines are armed again by the replay after a restart (one hub timer
// for all conversations): an escalation nobody acknowledged is re-sent.
TEST_CASE("after a restart on Redis an escalation nobody acknowledged is re-sent") {
  redis_server r({"--appendonly", "yes", "--appendfsync", "always"});
  const json cfg{{"routing", {{"disconnect_grace_s", 10}}}, {"escalation", {{"ack_timeout_s", 1}}}};
  std::string conv;
  {
    // Nothing re-sent before the restart: the first server waits ten minutes for an ack.
    server_process a(redis_args(r, {{"routing", {{"disconnect_grace_s", 10}}}, {"escalation", {{"ack_timeout_s", 600}}}}));
    staff agent(a.port(), "agent");
    shopper s(a.port(), "Ola", "pl");
    conv = s.say("Chcę rozmawiać z kierownikiem", "1")["conversation_id"].get<std::string>();
    auto raised = agent->expect("escalation.raised");
    CHECK(raised.value("renotified", 0) == 0);
    CHECK(a.signal_and_wait(SIGTERM) == 0);
  }
  server_process b(redis_args(r, cfg));
  staff sup(b.port(), "supervisor");
  REQUIRE(sup.welcome["escalations"].size() == 1);
  CHECK(sup.welcome["escalations"][0]["conversation_id"] == conv);
  auto again = sup->expect_if("escalation.raised", [](const json& j) { return j.value("renotified", 0) >= 1; }, 10s);
  CHECK(again["conversation_id"] == conv);
  CHECK(again["severity"] == "critical");
  CHECK(again["renotified"].get<int>() >= 1);
  sup->send(json{{"type", "escalation.ack"}, {"escalation_id", again["escalation_id"]}});
  auto acked = sup->expect("escalation.acked");
  CHECK(acked["conversation_id"] == conv);
}

TEST_CASE("an assignment made while Redis is away is saved once it returns") {
  redis_server r({"--appendonly", "yes", "--appendfsync", "always"});
  server_process srv(redis_args(r, {{"routing", {{"queue_snapshot_interval_s", 1}}}}));
  shopper s(srv.port());
  auto conv = s.say("hola", "1")["conversation_id"].get<std::string>();
  r.kill();
  // The agent arrives while Redis is away: assigned at once, saved behind.
  staff agent(srv.port(), "agent");
  CHECK(agent->expect("conversation.assigned")["conversation_id"] == conv);
  r.restart();
  REQUIRE(health_becomes(srv.port(), 200));
  const auto sup = login(srv.port(), "supervisor", "supervisor");
  std::string state;
  for (int i = 0; i < 100 && state != "assigned"; ++i) {
    auto d = http(srv.port(), "GET", "/api/v1/conversations/" + conv, {}, sup).j();
    state = d["conversation"].value("state", "");
    if (state != "assigned") std::this_thread::sleep_for(100ms);  // the server's retry timer
  }
  CHECK(state == "assigned");
}

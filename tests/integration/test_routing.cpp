// Queue, assignment, presence, capacity, transfer, disconnect grace,
// supervisors, and who may see what.
#include "tests/integration/common.hpp"

using namespace calma::test;

TEST_CASE("conversations wait in the queue until an agent is online with room") {
  server_process srv(test_args({{"routing", {{"status_on_connect", "away"}}}}));
  staff agent(srv.port(), "agent");
  CHECK(agent.welcome["presence"]["status"] == "away");
  shopper a(srv.port(), "A"), b(srv.port(), "B");
  auto ca = a.say("primero", "a1")["conversation_id"];
  auto qa = a->expect("conversation.queued");
  CHECK(qa["position"] == 1);
  auto cb = b.say("segundo", "b1")["conversation_id"];
  auto qb = b->expect("conversation.queued");
  CHECK(qb["position"] == 2);
  CHECK(qb["estimated_wait_s"].get<int>() >= qa["estimated_wait_s"].get<int>());
  CHECK(count_type(agent->barrier(), "conversation.assigned") == 0);

  // Online with room for one: the one who waited longest goes first.
  agent->send(json{{"type", "presence.set"}, {"status", "online"}, {"capacity", 1}});
  auto p = agent->expect("presence");
  CHECK(p["status"] == "online");
  CHECK(p["capacity"] == 1);
  CHECK(agent->expect("conversation.assigned")["conversation_id"] == ca);
  auto moved = b->expect_if("conversation.queued", [](const json& q) { return q["position"] == 1; });
  CHECK(moved["conversation_id"] == cb);
  CHECK(count_type(agent->barrier(), "conversation.assigned") == 0);

  // Closing the first frees the slot for the second.
  agent->send(json{{"type", "conversation.close"}, {"conversation_id", ca}});
  CHECK(agent->expect_if("conversation.assigned", [&](const json& x) { return x["conversation_id"] == cb; })["agent"]["id"] == "agent");
  CHECK(b->expect("conversation.assigned")["conversation_id"] == cb);
}

TEST_CASE("the least-loaded agent gets the next conversation") {
  server_process srv(test_args());
  staff a1(srv.port(), "agent");
  shopper s1(srv.port(), "S1");
  auto c1 = s1.say("uno", "1")["conversation_id"];
  CHECK(a1->expect("conversation.assigned")["conversation_id"] == c1);
  staff a2(srv.port(), "agent2");
  shopper s2(srv.port(), "S2");
  auto c2 = s2.say("dos", "2")["conversation_id"];
  CHECK(a2->expect("conversation.assigned")["conversation_id"] == c2);
  CHECK(count_type(a1->barrier(), "conversation.assigned") == 0);
  // Agents see their colleagues (to transfer to) when they ask, never the queue's conversations.
  CHECK(count_type(a1->barrier(), "queue.snapshot") == 0);
  a1->send(json{{"type", "agents.list"}});
  auto list = a1->expect("agents.list");
  CHECK(list["agents"].size() == 2);
  CHECK(list["total"] == 2);
  CHECK_FALSE(list.contains("queues"));
}

TEST_CASE("an agent only sees and acts on its own conversations - a shopper only on its own") {
  server_process srv(test_args());
  staff a1(srv.port(), "agent");
  shopper s1(srv.port(), "S1");
  auto c1 = s1.say("hola", "1")["conversation_id"].get<std::string>();
  a1->expect("history");
  staff a2(srv.port(), "agent2");
  shopper intruder(srv.port(), "Eve");

  for (auto* c : {a2.ws.get(), intruder.ws.get()}) {
    c->send(chat(c1, "hijack", "h1"));
    auto e = c->expect("error");
    CHECK(e["code"] == "forbidden");
    CHECK(e["ref"] == "h1");
    c->send(json{{"type", "history"}, {"conversation_id", c1}, {"after_seq", 0}});
    CHECK(c->expect("error")["code"] == "forbidden");
    c->send(json{{"type", "typing"}, {"conversation_id", c1}, {"state", true}});
    CHECK(c->expect("error")["code"] == "not_found");
    c->send(json{{"type", "conversation.close"}, {"conversation_id", c1}});
    CHECK(c->expect("error")["code"] == "forbidden");
  }
  intruder->send(json{{"type", "presence.set"}, {"status", "online"}});
  CHECK(intruder->expect("error")["code"] == "forbidden");
  intruder->send(json{{"type", "conversation.takeover"}, {"conversation_id", c1}});
  CHECK(intruder->expect("error")["code"] == "forbidden");
  a2->send(json{{"type", "conversation.join"}, {"conversation_id", c1}, {"mode", "monitor"}});
  CHECK(a2->expect("error")["code"] == "forbidden");
  a2->send(json{{"type", "escalation.ack"}, {"escalation_id", "e1"}});
  CHECK(a2->expect("error")["code"] == "forbidden");
  // Nothing of it reached the conversation.
  auto seen = s1->barrier();
  CHECK(count_type(seen, "chat.message") == 0);
  CHECK(count_type(seen, "typing") == 0);
  CHECK(count_type(seen, "conversation.closed") == 0);
  CHECK(count_type(a1->barrier(), "chat.message") == 0);
  CHECK(intruder->pending().empty());
  // An unknown conversation is not found.
  intruder->send(chat("c_doesnotexist", "x", "h2"));
  CHECK(intruder->expect("error")["code"] == "not_found");
}

TEST_CASE("transfers move a conversation to another agent or back to the queue") {
  server_process srv(test_args());
  staff a1(srv.port(), "agent");
  shopper s(srv.port());
  auto conv = s.say("hola", "1")["conversation_id"].get<std::string>();
  a1->expect("history");
  s->expect("conversation.assigned");

  SUBCASE("to an agent") {
    staff a2(srv.port(), "agent2");
    a1->send(json{{"type", "conversation.transfer"}, {"conversation_id", conv}, {"to_agent_id", "agent2"}});
    auto as = a2->expect("conversation.assigned");
    CHECK(as["agent"]["id"] == "agent2");
    auto h = a2->expect("history");
    CHECK(h["messages"].size() == 1);
    CHECK(s->expect("conversation.assigned")["agent"]["name"] == "Piotr Nowak");
    CHECK(a1->expect_if("conversation.assigned", [](const json& j) { return j["agent"]["id"] == "agent2"; })["conversation_id"] == conv);
    a1->send(chat(conv, "still mine?", "x"));
    CHECK(a1->expect("error")["code"] == "forbidden");
    a2->send(chat(conv, "Hola, soy Piotr", "y"));
    CHECK(s->expect("chat.message")["from"]["id"] == "agent2");
  }
  SUBCASE("to an agent that is not online") {
    a1->send(json{{"type", "conversation.transfer"}, {"conversation_id", conv}, {"to_agent_id", "agent2"}});
    CHECK(a1->expect("error")["code"] == "bad_request");
    a1->send(json{{"type", "conversation.transfer"}, {"conversation_id", conv}, {"to_agent_id", "nobody"}});
    CHECK(a1->expect("error")["code"] == "not_found");
    a1->send(json{{"type", "conversation.transfer"}, {"conversation_id", conv}, {"to_agent_id", "agent2"}, {"to_queue", "default"}});
    CHECK(a1->expect("error")["code"] == "bad_request");
  }
  SUBCASE("back to the queue goes to someone else first") {
    staff a2(srv.port(), "agent2");
    a1->send(json{{"type", "conversation.transfer"}, {"conversation_id", conv}, {"to_queue", "default"}});
    CHECK(a2->expect("conversation.assigned")["conversation_id"] == conv);
    a1->send(json{{"type", "conversation.transfer"}, {"conversation_id", conv}, {"to_queue", "nope"}});
    CHECK(a1->expect("error")["code"] == "forbidden");
  }
}

TEST_CASE("an agent who goes offline or away for good hands its conversations on") {
  server_process srv(test_args());
  staff a1(srv.port(), "agent");
  shopper s(srv.port());
  auto conv = s.say("hola", "1")["conversation_id"].get<std::string>();
  a1->expect("history");
  staff a2(srv.port(), "agent2");

  SUBCASE("explicit offline: at once") {
    a1->send(json{{"type", "presence.set"}, {"status", "offline"}});
    CHECK(a2->expect("conversation.assigned")["conversation_id"] == conv);
    CHECK(s->expect_if("conversation.assigned", [](const json& j) { return j["agent"]["id"] == "agent2"; })["conversation_id"] == conv);
  }
  SUBCASE("disconnected beyond the grace period") {
    a1.ws.reset();
    CHECK(a2->expect("conversation.assigned", 5s)["conversation_id"] == conv);
  }
  SUBCASE("a reconnect within the grace period keeps the conversation") {
    server_process slow(test_args({{"routing", {{"disconnect_grace_s", 30}}}}));
    staff b1(slow.port(), "agent");
    shopper t(slow.port());
    auto c = t.say("hola", "1")["conversation_id"].get<std::string>();
    b1->expect("history");
    b1.ws.reset();
    staff b2(slow.port(), "agent2");
    staff b1again(slow.port(), "agent");
    REQUIRE(b1again.welcome["conversations"].size() == 1);
    CHECK(b1again.welcome["conversations"][0]["conversation_id"] == c);
    CHECK(count_type(b2->barrier(), "conversation.assigned") == 0);
  }
}

TEST_CASE("supervisors see the queue - whisper - barge in and take over") {
  server_process srv(test_args());
  staff sup(srv.port(), "supervisor");
  CHECK(sup.welcome["role"] == "supervisor");
  CHECK(sup.welcome["escalations"].is_array());
  auto snap = sup->expect("queue.snapshot");
  CHECK(snap["queues"].is_array());
  CHECK(snap["agents"].is_array());

  shopper s(srv.port());
  auto conv = s.say("hola", "1")["conversation_id"].get<std::string>();
  auto waiting = sup->expect_if("queue.snapshot", [&](const json& q) {
    return !q["queues"].empty() && !q["queues"][0]["waiting"].empty();
  });
  CHECK(waiting["queues"][0]["name"] == "default");
  CHECK(waiting["queues"][0]["waiting"][0]["conversation_id"] == conv);
  CHECK(waiting["queues"][0]["waiting"][0]["wait_s"].is_number_integer());

  staff agent(srv.port(), "agent");
  agent->expect("history");
  CHECK(sup->expect("conversation.assigned")["conversation_id"] == conv);
  auto agents = sup->expect_if("queue.snapshot", [](const json& q) { return !q["agents"].empty(); });
  CHECK(agents["agents"][0]["id"] == "agent");
  CHECK(agents["agents"][0]["load"] == 1);
  CHECK(agents["agents"][0]["capacity"].is_number_integer());
  CHECK(agents["agents"][0]["status"] == "online");

  // Monitor: reads everything, cannot write.
  sup->send(json{{"type", "conversation.join"}, {"conversation_id", conv}, {"mode", "monitor"}});
  sup->expect("conversation.joined");
  CHECK(sup->expect("history")["messages"].size() == 1);
  sup->send(chat(conv, "hmm", "s0"));
  CHECK(sup->expect("error")["code"] == "forbidden");
  s.say("sigo esperando", "2", conv);
  CHECK(sup->expect("chat.message")["text"] == "sigo esperando");

  // Whisper: the agent sees it, the shopper never does.
  sup->send(json{{"type", "conversation.join"}, {"conversation_id", conv}, {"mode", "whisper"}});
  sup->expect("conversation.joined");
  sup->send(chat(conv, "Ofrécele el reembolso", "s1"));
  sup->expect("ack");
  CHECK(agent->expect("chat.message")["text"] == "sigo esperando");
  auto w = agent->expect("chat.message");
  CHECK(w["visibility"] == "staff");
  CHECK(w["text"] == "Ofrécele el reembolso");
  CHECK(count_type(s->barrier(), "chat.message") == 0);
  s->send(json{{"type", "history"}, {"conversation_id", conv}, {"after_seq", 0}});
  const auto shopper_history = s->expect("history");
  CHECK_FALSE(shopper_history["messages"].empty());
  for (const auto& m : shopper_history["messages"]) CHECK(m["visibility"] == "all");

  // Take over: the supervisor now holds it; the agent is told and loses it.
  sup->send(json{{"type", "conversation.takeover"}, {"conversation_id", conv}});
  CHECK(s->expect_if("conversation.assigned", [](const json& j) { return j["agent"]["id"] == "supervisor"; })["agent"]["name"] == "Sofía Ruiz");
  CHECK(agent->expect_if("conversation.assigned", [](const json& j) { return j["agent"]["id"] == "supervisor"; })["conversation_id"] == conv);
  sup->send(chat(conv, "Soy la supervisora, lo resuelvo yo", "s2"));
  sup->expect("ack");
  auto m = s->expect("chat.message");
  CHECK(m["visibility"] == "all");
  CHECK(m["from"]["role"] == "supervisor");
  agent->send(chat(conv, "?", "a9"));
  CHECK(agent->expect("error")["code"] == "forbidden");

  sup->send(json{{"type", "escalation.ack"}, {"escalation_id", "nope"}});
  CHECK(sup->expect("error")["code"] == "not_found");
}

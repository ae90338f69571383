// A shopper and an agent talk through the real server: open, queue, assign,
// chat both ways, acks after storage, idempotent resend, reconnect with the
// shopper token and history recovery, close.
#include "tests/integration/common.hpp"

using namespace calma::test;

TEST_CASE("a shopper and an agent hold a conversation") {
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  CHECK(agent.welcome["role"] == "agent");
  CHECK(agent.welcome["user_id"] == "agent");
  CHECK(agent.welcome["conversations"].empty());

  shopper ana(srv.port(), "Ana", "es");
  CHECK(ana.welcome["role"] == "shopper");
  CHECK(ana.welcome["conversations"].empty());
  CHECK(ana.welcome["server_ts"].is_number_integer());

  auto ack = ana.say("Hola, mi pedido no ha llegado", "m1");
  const std::string conv = ack["conversation_id"];
  CHECK(ack["seq"] == 1);
  auto queued = ana->expect("conversation.queued");
  CHECK(queued["conversation_id"] == conv);
  CHECK(queued["position"].is_number_integer());
  CHECK(queued["estimated_wait_s"].is_number_integer());

  auto assigned = agent->expect("conversation.assigned");
  CHECK(assigned["conversation_id"] == conv);
  CHECK(assigned["agent"]["id"] == "agent");
  CHECK(assigned["shopper"]["name"] == "Ana");
  CHECK(assigned["shopper"]["language"] == "es");
  auto hist = agent->expect("history");
  REQUIRE(hist["messages"].size() == 1);
  CHECK(hist["messages"][0]["text"] == "Hola, mi pedido no ha llegado");
  CHECK(hist["messages"][0]["from"]["role"] == "shopper");
  CHECK(hist["messages"][0]["seq"] == 1);

  auto sa = ana->expect("conversation.assigned");
  CHECK(sa["agent"]["name"] == "Ana García");

  agent->send(chat(conv, "Lo siento mucho, lo reviso ahora", "a1"));
  auto aack = agent->expect("ack");
  CHECK(aack["seq"] == 2);
  auto got = ana->expect("chat.message");
  CHECK(got["seq"] == 2);
  CHECK(got["text"] == "Lo siento mucho, lo reviso ahora");
  CHECK(got["from"] == json{{"role", "agent"}, {"id", "agent"}, {"name", "Ana García"}});
  CHECK(got["visibility"] == "all");
  CHECK(got["client_msg_id"] == "a1");
  CHECK(got["ts"].is_number_integer());

  ana->send(chat(conv, "Gracias", "m2"));
  CHECK(ana->expect("ack")["seq"] == 3);
  auto to_agent = agent->expect("chat.message");
  CHECK(to_agent["seq"] == 3);
  CHECK(to_agent["from"]["role"] == "shopper");

  // The sender gets an ack, not an echo of its own message.
  CHECK(count_type(ana->barrier(), "chat.message") == 0);
  CHECK(count_type(agent->barrier(), "chat.message") == 0);

  SUBCASE("typing and read receipts reach the other side") {
    agent->send(json{{"type", "typing"}, {"conversation_id", conv}, {"state", true}});
    auto t = ana->expect("typing");
    CHECK(t["state"] == true);
    CHECK(t["from"]["id"] == "agent");
    ana->send(json{{"type", "read"}, {"conversation_id", conv}, {"seq", 2}});
    auto r = agent->expect("read");
    CHECK(r["seq"] == 2);
    CHECK(r["from"]["role"] == "shopper");
  }
  SUBCASE("the agent closes; the shopper can open a new conversation") {
    agent->send(json{{"type", "conversation.close"}, {"conversation_id", conv}, {"reason", "resolved"}});
    auto c1 = ana->expect("conversation.closed");
    CHECK(c1["conversation_id"] == conv);
    CHECK(c1["by"] == "agent");
    CHECK(c1["reason"] == "resolved");
    agent->expect("conversation.closed");
    ana->send(chat(conv, "otra cosa", "m3"));
    auto e = ana->expect("error");
    CHECK(e["code"] == "bad_request");
    CHECK(e["ref"] == "m3");
    auto ack2 = ana.say("Tengo otra pregunta", "m4");
    CHECK(ack2["conversation_id"] != conv);
    CHECK(ack2["seq"] == 1);
    CHECK(agent->expect("conversation.assigned")["conversation_id"] == ack2["conversation_id"]);
  }
}

TEST_CASE("a resent message is stored once and acked with the same seq") {
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  shopper ana(srv.port());
  auto first = ana.say("hola", "dup-1");
  const std::string conv = first["conversation_id"];
  agent->expect("conversation.assigned");
  agent->expect("history");
  ana.say("segundo", "dup-2", conv);
  agent->expect("chat.message");

  // Resent with and without the conversation id (the first message of a
  // conversation is sent without one): same seq, nothing new for the agent.
  auto again = ana.say("hola", "dup-1");
  CHECK(again["seq"] == first["seq"]);
  CHECK(again["conversation_id"] == conv);
  auto again2 = ana.say("segundo", "dup-2", conv);
  CHECK(again2["seq"] == 2);
  CHECK(count_type(agent->barrier(), "chat.message") == 0);

  ana->send(json{{"type", "history"}, {"conversation_id", conv}, {"after_seq", 0}});
  auto h = ana->expect("history");
  REQUIRE(h["messages"].size() == 2);
  CHECK(h["messages"][0]["seq"] == 1);
  CHECK(h["messages"][1]["seq"] == 2);

  auto metrics = http(srv.port(), "GET", "/metrics").body;
  CHECK(metrics.find("calma_messages_duplicate_total 2") != std::string::npos);
  CHECK(metrics.find("calma_messages_in_total 2") != std::string::npos);
}

TEST_CASE("a shopper comes back with its token and recovers what it missed") {
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  std::string token, conv;
  {
    shopper ana(srv.port());
    token = ana.token;
    conv = ana.say("¿Dónde está mi pedido?", "r1")["conversation_id"];
    agent->expect("history");
  }  // the shopper's connection drops (a reload)
  agent->send(chat(conv, "Está en camino", "a1"));
  CHECK(agent->expect("ack")["seq"] == 2);
  agent->send(chat(conv, "Llega mañana", "a2"));
  CHECK(agent->expect("ack")["seq"] == 3);

  ws_client back(srv.port());
  auto w = hello_token(back, token);
  CHECK(w["role"] == "shopper");
  REQUIRE(w["conversations"].size() == 1);
  CHECK(w["conversations"][0]["conversation_id"] == conv);
  CHECK(w["conversations"][0]["state"] == "assigned");
  CHECK(w["conversations"][0]["last_seq"] == 3);
  CHECK(w["conversations"][0]["agent_id"] == "agent");

  back.send(json{{"type", "history"}, {"conversation_id", conv}, {"after_seq", 1}});
  auto h = back.expect("history");
  REQUIRE(h["messages"].size() == 2);
  CHECK(h["messages"][0]["text"] == "Está en camino");
  CHECK(h["messages"][1]["seq"] == 3);

  // Live messages flow to the new connection, and the shopper can write on.
  agent->send(chat(conv, "¿Algo más?", "a3"));
  CHECK(back.expect("chat.message")["seq"] == 4);
  back.send(chat(conv, "No, gracias", "r2"));
  CHECK(back.expect("ack")["seq"] == 5);

  SUBCASE("a token from another server secret is refused") {
    server_process other(test_args({{"auth", {{"token_secret", "a-different-secret-0123456789abcdefgh"}}}}));
    ws_client c(other.port());
    c.send(json{{"type", "hello"}, {"token", token}});
    CHECK(c.wait_closed());
    CHECK(c.close_code() == 4401);
  }
}

TEST_CASE("a shopper with two tabs sees its own messages in the other tab") {
  server_process srv(test_args());
  shopper tab1(srv.port());
  ws_client tab2(srv.port());
  hello_token(tab2, tab1.token);
  auto ack = tab1.say("hola desde la pestaña 1", "t1");
  auto m = tab2.expect("chat.message");
  CHECK(m["seq"] == ack["seq"]);
  CHECK(m["text"] == "hola desde la pestaña 1");
  CHECK(count_type(tab1->barrier(), "chat.message") == 0);
}

TEST_CASE("the conversation API returns messages to staff who may see them") {
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  shopper ana(srv.port());
  const std::string conv = ana.say("hola", "x1")["conversation_id"];
  agent->expect("history");
  auto ok = http(srv.port(), "GET", "/api/v1/conversations/" + conv, {}, agent.token);
  REQUIRE(ok.status == 200);
  auto j = ok.j();
  CHECK(j["conversation"]["conversation_id"] == conv);
  CHECK(j["messages"].size() == 1);
  CHECK(j["anger"].is_array());
  auto sup = login(srv.port(), "supervisor", "supervisor");
  CHECK(http(srv.port(), "GET", "/api/v1/conversations/" + conv, {}, sup).status == 200);
  auto other = login(srv.port(), "agent2", "agent2");
  auto forbidden = http(srv.port(), "GET", "/api/v1/conversations/" + conv, {}, other);
  CHECK(forbidden.status == 403);
  CHECK(forbidden.j()["error"]["code"] == "forbidden");
  CHECK(http(srv.port(), "GET", "/api/v1/conversations/" + conv).status == 401);
  CHECK(http(srv.port(), "GET", "/api/v1/conversations/" + conv, {}, ana.token).status == 401);
  CHECK(http(srv.port(), "GET", "/api/v1/conversations/c_nope", {}, agent.token).status == 404);
}

TEST_CASE("the resend of a conversation's first message after the conversation closed is acked not reopened") {
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  shopper s(srv.port());
  auto first = s.say("hola", "open-1");
  const std::string conv = first["conversation_id"];
  agent->expect("conversation.assigned");
  agent->expect("history");
  agent->send(json{{"type", "conversation.close"}, {"conversation_id", conv}});
  s->expect("conversation.closed");
  // The shopper never saw the ack: it resends without a conversation id.
  auto again = s.say("hola", "open-1");
  CHECK(again["conversation_id"] == conv);
  CHECK(again["seq"] == 1);
  CHECK(count_type(agent->barrier(), "conversation.assigned") == 0);
  // A genuinely new message opens a new conversation.
  CHECK(s.say("otra cosa", "open-2")["conversation_id"] != conv);
}

TEST_CASE("a history answer over 64 KiB reaches the client whole") {
  // Server frames are written by Calma itself (header and payload into the
  // session's buffer): this one needs the 64-bit length form.
  server_process srv(test_args());
  staff agent(srv.port(), "agent");
  shopper ana(srv.port());
  const std::string conv = ana.say("Necesito ayuda con un pedido largo", "r0")["conversation_id"];
  agent->expect("history");
  const std::string long_text(3900, 'x');
  for (int i = 1; i <= 20; ++i) {
    agent->send(chat(conv, long_text + std::to_string(i), "a" + std::to_string(i)));
    CHECK(agent->expect("ack")["seq"] == i + 1);
    CHECK(ana->expect("chat.message")["seq"] == i + 1);
  }
  ana->send(json{{"type", "history"}, {"conversation_id", conv}, {"after_seq", 0}});
  auto h = ana->expect("history");
  REQUIRE(h["messages"].size() == 21);
  CHECK(h.dump().size() > 65536);
  CHECK(h["messages"][20]["text"] == long_text + "20");
  // And the connection goes on after it.
  agent->send(chat(conv, "¿Algo más?", "a99"));
  CHECK(ana->expect("chat.message")["seq"] == 22);
}

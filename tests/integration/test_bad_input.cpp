// Every bad input gets the answer PROTOCOL.md names, changes nothing, and
// leaves the server and the other sessions untouched.
#include "tests/integration/common.hpp"

using namespace calma::test;

namespace {
// The connection is still usable and nothing else arrived.
void still_fine(ws_client& c) { CHECK(c.barrier().empty()); }
}  // namespace

TEST_CASE("malformed frames get bad_request and the connection stays open") {
  server_process srv(test_args());
  shopper s(srv.port());

  s->send_text("{not json");
  auto e = s->expect("error");
  CHECK(e["code"] == "bad_request");
  CHECK(e["message"].get<std::string>().find("JSON") != std::string::npos);
  s->send_text("[1,2,3]");
  CHECK(s->expect("error")["code"] == "bad_request");
  s->send(json{{"no_type", 1}});
  CHECK(s->expect("error")["code"] == "bad_request");
  s->send(json{{"type", "dance"}});
  auto unk = s->expect("error");
  CHECK(unk["code"] == "bad_request");
  CHECK(unk["ref"] == "dance");
  s->send(json{{"type", "chat.send"}, {"client_msg_id", 5}, {"text", "x"}});
  CHECK(s->expect("error")["code"] == "bad_request");
  s->send(json{{"type", "chat.send"}, {"client_msg_id", "ok1"}, {"text", 42}});
  auto wrong = s->expect("error");
  CHECK(wrong["code"] == "bad_request");
  CHECK(wrong["ref"] == "ok1");
  s->send(json{{"type", "chat.send"}, {"client_msg_id", "ok2"}});
  CHECK(s->expect("error")["code"] == "bad_request");
  s->send(json{{"type", "chat.send"}, {"client_msg_id", "ok3"}, {"text", "   "}});
  CHECK(s->expect("error")["code"] == "bad_request");
  s->send(json{{"type", "typing"}, {"conversation_id", "c_1"}, {"state", "yes"}});
  CHECK(s->expect("error")["code"] == "bad_request");
  s->send(json{{"type", "history"}, {"conversation_id", "c_1"}, {"after_seq", -1}});
  CHECK(s->expect("error")["code"] == "bad_request");
  s->send(json{{"type", "hello"}, {"role", "shopper"}});
  CHECK(s->expect("error")["code"] == "bad_request");
  s->send_binary(std::string("\x00\x01\x02", 3));
  CHECK(s->expect("error")["code"] == "bad_request");
  still_fine(*s.ws);
  // None of it opened a conversation.
  s->send(json{{"type", "chat.send"}, {"client_msg_id", "real"}, {"text", "hola"}});
  CHECK(s->expect("ack")["seq"] == 1);
}

TEST_CASE("frames over the size limit") {
  server_process srv(test_args());
  shopper s(srv.port());
  SUBCASE("over the limit: too_large, still connected") {
    s->send(json{{"type", "chat.send"}, {"client_msg_id", "big"}, {"text", std::string(20'000, 'a')}});
    auto big = s->expect("error");
    CHECK(big["code"] == "too_large");
    CHECK(big["ref"] == "big");
    still_fine(*s.ws);
    s->send(json{{"type", "chat.send"}, {"client_msg_id", "long"}, {"text", std::string(5'000, 'a')}});
    auto e = s->expect("error");
    CHECK(e["code"] == "too_large");
    CHECK(e["ref"] == "long");
  }
  SUBCASE("huge: the connection is closed, the server stays up") {
    try {
      s->send_text(std::string(2 << 20, ' '));
    } catch (const std::exception&) {
      // The server may close before the client has written it all.
    }
    CHECK(s->wait_closed());
    shopper other(srv.port());
    CHECK(other.say("sigo aquí", "1")["seq"] == 1);
  }
}

TEST_CASE("hello rules") {
  server_process srv(test_args({{"websocket", {{"hello_timeout_ms", 300}}}}));
  SUBCASE("first frame not hello: 4401") {
    ws_client c(srv.port());
    c.send(json{{"type", "ping"}});
    CHECK(c.wait_closed());
    CHECK(c.close_code() == 4401);
  }
  SUBCASE("no hello in time: 4401") {
    ws_client c(srv.port());
    CHECK(c.wait_closed(5s));
    CHECK(c.close_code() == 4401);
  }
  SUBCASE("garbage token: 4401") {
    ws_client c(srv.port());
    c.send(json{{"type", "hello"}, {"token", "abc.def"}});
    CHECK(c.wait_closed());
    CHECK(c.close_code() == 4401);
  }
  SUBCASE("staff without a token: 4401") {
    ws_client c(srv.port());
    c.send(json{{"type", "hello"}, {"role", "agent"}});
    CHECK(c.wait_closed());
    CHECK(c.close_code() == 4401);
  }
  SUBCASE("a forged token (shopper token edited to say supervisor): 4401") {
    shopper s(srv.port());
    auto dot = s.token.find('.');
    std::string forged = "eyJyIjoic3VwZXJ2aXNvciIsInN1YiI6InN1cGVydmlzb3IiLCJleHAiOjk5OTk5OTk5OTk5OTl9" + s.token.substr(dot);
    ws_client c(srv.port());
    c.send(json{{"type", "hello"}, {"token", forged}});
    CHECK(c.wait_closed());
    CHECK(c.close_code() == 4401);
  }
  SUBCASE("a foreign origin is refused with 403, the server's own is allowed") {
    CHECK_THROWS(ws_client(srv.port(), client_options{"http://evil.example", true, 0}));
    ws_client own(srv.port(), client_options{"http://127.0.0.1:" + std::to_string(srv.port()), true, 0});
    hello_shopper(own);
  }
}

TEST_CASE("a flood gets rate_limited - then close 4429 - others are untouched") {
  server_process srv(test_args({{"rate_limit", {{"frames_per_s", 5}, {"burst", 10}, {"max_strikes", 20}}}}));
  shopper calm(srv.port(), "Calm");
  shopper flood(srv.port(), "Flood");
  for (int i = 0; i < 200 && !flood->is_closed(); ++i) {
    try {
      flood->send(json{{"type", "typing"}, {"conversation_id", "c_x"}, {"state", true}});
    } catch (...) {
      break;  // the server closed us mid-flood
    }
  }
  CHECK(flood->wait_closed());
  CHECK(flood->close_code() == 4429);
  int limited = 0;
  for (const auto& f : flood->pending()) {
    limited += f.value("code", "") == "rate_limited";
    if (f.value("code", "") == "rate_limited") CHECK(f["ref"] == "typing");
  }
  CHECK(limited >= 1);
  CHECK(calm.say("hola", "1")["seq"] == 1);
  auto m = http(srv.port(), "GET", "/metrics").body;
  CHECK(m.find("calma_flood_disconnects_total 1") != std::string::npos);
}

TEST_CASE("a client that never reads is closed as a slow consumer - memory stays bounded") {
  server_process srv(test_args({{"websocket", {{"send_queue_messages", 16}, {"send_queue_bytes", 65536}}},
                                {"rate_limit", {{"frames_per_s", 100000}, {"burst", 100000}}}}));
  staff agent(srv.port(), "agent");
  ws_client slow(srv.port(), client_options{"", /*read=*/false, /*receive_buffer=*/4096});
  slow.send(json{{"type", "hello"}, {"role", "shopper"}, {"store", "demo"}});
  slow.send(json{{"type", "chat.send"}, {"client_msg_id", "s1"}, {"text", "hola"}});
  auto conv = agent->expect("conversation.assigned")["conversation_id"].get<std::string>();
  agent->expect("history");
  const std::string text(3000, 'x');
  bool closed = false;
  for (int i = 0; i < 3000 && !closed; ++i) {
    agent->send(chat(conv, text, "f" + std::to_string(i)));
    auto a = agent->expect("ack");
    if (i % 100 == 99) {
      auto m = http(srv.port(), "GET", "/metrics").body;
      closed = m.find("calma_slow_consumer_disconnects_total 1") != std::string::npos;
    }
  }
  CHECK(closed);
  // The agent's own session is untouched: it still answers, with no error.
  CHECK(count_type(agent->barrier(), "error") == 0);
}

TEST_CASE("a connection that sends nothing for the idle timeout is closed with 4408") {
  server_process srv(test_args({{"websocket", {{"idle_timeout_s", 1}}}}));
  shopper quiet(srv.port());
  shopper chatty(srv.port());
  // chatty pings every 300 ms and stays; quiet says nothing and is closed.
  for (int i = 0; i < 8; ++i) {
    chatty->barrier();
    std::this_thread::sleep_for(300ms);  // real time is what is under test here
  }
  CHECK(quiet->wait_closed(3s));
  CHECK(quiet->close_code() == 4408);
  CHECK_FALSE(chatty->is_closed());
}

TEST_CASE("keep-alive pings - a peer that never answers is cut and one that answers stays") {
  server_process srv(test_args({{"websocket", {{"ping_interval_s", 1}, {"idle_timeout_s", 60}}}}));
  const auto hello = json{{"type", "hello"}, {"role", "shopper"}, {"store", "demo"}, {"name", "Eve"}}.dump();
  raw_tcp dead(srv.port());  // says hello, then reads without ever answering a ping
  REQUIRE(dead.write(ws_upgrade_request(srv.port()) + ws_text_frame(hello)));
  REQUIRE(dead.read(3s, "\"welcome\"").find("\"welcome\"") != std::string::npos);
  shopper alive(srv.port());  // a real client: its reads answer pings with pongs
  // Silent for half the interval: a ping (an unmasked server frame, opcode 9); silent for the interval: cut.
  const auto got = dead.read(3s, std::string("\x89", 1));
  CHECK(got.find('\x89') != std::string::npos);
  CHECK(dead.closed_by_peer(3s));
  std::this_thread::sleep_for(3s);  // real time is what is under test here: three intervals without a frame
  CHECK_FALSE(alive->is_closed());
  CHECK(count_type(alive->barrier(), "error") == 0);
}

TEST_CASE("a message in several frames and a long one arriving in pieces are read whole") {
  server_process srv(test_args());
  const auto hello = json{{"type", "hello"}, {"role", "shopper"}, {"store", "demo"}, {"name", "Eve"}}.dump();
  raw_tcp c(srv.port());
  REQUIRE(c.write(ws_upgrade_request(srv.port()) + ws_text_frame(hello)));
  REQUIRE(c.read(3s, "\"welcome\"").find("\"welcome\"") != std::string::npos);
  // A fragmented message: text without FIN, a continuation without FIN, a final continuation
  // (the session's read buffer keeps 128 bytes inline: the pieces straddle it).
  const std::string text(900, 'a');
  const auto m1 = json{{"type", "chat.send"}, {"client_msg_id", "frag-1"}, {"text", text}}.dump();
  auto frame = [](const std::string& part, unsigned char first) {
    auto f = ws_text_frame(part);
    f[0] = static_cast<char>(first);
    return f;
  };
  REQUIRE(c.write(frame(m1.substr(0, 40), 0x01) + frame(m1.substr(40, 300), 0x00) + frame(m1.substr(340), 0x80)));
  auto got = c.read(3s, "frag-1");
  CHECK(got.find("\"ack\"") != std::string::npos);
  // One long frame written a few bytes at a time.
  const auto m2 = json{{"type", "chat.send"}, {"client_msg_id", "slow-2"}, {"text", std::string(3000, 'b')}}.dump();
  const auto f2 = ws_text_frame(m2);
  for (std::size_t at = 0; at < f2.size(); at += 700) {
    REQUIRE(c.write(f2.substr(at, 700)));
    std::this_thread::sleep_for(20ms);
  }
  got = c.read(3s, "slow-2");
  CHECK(got.find("\"ack\"") != std::string::npos);
  CHECK(got.find("\"error\"") == std::string::npos);
}

#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/protocol/messages.hpp"
#include "common/protocol/ws_frame.hpp"

using namespace calma;
using namespace calma::protocol;
using nlohmann::json;

namespace {
parse_result parse(const json& j, const limits& lim = {}) { return parse_client_message(j.dump(), lim); }
error_code code_of(const parse_result& r) {
  REQUIRE(r.err);
  return r.err->code;
}
}  // namespace

TEST_CASE("chat.send parses and validates") {
  auto ok = parse(json{{"type", "chat.send"}, {"client_msg_id", "m-1"}, {"text", "Hola ¿qué tal? ñ"}});
  REQUIRE(ok.message);
  auto& m = std::get<chat_send>(*ok.message);
  CHECK(m.client_msg_id == "m-1");
  CHECK(m.text == "Hola ¿qué tal? ñ");
  CHECK_FALSE(m.conversation_id);

  auto with_conv = parse(json{{"type", "chat.send"}, {"client_msg_id", "m"}, {"text", "x"}, {"conversation_id", "c_1"}});
  CHECK(std::get<chat_send>(*with_conv.message).conversation_id == "c_1");

  SUBCASE("missing or wrong-typed fields are bad_request naming the field") {
    auto r = parse(json{{"type", "chat.send"}, {"text", "x"}});
    CHECK(code_of(r) == error_code::bad_request);
    CHECK(r.err->message.find("client_msg_id") != std::string::npos);
    auto t = parse(json{{"type", "chat.send"}, {"client_msg_id", "m9"}, {"text", 1}});
    CHECK(code_of(t) == error_code::bad_request);
    CHECK(t.err->ref == "m9");  // the client can drop that one message
    CHECK(code_of(parse(json{{"type", "chat.send"}, {"client_msg_id", "m"}, {"text", " \n\t"}})) == error_code::bad_request);
    CHECK(code_of(parse(json{{"type", "chat.send"}, {"client_msg_id", "a b"}, {"text", "x"}})) == error_code::bad_request);
    CHECK(code_of(parse(json{{"type", "chat.send"}, {"client_msg_id", "m"}, {"text", "x"}, {"conversation_id", 7}})) == error_code::bad_request);
  }
  SUBCASE("too long text is too_large") {
    limits lim;
    lim.max_text_bytes = 10;
    CHECK(code_of(parse(json{{"type", "chat.send"}, {"client_msg_id", "m"}, {"text", std::string(11, 'a')}}, lim)) == error_code::too_large);
    CHECK(parse(json{{"type", "chat.send"}, {"client_msg_id", "m"}, {"text", std::string(10, 'a')}}, lim).message);
  }
}

TEST_CASE("plain chat.sends take the fast path and read as the general path reads them") {
  const limits lim;
  // Taken by the fast path: the same message as the general path's.
  for (std::string f : {
           R"({"type":"chat.send","client_msg_id":"m-1","text":"Hola ¿qué tal? ñ"})",
           R"( { "text" : "a \"quoted\" \\ \/ \n\t\r\b\f" , "type":"chat.send", "client_msg_id" : "m.2", "conversation_id":"c_9" } )",
           "{\"type\":\"chat.send\",\"client_msg_id\":\"m\",\"text\":\"\x7f emoji \xf0\x9f\x98\xa1 \xc5\x9b\"}\n",
       }) {
    CAPTURE(f);
    auto fast = fast_chat_send(f, lim);
    REQUIRE(fast);
    auto g = parse_client_message_general(f, lim);
    REQUIRE(g.message);
    const auto& m = std::get<chat_send>(*g.message);
    CHECK(m.client_msg_id == fast->client_msg_id);
    CHECK(m.text == fast->text);
    CHECK(m.conversation_id == fast->conversation_id);
  }
  CHECK(fast_chat_send(R"({"type":"chat.send","client_msg_id":"m","text":"a\"b"})", lim)->text == "a\"b");
  // Left to the general path, which gives the answer (a message or the worded error).
  for (std::string f : {
           R"({"type":"chat.send","client_msg_id":"m","text":"\u00f1"})",           // \u escape
           R"({"type":"chat.send","client_msg_id":"m","text":"x","text":"y"})",     // duplicate
           R"({"type":"chat.send","client_msg_id":"m","text":"x","extra":"y"})",    // another field
           R"({"type":"chat.send","client_msg_id":"m","text":"x","conversation_id":null})",
           R"({"type":"chat.send","client_msg_id":"m","text":7})",
           R"({"type":"chat.send","client_msg_id":"m","text":"x",})",
           R"({"type":"chat.send","client_msg_id":"m","text":"x"} x)",
           R"({"type":"chat.send","client_msg_id":"m","text":"x")",
           R"({"type":"chat.send","client_msg_id":"a b","text":"x"})",
           R"({"type":"chat.send","client_msg_id":"m","text":" \t "})",
           R"({"type":"chat.send","client_msg_id":"m","text":""})",
           R"({"type":"chat.send","client_msg_id":"m","text":"x","conversation_id":""})",
           R"({"type":"typing","client_msg_id":"m","text":"x"})",
           R"({"type":"chat.send","text":"x"})",
           "{\"type\":\"chat.send\",\"client_msg_id\":\"m\",\"text\":\"a\x01\"}",      // a raw control
           "{\"type\":\"chat.send\",\"client_msg_id\":\"m\",\"text\":\"\xc3\x28\"}",  // bad UTF-8
           "{\"type\":\"chat.send\",\"client_msg_id\":\"m\",\"text\":\"\xed\xa0\x80\"}",  // a surrogate
       }) {
    CAPTURE(f);
    CHECK_FALSE(fast_chat_send(f, lim));
  }
  limits tight;
  tight.max_text_bytes = 4;
  CHECK_FALSE(fast_chat_send(R"({"type":"chat.send","client_msg_id":"m","text":"12345"})", tight));
  CHECK(code_of(parse_client_message(R"({"type":"chat.send","client_msg_id":"m","text":"12345"})", tight)) == error_code::too_large);
  CHECK(code_of(parse_client_message("{\"type\":\"chat.send\",\"client_msg_id\":\"m\",\"text\":\"\xc3\x28\"}", lim)) == error_code::bad_request);
}

TEST_CASE("frames that are not objects with a type") {
  CHECK(parse_client_message("{oops", {}).err->code == error_code::bad_request);
  CHECK(parse_client_message("", {}).err->code == error_code::bad_request);
  CHECK(parse_client_message("[]", {}).err->code == error_code::bad_request);
  CHECK(parse_client_message("{\"type\":3}", {}).err->code == error_code::bad_request);
  CHECK(parse_client_message("\"hello\"", {}).err->code == error_code::bad_request);
  // Invalid UTF-8 inside a string is refused by the parser, not passed on.
  CHECK(parse_client_message("{\"type\":\"chat.send\",\"client_msg_id\":\"m\",\"text\":\"\xff\xfe\"}", {}).err);
  auto unknown = parse(json{{"type", "launch.rockets"}});
  CHECK(unknown.err->code == error_code::bad_request);
  CHECK(unknown.err->ref == "launch.rockets");
}

TEST_CASE("every client message type parses") {
  CHECK(std::holds_alternative<ping>(*parse(json{{"type", "ping"}}).message));
  auto h = parse(json{{"type", "hello"}, {"role", "shopper"}, {"store", "demo"}, {"name", "Ana"}, {"language", "pl"}});
  CHECK(std::get<hello>(*h.message).role == role::shopper);
  CHECK(std::get<hello>(*h.message).language == "pl");
  CHECK(std::get<hello>(*parse(json{{"type", "hello"}, {"token", "t.x"}}).message).token == "t.x");
  CHECK(parse(json{{"type", "hello"}, {"role", "admin"}}).err);
  CHECK(std::get<typing>(*parse(json{{"type", "typing"}, {"conversation_id", "c"}, {"state", true}}).message).state);
  CHECK(std::get<protocol::read>(*parse(json{{"type", "read"}, {"conversation_id", "c"}, {"seq", 5}}).message).seq == 5);
  CHECK(parse(json{{"type", "read"}, {"conversation_id", "c"}, {"seq", -1}}).err);
  CHECK(parse(json{{"type", "read"}, {"conversation_id", "c"}, {"seq", 1.5}}).err);
  CHECK(std::get<history>(*parse(json{{"type", "history"}, {"conversation_id", "c"}}).message).after_seq == 0);
  CHECK(std::get<conversation_close>(*parse(json{{"type", "conversation.close"}, {"conversation_id", "c"}, {"reason", "ok"}}).message).reason == "ok");
  auto p = parse(json{{"type", "presence.set"}, {"status", "away"}, {"capacity", 3}});
  CHECK(std::get<presence_set>(*p.message).status == agent_status::away);
  CHECK(std::get<presence_set>(*p.message).capacity == 3);
  CHECK(parse(json{{"type", "presence.set"}, {"status", "sleeping"}}).err);
  CHECK(parse(json{{"type", "presence.set"}, {"status", "online"}, {"capacity", 1000}}).err);
  CHECK(std::get<conversation_transfer>(*parse(json{{"type", "conversation.transfer"}, {"conversation_id", "c"}, {"to_queue", "default"}}).message).to_queue == "default");
  CHECK(parse(json{{"type", "conversation.transfer"}, {"conversation_id", "c"}}).err);
  CHECK(parse(json{{"type", "conversation.transfer"}, {"conversation_id", "c"}, {"to_queue", "q"}, {"to_agent_id", "a"}}).err);
  CHECK(std::get<escalation_ack>(*parse(json{{"type", "escalation.ack"}, {"escalation_id", "e1"}}).message).escalation_id == "e1");
  CHECK(std::get<escalation_resolve>(*parse(json{{"type", "escalation.resolve"}, {"escalation_id", "e1"}, {"note", "done"}}).message).note == "done");
  CHECK(std::get<conversation_join>(*parse(json{{"type", "conversation.join"}, {"conversation_id", "c"}, {"mode", "whisper"}}).message).mode == join_mode::whisper);
  CHECK(parse(json{{"type", "conversation.join"}, {"conversation_id", "c"}, {"mode", "spy"}}).err);
  CHECK(std::holds_alternative<conversation_takeover>(*parse(json{{"type", "conversation.takeover"}, {"conversation_id", "c"}}).message));
}

TEST_CASE("chat.message and ack are written byte for byte as json::dump() writes them") {
  const std::vector<std::string> texts = {
      "hola", "", "quote \" backslash \\ slash /", "tab\tnewline\ncr\rbs\bff\f", std::string("nul\0x\x01\x1f\x7f", 8),
      "ñandú ŻÓŁĆ 日本 😀 \u00a0", "{\"type\":\"hello\"}", std::string(300, 'x') + "\x1b[0m"};
  std::int64_t seq = 1;
  for (const auto& t : texts)
    for (auto r : {role::shopper, role::agent, role::supervisor}) {
      chat_message m{"c_\"1", seq++, 1700000000000 + seq, participant{r, "u\\1", "Ana \"A\" García"}, t, "cm:1.a-b_c",
                     seq % 2 ? visibility::all : visibility::staff};
      CHECK(make_chat_message(m) == to_json(m).dump());
      // The text escaped beforehand (the hub's prereader, on another thread): the same bytes.
      std::string text_json;
      append_json_string(text_json, t);
      CHECK(make_chat_message(m, text_json) == to_json(m).dump());
      CHECK(make_ack(m.client_msg_id, m.conversation_id, m.seq) ==
            json{{"type", "ack"}, {"client_msg_id", m.client_msg_id}, {"conversation_id", m.conversation_id}, {"seq", m.seq}}.dump());
    }
  chat_message neg{"c", -5, -1, participant{role::agent, "a", "b"}, "t", "m", visibility::all};
  CHECK(make_chat_message(neg) == to_json(neg).dump());
  // Bytes that are not UTF-8 get dump()'s own answer (it throws), as before.
  chat_message bad{"c", 1, 1, participant{role::agent, "a", "b"}, "\xff\xfe", "m", visibility::all};
  CHECK_THROWS(make_chat_message(bad));
}

TEST_CASE("agents.list - defaults - filters and bounds") {
  auto d = parse(json{{"type", "agents.list"}});
  REQUIRE(d.message);
  const auto& m = std::get<agents_list>(*d.message);
  CHECK(m.store.empty());
  CHECK_FALSE(m.status);
  CHECK(m.q.empty());
  CHECK(m.offset == 0);
  CHECK(m.limit == 100);
  CHECK(type_name(*d.message) == "agents.list");
  auto f = parse(json{{"type", "agents.list"}, {"store", "demo-pl"}, {"status", "online"}, {"q", "Ana"}, {"offset", 20}, {"limit", 500}});
  REQUIRE(f.message);
  const auto& g = std::get<agents_list>(*f.message);
  CHECK(g.store == "demo-pl");
  CHECK(g.status == agent_status::online);
  CHECK(g.q == "Ana");
  CHECK(g.offset == 20);
  CHECK(g.limit == max_agents_page);
  for (const json& bad : {json{{"limit", 0}}, json{{"limit", 501}}, json{{"limit", "10"}}, json{{"offset", -1}},
                          json{{"status", "busy"}}, json{{"store", "a b"}}, json{{"q", 5}}}) {
    json j = bad;
    j["type"] = "agents.list";
    auto r = parse(j);
    CHECK(code_of(r) == error_code::bad_request);
    CHECK(r.err->ref == "agents.list");
  }
  CHECK(code_of(parse(json{{"type", "agents.list"}, {"q", std::string(81, 'a')}})) == error_code::too_large);
}

TEST_CASE("server frames carry the fields PROTOCOL.md names") {
  chat_message m{"c_1", 3, 1700000000000, participant{role::agent, "agent", "Ana"}, "hola", "cm1", visibility::staff};
  auto j = json::parse(make_chat_message(m));
  CHECK(j["type"] == "chat.message");
  CHECK(j["seq"] == 3);
  CHECK(j["from"]["role"] == "agent");
  CHECK(j["visibility"] == "staff");
  auto a = json::parse(make_ack("cm1", "c_1", 3));
  CHECK(a == json{{"type", "ack"}, {"client_msg_id", "cm1"}, {"conversation_id", "c_1"}, {"seq", 3}});
  auto e = json::parse(make_error({error_code::rate_limited, "slow down", "typing"}));
  CHECK(e["code"] == "rate_limited");
  CHECK(e["ref"] == "typing");
  conversation_record rec;
  rec.id = "c_9";
  CHECK(summary_json(rec, false)["agent_id"].is_null());
  CHECK_FALSE(summary_json(rec, false).contains("shopper"));
  CHECK(summary_json(rec, true).contains("shopper"));
}

TEST_CASE("guess_ref names a refused frame") {
  CHECK(guess_ref(R"({"type":"chat.send","client_msg_id":"m7","text":"x"})") == "m7");
  CHECK(guess_ref(R"({"type":"typing"})") == "typing");
  CHECK(guess_ref("{bad") == "");
  CHECK(guess_ref(R"({"client_msg_id":5})") == "");
}

TEST_CASE("hello context - strings or numbers - bounded - unknown keys refused") {
  protocol::limits lim;
  auto ctx_of = [&](const std::string& ctx) {
    return protocol::parse_client_message(R"({"type":"hello","role":"shopper","store":"demo","context":)" + ctx + "}", lim);
  };
  auto ok = ctx_of(R"({"order_id":1042,"order_value":"950.50","currency":"pln","tier":2})");
  REQUIRE(ok.message);
  const auto& c = std::get<protocol::hello>(*ok.message).context;
  CHECK(c.order_id == "1042");
  CHECK(c.order_value == 950.5);
  CHECK(c.currency == "PLN");
  CHECK(c.tier == "2");
  for (const char* bad : {R"({"order_value":"lots"})", R"({"order_value":-1})", R"({"currency":"EURO"})",
                          R"({"tier":{"a":1}})", R"({"coupon":"x"})", R"("vip")"}) {
    auto r = ctx_of(bad);
    CHECK_FALSE(r.message);
    REQUIRE(r.err);
    CHECK(r.err->code == protocol::error_code::bad_request);
    CHECK(r.err->message.find("context") != std::string::npos);
  }
  CHECK(protocol::valid_email("ana@example.com"));
  CHECK_FALSE(protocol::valid_email("ana@example"));
  CHECK_FALSE(protocol::valid_email("a b@example.com"));
  CHECK(protocol::valid_phone("+48 (600) 100-200"));
  CHECK_FALSE(protocol::valid_phone("12345"));
}

TEST_CASE("a server text frame header carries the length in 7 - 16 or 64 bits") {
  auto header = [](std::size_t n) {
    std::string h;
    append_text_frame_header(h, n);
    return std::vector<unsigned>(h.begin(), h.end());
  };
  auto bytes = [](std::initializer_list<unsigned> b) { return std::vector<unsigned>(b); };
  auto u = [](std::vector<unsigned> v) {
    for (auto& x : v) x &= 0xFF;
    return v;
  };
  CHECK(u(header(0)) == bytes({0x81, 0}));
  CHECK(u(header(125)) == bytes({0x81, 125}));
  CHECK(u(header(126)) == bytes({0x81, 126, 0, 126}));
  CHECK(u(header(65535)) == bytes({0x81, 126, 0xFF, 0xFF}));
  CHECK(u(header(65536)) == bytes({0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}));
  CHECK(u(header(0x0102030405ULL)) == bytes({0x81, 127, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05}));
}

TEST_CASE("a number rounded to one decimal is written as dump() writes it") {
  auto tenths = [](double v) {
    std::string s;
    calma::protocol::append_json_tenths(s, v);
    return s;
  };
  for (int k = -20000; k <= 20000; ++k) {
    const double v = std::round((k / 10.0) * 10.0) / 10.0;
    CAPTURE(k);
    REQUIRE(tenths(v) == nlohmann::json(v).dump());
  }
  // Levels and trends as the hub rounds them, from values that are not tenths.
  for (double x : {0.04, -0.04, 12.345, 99.95, 100.0, -7.25, 1e-9, 63.05, 1234567.89}) {
    const double v = std::round(x * 10.0) / 10.0;
    CAPTURE(x);
    CHECK(tenths(v) == nlohmann::json(v).dump());
  }
  CHECK(tenths(-0.0) == "-0.0");
  CHECK(tenths(12.3) == "12.3");
}

// The scans read 16 bytes at a time: every special byte at every position
// around those blocks, and bad UTF-8 likewise.
TEST_CASE("escaping - UTF-8 checks and the fast chat.send read agree with json at every position") {
  const limits lim;
  const std::vector<std::string> specials = {"\"", "\\", "\n", std::string(1, '\0'), "\x1f", "\x7f", "ñ", "😀", "/"};
  for (std::size_t len : {0u, 1u, 15u, 16u, 17u, 31u, 32u, 33u, 47u}) {
    for (std::size_t at = 0; at <= len; ++at) {
      for (const auto& sp : specials) {
        std::string t(len, 'a');
        t.insert(at, sp);
        CAPTURE(len);
        CAPTURE(at);
        std::string mine;
        append_json_string(mine, t);
        REQUIRE(mine == json(t).dump());
        REQUIRE(valid_utf8(t));
        const std::string frame = json{{"type", "chat.send"}, {"client_msg_id", "m"}, {"text", t + "x"}}.dump();
        auto fast = fast_chat_send(frame, lim);
        if (fast) CHECK(fast->text == t + "x");
        auto general = parse_client_message(frame, lim);
        REQUIRE(general.message);
        CHECK(std::get<chat_send>(*general.message).text == t + "x");
      }
      for (const std::string bad : {"\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xf5\x80\x80\x80"}) {
        std::string t(len, 'a');
        t.insert(at, bad);
        CAPTURE(at);
        CHECK_FALSE(valid_utf8(t));
      }
    }
  }
}

// The escalation frame's fields written as text: dump()'s bytes for every
// shape the hub produces (acked or not, an agent or none, queued or not,
// context fields present or not, escapes, several reasons), and dump() itself
// (false, out untouched) for bad bytes and for an order value.
TEST_CASE("escalation fields are written as dump() writes them") {
  std::vector<std::string> reasons{"level 71.3 \xE2\x89\xA5 70", "asked for a manager \"now\""};
  std::vector<std::string> keys{"level", "manager"};
  std::vector<std::string> handled{"a_1", "a\\2"};
  std::vector<std::string> empty;
  shopper_info shopper{"s_1", "Zo\xC3\xAB \"Z\"", "pl", "store-a", {}};
  int shapes = 0;
  for (int acked = 0; acked < 2; ++acked)
    for (int agent = 0; agent < 2; ++agent)
      for (int waits = 0; waits < 4; ++waits)
        for (int ctx = 0; ctx < 8; ++ctx)
          for (int lists = 0; lists < 2; ++lists) {
            escalation_fields e;
            shopper.context = {};
            if (ctx & 1) shopper.context.order_id = "ORD-1\n2";
            if (ctx & 2) shopper.context.currency = "PLN";
            if (ctx & 4) shopper.context.tier = "vip";
            e.escalation_id = "e_42";
            e.conversation_id = "c_7";
            e.severity = acked ? "critical" : "warning";
            e.store = "store-a";
            e.reasons = lists ? &reasons : &empty;
            e.reason_keys = lists ? &keys : nullptr;
            e.handled_by = lists ? &handled : &empty;
            e.shopper = shopper;
            e.level = std::round(73.456 * 10) / 10 + waits;
            e.raised_ts = 1764547200123 + shapes;
            e.conversation_s = 95 + waits;
            if (waits & 1) e.queued_s = 90;
            if (waits & 2) e.unanswered_s = 0;
            e.has_agent = agent;
            if (agent) e.agent_id = "a_1", e.agent_name = "\xC5\x81ucja";
            if (acked) e.acked_by = "sup_1";
            e.renotified = waits;
            e.update = lists && acked;
            std::string out = "prefix";
            REQUIRE(append_escalation_fields(out, e));
            std::string want = to_json(e).dump();
            want.pop_back();
            CHECK(out == "prefix" + want);
            ++shapes;
          }
  CHECK(shapes == 256);

  escalation_fields e;
  e.escalation_id = "e_1";
  e.conversation_id = "c_1";
  e.severity = "warning";
  e.shopper.context.order_value = 12.5;
  std::string out = "x";
  CHECK_FALSE(append_escalation_fields(out, e));  // the order value is left to dump()
  CHECK(out == "x");
  e.shopper.context = {};
  e.shopper.name = "bad \xC3";
  CHECK_FALSE(append_escalation_fields(out, e));
  CHECK(out == "x");
  e.shopper.name = "ok";
  std::vector<std::string> bad{"fine", "\xFF"};
  e.reasons = &bad;
  CHECK_FALSE(append_escalation_fields(out, e));
  CHECK(out == "x");
  e.reasons = nullptr;
  CHECK(append_escalation_fields(out, e));
}

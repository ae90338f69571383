// libFuzzer target: one WebSocket text frame from a client, as the server
// reads it (common/protocol). Besides "no crash, no leak, no UB", it checks
// what the rest of the server relies on:
//  - a frame gives exactly one of a message and an error;
//  - the error frame for it is valid JSON (make_error), with its ref;
//  - what a message carries is within the limits and the id rules, and every
//    text it carries can be serialized again as strict JSON (UTF-8), since
//    the hub sends it on;
//  - type_name() is the frame's own "type";
//  - the fast path for plain chat.sends agrees with the general path.
// Input: the frame's bytes. Seeds: tests/fuzz/seeds/protocol (make_seeds.py).
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tests/fuzz/fuzz_common.hpp"

#include "common/protocol/messages.hpp"

using namespace calma;
using namespace calma::protocol;
using nlohmann::json;
using calma::fuzz::strict_ok;

namespace {

[[noreturn]] void fail(const char* what, std::string_view frame) {
  std::fprintf(stderr, "fuzz_protocol: %s\nframe: %.*s\n", what, static_cast<int>(frame.size()), frame.data());
  std::abort();
}
#define EXPECT(cond) \
  do {               \
    if (!(cond)) fail("expected " #cond, frame); \
  } while (0)


bool id_ok(std::string_view s, const limits& lim) { return valid_id(s, lim.max_id_bytes); }

void check_message(const client_message& m, const limits& lim, std::string_view frame) {
  if (const auto* c = std::get_if<chat_send>(&m)) {
    EXPECT(id_ok(c->client_msg_id, lim));
    EXPECT(!c->text.empty() && c->text.size() <= lim.max_text_bytes);
    EXPECT(!c->conversation_id || id_ok(*c->conversation_id, lim));
    chat_message msg;
    msg.conversation_id = c->conversation_id.value_or("c1");
    msg.client_msg_id = c->client_msg_id;
    msg.text = c->text;
    msg.seq = 1;
    EXPECT(strict_ok(to_json(msg)));
    EXPECT(!make_ack(c->client_msg_id, msg.conversation_id, 1).empty());
  } else if (const auto* h = std::get_if<hello>(&m)) {
    EXPECT(h->store.empty() || id_ok(h->store, lim));
    EXPECT(h->language.empty() || valid_id(h->language, 16));
    EXPECT(h->name.size() <= lim.max_name_bytes);
    EXPECT(!h->token || h->token->size() <= lim.max_token_bytes);
    EXPECT(h->context.order_id.size() <= max_order_id_bytes);
    EXPECT(h->context.tier.size() <= max_tier_bytes);
    EXPECT(h->context.currency.empty() || h->context.currency.size() == 3);
    EXPECT(!h->context.order_value || (*h->context.order_value >= 0 && *h->context.order_value <= 1e12));
    shopper_info s{"s1", h->name, h->language, h->store, h->context};
    EXPECT(strict_ok(shopper_json(s)));
  } else if (const auto* c = std::get_if<contact>(&m)) {
    EXPECT(id_ok(c->conversation_id, lim));
    EXPECT(!c->email.empty() || !c->phone.empty());
    EXPECT(c->email.empty() || valid_email(c->email));
    EXPECT(c->phone.empty() || valid_phone(c->phone));
    EXPECT(strict_ok(to_json(contact_info{c->email, c->phone, c->note, 1})));
  } else if (const auto* c = std::get_if<csat>(&m)) {
    EXPECT(c->score >= 1 && c->score <= 5);
    EXPECT(c->comment.size() <= lim.max_reason_bytes);
    EXPECT(strict_ok(json(c->comment)));
  } else if (const auto* c = std::get_if<causes_set>(&m)) {
    EXPECT(c->causes.size() <= 7);
  } else if (const auto* c = std::get_if<conversation_close>(&m)) {
    EXPECT(id_ok(c->conversation_id, lim));
    EXPECT(c->reason.size() <= lim.max_reason_bytes);
    EXPECT(strict_ok(json(c->reason)));
  } else if (const auto* c = std::get_if<conversation_transfer>(&m)) {
    EXPECT(c->to_agent_id.has_value() != c->to_queue.has_value());
  } else if (const auto* r = std::get_if<protocol::read>(&m)) {
    EXPECT(r->seq >= 0);
  } else if (const auto* r = std::get_if<protocol::history>(&m)) {
    EXPECT(r->after_seq >= 0);
  } else if (const auto* p = std::get_if<presence_set>(&m)) {
    EXPECT(!p->capacity || (*p->capacity >= 0 && *p->capacity <= 100));
  }
}

// The fast path for plain chat.sends accepts only what the general path
// accepts, and reads the same message out of it.
void same_as_general(std::string_view frame, const limits& lim) {
  auto fast = fast_chat_send(frame, lim);
  if (!fast) return;
  parse_result g = parse_client_message_general(frame, lim);
  EXPECT(g.message && std::holds_alternative<chat_send>(*g.message));
  const auto& m = std::get<chat_send>(*g.message);
  EXPECT(m.client_msg_id == fast->client_msg_id);
  EXPECT(m.text == fast->text);
  EXPECT(m.conversation_id == fast->conversation_id);
}

void one(std::string_view frame, const limits& lim) {
  same_as_general(frame, lim);
  parse_result r = parse_client_message(frame, lim);
  EXPECT(r.message.has_value() != r.err.has_value());
  if (r.err) {
    const std::string out = make_error(*r.err);
    auto j = json::parse(out, nullptr, false);
    EXPECT(j.is_object() && j["type"] == "error");
    EXPECT(r.err->code != error_code::count_);
    return;
  }
  check_message(*r.message, lim, frame);
  // The frame was an object with a string "type", and that is the message's name.
  auto j = json::parse(frame, nullptr, false);
  EXPECT(j.is_object() && j.contains("type") && j["type"].is_string());
  EXPECT(type_name(*r.message) == j["type"].get<std::string>());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  one(frame, limits{});  // the defaults (config/calma.json's limits are these)
  limits tight;          // small limits, so the length checks are reached
  tight.max_text_bytes = 16;
  tight.max_id_bytes = 8;
  tight.max_token_bytes = 16;
  tight.max_name_bytes = 8;
  tight.max_reason_bytes = 8;
  one(frame, tight);

  // What the session answers a frame refused before parsing with.
  const std::string ref = guess_ref(frame);
  if (ref.size() > 128) fail("guess_ref longer than 128 bytes", frame);
  (void)make_error(error{error_code::too_large, "frame too large", ref});

  // The small validators on raw bytes.
  (void)valid_id(frame, 128);
  if (valid_email(frame) && frame.find('@') == std::string_view::npos) fail("an e-mail without @", frame);
  if (valid_phone(frame) && (frame.size() < 6 || frame.size() > 32)) fail("phone length", frame);
  if (auto j = json::parse(frame, nullptr, false); j.is_object() && j.contains("context")) {
    shopper_context c;
    (void)parse_context(j["context"], c);
  }
  return 0;
}

#include "server/store/redis/decode.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "common/protocol/messages.hpp"
#include "common/reports/figures.hpp"

namespace calma::redis {

namespace {

// A stored JSON object's fields, when they have the type the store writes;
// else the default (json::value() would throw, and a throw in a reply handler
// ends the server).
std::string str_of(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::int64_t int_of(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::map<std::string, std::string> pairs(const redis_value& v) {
  std::map<std::string, std::string> m;
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) m[v.elements[i].str] = v.elements[i + 1].str;
  return m;
}

}  // namespace

redis_value copy_reply(const redisReply* r) {
  redis_value v;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      v.kind = redis_value::type::string;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.kind = redis_value::type::status;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      v.kind = redis_value::type::error;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      v.kind = redis_value::type::integer;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      v.kind = redis_value::type::array;
      v.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) v.elements.push_back(copy_reply(r->element[i]));
      break;
    default:
      v.kind = redis_value::type::nil;
  }
  return v;
}

std::int64_t to_i64(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::optional<conversation_record> record_from(const redis_value& v) {
  if (!v.is_array() || v.elements.empty()) return std::nullopt;
  auto m = pairs(v);
  conversation_record c;
  c.id = m["id"];
  c.shopper.id = m["shopper_id"];
  c.shopper.name = m["shopper_name"];
  c.shopper.language = m["shopper_language"];
  c.shopper.store = m["shopper_store"];
  c.state = conversation_state_from_string(m["state"]).value_or(conversation_state::queued);
  if (auto it = m.find("agent_id"); it != m.end()) c.agent_id = it->second;
  c.agent_name = m["agent_name"];
  c.queue = m["queue"];
  c.created_ts = to_i64(m["created_ts"]);
  c.updated_ts = to_i64(m["updated_ts"]);
  c.last_seq = to_i64(m["last_seq"]);
  c.closed_by = m["closed_by"];
  c.close_reason = m["close_reason"];
  c.escalation_acked_ts = to_i64(m["escalation_acked_ts"]);
  c.escalation_acked_by = m["escalation_acked_by"];
  if (auto ctx = nlohmann::json::parse(m["context"], nullptr, false); ctx.is_object())
    (void)protocol::parse_context(ctx, c.shopper.context);
  if (auto ct = nlohmann::json::parse(m["contact"], nullptr, false); ct.is_object()) {
    c.contact.email = str_of(ct, "email");
    c.contact.phone = str_of(ct, "phone");
    c.contact.note = str_of(ct, "note");
    c.contact.ts = int_of(ct, "ts");
  }
  c.first_response_ts = to_i64(m["first_response_ts"]);
  c.contact_answered_ts = to_i64(m["contact_answered_ts"]);
  c.follow_up = m["follow_up"] == "1";
  c.follow_up_done_ts = to_i64(m["follow_up_done_ts"]);
  c.follow_up_done_by = m["follow_up_done_by"];
  c.csat_score = static_cast<int>(to_i64(m["csat_score"]));
  c.csat_comment = m["csat_comment"];
  c.csat_ts = to_i64(m["csat_ts"]);
  if (auto cats = nlohmann::json::parse(m["categories"], nullptr, false); cats.is_array())
    for (const auto& x : cats)
      if (x.is_string()) c.categories.push_back(x.get<std::string>());
  c.categories_corrected = m["categories_corrected"] == "1";
  c.figures = reports::figures_from_json(nlohmann::json::parse(m["figures"], nullptr, false));
  return c;
}

chat_message message_from(const std::string& conversation_id, std::int64_t seq, const redis_value& fields) {
  auto m = pairs(fields);
  chat_message msg;
  msg.conversation_id = conversation_id;
  msg.seq = seq;
  msg.ts = to_i64(m["ts"]);
  msg.from.role = role_from_string(m["role"]).value_or(role::shopper);
  msg.from.id = m["from"];
  msg.from.name = m["name"];
  msg.text = m["text"];
  msg.client_msg_id = m["cmid"];
  msg.visibility = m["vis"] == to_string(visibility::staff) ? visibility::staff : visibility::all;
  return msg;
}

std::vector<conversation_record> records_from(const redis_value& v) {
  std::vector<conversation_record> out;
  for (const auto& h : v.elements)
    if (auto c = record_from(h)) out.push_back(std::move(*c));
  return out;
}

std::optional<window_page> window_page_from(const redis_value& v) {
  if (!v.is_array() || v.elements.empty()) return std::nullopt;
  window_page page;
  const auto& el = v.elements;
  if (el[0].integer >= 0) page.next = static_cast<std::uint64_t>(el[0].integer);
  for (std::size_t i = 1; i < el.size(); ++i)
    if (auto c = record_from(el[i])) page.records.push_back(std::move(*c));
  return page;
}

std::optional<append_result> append_result_from(const redis_value& v, const chat_message& sent) {
  const auto& el = v.elements;
  if (!v.is_array() || el.size() < 2) return std::nullopt;
  append_result res;
  switch (el[0].integer) {
    case 2:  // stored now
      res.message = sent;
      res.message.seq = el[1].integer;
      break;
    case 1:  // the first copy
      res.duplicate = true;
      res.message = el.size() > 2 ? message_from(sent.conversation_id, el[1].integer, el[2]) : sent;
      res.message.seq = el[1].integer;
      break;
    default:  // allow_new false and no earlier copy
      res.message = sent;
      res.message.seq = 0;
  }
  return res;
}

std::vector<chat_message> messages_from(const std::string& conversation_id, const redis_value& v) {
  std::vector<chat_message> out;
  out.reserve(v.elements.size());
  for (const auto& entry : v.elements) {
    if (!entry.is_array() || entry.elements.size() < 2) continue;
    out.push_back(message_from(conversation_id, to_i64(entry.elements[0].str), entry.elements[1]));
  }
  return out;
}

std::vector<presence_record> presence_from(const std::vector<std::string>& ids, const redis_value& v,
                                           std::vector<std::string>& gone) {
  std::vector<presence_record> out;
  for (std::size_t i = 0; i < ids.size() && i < v.elements.size(); ++i) {
    const auto& e = v.elements[i];
    auto j = e.is_string() ? nlohmann::json::parse(e.str, nullptr, false) : nlohmann::json();
    auto st = j.is_object() ? agent_status_from_string(str_of(j, "status")) : std::nullopt;
    if (!st) {
      gone.push_back(ids[i]);
      continue;
    }
    const auto capacity = std::clamp<std::int64_t>(int_of(j, "capacity"), 0, std::numeric_limits<int>::max());
    out.push_back({ids[i], *st, static_cast<int>(capacity), int_of(j, "ts")});
  }
  return out;
}

}  // namespace calma::redis

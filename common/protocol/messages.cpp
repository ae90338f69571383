#include <cmath>
#include "common/protocol/messages.hpp"
#include "common/protocol/scan.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include "common/causes/causes.hpp"

namespace calma::protocol {

using nlohmann::json;

std::string_view to_string(join_mode m) {
  switch (m) {
    case join_mode::monitor: return "monitor";
    case join_mode::whisper: return "whisper";
    case join_mode::barge: return "barge";
  }
  return "monitor";
}

namespace {

// Field readers: each returns false and fills `err` on a problem, naming the
// field, so a client developer sees exactly what to fix.
struct reader {
  const json& obj;
  const limits& lim;
  std::string type;
  std::optional<error> err;

  bool fail(error_code c, std::string msg) {
    if (!err) err = error{c, std::move(msg), type};
    return false;
  }

  const json* find(const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }

  bool str(const char* key, std::string& out, std::size_t max_bytes, bool required,
           bool allow_empty = false) {
    const json* v = find(key);
    if (!v) return required ? fail(error_code::bad_request, std::string("missing field '") + key + "'") : true;
    if (!v->is_string()) return fail(error_code::bad_request, std::string("field '") + key + "' must be a string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max_bytes)
      return fail(error_code::too_large, std::string("field '") + key + "' is longer than " +
                                             std::to_string(max_bytes) + " bytes");
    if (s.empty() && !allow_empty)
      return fail(error_code::bad_request, std::string("field '") + key + "' must not be empty");
    out = s;
    return true;
  }

  bool id(const char* key, std::string& out, bool required = true) {
    if (!str(key, out, lim.max_id_bytes, required)) return false;
    if (out.empty() && !required) return true;
    if (!valid_id(out, lim.max_id_bytes))
      return fail(error_code::bad_request, std::string("field '") + key + "' has characters outside [A-Za-z0-9._:-]");
    return true;
  }

  bool opt_id(const char* key, std::optional<std::string>& out) {
    if (!find(key)) return true;
    std::string s;
    if (!id(key, s)) return false;
    out = std::move(s);
    return true;
  }

  bool integer(const char* key, std::int64_t& out, bool required, std::int64_t min,
               std::int64_t max) {
    const json* v = find(key);
    if (!v) return required ? fail(error_code::bad_request, std::string("missing field '") + key + "'") : true;
    if (!v->is_number_integer())
      return fail(error_code::bad_request, std::string("field '") + key + "' must be an integer");
    std::int64_t x = v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)
                         ? INT64_MAX
                         : v->get<std::int64_t>();
    if (x < min || x > max)
      return fail(error_code::bad_request, std::string("field '") + key + "' out of range [" +
                                               std::to_string(min) + ", " + std::to_string(max) + "]");
    out = x;
    return true;
  }

  bool boolean(const char* key, bool& out) {
    const json* v = find(key);
    if (!v) return fail(error_code::bad_request, std::string("missing field '") + key + "'");
    if (!v->is_boolean()) return fail(error_code::bad_request, std::string("field '") + key + "' must be a boolean");
    out = v->get<bool>();
    return true;
  }
};

// Nothing a reader would see: spaces of every kind, controls, format
// characters (U+200B, U+2060, U+FEFF...), lone combining marks, the Hangul
// fillers and the blank braille pattern that render as nothing.
bool only_whitespace(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  auto left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    auto n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) return false;  // not for this check to judge (the JSON parser let it through)
    switch (utf8proc_category(cp)) {
      case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
      case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_MN:
      case UTF8PROC_CATEGORY_ME:
        break;
      default:
        if (cp != 0x115F && cp != 0x1160 && cp != 0x3164 && cp != 0xFFA0 && cp != 0x2800 && cp != 0x180E) return false;
    }
    p += n;
    left -= n;
  }
  return true;
}

template <class T>
parse_result done(reader& r, T&& value) {
  if (r.err) return parse_result{std::nullopt, std::move(r.err)};
  return parse_result{client_message{std::forward<T>(value)}, std::nullopt};
}

}  // namespace

std::string guess_ref(std::string_view frame) {
  json obj = json::parse(frame.begin(), frame.end(), nullptr, false);
  if (!obj.is_object()) return {};
  for (const char* key : {"client_msg_id", "type"}) {
    auto it = obj.find(key);
    if (it != obj.end() && it->is_string() && it->get_ref<const std::string&>().size() <= 128) return it->get<std::string>();
  }
  return {};
}

bool valid_id(std::string_view s, std::size_t max_bytes) {
  if (s.empty() || s.size() > max_bytes) return false;
  for (unsigned char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string_view type_name(const client_message& m) {
  static constexpr std::string_view names[] = {
      "hello",   "chat.send",          "typing",             "read",
      "history", "conversation.close", "presence.set",       "conversation.transfer",
      "escalation.ack", "escalation.resolve", "conversation.join", "conversation.takeover",
      "ping", "contact", "followup.done", "csat", "causes.set", "agents.list"};
  return names[m.index()];
}

namespace {

// A plain chat.send, read without building a json tree: the frame of nearly
// every message. A flat object whose fields are among type, client_msg_id,
// text and conversation_id, each once and each a string, with no \u escape.
// Anything else (another type, another field, a number, null, a nested
// value, a duplicate, \u escapes, bad bytes, a value the rules refuse) is
// left to the general path, which also words every error: this path only
// accepts what the general one accepts, and builds the same chat_send
// (checked by tests/unit/test_protocol.cpp and the fuzz_protocol target).
class flat_scan {
 public:
  explicit flat_scan(std::string_view s) : p_(s.data()), e_(s.data() + s.size()) {}

  void ws() {
    while (p_ != e_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool take(char c) {
    ws();
    if (p_ == e_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  bool at_end() {
    ws();
    return p_ == e_;
  }
  /// A string after its opening quote, into `out`; false on anything the fast path leaves alone.
  bool string(std::string& out, bool& non_ascii) {
    out.clear();
    const char* run = p_;
    while (p_ != e_) {
      p_ += scan::to_special(p_, 0, static_cast<std::size_t>(e_ - p_), &non_ascii);
      if (p_ == e_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out.append(run, p_);
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      out.append(run, p_);
      if (++p_ == e_) return false;
      switch (*p_) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        default: return false;  // \u: the general path decodes it
      }
      run = ++p_;
    }
    return false;
  }

 private:
  const char* p_;
  const char* e_;
};

}  // namespace

std::optional<chat_send> fast_chat_send(std::string_view frame, const limits& lim) {
  static constexpr std::string_view keys[] = {"type", "client_msg_id", "text", "conversation_id"};
  std::string values[4];
  bool seen[4] = {false, false, false, false};
  bool non_ascii = false;
  flat_scan sc(frame);
  if (!sc.take('{')) return std::nullopt;
  std::string key;
  for (;;) {
    if (!sc.take('"')) return std::nullopt;  // also `{}` and a trailing comma
    bool key_non_ascii = false;
    if (!sc.string(key, key_non_ascii)) return std::nullopt;
    std::size_t k = 0;
    while (k < 4 && keys[k] != key) ++k;
    if (k == 4 || seen[k]) return std::nullopt;
    seen[k] = true;
    if (!sc.take(':') || !sc.take('"') || !sc.string(values[k], non_ascii)) return std::nullopt;
    if (sc.take(',')) continue;
    if (!sc.take('}') || !sc.at_end()) return std::nullopt;
    break;
  }
  if (!seen[0] || values[0] != "chat.send" || !seen[1] || !seen[2]) return std::nullopt;
  if (non_ascii)
    for (const auto& v : values)
      if (!valid_utf8(v)) return std::nullopt;
  chat_send m;
  m.client_msg_id = std::move(values[1]);
  m.text = std::move(values[2]);
  if (!valid_id(m.client_msg_id, lim.max_id_bytes)) return std::nullopt;
  if (m.text.empty() || m.text.size() > lim.max_text_bytes || only_whitespace(m.text)) return std::nullopt;
  if (seen[3]) {
    if (!valid_id(values[3], lim.max_id_bytes)) return std::nullopt;
    m.conversation_id = std::move(values[3]);
  }
  return m;
}

parse_result parse_client_message(std::string_view frame, const limits& lim) {
  if (auto m = fast_chat_send(frame, lim)) return parse_result{client_message{std::move(*m)}, std::nullopt};
  return parse_client_message_general(frame, lim);
}

parse_result parse_client_message_general(std::string_view frame, const limits& lim) {
  json obj = json::parse(frame.begin(), frame.end(), nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded())
    return {std::nullopt, error{error_code::bad_request, "invalid JSON", ""}};
  if (!obj.is_object())
    return {std::nullopt, error{error_code::bad_request, "a frame must be a JSON object", ""}};
  auto t = obj.find("type");
  if (t == obj.end() || !t->is_string())
    return {std::nullopt, error{error_code::bad_request, "missing string field 'type'", ""}};
  const std::string type = t->get<std::string>();
  reader r{obj, lim, type, std::nullopt};

  if (type == "chat.send") {
    chat_send m;
    r.str("client_msg_id", m.client_msg_id, lim.max_id_bytes, true);
    if (!r.err && !valid_id(m.client_msg_id, lim.max_id_bytes))
      r.fail(error_code::bad_request, "field 'client_msg_id' has characters outside [A-Za-z0-9._:-]");
    if (!r.err) r.str("text", m.text, lim.max_text_bytes, true);
    if (!r.err && only_whitespace(m.text)) r.fail(error_code::bad_request, "field 'text' is blank");
    if (!r.err) r.opt_id("conversation_id", m.conversation_id);
    // The answer to a bad chat.send names the client_msg_id, so the client
    // can drop that one message from its outbox.
    if (r.err && !m.client_msg_id.empty()) r.err->ref = m.client_msg_id;
    return done(r, std::move(m));
  }
  if (type == "ping") return done(r, ping{});
  if (type == "typing") {
    typing m;
    r.id("conversation_id", m.conversation_id) && r.boolean("state", m.state);
    return done(r, std::move(m));
  }
  if (type == "read") {
    read m;
    r.id("conversation_id", m.conversation_id) && r.integer("seq", m.seq, true, 0, INT64_MAX);
    return done(r, std::move(m));
  }
  if (type == "history") {
    history m;
    r.id("conversation_id", m.conversation_id) &&
        r.integer("after_seq", m.after_seq, false, 0, INT64_MAX);
    return done(r, std::move(m));
  }
  if (type == "hello") {
    hello m;
    std::string token, role_s;
    r.str("token", token, lim.max_token_bytes, false);
    if (!token.empty()) m.token = token;
    r.str("role", role_s, 32, false);
    if (!r.err && !role_s.empty()) {
      m.role = role_from_string(role_s);
      if (!m.role) r.fail(error_code::bad_request, "field 'role' must be shopper, agent or supervisor");
    }
    if (!r.err) r.str("store", m.store, lim.max_id_bytes, false);
    if (!r.err && !m.store.empty() && !valid_id(m.store, lim.max_id_bytes))
      r.fail(error_code::bad_request, "field 'store' has characters outside [A-Za-z0-9._:-]");
    if (!r.err) r.str("name", m.name, lim.max_name_bytes, false, true);
    if (!r.err) r.str("language", m.language, 16, false, true);
    if (!r.err && !m.language.empty() && !valid_id(m.language, 16))
      r.fail(error_code::bad_request, "field 'language' must be a language code such as es, pl or en");
    if (!r.err) {
      if (const json* ctx = r.find("context")) {
        if (auto e = parse_context(*ctx, m.context)) r.fail(error_code::bad_request, *e);
      }
    }
    return done(r, std::move(m));
  }
  if (type == "contact") {
    contact m;
    r.id("conversation_id", m.conversation_id) && r.str("email", m.email, 254, false, true) &&
        r.str("phone", m.phone, 32, false, true) && r.str("note", m.note, lim.max_reason_bytes, false, true);
    if (!r.err && m.email.empty() && m.phone.empty())
      r.fail(error_code::bad_request, "give an e-mail address or a phone number");
    if (!r.err && !m.email.empty() && !valid_email(m.email))
      r.fail(error_code::bad_request, "field 'email' is not a valid e-mail address");
    if (!r.err && !m.phone.empty() && !valid_phone(m.phone))
      r.fail(error_code::bad_request, "field 'phone' is not a valid phone number");
    return done(r, std::move(m));
  }
  if (type == "csat") {
    csat m;
    std::int64_t score = 0;
    r.id("conversation_id", m.conversation_id) && r.integer("score", score, true, 1, 5) &&
        r.str("comment", m.comment, lim.max_reason_bytes, false, true);
    m.score = static_cast<int>(score);
    return done(r, std::move(m));
  }
  if (type == "causes.set") {
    causes_set m;
    if (r.id("conversation_id", m.conversation_id)) {
      const json* v = r.find("causes");
      if (!v || !v->is_array() || v->size() > causes::cause_count) {
        r.fail(error_code::bad_request, "field 'causes' must be an array of delivery, damaged, wrong_item, refund, payment, service, other");
      } else {
        for (const auto& c : *v) {
          if (!c.is_string() || !causes::cause_from(c.get<std::string>())) {
            r.fail(error_code::bad_request, "field 'causes' holds " + c.dump().substr(0, 40) +
                                                ", not one of delivery, damaged, wrong_item, refund, payment, service, other");
            break;
          }
          if (std::find(m.causes.begin(), m.causes.end(), c.get<std::string>()) == m.causes.end())
            m.causes.push_back(c.get<std::string>());
        }
      }
    }
    return done(r, std::move(m));
  }
  if (type == "agents.list") {
    agents_list m;
    std::string st;
    if (r.find("store")) r.id("store", m.store);
    if (!r.err && r.str("status", st, 16, false) && !st.empty()) {
      auto v = agent_status_from_string(st);
      if (!v) r.fail(error_code::bad_request, "field 'status' must be online, away or offline");
      else m.status = *v;
    }
    if (!r.err) r.str("q", m.q, lim.max_name_bytes, false, true);
    std::int64_t offset = 0, limit = m.limit;
    if (!r.err) r.integer("offset", offset, false, 0, 1'000'000);
    if (!r.err) r.integer("limit", limit, false, 1, max_agents_page);
    m.offset = static_cast<int>(offset);
    m.limit = static_cast<int>(limit);
    return done(r, std::move(m));
  }
  if (type == "followup.done") {
    followup_done m;
    r.id("conversation_id", m.conversation_id) && r.str("note", m.note, lim.max_reason_bytes, false, true);
    return done(r, std::move(m));
  }
  if (type == "conversation.close") {
    conversation_close m;
    r.id("conversation_id", m.conversation_id) &&
        r.str("reason", m.reason, lim.max_reason_bytes, false, true);
    if (!r.err && r.find("follow_up")) r.boolean("follow_up", m.follow_up);
    return done(r, std::move(m));
  }
  if (type == "presence.set") {
    presence_set m;
    std::string s;
    if (r.str("status", s, 16, true)) {
      auto st = agent_status_from_string(s);
      if (!st) r.fail(error_code::bad_request, "field 'status' must be online, away or offline");
      else m.status = *st;
    }
    std::int64_t cap = 0;
    if (!r.err && r.find("capacity")) {
      if (r.integer("capacity", cap, true, 0, 100)) m.capacity = static_cast<int>(cap);
    }
    return done(r, std::move(m));
  }
  if (type == "conversation.transfer") {
    conversation_transfer m;
    r.id("conversation_id", m.conversation_id) && r.opt_id("to_agent_id", m.to_agent_id) &&
        r.opt_id("to_queue", m.to_queue);
    if (!r.err && m.to_agent_id.has_value() == m.to_queue.has_value())
      r.fail(error_code::bad_request, "give exactly one of 'to_agent_id' or 'to_queue'");
    return done(r, std::move(m));
  }
  if (type == "escalation.ack") {
    escalation_ack m;
    r.id("escalation_id", m.escalation_id);
    return done(r, std::move(m));
  }
  if (type == "escalation.resolve") {
    escalation_resolve m;
    r.id("escalation_id", m.escalation_id) && r.str("note", m.note, lim.max_reason_bytes, false, true);
    return done(r, std::move(m));
  }
  if (type == "conversation.join") {
    conversation_join m;
    std::string s;
    if (r.id("conversation_id", m.conversation_id) && r.str("mode", s, 16, true)) {
      if (s == "monitor") m.mode = join_mode::monitor;
      else if (s == "whisper") m.mode = join_mode::whisper;
      else if (s == "barge") m.mode = join_mode::barge;
      else r.fail(error_code::bad_request, "field 'mode' must be monitor, whisper or barge");
    }
    return done(r, std::move(m));
  }
  if (type == "conversation.takeover") {
    conversation_takeover m;
    r.id("conversation_id", m.conversation_id);
    return done(r, std::move(m));
  }
  std::string shown = type.size() > 40 ? type.substr(0, 40) + "..." : type;
  return {std::nullopt, error{error_code::bad_request, "unknown type '" + shown + "'",
                              type.size() > 64 ? type.substr(0, 64) : type}};
}

std::optional<std::string> parse_context(const json& j, shopper_context& out) {
  if (!j.is_object()) return "field 'context' must be an object {order_id, order_value, currency, tier}";
  shopper_context c;
  for (const auto& [k, v] : j.items()) {
    if (v.is_null()) continue;
    if (k == "order_id") {
      if (v.is_number_integer()) c.order_id = v.dump();
      else if (v.is_string()) c.order_id = v.get<std::string>();
      else return "context.order_id must be a string or an integer";
      if (c.order_id.size() > max_order_id_bytes)
        return "context.order_id is longer than " + std::to_string(max_order_id_bytes) + " bytes";
      for (unsigned char ch : c.order_id)
        if (ch < 0x20 || ch == 0x7f) return "context.order_id has control characters";
    } else if (k == "order_value") {
      double x = 0;
      if (v.is_number()) {
        x = v.get<double>();
      } else if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        std::size_t used = 0;
        try {
          x = std::stod(s, &used);
        } catch (...) {
          used = 0;
        }
        if (s.empty() || used != s.size()) return "context.order_value must be a number";
      } else {
        return "context.order_value must be a number";
      }
      if (!(x >= 0) || x > 1e12) return "context.order_value must be a number from 0 to 1e12";
      c.order_value = x;
    } else if (k == "currency") {
      if (!v.is_string()) return "context.currency must be a string (ISO 4217, e.g. EUR)";
      const auto& s = v.get_ref<const std::string&>();
      bool ok = s.size() == 3;
      for (char ch : s) ok = ok && ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'));
      if (!ok) return "context.currency must be 3 letters (ISO 4217, e.g. EUR)";
      for (char ch : s) c.currency.push_back(static_cast<char>(ch >= 'a' ? ch - 32 : ch));
    } else if (k == "tier") {
      // PROTOCOL: strings or numbers ("tier": 2 is a tier too).
      if (v.is_number_integer()) c.tier = v.dump();
      else if (v.is_string()) c.tier = v.get<std::string>();
      else return "context.tier must be a string or an integer";
      if (c.tier.size() > max_tier_bytes) return "context.tier is longer than " + std::to_string(max_tier_bytes) + " bytes";
      if (!c.tier.empty() && !valid_id(c.tier, max_tier_bytes)) return "context.tier has characters outside [A-Za-z0-9._:-]";
    } else {
      return "context." + (k.size() > 32 ? k.substr(0, 32) : k) + " is not a known field (order_id, order_value, currency, tier)";
    }
  }
  out = std::move(c);
  return std::nullopt;
}

bool valid_email(std::string_view s) {
  if (s.size() < 6 || s.size() > 254) return false;
  auto at = s.find('@');
  if (at == std::string_view::npos || at == 0 || s.find('@', at + 1) != std::string_view::npos) return false;
  auto domain = s.substr(at + 1);
  auto dot = domain.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 2 > domain.size() || domain.find("..") != std::string_view::npos)
    return false;
  if (domain.front() == '-' || domain.front() == '.') return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == '\\') return false;
  return true;
}

bool valid_phone(std::string_view s) {
  if (s.size() < 6 || s.size() > 32) return false;
  int digits = 0;
  for (char c : s) {
    if (c >= '0' && c <= '9') ++digits;
    else if (c != ' ' && c != '+' && c != '-' && c != '(' && c != ')' && c != '.') return false;
  }
  return digits >= 6;
}

json to_json(const shopper_context& c) {
  json j = json::object();
  if (!c.order_id.empty()) j["order_id"] = c.order_id;
  if (c.order_value) j["order_value"] = *c.order_value;
  if (!c.currency.empty()) j["currency"] = c.currency;
  if (!c.tier.empty()) j["tier"] = c.tier;
  return j;
}

json to_json(const contact_info& c) {
  if (c.empty()) return nullptr;
  return json{{"email", c.email}, {"phone", c.phone}, {"note", c.note}, {"ts", c.ts}};
}

json shopper_json(const shopper_info& s) {
  return json{{"id", s.id}, {"name", s.name}, {"language", s.language}, {"store", s.store},
              {"context", to_json(s.context)}};
}

json to_json(const participant& p) {
  return json{{"role", to_string(p.role)}, {"id", p.id}, {"name", p.name}};
}

json to_json(const chat_message& m) {
  return json{{"type", "chat.message"},
              {"conversation_id", m.conversation_id},
              {"seq", m.seq},
              {"ts", m.ts},
              {"from", to_json(m.from)},
              {"text", m.text},
              {"client_msg_id", m.client_msg_id},
              {"visibility", to_string(m.visibility)}};
}

json summary_json(const conversation_record& c, bool for_staff) {
  json j{{"conversation_id", c.id},
         {"state", to_string(c.state)},
         {"agent_id", c.agent_id ? json(*c.agent_id) : json(nullptr)},
         {"last_seq", c.last_seq},
         {"created_ts", c.created_ts}};
  if (c.agent_id) j["agent"] = json{{"id", *c.agent_id}, {"name", c.agent_name}};
  if (for_staff) {
    j["shopper"] = shopper_json(c.shopper);
    j["queue"] = c.queue;
    j["store"] = c.shopper.store;
    j["categories"] = c.categories;
  }
  return j;
}

std::string make_error(const error& e) {
  json j{{"type", "error"}, {"code", to_string(e.code)}, {"message", e.message}};
  if (!e.ref.empty()) j["ref"] = e.ref;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------
// The frames of every message (ack, chat.message), written straight into one
// string: byte for byte what json(...).dump() gives (keys in std::map order,
// the same escapes), without building a tree of nodes first.

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const auto n = s.size();
  while (i < n) {
    i = scan::to_non_ascii(s.data(), i, n);
    if (i == n) break;
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return false;
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += len;
  }
  return true;
}

// A JSON string as nlohmann's serializer writes it (ensure_ascii off).
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the bytes copied as they are
  for (std::size_t i = 0; (i = scan::to_special(s.data(), i, s.size())) < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void append_json_tenths(std::string& out, double v) {
  if (std::signbit(v)) out += '-';
  const auto t = static_cast<std::int64_t>(std::llround(std::fabs(v) * 10));
  out += std::to_string(t / 10);
  out += '.';
  out += static_cast<char>('0' + t % 10);
}

namespace {
void put_string(std::string& out, std::string_view s) { append_json_string(out, s); }
void put_int(std::string& out, std::int64_t v) { out += std::to_string(v); }
}  // namespace

std::string make_ack(std::string_view client_msg_id, std::string_view conversation_id,
                     std::int64_t seq) {
  if (!valid_utf8(client_msg_id) || !valid_utf8(conversation_id))  // dump()'s own answer to bad bytes
    return json{{"type", "ack"}, {"client_msg_id", client_msg_id}, {"conversation_id", conversation_id}, {"seq", seq}}
        .dump();
  std::string out;
  out.reserve(64 + client_msg_id.size() + conversation_id.size());
  out += "{\"client_msg_id\":";
  put_string(out, client_msg_id);
  out += ",\"conversation_id\":";
  put_string(out, conversation_id);
  out += ",\"seq\":";
  put_int(out, seq);
  out += ",\"type\":\"ack\"}";
  return out;
}

std::string make_chat_message(const chat_message& m, std::string_view text_json) {
  for (std::string_view s : {std::string_view(m.conversation_id), std::string_view(m.from.id),
                             std::string_view(m.from.name), std::string_view(m.client_msg_id)})
    if (!valid_utf8(s)) return to_json(m).dump();  // dump()'s own answer to bad bytes
  if (text_json.empty() && !valid_utf8(m.text)) return to_json(m).dump();
  std::string out;
  out.reserve(160 + m.conversation_id.size() + m.from.id.size() + m.from.name.size() + m.text.size() +
              m.client_msg_id.size());
  out += "{\"client_msg_id\":";
  put_string(out, m.client_msg_id);
  out += ",\"conversation_id\":";
  put_string(out, m.conversation_id);
  out += ",\"from\":{\"id\":";
  put_string(out, m.from.id);
  out += ",\"name\":";
  put_string(out, m.from.name);
  out += ",\"role\":";
  put_string(out, to_string(m.from.role));
  out += "},\"seq\":";
  put_int(out, m.seq);
  out += ",\"text\":";
  if (text_json.empty()) put_string(out, m.text);
  else out += text_json;
  out += ",\"ts\":";
  put_int(out, m.ts);
  out += ",\"type\":\"chat.message\",\"visibility\":";
  put_string(out, to_string(m.visibility));
  out += '}';
  return out;
}

json to_json(const escalation_fields& e) {
  json waiting{{"conversation_s", e.conversation_s}};
  if (e.queued_s) waiting["queued_s"] = *e.queued_s;
  if (e.unanswered_s) waiting["unanswered_s"] = *e.unanswered_s;
  static const std::vector<std::string> none;
  json j{{"type", "escalation.raised"},
         {"escalation_id", e.escalation_id},
         {"conversation_id", e.conversation_id},
         {"reasons", e.reasons ? *e.reasons : none},
         {"reason_keys", e.reason_keys ? *e.reason_keys : none},
         {"severity", e.severity},
         {"level", e.level},
         {"raised_ts", e.raised_ts},
         {"waiting", std::move(waiting)},
         {"handled_by", e.handled_by ? *e.handled_by : none},
         {"shopper", shopper_json(e.shopper)},
         {"store", e.store},
         {"agent", e.has_agent ? json{{"id", e.agent_id}, {"name", e.agent_name}} : json(nullptr)},
         {"acked", !e.acked_by.empty()},
         {"renotified", e.renotified}};
  if (!e.acked_by.empty()) j["acked_by"] = e.acked_by;
  if (e.update) j["update"] = true;
  return j;
}

namespace {
bool put_strings(std::string& out, const std::vector<std::string>* v) {
  out += '[';
  if (v)
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (!valid_utf8((*v)[i])) return false;
      if (i) out += ',';
      put_string(out, (*v)[i]);
    }
  out += ']';
  return true;
}
}  // namespace

bool append_escalation_fields(std::string& out, const escalation_fields& e) {
  const auto size = out.size();
  auto fail = [&] {
    out.resize(size);
    return false;
  };
  for (std::string_view s : {e.escalation_id, e.conversation_id, e.severity, e.store, e.agent_id, e.agent_name, e.acked_by})
    if (!valid_utf8(s)) return fail();
  // The shopper, its context's fields in dump()'s (sorted) order; an order
  // value (a double, in dump()'s own shortest form) is left to the tree.
  std::string shopper;
  {
    const auto& s = e.shopper;
    const auto& c = s.context;
    for (std::string_view v : {std::string_view(s.id), std::string_view(s.name), std::string_view(s.language),
                               std::string_view(s.store), std::string_view(c.order_id), std::string_view(c.currency),
                               std::string_view(c.tier)})
      if (!valid_utf8(v)) return fail();
    if (c.order_value) return fail();  // rare enough: the tree writes it
    shopper = "{\"context\":{";
    bool first = true;
    auto field = [&](const char* key, const std::string& v) {
      if (v.empty()) return;
      shopper += first ? "\"" : ",\"";
      first = false;
      shopper += key;
      shopper += "\":";
      put_string(shopper, v);
    };
    field("currency", c.currency);
    field("order_id", c.order_id);
    field("tier", c.tier);
    shopper += "},\"id\":";
    put_string(shopper, s.id);
    shopper += ",\"language\":";
    put_string(shopper, s.language);
    shopper += ",\"name\":";
    put_string(shopper, s.name);
    shopper += ",\"store\":";
    put_string(shopper, s.store);
    shopper += '}';
  }
  out += "{\"acked\":";
  out += e.acked_by.empty() ? "false" : "true";
  if (!e.acked_by.empty()) {
    out += ",\"acked_by\":";
    put_string(out, e.acked_by);
  }
  out += ",\"agent\":";
  if (e.has_agent) {
    out += "{\"id\":";
    put_string(out, e.agent_id);
    out += ",\"name\":";
    put_string(out, e.agent_name);
    out += '}';
  } else {
    out += "null";
  }
  out += ",\"conversation_id\":";
  put_string(out, e.conversation_id);
  out += ",\"escalation_id\":";
  put_string(out, e.escalation_id);
  out += ",\"handled_by\":";
  if (!put_strings(out, e.handled_by)) return fail();
  out += ",\"level\":";
  append_json_tenths(out, e.level);
  out += ",\"raised_ts\":";
  put_int(out, e.raised_ts);
  out += ",\"reason_keys\":";
  if (!put_strings(out, e.reason_keys)) return fail();
  out += ",\"reasons\":";
  if (!put_strings(out, e.reasons)) return fail();
  out += ",\"renotified\":";
  put_int(out, e.renotified);
  out += ",\"severity\":";
  put_string(out, e.severity);
  out += ",\"shopper\":";
  out += shopper;
  out += ",\"store\":";
  put_string(out, e.store);
  out += ",\"type\":\"escalation.raised\"";
  if (e.update) out += ",\"update\":true";
  out += ",\"waiting\":{\"conversation_s\":";
  put_int(out, e.conversation_s);
  if (e.queued_s) {
    out += ",\"queued_s\":";
    put_int(out, *e.queued_s);
  }
  if (e.unanswered_s) {
    out += ",\"unanswered_s\":";
    put_int(out, *e.unanswered_s);
  }
  out += '}';
  return true;
}

std::string make_pong() { return R"({"type":"pong"})"; }

}  // namespace calma::protocol

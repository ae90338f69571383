#include "server/store/packed.hpp"

#include <cstring>
#include <stdexcept>

namespace calma::packed {

namespace {

// A field added to the record (or a message) must be packed below: this stops
// the build where the layout is known (x86-64, libstdc++) until it is.
#if defined(__x86_64__) && defined(__GLIBCXX__)
static_assert(sizeof(conversation_record) == 864, "conversation_record changed: pack and unpack the new field here");
static_assert(sizeof(conversation_figures) == 104, "conversation_figures changed: pack and unpack the new field here");
static_assert(sizeof(agent_figures) == 80, "agent_figures changed: pack and unpack the new field here");
static_assert(sizeof(contact_info) == 104, "contact_info changed: pack and unpack the new field here");
static_assert(sizeof(shopper_info) == 240, "shopper_info changed: pack and unpack the new field here");
static_assert(sizeof(chat_message) == 192, "chat_message changed: pack and unpack the new field here");
#endif

class writer {
 public:
  writer() = default;
  explicit writer(std::size_t expect) { out_.reserve(expect); }
  void u(std::uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  void i(std::int64_t v) { u((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63)); }
  void s(std::string_view v) {
    u(v.size());
    out_ += v;
  }
  void d(double v) {
    char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    out_.append(b, sizeof b);
  }
  void strings(const std::vector<std::string>& v) {
    u(v.size());
    for (const auto& x : v) s(x);
  }
  std::string done() { return std::move(out_); }

 private:
  std::string out_;
};

class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  std::uint64_t u() {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (in_.empty() || shift > 63) throw std::runtime_error("packed: truncated");
      const auto b = static_cast<unsigned char>(in_.front());
      in_.remove_prefix(1);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  std::int64_t i() {
    const auto z = u();
    return static_cast<std::int64_t>(z >> 1) ^ -static_cast<std::int64_t>(z & 1);
  }
  std::string_view view() {
    const auto n = u();
    if (n > in_.size()) throw std::runtime_error("packed: truncated");
    auto v = in_.substr(0, n);
    in_.remove_prefix(n);
    return v;
  }
  std::string s() { return std::string(view()); }
  double d() {
    double v;
    if (in_.size() < sizeof v) throw std::runtime_error("packed: truncated");
    std::memcpy(&v, in_.data(), sizeof v);
    in_.remove_prefix(sizeof v);
    return v;
  }
  std::vector<std::string> strings() {
    std::vector<std::string> v(u());
    for (auto& x : v) x = s();
    return v;
  }
  bool b() { return u() != 0; }

 private:
  std::string_view in_;
};

}  // namespace

std::string pack(const conversation_record& r) {
  writer w;
  w.s(r.id);
  w.s(r.shopper.id);
  w.s(r.shopper.name);
  w.s(r.shopper.language);
  w.s(r.shopper.store);
  w.s(r.shopper.context.order_id);
  w.u(r.shopper.context.order_value.has_value());
  if (r.shopper.context.order_value) w.d(*r.shopper.context.order_value);
  w.s(r.shopper.context.currency);
  w.s(r.shopper.context.tier);
  w.u(static_cast<std::uint64_t>(r.state));
  w.u(r.agent_id.has_value());
  if (r.agent_id) w.s(*r.agent_id);
  w.s(r.agent_name);
  w.s(r.queue);
  w.i(r.created_ts);
  w.i(r.updated_ts);
  w.i(r.last_seq);
  w.s(r.closed_by);
  w.s(r.close_reason);
  w.i(r.escalation_acked_ts);
  w.s(r.escalation_acked_by);
  w.i(r.first_response_ts);
  w.s(r.contact.email);
  w.s(r.contact.phone);
  w.s(r.contact.note);
  w.i(r.contact.ts);
  w.i(r.contact_answered_ts);
  w.u(r.follow_up);
  w.i(r.follow_up_done_ts);
  w.s(r.follow_up_done_by);
  w.i(r.csat_score);
  w.s(r.csat_comment);
  w.i(r.csat_ts);
  w.strings(r.categories);
  w.u(r.categories_corrected);
  const auto& f = r.figures;
  w.d(f.peak_level);
  w.d(f.closing_level);
  w.i(f.escalations);
  w.strings(f.escalation_reasons);
  w.s(f.first_response_by);
  w.u(f.agents.size());
  for (const auto& a : f.agents) {
    w.s(a.id);
    w.s(a.name);
    w.i(a.replies);
    w.d(a.fall_sum);
  }
  return w.done();
}

conversation_record unpack_record(std::string_view bytes) {
  reader in(bytes);
  conversation_record r;
  r.id = in.s();
  r.shopper.id = in.s();
  r.shopper.name = in.s();
  r.shopper.language = in.s();
  r.shopper.store = in.s();
  r.shopper.context.order_id = in.s();
  if (in.b()) r.shopper.context.order_value = in.d();
  r.shopper.context.currency = in.s();
  r.shopper.context.tier = in.s();
  r.state = static_cast<conversation_state>(in.u());
  if (in.b()) r.agent_id = in.s();
  r.agent_name = in.s();
  r.queue = in.s();
  r.created_ts = in.i();
  r.updated_ts = in.i();
  r.last_seq = in.i();
  r.closed_by = in.s();
  r.close_reason = in.s();
  r.escalation_acked_ts = in.i();
  r.escalation_acked_by = in.s();
  r.first_response_ts = in.i();
  r.contact.email = in.s();
  r.contact.phone = in.s();
  r.contact.note = in.s();
  r.contact.ts = in.i();
  r.contact_answered_ts = in.i();
  r.follow_up = in.b();
  r.follow_up_done_ts = in.i();
  r.follow_up_done_by = in.s();
  r.csat_score = static_cast<int>(in.i());
  r.csat_comment = in.s();
  r.csat_ts = in.i();
  r.categories = in.strings();
  r.categories_corrected = in.b();
  auto& f = r.figures;
  f.peak_level = in.d();
  f.closing_level = in.d();
  f.escalations = static_cast<int>(in.i());
  f.escalation_reasons = in.strings();
  f.first_response_by = in.s();
  f.agents.resize(in.u());
  for (auto& a : f.agents) {
    a.id = in.s();
    a.name = in.s();
    a.replies = static_cast<int>(in.i());
    a.fall_sum = in.d();
  }
  return r;
}

std::string pack(const chat_message& m) {
  // Its size at most: the strings, their lengths and the numbers (varints of 10 bytes or fewer).
  writer w(m.from.id.size() + m.client_msg_id.size() + m.from.name.size() + m.text.size() + 4 * 10 + 3 * 10);
  w.s(m.from.id);
  w.s(m.client_msg_id);
  w.u(static_cast<std::uint64_t>(m.from.role));
  w.s(m.from.name);
  w.i(m.ts);
  w.u(static_cast<std::uint64_t>(m.visibility));
  w.s(m.text);
  return w.done();
}

message_key key_of(std::string_view bytes) {
  reader in(bytes);
  message_key k;
  k.from_id = in.view();
  k.client_msg_id = in.view();
  return k;
}

chat_message unpack_message(std::string_view bytes, const std::string& conversation_id, std::int64_t seq) {
  reader in(bytes);
  chat_message m;
  m.conversation_id = conversation_id;
  m.seq = seq;
  m.from.id = in.s();
  m.client_msg_id = in.s();
  m.from.role = static_cast<role>(in.u());
  m.from.name = in.s();
  m.ts = in.i();
  m.visibility = static_cast<visibility>(in.u());
  m.text = in.s();
  return m;
}

}  // namespace calma::packed

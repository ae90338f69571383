#include "common/cluster/relay.hpp"

#include <charconv>
#include <unordered_map>

namespace calma::cluster {

namespace {
constexpr char sep = '\x1f';

template <class T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool valid_kind(char k) {
  switch (static_cast<relay_kind>(k)) {
    case relay_kind::hello:
    case relay_kind::frame:
    case relay_kind::detach:
    case relay_kind::send:
    case relay_kind::close:
    case relay_kind::reset:
    case relay_kind::left:
    case relay_kind::batch:
    case relay_kind::revoked:
    case relay_kind::quota: return true;
  }
  return false;
}
}  // namespace

std::string encode(const relay_message& m) {
  std::string out;
  out.reserve(m.node.size() + m.payload.size() + 32);
  out += static_cast<char>(m.kind);
  out += sep;
  out += m.node;
  out += sep;
  out += std::to_string(m.conn);
  out += sep;
  out += std::to_string(m.code);
  out += sep;
  out += m.payload;
  return out;
}

std::optional<relay_message> decode(std::string_view wire) {
  std::string_view field[4];
  for (auto& f : field) {
    auto pos = wire.find(sep);
    if (pos == std::string_view::npos) return std::nullopt;
    f = wire.substr(0, pos);
    wire.remove_prefix(pos + 1);
  }
  relay_message m;
  if (field[0].size() != 1 || !valid_kind(field[0][0]) || field[1].empty()) return std::nullopt;
  m.kind = static_cast<relay_kind>(field[0][0]);
  m.node = std::string(field[1]);
  if (!parse_number(field[2], m.conn) || !parse_number(field[3], m.code)) return std::nullopt;
  m.payload = std::string(wire);
  return m;
}

std::string encode_batch(const std::string& node, const std::vector<std::string>& wires) {
  std::string payload;
  std::size_t total = 0;
  for (const auto& w : wires) total += w.size() + 12;
  payload.reserve(total);
  for (const auto& w : wires) {
    payload += std::to_string(w.size());
    payload += ':';
    payload += w;
  }
  return encode({relay_kind::batch, node, 0, 0, std::move(payload)});
}

std::optional<std::vector<std::string>> decode_batch(std::string_view payload) {
  std::vector<std::string> out;
  while (!payload.empty()) {
    auto colon = payload.find(':');
    if (colon == std::string_view::npos || colon > 20) return std::nullopt;
    std::size_t n = 0;
    if (!parse_number(payload.substr(0, colon), n) || n > payload.size() - colon - 1) return std::nullopt;
    out.emplace_back(payload.substr(colon + 1, n));
    payload.remove_prefix(colon + 1 + n);
  }
  return out;
}

std::vector<grouped_publish> group_for_publish(std::vector<outgoing> queued, std::size_t max_bytes) {
  std::unordered_map<std::string_view, std::vector<outgoing*>> by_member;
  std::vector<std::string_view> order;
  for (auto& o : queued) {
    auto& v = by_member[o.member];
    if (v.empty()) order.push_back(o.member);
    v.push_back(&o);
  }
  std::vector<grouped_publish> out;
  for (const auto member : order) {
    std::vector<std::string> batch;
    grouped_publish p;
    std::size_t bytes = 0;
    auto close = [&] {
      if (batch.empty()) return;
      p.member = std::string(member);
      p.messages = batch.size();
      p.wire = batch.size() == 1 ? std::move(batch.front()) : encode_batch(p.member, batch);
      out.push_back(std::move(p));
      p = grouped_publish{};
      batch.clear();
      bytes = 0;
    };
    for (auto* o : by_member[member]) {
      if (!batch.empty() && bytes + o->wire.size() > max_bytes) close();
      bytes += o->wire.size();
      batch.push_back(std::move(o->wire));
      if (o->done) p.receipts.push_back(std::move(o->done));
    }
    close();
  }
  return out;
}

std::string encode_quota(const quota_counts& q) {
  std::string out;
  for (const auto& [key, n] : q) {
    if (key.empty() || n <= 0 || key.find('\n') != std::string::npos) continue;
    out += std::to_string(n);
    out += ' ';
    out += key;
    out += '\n';
  }
  return out;
}

std::optional<quota_counts> decode_quota(std::string_view payload) {
  quota_counts out;
  while (!payload.empty()) {
    const auto nl = payload.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    const auto line = payload.substr(0, nl);
    payload.remove_prefix(nl + 1);
    const auto sp = line.find(' ');
    int n = 0;
    if (sp == std::string_view::npos || sp + 1 >= line.size() || !parse_number(line.substr(0, sp), n) || n <= 0)
      return std::nullopt;
    out.emplace_back(std::string(line.substr(sp + 1)), n);
  }
  return out;
}

}  // namespace calma::cluster

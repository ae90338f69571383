#include "common/limits/doors.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <utf8proc.h>

namespace calma::limits {

namespace {
std::int64_t wait_ms(double missing, const rate& r) {
  return r.per_s > 0 ? static_cast<std::int64_t>(std::ceil(missing / r.per_s * 1000.0)) : 3'600'000;
}
}  // namespace

verdict token_bucket::take(timestamp_ms now, double cost) {
  if (last_ != 0 && now > last_) tokens_ = std::min(r_.burst, tokens_ + static_cast<double>(now - last_) / 1000.0 * r_.per_s);
  if (now > last_) last_ = now;
  if (tokens_ >= cost) {
    tokens_ -= cost;
    return {};
  }
  return verdict{false, wait_ms(cost - tokens_, r_)};
}

// ---- keyed_buckets

double keyed_buckets::refilled(const bucket& b, timestamp_ms now) const {
  if (now <= b.last) return b.tokens;
  return std::min(r_.burst, b.tokens + static_cast<double>(now - b.last) / 1000.0 * r_.per_s);
}

verdict keyed_buckets::take(std::string_view key, timestamp_ms now, double cost) {
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) make_room(now);
    it = buckets_.emplace(std::string(key), bucket{r_.burst, now}).first;
  }
  auto& b = it->second;
  b.tokens = refilled(b, now);
  b.last = std::max(b.last, now);
  if (b.tokens >= cost) {
    b.tokens -= cost;
    return {};
  }
  return verdict{false, wait_ms(cost - b.tokens, r_)};
}

void keyed_buckets::charge(std::string_view key, timestamp_ms now, double cost) {
  if (!(cost > 0)) return;
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) make_room(now);
    it = buckets_.emplace(std::string(key), bucket{r_.burst, now}).first;
  }
  auto& b = it->second;
  b.tokens = std::max(-r_.burst, refilled(b, now) - cost);
  b.last = std::max(b.last, now);
}

double keyed_buckets::level(std::string_view key, timestamp_ms now) const {
  auto it = buckets_.find(std::string(key));
  return it == buckets_.end() ? r_.burst : refilled(it->second, now);
}

void keyed_buckets::make_room(timestamp_ms now) {
  // A full bucket says nothing an absent one would not.
  for (auto it = buckets_.begin(); it != buckets_.end();)
    it = refilled(it->second, now) >= r_.burst ? buckets_.erase(it) : std::next(it);
  if (buckets_.size() < max_keys_ * 3 / 4) return;
  // Still crowded (many keys at once): forget the least recently touched quarter.
  std::vector<timestamp_ms> lasts;
  lasts.reserve(buckets_.size());
  for (const auto& [k, b] : buckets_) lasts.push_back(b.last);
  auto nth = lasts.begin() + static_cast<std::ptrdiff_t>(lasts.size() / 4);
  std::nth_element(lasts.begin(), nth, lasts.end());
  const timestamp_ms cut = *nth;
  for (auto it = buckets_.begin(); it != buckets_.end();) it = it->second.last <= cut ? buckets_.erase(it) : std::next(it);
}

// ---- connection_counts

connection_counts::refusal connection_counts::acquire(const std::string& key) {
  if (total_max_ > 0 && total_ >= total_max_) return refusal::total;
  auto& n = counts_[key];
  if (per_address_ > 0 && n >= per_address_) return refusal::per_address;
  ++n;
  ++total_;
  return refusal::none;
}

void connection_counts::release(const std::string& key) {
  auto it = counts_.find(key);
  if (it == counts_.end()) return;
  --total_;
  if (--it->second <= 0) counts_.erase(it);
}

int connection_counts::of(const std::string& key) const {
  auto it = counts_.find(key);
  return it == counts_.end() ? 0 : it->second;
}

// ---- addresses

namespace {

bool parse_ip(std::string_view text, std::vector<std::uint8_t>& bytes) {
  std::string s(text);
  // "[::1]" as in a Host header, and a zone id ("fe80::1%eth0") are not the address.
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (auto pct = s.find('%'); pct != std::string::npos) s.resize(pct);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    bytes.assign(buf, buf + 4);
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(buf, mapped, 12) == 0) bytes.assign(buf + 12, buf + 16);
    else bytes.assign(buf, buf + 16);
    return true;
  }
  return false;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::string address_key(std::string_view address) {
  std::vector<std::uint8_t> b;
  if (!parse_ip(address, b)) return std::string(address);
  char out[INET6_ADDRSTRLEN + 4];
  if (b.size() == 4) {
    inet_ntop(AF_INET, b.data(), out, sizeof out);
    return out;
  }
  unsigned char net[16] = {};
  std::copy(b.begin(), b.begin() + 8, net);
  inet_ntop(AF_INET6, net, out, sizeof out);
  return std::string(out) + "/64";
}

bool network::parse(std::string_view text, network& out) {
  auto t = trim(text);
  auto slash = t.find('/');
  if (!parse_ip(t.substr(0, slash), out.bytes)) return false;
  const int bits = static_cast<int>(out.bytes.size() * 8);
  if (slash == std::string::npos) {
    out.prefix = bits;
    return true;
  }
  auto p = t.substr(slash + 1);
  if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  out.prefix = std::stoi(p);
  return out.prefix <= bits;
}

bool network::contains(std::string_view address) const {
  std::vector<std::uint8_t> a;
  if (!parse_ip(address, a) || a.size() != bytes.size()) return false;
  int left = prefix;
  for (std::size_t i = 0; i < a.size() && left > 0; ++i, left -= 8) {
    const std::uint8_t mask = left >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - left));
    if ((a[i] & mask) != (bytes[i] & mask)) return false;
  }
  return true;
}

std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const std::vector<network>& trusted) {
  auto is_trusted = [&](std::string_view a) {
    return std::any_of(trusted.begin(), trusted.end(), [&](const network& n) { return n.contains(a); });
  };
  std::string client(peer);
  if (!is_trusted(client) || forwarded_for.empty()) return client;
  // Walk from the right: each hop we trust vouches for the one before it.
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    auto comma = rest.rfind(',');
    auto hop = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    std::vector<std::uint8_t> ignored;
    if (!parse_ip(hop, ignored)) return client;  // junk: stop at the last hop we could trust
    client = hop;
    if (!is_trusted(hop)) return client;
  }
  return client;
}

bool is_loopback(std::string_view address) {
  std::vector<std::uint8_t> b;
  if (!parse_ip(address, b)) return false;
  if (b.size() == 4) return b[0] == 127;
  static const std::uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::equal(b.begin(), b.end(), one);
}

// ---- log lines

std::string log_safe(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 8);
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
  char esc[16];
  while (left > 0) {
    if (out.size() >= max_bytes) {
      out += "\xe2\x80\xa6";  // …
      break;
    }
    utf8proc_int32_t cp = 0;
    auto n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      std::snprintf(esc, sizeof esc, "\\x%02x", *p);
      out += esc;
      ++p;
      --left;
      continue;
    }
    const auto cat = utf8proc_category(cp);
    if (cp == '\n') out += "\\n";
    else if (cp == '\r') out += "\\r";
    else if (cp == '\t') out += "\\t";
    else if (cp == '\\') out += "\\\\";
    else if (cp == '"' || cp == '\'') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_ZL ||
               cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CS || cat == UTF8PROC_CATEGORY_CO) {
      if (cp < 0x80) std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned>(cp));
      else std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(cp));
      out += esc;
    } else {
      out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }
    p += n;
    left -= n;
  }
  return out;
}

}  // namespace calma::limits

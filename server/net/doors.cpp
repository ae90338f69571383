#include "server/net/doors.hpp"

#include <algorithm>

namespace calma {

namespace {
// The key of a proxied connection before its client is known: counted in the
// total only (no per-address limit on the proxy itself).
const std::string proxy_key = "\x1fproxied";
constexpr std::int64_t hour_ms = 3'600'000;
}  // namespace

door_pass& door_pass::operator=(door_pass&& o) noexcept {
  if (this != &o) {
    if (d_) d_->release(key_);
    d_ = o.d_;
    key_ = std::move(o.key_);
    o.d_ = nullptr;
  }
  return *this;
}

door_pass::~door_pass() {
  if (d_) d_->release(key_);
}

doors::doors(const config& whole, std::function<timestamp_ms()> clock, metrics& m)
    : cfg_(whole.doors),
      clock_(std::move(clock)),
      metrics_(m),
      conns_(cfg_.connections_per_address, cfg_.connections_total),
      new_conns_(limits::rate{cfg_.new_connections_per_s, cfg_.new_connections_burst}),
      logins_(limits::rate::per_minute(cfg_.logins_per_min, cfg_.logins_burst)),
      login_pairs_(limits::rate::per_minute(whole.auth.login_attempts_per_minute, whole.auth.login_attempts_per_minute)),
      user_failures_(limits::rate{static_cast<double>(cfg_.login_failures_before_slowdown) / hour_ms * 1000.0,
                                  static_cast<double>(cfg_.login_failures_before_slowdown)}) {
  for (const auto& t : cfg_.trusted_proxies) {
    limits::network n;
    if (limits::network::parse(t, n)) trusted_.push_back(std::move(n));
  }
  for (const auto& t : cfg_.metrics_allow) {
    if (t == "loopback") metrics_loopback_ = true;
    else if (t == "*") metrics_anyone_ = true;
    else if (limits::network n; limits::network::parse(t, n)) metrics_nets_.push_back(std::move(n));
  }
}

bool doors::trusted_proxy(const std::string& peer) const {
  return std::any_of(trusted_.begin(), trusted_.end(), [&](const limits::network& n) { return n.contains(peer); });
}

std::string doors::client_of(const std::string& peer, std::string_view forwarded_for) const {
  return limits::client_address(peer, forwarded_for, trusted_);
}

door_refusal doors::refuse(unsigned status, refusal r, std::int64_t retry_s, std::string message) const {
  metrics_.refused(r);
  return door_refusal{status, r, std::max<std::int64_t>(1, retry_s), std::move(message)};
}

std::optional<door_refusal> doors::admit(const std::string& address, door_pass& out, bool rate_and_address) {
  const auto key = rate_and_address ? limits::address_key(address) : proxy_key;
  std::lock_guard lk(mu_);
  if (rate_and_address) {
    if (auto v = new_conns_.take(key, clock_()); !v.ok)
      return refuse(429, refusal::connection_rate, v.retry_after_s(), "too many new connections from your address");
  }
  switch (conns_.acquire(key)) {
    case limits::connection_counts::refusal::none: break;
    case limits::connection_counts::refusal::per_address:
      if (!rate_and_address) break;  // unreachable: the proxy key has no per-address limit
      return refuse(429, refusal::connections_per_address, 5, "too many open connections from your address");
    case limits::connection_counts::refusal::total:
      return refuse(503, refusal::connections_total, 5, "the server is full; try again shortly");
  }
  out = door_pass();
  out.d_ = this;
  out.key_ = key;
  return std::nullopt;
}

std::optional<door_refusal> doors::admit_client(const std::string& client, door_pass& pass) {
  if (pass.key_ != proxy_key) return std::nullopt;  // counted already
  const auto key = limits::address_key(client);
  std::lock_guard lk(mu_);
  if (auto v = new_conns_.take(key, clock_()); !v.ok)
    return refuse(429, refusal::connection_rate, v.retry_after_s(), "too many new connections from your address");
  if (conns_.of(key) >= cfg_.connections_per_address && cfg_.connections_per_address > 0)
    return refuse(429, refusal::connections_per_address, 5, "too many open connections from your address");
  conns_.release(proxy_key);
  conns_.acquire(key);  // cannot fail: one out of the total, one in
  pass.key_ = key;
  return std::nullopt;
}

void doors::release(const std::string& key) {
  std::lock_guard lk(mu_);
  conns_.release(key);
}

std::optional<door_refusal> doors::login_attempt(const std::string& address, const std::string& username) {
  const auto key = limits::address_key(address);
  std::lock_guard lk(mu_);
  const auto now = clock_();
  if (auto v = logins_.take(key, now); !v.ok)
    return refuse(429, refusal::login_rate, v.retry_after_s(), "too many login attempts from your address");
  if (auto v = login_pairs_.take(key + '\x1f' + username, now); !v.ok)
    return refuse(429, refusal::login_user, v.retry_after_s(), "too many attempts for this username; wait a minute");
  return std::nullopt;
}

int doors::login_result(const std::string& address, const std::string& username, bool ok) {
  std::lock_guard lk(mu_);
  const auto now = clock_();
  if (ok) {
    login_pairs_.forget(limits::address_key(address) + '\x1f' + username);
    return 0;
  }
  // The username's failures from anywhere drain a bucket of an hour's worth;
  // once it is empty every check of that name is held a little: guessing
  // slows down, the real person still gets in (from an address of theirs).
  return user_failures_.take(username, now).ok ? 0 : cfg_.login_slowdown_ms;
}

bool doors::enter_login_queue() {
  std::lock_guard lk(mu_);
  if (login_queue_ >= cfg_.login_queue) {
    metrics_.refused(refusal::login_queue);
    return false;
  }
  ++login_queue_;
  metrics_.login_queue_depth = login_queue_;
  return true;
}

void doors::leave_login_queue() {
  std::lock_guard lk(mu_);
  if (login_queue_ > 0) --login_queue_;
  metrics_.login_queue_depth = login_queue_;
}

bool doors::metrics_allowed(const std::string& client, std::string_view authorization) const {
  if (!cfg_.metrics_token.empty() && authorization == "Bearer " + cfg_.metrics_token) return true;
  if (metrics_anyone_) return true;
  if (metrics_loopback_ && limits::is_loopback(client)) return true;
  return std::any_of(metrics_nets_.begin(), metrics_nets_.end(), [&](const limits::network& n) { return n.contains(client); });
}

void doors::set_total_limit(int n) {
  std::lock_guard lk(mu_);
  conns_.set_total_limit(n);
}

int doors::total_limit() const {
  std::lock_guard lk(mu_);
  return conns_.total_limit();
}

int doors::open_connections() const {
  std::lock_guard lk(mu_);
  return conns_.total();
}

}  // namespace calma

// The public doors, shared by every connection of this process: the limits
// of common/limits behind one mutex, with the time from the server's clock.
// Asked before any work is done for a client (accept, request, login,
// /metrics); a refusal is counted in metrics by reason. Free of Beast.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/config/config.hpp"
#include "common/limits/doors.hpp"
#include "server/metrics.hpp"

namespace calma {

class doors;

/// One open connection counted against its address and the total; given back
/// when destroyed. Moves with the connection (HTTP session, then WebSocket).
class door_pass {
 public:
  door_pass() = default;
  door_pass(door_pass&& o) noexcept : d_(o.d_), key_(std::move(o.key_)) { o.d_ = nullptr; }
  door_pass& operator=(door_pass&& o) noexcept;
  ~door_pass();
  bool held() const { return d_ != nullptr; }
  const std::string& key() const { return key_; }

 private:
  friend class doors;
  doors* d_ = nullptr;
  std::string key_;
};

/// A refusal to send: HTTP status, the reason counted, when to try again.
struct door_refusal {
  unsigned status = 429;
  refusal reason = refusal::connection_rate;
  std::int64_t retry_after_s = 1;
  std::string message;
};

class doors {
 public:
  /// config.doors, and auth.login_attempts_per_minute for the (address, username) pairs.
  doors(const config& c, std::function<timestamp_ms()> clock, metrics& m);

  /// A peer whose X-Forwarded-For names the client.
  bool trusted_proxy(const std::string& peer) const;
  /// The client's address: the peer, or behind a trusted proxy the forwarded client.
  std::string client_of(const std::string& peer, std::string_view forwarded_for) const;

  /// A new connection from `address`: counted (concurrency, rate), or refused.
  /// `rate_and_address`: false for a trusted proxy's connection, counted only
  /// in the total until its request names the client (then admit_client).
  std::optional<door_refusal> admit(const std::string& address, door_pass& out, bool rate_and_address = true);
  /// A proxied connection's client is known: counted against it now.
  std::optional<door_refusal> admit_client(const std::string& client, door_pass& pass);

  /// Before a password check: the address's rate, then the (address, username) pair's.
  std::optional<door_refusal> login_attempt(const std::string& address, const std::string& username);
  /// After it: a success forgets the pair's failures; a failure counts
  /// against the username. Returns how long to hold the answer (slowdown).
  int login_result(const std::string& address, const std::string& username, bool ok);
  /// A place in the password checks' queue, or false when it is full (503).
  bool enter_login_queue();
  void leave_login_queue();

  /// May this request read /metrics (allowed address, or the token)?
  bool metrics_allowed(const std::string& client, std::string_view authorization) const;

  /// The most connections at once (0: no limit); set by main from RLIMIT_NOFILE.
  void set_total_limit(int n);
  int total_limit() const;
  int open_connections() const;
  const doors_config& params() const { return cfg_; }

 private:
  friend class door_pass;
  void release(const std::string& key);
  door_refusal refuse(unsigned status, refusal r, std::int64_t retry_s, std::string message) const;

  doors_config cfg_;
  std::function<timestamp_ms()> clock_;
  metrics& metrics_;
  std::vector<limits::network> trusted_;
  std::vector<limits::network> metrics_nets_;
  bool metrics_loopback_ = false, metrics_anyone_ = false;

  mutable std::mutex mu_;
  limits::connection_counts conns_;
  limits::keyed_buckets new_conns_;
  limits::keyed_buckets logins_;
  limits::keyed_buckets login_pairs_;     ///< address \x1f username
  limits::keyed_buckets user_failures_;   ///< username: the hour's failures, drained as a bucket
  int login_queue_ = 0;
};

}  // namespace calma

// The public doors' rules: who may come in, how often, and as whom. Pure
// code with the time passed in; the server holds one of each table behind a
// mutex (server/net/doors.hpp) and asks before it does any work for a client.
//
// Every table is bounded: a flood of distinct keys (addresses, usernames)
// first forgets entries that carry no information any more (a bucket that
// has refilled is the same as no entry), then the least recently touched.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/model/model.hpp"

namespace calma::limits {

/// A token bucket: `burst` at most, refilled at `per_s` a second.
struct rate {
  double per_s = 1;
  double burst = 1;
  static rate per_minute(double n, double burst) { return rate{n / 60.0, burst}; }
};

/// What a door answers: pass, or refuse and say when trying again can work.
struct verdict {
  bool ok = true;
  std::int64_t retry_after_ms = 0;
  /// Whole seconds for a Retry-After header (at least 1 when refused).
  std::int64_t retry_after_s() const { return ok ? 0 : (retry_after_ms + 999) / 1000 < 1 ? 1 : (retry_after_ms + 999) / 1000; }
};

/// One token bucket (per connection, say).
class token_bucket {
 public:
  explicit token_bucket(rate r) : r_(r), tokens_(r.burst) {}
  verdict take(timestamp_ms now, double cost = 1);

 private:
  rate r_;
  double tokens_;
  timestamp_ms last_ = 0;
};

/// One token bucket per key, bounded in memory.
class keyed_buckets {
 public:
  explicit keyed_buckets(rate r, std::size_t max_keys = 100'000) : r_(r), max_keys_(max_keys) {}

  /// Takes `cost` tokens from `key`'s bucket if it has them.
  verdict take(std::string_view key, timestamp_ms now, double cost = 1);
  /// Takes `cost` tokens from `key`'s bucket whether it has them or not: what
  /// another process already let pass (a cluster's nodes share the allowance).
  /// The bucket may go below zero, to `-burst` at most, so an address that got
  /// more than its share at once waits until its debt is refilled, and no longer.
  void charge(std::string_view key, timestamp_ms now, double cost);
  /// Tokens `key` has now (burst when unknown), without taking any.
  double level(std::string_view key, timestamp_ms now) const;
  /// Forgets `key` (a success that wipes its failures, say).
  void forget(std::string_view key) { buckets_.erase(std::string(key)); }
  std::size_t size() const { return buckets_.size(); }
  const rate& params() const { return r_; }

 private:
  struct bucket {
    double tokens;
    timestamp_ms last;
  };
  double refilled(const bucket& b, timestamp_ms now) const;
  void make_room(timestamp_ms now);

  rate r_;
  std::size_t max_keys_;
  std::unordered_map<std::string, bucket> buckets_;
};

/// Concurrent connections per address and in total.
class connection_counts {
 public:
  connection_counts(int per_address, int total) : per_address_(per_address), total_max_(total) {}
  enum class refusal { none, per_address, total };
  /// Counts one more connection of `key` unless a limit is reached.
  refusal acquire(const std::string& key);
  void release(const std::string& key);
  int of(const std::string& key) const;
  int total() const { return total_; }
  void set_total_limit(int total) { total_max_ = total; }
  int total_limit() const { return total_max_; }

 private:
  int per_address_;
  int total_max_;
  int total_ = 0;
  std::unordered_map<std::string, int> counts_;
};

/// The key an address is counted under: IPv4 as it is ("::ffff:1.2.3.4" is
/// 1.2.3.4), IPv6 by its /64 (one subscriber's whole network). Text that is
/// not an address is its own key.
std::string address_key(std::string_view address);

/// A network: "10.0.0.0/8", "::1/128", or one address. parse() is false on junk.
struct network {
  std::vector<std::uint8_t> bytes;  ///< 4 or 16
  int prefix = 0;
  static bool parse(std::string_view text, network& out);
  bool contains(std::string_view address) const;
};

/// The client behind `peer`: when the peer is one of `trusted` proxies, the
/// right-most address of X-Forwarded-For that is not itself a trusted proxy
/// (the left part of the header is the client's own say and is not trusted);
/// otherwise the peer. A malformed header entry ends the walk at the last
/// address we could trust.
std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const std::vector<network>& trusted);

bool is_loopback(std::string_view address);

/// Text from a client, fit for one operator log line: control characters,
/// quotes and backslashes escaped (\n, \x1b, \u2028...), invalid UTF-8 shown as
/// \xNN, cut at `max_bytes` with "…". A log line can never be forged with it.
std::string log_safe(std::string_view text, std::size_t max_bytes = 120);

}  // namespace calma::limits

namespace calma::limits {

/// Work waiting per key (a client address), taken round-robin: one key with
/// a hundred items waiting does not make another key's first item wait
/// behind all of them. Not thread-safe (the caller holds a lock).
template <class T>
class fair_queue {
 public:
  void push(const std::string& key, T item) {
    auto& q = waiting_[key];
    if (q.empty()) turn_.push_back(key);
    q.push_back(std::move(item));
    ++size_;
  }
  /// The next item: the first of the key whose turn it is.
  std::optional<T> pop() {
    if (turn_.empty()) return std::nullopt;
    auto key = std::move(turn_.front());
    turn_.pop_front();
    auto it = waiting_.find(key);
    T item = std::move(it->second.front());
    it->second.pop_front();
    --size_;
    if (it->second.empty()) waiting_.erase(it);
    else turn_.push_back(std::move(key));
    return item;
  }
  std::size_t size() const { return size_; }

 private:
  std::deque<std::string> turn_;
  std::unordered_map<std::string, std::deque<T>> waiting_;
  std::size_t size_ = 0;
};

}  // namespace calma::limits

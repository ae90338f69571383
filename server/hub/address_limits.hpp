// New conversations per client address, shared: by every shard's hub of one
// process (one object), and across a cluster's nodes (each node says what it
// let pass, the others charge it: relay kind Q, server/cluster/node_relay.cpp).
//
// The decision is the pure bucket's (common/limits/doors.hpp); this is the
// lock around it and the tally of what passed here since the node last said.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/limits/doors.hpp"

namespace calma {

class address_limits {
 public:
  explicit address_limits(limits::rate r) : buckets_(r) {}

  /// Takes one new conversation for `key` (limits::address_key). What passes
  /// is tallied for the other nodes when a listener is set.
  limits::verdict take(const std::string& key, timestamp_ms now) {
    std::function<void()> tell;
    limits::verdict v;
    {
      std::lock_guard lk(mu_);
      v = buckets_.take(key, now);
      if (!v.ok || !on_passed_ || key.empty()) return v;  // no address: nothing the others could charge
      // Bounded: a flood of distinct addresses between two sends is cut short
      // (the others then count less of it: they refuse later, never sooner).
      if (passed_.size() < max_pending || passed_.count(key)) ++passed_[key];
      if (!told_) {
        told_ = true;
        tell = on_passed_;
      }
    }
    if (tell) tell();
    return v;
  }

  /// What another node let pass: charged whether the bucket has it or not.
  void charge(const std::string& key, int n, timestamp_ms now) {
    std::lock_guard lk(mu_);
    buckets_.charge(key, now, n);
  }

  /// `f` runs (on the taking thread, outside the lock) after a take passes
  /// with nothing tallied before it; the listener then calls drain().
  void on_passed(std::function<void()> f) {
    std::lock_guard lk(mu_);
    on_passed_ = std::move(f);
  }

  /// What passed since the last drain, per key.
  std::vector<std::pair<std::string, int>> drain() {
    std::lock_guard lk(mu_);
    std::vector<std::pair<std::string, int>> out(std::make_move_iterator(passed_.begin()),
                                                 std::make_move_iterator(passed_.end()));
    passed_.clear();
    told_ = false;
    return out;
  }

  static constexpr std::size_t max_pending = 10'000;

 private:
  std::mutex mu_;
  limits::keyed_buckets buckets_;
  std::unordered_map<std::string, int> passed_;
  bool told_ = false;
  std::function<void()> on_passed_;
};

}  // namespace calma

// Tokens signed out before they expire (POST /api/v1/logout), by token id
// (auth::token_id), each kept until its own expiry: a revoked token is
// refused by the HTTP API and at hello. Thread-safe; bounded by the tokens
// live at once (expired ones are dropped as new ones come).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "common/model/model.hpp"

namespace calma::auth {

class revocations {
 public:
  /// Most revoked tokens remembered at once; beyond it the ones expiring soonest go first.
  static constexpr std::size_t max_entries = 100'000;

  void revoke(const std::string& id, timestamp_ms expires, timestamp_ms now) {
    std::lock_guard lk(mu_);
    prune(now);
    if (ids_.size() >= max_entries) {
      auto soonest = ids_.begin();
      for (auto it = ids_.begin(); it != ids_.end(); ++it)
        if (it->second < soonest->second) soonest = it;
      ids_.erase(soonest);
    }
    ids_[id] = expires;
  }
  bool revoked(const std::string& id) const {
    std::lock_guard lk(mu_);
    return ids_.count(id) > 0;
  }

 private:
  void prune(timestamp_ms now) {
    for (auto it = ids_.begin(); it != ids_.end();) it = it->second <= now ? ids_.erase(it) : std::next(it);
  }
  mutable std::mutex mu_;
  std::map<std::string, timestamp_ms> ids_;
};

}  // namespace calma::auth

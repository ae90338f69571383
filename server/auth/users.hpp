// The staff users file: a JSON array of
// {"username","name","role","password_hash"[,"stores":[...]][,"senior":true][,"disabled":true]}.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/model/model.hpp"

namespace calma::auth {

struct user {
  std::string username;  ///< also the user id
  std::string name;
  role r = role::agent;
  std::string password_hash;
  std::vector<std::string> stores;  ///< the stores this user works for; empty: every store
  bool senior = false;              ///< routed angry and VIP conversations first
  bool disabled = false;            ///< may not log in; open sessions are closed on reload

  /// True when the user works for `store` (an empty list means every store).
  bool serves(std::string_view store) const;
};

using user_table = std::map<std::string, user>;

/// Reads and checks the file; every problem is appended to `errors`.
user_table load_users(const std::string& path, std::vector<std::string>& errors);
/// Parses the file's text (what load_users does after reading it).
user_table parse_users(const std::string& text, const std::string& where, std::vector<std::string>& errors);
/// The users file's JSON text for `t` (one user a line), as load_users reads it.
std::string users_json(const user_table& t);

/// The users table the running server reads, replaced whole on a reload
/// (SIGHUP or a change of the file). Readers take a snapshot and keep it for
/// as long as they use it; any thread.
class user_directory {
 public:
  explicit user_directory(user_table t = {}) : table_(std::make_shared<const user_table>(std::move(t))) {}
  std::shared_ptr<const user_table> snapshot() const {
    std::lock_guard lk(mu_);
    return table_;
  }
  /// Bumped on every replace(): a reader compares it to know it must take a new snapshot.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  void replace(user_table t) {
    auto next = std::make_shared<const user_table>(std::move(t));
    {
      std::lock_guard lk(mu_);
      table_ = std::move(next);
    }
    version_.fetch_add(1, std::memory_order_acq_rel);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const user_table> table_;
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace calma::auth

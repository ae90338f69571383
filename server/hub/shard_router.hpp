// Which hub shard a client's session goes to, and the fan-in of a supervisor
// whose stores are on several: the routing half of shard_set, over a *port*
// per shard (shard_set's: its own hubs; the cluster node's: its own hub where
// it leads that shard, else a relay to the node that does).
//
// A session belongs to one shard: a shopper to its store's, an agent to the
// one holding all the stores it serves (the plan puts them on one shard, so
// its capacity is counted in one place), a supervisor too when its stores
// are on one shard. The router picks it at hello, from the token's claims
// (the hub checks the token again), writes it on the connection
// (connection::shard) and routes that session's frames and its detach there.
// A supervisor whose stores are on several shards is served by each through
// a fan-in (fan_in.hpp): its messages go to the shard holding the
// conversation or escalation they name (the store says, for a conversation no
// leg spoke of). When one leg is welcomed again (its shard moved to another
// node), every other leg says its hello again, so the client gets one fresh
// merged welcome.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config/config.hpp"
#include "common/protocol/messages.hpp"
#include "common/routing/shards.hpp"
#include "server/auth/crypto.hpp"
#include "server/auth/users.hpp"
#include "server/hub/connection.hpp"
#include "server/hub/fan_in.hpp"
#include "server/metrics.hpp"
#include "server/store/store.hpp"

namespace calma {

/// Where the sessions of one shard go. Called from sessions' threads.
class shard_port {
 public:
  virtual ~shard_port() = default;
  /// `raw`: the hello as the client sent it (a relay sends it on).
  virtual void hello(std::uint32_t shard, std::shared_ptr<connection> c, protocol::hello h, const std::string& raw) = 0;
  /// `raw`: the frame's text (may be empty: then the port serializes `m` if it needs text).
  virtual void handle(std::uint32_t shard, std::uint64_t conn_id, protocol::client_message m, std::string raw) = 0;
  /// `counted`: the session was counted in the connection gauges (a fan-in's first leg, or a plain session).
  virtual void detach(std::uint32_t shard, std::uint64_t conn_id, bool counted) = 0;
};

class shard_router : public std::enable_shared_from_this<shard_router> {
 public:
  /// The plan of `asked` shards (≤ 0: one) over the configured stores and the staff table.
  static routing::shard_plan plan_for(const config& cfg, const auth::user_table& users, int asked);

  /// `m`: the gauges a leg's hello said again keeps right (may be null in tests).
  shard_router(const config& cfg, store& st, const auth::token_signer& signer, const auth::user_directory& users,
               routing::shard_plan plan, shard_port& port, metrics* m = nullptr);

  const routing::shard_plan& plan() const { return plan_; }
  std::size_t shards() const { return static_cast<std::size_t>(plan_.shards); }

  /// Returns the shard it went to (also written on the connection; fan_in::marker for several).
  std::uint32_t hello(std::shared_ptr<connection> c, protocol::hello h, const std::string& raw);
  void handle(std::uint32_t shard, std::uint64_t conn_id, protocol::client_message m, std::string raw);
  void detach(std::uint32_t shard, std::uint64_t conn_id);

  /// The shards of a staff member's stores (one for an agent: see the .cpp).
  std::vector<std::uint32_t> shards_of_staff(const std::string& user_id) const;

 private:
  struct fanned {
    std::shared_ptr<fan_in> f;
    protocol::hello h;
    std::string raw;
    /// Orders a re-hello of the legs against the client's detach: a leg said
    /// hello again after the detach would stay in its hub for ever.
    std::mutex mu;
    bool gone = false;
  };
  std::vector<std::uint32_t> shards_of_hello(const protocol::hello& h) const;
  std::shared_ptr<fanned> fan_of(std::uint64_t conn_id) const;
  void handle_fanned(const std::shared_ptr<fan_in>& f, protocol::client_message m, std::string raw);
  bool dispatch_fanned(const std::shared_ptr<fan_in>& f, protocol::client_message& m, std::string& raw);
  void after_lookup(std::shared_ptr<fan_in> f, std::optional<protocol::client_message> m, std::string raw,
                    std::uint32_t shard);
  /// Leg `fresh` was welcomed again: every other leg says its hello again.
  void rehello_others(std::uint64_t conn_id, std::size_t fresh);

  const config& cfg_;
  store& store_;
  const auth::token_signer& signer_;
  const auth::user_directory& users_;
  routing::shard_plan plan_;
  shard_port& port_;
  metrics* metrics_;
  mutable std::mutex fans_mu_;
  std::unordered_map<std::uint64_t, std::shared_ptr<fanned>> fans_;  // clients served by several shards
  mutable std::atomic<std::uint64_t> warned_version_{0};
};

}  // namespace calma

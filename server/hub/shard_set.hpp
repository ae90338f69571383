// The hubs of this process, one per shard: each decides for a group of stores
// on its own strand (common/routing/shards.hpp says which), so conversations
// of different groups are decided on different cores.
//
// A session belongs to one hub: a shopper to its store's, an agent to the one
// holding all the stores it serves (the plan puts them on one shard, so its
// capacity is counted in one place), a supervisor too when its stores are on
// one shard. The shard set picks it at hello, from the token's claims (the hub
// checks the token again), writes it on the connection (connection::shard)
// and routes that session's frames and its detach there. A supervisor whose
// stores are on several shards is served by each of them through a fan-in
// (fan_in.hpp): its messages go to the hub holding the conversation or
// escalation they name (the store says, for a conversation no hub spoke of).
// With one shard it is the hub, nothing more.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <memory>
#include <string>
#include <vector>

#include "common/routing/shards.hpp"
#include "server/hub/fan_in.hpp"
#include "server/hub/hub.hpp"

namespace calma {

class shard_set : public std::enable_shared_from_this<shard_set> {
 public:
  using hub_factory = std::function<std::shared_ptr<hub>()>;
  /// Plans `asked` shards (≤ 0: one) over the configured stores and the staff
  /// table, and makes one hub per shard with `make`.
  shard_set(const config& cfg, store& st, const auth::token_signer& signer, const auth::user_directory& users,
            const hub_factory& make, int asked);

  std::size_t size() const { return hubs_.size(); }
  const routing::shard_plan& plan() const { return plan_; }

  /// Starts every hub; `done(error)` once, when all have loaded (the first error, if any).
  void start(std::function<void(std::string)> done);
  void stop(std::uint16_t code = 1001, std::string reason = "server shutting down");
  void step_down();
  void set_decide_check(const std::function<bool()>& may_decide);

  // ---- from sessions (the session's own thread, as hub's)
  /// Returns the shard it went to (also written on the connection).
  std::uint32_t hello(std::shared_ptr<connection> c, protocol::hello h);
  void handle(connection& c, protocol::client_message m) { handle(c.shard(), c.id(), std::move(m)); }
  void detach(connection& c) { detach(c.shard(), c.id()); }
  /// For a caller that kept the shard hello returned (the cluster node: the
  /// session may be gone by the time its detach runs).
  void handle(std::uint32_t shard, std::uint64_t conn_id, protocol::client_message m);
  void detach(std::uint32_t shard, std::uint64_t conn_id);
  /// Every hub closes the sessions holding that token.
  void signed_out(const std::string& token_id);
  /// The users table was replaced: every hub takes it now.
  void users_changed() {
    for (auto& h : hubs_) h->users_changed();
  }

  // ---- from HTTP: to the hub of the staff member, or of the store
  void conversation_detail(participant who, std::string id, std::function<void(hub::http_answer)> done);
  void followups(participant who, std::vector<std::string> stores, std::function<void(hub::http_answer)> done);
  void widget_status(std::string store_id, std::function<void(hub::http_answer)> done);

 private:
  /// The shards a hello goes to: its store's (shopper), its stores' (staff:
  /// several for a supervisor of stores on several shards); shard 0 for a
  /// hello its hub will refuse (a bad token, an unknown user).
  std::vector<std::uint32_t> shards_of_hello(const protocol::hello& h) const;
  std::vector<std::uint32_t> shards_of_staff(const std::string& user_id) const;
  hub& of(std::size_t k) const { return *hubs_[k < hubs_.size() ? k : 0]; }
  std::shared_ptr<fan_in> fan_of(std::uint64_t conn_id) const;
  /// A fanned-in client's message, in order behind any held while the store is asked.
  void handle_fanned(const std::shared_ptr<fan_in>& f, protocol::client_message m);
  /// Sends it on (true), or starts a store lookup of its conversation (false: the rest waits).
  bool dispatch_fanned(const std::shared_ptr<fan_in>& f, protocol::client_message& m);
  /// The store answered: `m` to `shard`'s hub (none: the lookup failed, answered), then what was held.
  void after_lookup(std::shared_ptr<fan_in> f, std::optional<protocol::client_message> m, std::uint32_t shard);

  const config& cfg_;
  store& store_;
  const auth::token_signer& signer_;
  const auth::user_directory& users_;
  routing::shard_plan plan_;
  std::vector<std::shared_ptr<hub>> hubs_;
  mutable std::mutex fans_mu_;
  std::unordered_map<std::uint64_t, std::shared_ptr<fan_in>> fans_;  // clients served by several shards
  /// The users table's version last warned about (a member spanning shards since the plan).
  mutable std::atomic<std::uint64_t> warned_version_{0};
};

}  // namespace calma

// The hubs of this process, one per shard: each decides for a group of stores
// on its own strand (common/routing/shards.hpp says which), so conversations
// of different groups are decided on different cores. Which hub a session
// goes to, and the fan-in of a supervisor of stores on several shards, is
// shard_router's (shard_router.hpp); this class is its port to the hubs, and
// routes HTTP to the hub of the asker or of the store. With one shard it is
// the hub, nothing more.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <memory>
#include <string>
#include <vector>

#include "common/routing/shards.hpp"
#include "server/hub/hub.hpp"
#include "server/hub/shard_router.hpp"

namespace calma {

class shard_set : public std::enable_shared_from_this<shard_set>, private shard_port {
 public:
  using hub_factory = std::function<std::shared_ptr<hub>()>;
  /// Plans `asked` shards (≤ 0: one) over the configured stores and the staff
  /// table, and makes one hub per shard with `make`.
  shard_set(const config& cfg, store& st, const auth::token_signer& signer, const auth::user_directory& users,
            const hub_factory& make, int asked, metrics* m = nullptr);

  std::size_t size() const { return hubs_.size(); }
  const routing::shard_plan& plan() const { return plan_; }

  /// Starts every hub; `done(error)` once, when all have loaded (the first error, if any).
  void start(std::function<void(std::string)> done);
  void stop(std::uint16_t code = 1001, std::string reason = "server shutting down");
  void step_down();
  void set_decide_check(const std::function<bool()>& may_decide);

  // ---- from sessions (the session's own thread, as hub's)
  /// Returns the shard it went to (also written on the connection).
  std::uint32_t hello(std::shared_ptr<connection> c, protocol::hello h, const std::string& raw = {}) {
    return router_->hello(std::move(c), std::move(h), raw);
  }
  void handle(connection& c, protocol::client_message m) { handle(c.shard(), c.id(), std::move(m)); }
  void detach(connection& c) { detach(c.shard(), c.id()); }
  /// For a caller that kept the shard hello returned (the session may be gone by the time its detach runs).
  /// A plain session's go straight to its hub (the chat's path); a fanned-in one's through the router.
  void handle(std::uint32_t shard, std::uint64_t conn_id, protocol::client_message m) {
    if (shard != fan_in::marker) return of(shard).handle(conn_id, std::move(m));
    router_->handle(shard, conn_id, std::move(m), {});
  }
  void detach(std::uint32_t shard, std::uint64_t conn_id) { router_->detach(shard, conn_id); }
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
  // shard_port: straight to the hub of that shard.
  void hello(std::uint32_t shard, std::shared_ptr<connection> c, protocol::hello h, const std::string&) override {
    of(shard).hello(std::move(c), std::move(h));
  }
  void handle(std::uint32_t shard, std::uint64_t conn_id, protocol::client_message m, std::string) override {
    of(shard).handle(conn_id, std::move(m));
  }
  void detach(std::uint32_t shard, std::uint64_t conn_id, bool counted) override { of(shard).detach(conn_id, counted); }
  std::vector<std::uint32_t> shards_of_staff(const std::string& user_id) const { return router_->shards_of_staff(user_id); }
  hub& of(std::size_t k) const { return *hubs_[k < hubs_.size() ? k : 0]; }

  store& store_;
  routing::shard_plan plan_;
  std::vector<std::shared_ptr<hub>> hubs_;
  std::shared_ptr<shard_router> router_;
};

}  // namespace calma

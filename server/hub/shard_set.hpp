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

class shard_set : public std::enable_shared_from_this<shard_set> {
 public:
  using hub_factory = std::function<std::shared_ptr<hub>()>;
  /// Plans `asked` shards (≤ 0: one) over the configured stores and the staff
  /// table, and makes one hub per shard with `make`.
  shard_set(const config& cfg, store& st, const auth::token_signer& signer, const auth::user_directory& users,
            hub_factory make, int asked, metrics* m = nullptr);

  std::size_t size() const { return now()->hubs.size(); }
  routing::shard_plan plan() const { return now()->plan; }

  /// Starts every hub; `done(error)` once, when all have loaded (the first error, if any).
  void start(std::function<void(std::string)> done);
  void stop(std::uint16_t code = 1001, std::string reason = "server shutting down");
  void step_down();
  void set_decide_check(const std::function<bool()>& may_decide);

  // ---- from sessions (the session's own thread, as hub's)
  /// Returns the shard it went to (also written on the connection, with the plan's generation).
  std::uint32_t hello(std::shared_ptr<connection> c, protocol::hello h, const std::string& raw = {});
  /// A session's frames and its end go to the plan it said hello under.
  void handle(connection& c, protocol::client_message m) {
    if (auto* g = static_cast<generation*>(c.generation().get())) g->handle(c.shard(), c.id(), std::move(m));
  }
  void detach(connection& c);
  /// Every hub closes the sessions holding that token.
  void signed_out(const std::string& token_id);
  /// The users table was replaced: every hub takes it now. When the change
  /// joins or splits store groups (an agent now serves stores of two
  /// shards, say), the shards are planned again (once started, alone):
  /// every client is closed with 1012, and once their sessions are gone
  /// (all they sent is stored) new hubs load the open conversations from
  /// the store by the new plan; hellos meanwhile are refused with 1013.
  /// A change that comes while they load is looked at once they have.
  /// HTTP meanwhile is answered by the old hubs. The old plan and its hubs
  /// are freed once the new hubs serve and the old plan's last connection is
  /// gone (logged). Not done: a hub that cannot load (a store error) serves
  /// without its open conversations, logged.
  void users_changed();
  /// How many times the shards were planned again (0 at start).
  std::uint32_t replans() const { return replans_.load(); }

  // ---- from HTTP: to the hub of the staff member, or of the store
  void conversation_detail(participant who, std::string id, std::function<void(hub::http_answer)> done);
  void followups(participant who, std::vector<std::string> stores, std::function<void(hub::http_answer)> done);
  void widget_status(std::string store_id, std::function<void(hub::http_answer)> done);

 private:
  /// One plan and its hubs. Held by the shard set while current (and, while
  /// the next one loads, as the previous), and by every connection that said
  /// hello under it: its sessions still detach from it after a re-plan. Its
  /// router refers to it (its shard_port) by reference: that holds because
  /// the router's own pending work (a fan-in's store lookup) ends inside the
  /// call on the memory store, the only store a shard set re-plans on.
  struct generation final : shard_port {
    ~generation() override;
    std::uint32_t number = 0;  ///< 0: the plan made at start; then one more per re-plan
    bool replaced = false;     ///< a newer plan took its place (its release is logged)
    routing::shard_plan plan;
    std::vector<std::shared_ptr<hub>> hubs;
    std::shared_ptr<shard_router> router;
    std::atomic<bool> ready{true};

    hub& of(std::size_t k) const { return *hubs[k < hubs.size() ? k : 0]; }
    /// A plain session's frames go straight to its hub (the chat's path); a fanned-in one's through the router.
    void handle(std::uint32_t shard, std::uint64_t conn_id, protocol::client_message m) {
      if (shard != fan_in::marker) return of(shard).handle(conn_id, std::move(m));
      router->handle(shard, conn_id, std::move(m), {});
    }
    // shard_port: straight to the hub of that shard.
    void hello(std::uint32_t shard, std::shared_ptr<connection> c, protocol::hello h, const std::string&) override {
      of(shard).hello(std::move(c), std::move(h));
    }
    void handle(std::uint32_t shard, std::uint64_t conn_id, protocol::client_message m, std::string) override {
      of(shard).handle(conn_id, std::move(m));
    }
    void detach(std::uint32_t shard, std::uint64_t conn_id, bool counted) override { of(shard).detach(conn_id, counted); }
  };
  std::shared_ptr<generation> make_generation(routing::shard_plan plan, const hub* limits_of);
  std::shared_ptr<generation> now() const {
    std::lock_guard lk(gens_mu_);
    return current_;
  }
  /// Who answers HTTP: the current plan's hubs once loaded, the previous ones until then.
  std::shared_ptr<generation> answering() const;
  static void start_hubs(const generation& g, std::function<void(std::string)> done);
  void replan(const std::shared_ptr<generation>& old, routing::shard_plan plan);
  void recheck();
  std::vector<std::uint32_t> shards_of_staff(const generation& g, const std::string& user_id) const {
    return g.router->shards_of_staff(user_id);
  }

  const config& cfg_;
  store& store_;
  const auth::token_signer& signer_;
  const auth::user_directory& users_;
  hub_factory make_;
  int asked_;
  metrics* metrics_;
  std::atomic<bool> started_{false};
  std::mutex replan_mu_;  ///< one re-plan at a time
  bool recheck_ = false;  ///< under replan_mu_: a users change came while loading
  mutable std::mutex gens_mu_;
  std::shared_ptr<generation> current_;   ///< under gens_mu_
  std::shared_ptr<generation> previous_;  ///< under gens_mu_: kept until the current one has loaded
  std::atomic<std::uint32_t> replans_{0};
};

}  // namespace calma

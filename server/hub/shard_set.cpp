#include "server/hub/shard_set.hpp"

#include <mutex>

#include <spdlog/spdlog.h>

namespace calma {

namespace {

routing::shard_plan plan_for(const config& cfg, const auth::user_table& users, int asked) {
  std::vector<std::string> stores;
  for (const auto& st : cfg.stores) stores.push_back(st.id);
  std::vector<routing::staff_stores> staff;
  for (const auto& [id, u] : users)
    if (!u.disabled) staff.push_back({id, u.stores});
  return routing::plan_shards(stores, staff, asked);
}

}  // namespace

shard_set::shard_set(const config& cfg, const auth::token_signer& signer, const auth::user_directory& users,
                     const hub_factory& make, int asked)
    : cfg_(cfg), signer_(signer), users_(users), plan_(plan_for(cfg, *users.snapshot(), asked)) {
  warned_version_ = users.version();
  for (int k = 0; k < plan_.shards; ++k) {
    auto h = make();
    // One shard decides for every store, as a hub always did; several: each its own.
    if (plan_.shards > 1) {
      h->set_scope(k, plan_.stores_of(k), k == 0);
      if (k > 0) h->share_limits_with(*hubs_.front());
    }
    hubs_.push_back(std::move(h));
  }
  if (asked > 1 || plan_.shards > 1) {
    spdlog::info("{} hub shard(s) for {} store group(s) ({} asked)", plan_.shards, plan_.groups.size(), asked);
    for (const auto& why : plan_.joined_by) spdlog::info("stores share a shard: {}", why);
  }
}

void shard_set::start(std::function<void(std::string)> done) {
  struct joint {
    std::size_t pending;
    std::string error;
    std::function<void(std::string)> done;
    std::mutex mu;
  };
  auto j = std::make_shared<joint>();
  j->pending = hubs_.size();
  j->done = std::move(done);
  for (auto& h : hubs_)
    h->start([j](std::string err) {
      std::unique_lock lk(j->mu);
      if (!err.empty() && j->error.empty()) j->error = std::move(err);
      if (--j->pending != 0) return;
      auto finish = std::move(j->done);
      auto e = std::move(j->error);
      lk.unlock();
      finish(std::move(e));
    });
}

void shard_set::stop(std::uint16_t code, std::string reason) {
  for (auto& h : hubs_) h->stop(code, reason);
}

void shard_set::step_down() {
  for (auto& h : hubs_) h->step_down();
}

void shard_set::set_decide_check(const std::function<bool()>& may_decide) {
  for (auto& h : hubs_) h->set_decide_check(may_decide);
}

std::size_t shard_set::shard_of_staff(const std::string& user_id) const {
  auto users = users_.snapshot();
  auto u = users->find(user_id);
  if (u == users->end()) return 0;
  if (auto k = plan_.staff_shard(u->second.stores)) return static_cast<std::size_t>(*k);
  // The users file changed since the plan: this member's stores are now on
  // several shards. It is served by the shard of its first store (it sees
  // that shard's stores only) until a restart plans again.
  const auto v = users_.version();
  if (warned_version_.exchange(v) != v)
    spdlog::error("users file: {} serves stores on several hub shards; it is served by one of them (the stores "
                  "of the others are not shown to it) until calma-server restarts and plans the shards again",
                  limits::log_safe(user_id, 64));
  return u->second.stores.empty() ? 0 : static_cast<std::size_t>(plan_.store_shard(u->second.stores.front()));
}

std::size_t shard_set::shard_of_hello(const protocol::hello& h) const {
  if (hubs_.size() == 1) return 0;
  if (!h.token) return static_cast<std::size_t>(plan_.store_shard(h.store.empty() ? cfg_.stores.front().id : h.store));
  // Expiry is the hub's to check: any time before it serves to read the claims.
  auto cl = signer_.verify(*h.token, 0);
  if (!cl) return 0;
  if (cl->r == role::shopper) return static_cast<std::size_t>(plan_.store_shard(cl->store));
  return shard_of_staff(cl->sub);
}

std::uint32_t shard_set::hello(std::shared_ptr<connection> c, protocol::hello h) {
  const auto k = static_cast<std::uint32_t>(shard_of_hello(h));
  c->set_shard(k);
  of(k).hello(std::move(c), std::move(h));
  return k;
}

void shard_set::signed_out(const std::string& token_id) {
  for (auto& h : hubs_) h->signed_out(token_id);
}

void shard_set::conversation_detail(participant who, std::string id, std::function<void(hub::http_answer)> done) {
  of(hubs_.size() == 1 ? 0 : shard_of_staff(who.id)).conversation_detail(std::move(who), std::move(id), std::move(done));
}

void shard_set::followups(participant who, std::vector<std::string> stores,
                          std::function<void(hub::http_answer)> done) {
  of(hubs_.size() == 1 ? 0 : shard_of_staff(who.id)).followups(std::move(who), std::move(stores), std::move(done));
}

void shard_set::widget_status(std::string store_id, std::function<void(hub::http_answer)> done) {
  of(static_cast<std::size_t>(plan_.store_shard(store_id))).widget_status(std::move(store_id), std::move(done));
}

}  // namespace calma

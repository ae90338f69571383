#include "server/hub/shard_router.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/limits/doors.hpp"
#include "common/protocol/merge.hpp"

namespace calma {

routing::shard_plan shard_router::plan_for(const config& cfg, const auth::user_table& users, int asked) {
  std::vector<std::string> stores;
  for (const auto& st : cfg.stores) stores.push_back(st.id);
  std::vector<routing::staff_stores> staff;
  for (const auto& [id, u] : users)
    if (!u.disabled) staff.push_back({id, u.stores, u.r == role::agent});
  return routing::plan_shards(stores, staff, asked);
}

shard_router::shard_router(const config& cfg, store& st, const auth::token_signer& signer,
                           const auth::user_directory& users, routing::shard_plan plan, shard_port& port,
                           metrics* m)
    : cfg_(cfg), store_(st), signer_(signer), users_(users), plan_(std::move(plan)), port_(port), metrics_(m) {
  warned_version_ = users.version();
}

std::vector<std::uint32_t> shard_router::shards_of_staff(const std::string& user_id) const {
  auto users = users_.snapshot();
  auto u = users->find(user_id);
  if (u == users->end()) return {0};
  std::vector<std::uint32_t> out;
  for (int k : plan_.shards_of(u->second.stores)) out.push_back(static_cast<std::uint32_t>(k));
  if (out.size() == 1 || u->second.r != role::agent) return out;
  // The users file changed since the plan: this agent's stores are now on
  // several shards, and its capacity can be counted in one place only. It is
  // served by the shard of its first store (it sees that shard's stores only)
  // until a restart plans again.
  const auto v = users_.version();
  if (warned_version_.exchange(v) != v)
    spdlog::error("users file: agent {} serves stores on several hub shards; it is served by one of them (the stores "
                  "of the others are not routed to it) until calma-server restarts and plans the shards again",
                  limits::log_safe(user_id, 64));
  return {u->second.stores.empty() ? 0u : static_cast<std::uint32_t>(plan_.store_shard(u->second.stores.front()))};
}

std::vector<std::uint32_t> shard_router::shards_of_hello(const protocol::hello& h) const {
  if (plan_.shards <= 1) return {0};
  if (!h.token)
    return {static_cast<std::uint32_t>(plan_.store_shard(h.store.empty() ? cfg_.stores.front().id : h.store))};
  // Expiry is the hub's to check: any time before it serves to read the claims.
  auto cl = signer_.verify(*h.token, 0);
  if (!cl) return {0};
  if (cl->r == role::shopper) return {static_cast<std::uint32_t>(plan_.store_shard(cl->store))};
  return shards_of_staff(cl->sub);
}

std::uint32_t shard_router::hello(std::shared_ptr<connection> c, protocol::hello h, const std::string& raw) {
  const auto shards = shards_of_hello(h);
  if (shards.size() == 1) {
    c->set_shard(shards.front());
    port_.hello(shards.front(), std::move(c), std::move(h), raw);
    return shards.front();
  }
  // A supervisor of stores on several shards: a leg in each.
  std::vector<std::pair<std::string, std::uint32_t>> stores;
  for (const auto& st : cfg_.stores) stores.emplace_back(st.id, static_cast<std::uint32_t>(plan_.store_shard(st.id)));
  auto f = std::make_shared<fan_in>(c, shards, stores, static_cast<std::size_t>(cfg_.routing.snapshot_max_agents));
  const auto id = c->id();
  f->on_rewelcome([w = weak_from_this(), id](std::size_t leg) {
    if (auto self = w.lock()) self->rehello_others(id, leg);
  });
  auto legs = f->legs();
  c->set_shard(fan_in::marker);
  {
    std::lock_guard lk(fans_mu_);
    auto fd = std::make_shared<fanned>();
    fd->f = f;
    fd->h = h;
    fd->raw = raw;
    fans_[id] = std::move(fd);
  }
  for (std::size_t i = 0; i < legs.size(); ++i) port_.hello(shards[i], legs[i], h, raw);
  return fan_in::marker;
}

std::shared_ptr<shard_router::fanned> shard_router::fan_of(std::uint64_t conn_id) const {
  std::lock_guard lk(fans_mu_);
  auto it = fans_.find(conn_id);
  return it == fans_.end() ? nullptr : it->second;
}

void shard_router::rehello_others(std::uint64_t conn_id, std::size_t fresh) {
  auto fd = fan_of(conn_id);
  if (!fd) return;
  auto legs = fd->f->legs();
  const auto& shards = fd->f->shards();
  std::lock_guard lk(fd->mu);
  if (fd->gone) return;  // its detach went out first: nothing to say hello again
  for (std::size_t i = 0; i < legs.size() && i < shards.size(); ++i) {
    if (i == fresh) continue;
    port_.detach(shards[i], conn_id, i == 0);
    // The detach took the client off its role's gauge; its hello puts it
    // back from "unauthenticated", as at the start.
    if (i == 0 && metrics_) ++metrics_->connections_unauthenticated;
    port_.hello(shards[i], legs[i], fd->h, fd->raw);
  }
}

void shard_router::handle(std::uint32_t shard, std::uint64_t conn_id, protocol::client_message m, std::string raw) {
  if (shard != fan_in::marker) return port_.handle(shard, conn_id, std::move(m), std::move(raw));
  if (auto fd = fan_of(conn_id)) handle_fanned(fd->f, std::move(m), std::move(raw));
}

void shard_router::detach(std::uint32_t shard, std::uint64_t conn_id) {
  if (shard != fan_in::marker) return port_.detach(shard, conn_id, true);
  std::shared_ptr<fanned> fd;
  {
    std::lock_guard lk(fans_mu_);
    auto it = fans_.find(conn_id);
    if (it == fans_.end()) return;
    fd = std::move(it->second);
    fans_.erase(it);
  }
  std::lock_guard lk(fd->mu);
  fd->gone = true;
  for (std::size_t i = 0; i < fd->f->shards().size(); ++i) port_.detach(fd->f->shards()[i], conn_id, i == 0);
}

void shard_router::handle_fanned(const std::shared_ptr<fan_in>& f, protocol::client_message m, std::string raw) {
  {
    std::lock_guard lk(f->queue_mu);
    if (f->looking_up) {
      f->held.emplace_back(std::move(m), std::move(raw));
      return;
    }
  }
  dispatch_fanned(f, m, raw);
}

bool shard_router::dispatch_fanned(const std::shared_ptr<fan_in>& f, protocol::client_message& m, std::string& raw) {
  const auto r = f->route_of(m);
  if (r.all_legs) {
    // agents.list: every leg's colleagues, merged by the fan-in into the page asked for.
    auto ask = f->expect_agents_list(std::get<protocol::agents_list>(m));
    const auto text = protocol::agents_list_text(ask);
    for (auto k : f->shards()) port_.handle(k, f->id(), ask, text);
    return true;
  }
  if (r.shard) {
    port_.handle(*r.shard, f->id(), std::move(m), std::move(raw));
    return true;
  }
  // A conversation no leg spoke of (a closed one, say): its store says which
  // shard; this client's later messages wait behind it.
  {
    std::lock_guard lk(f->queue_mu);
    f->looking_up = true;
  }
  const auto conv = fan_in::conversation_of(m);
  store_.get_conversation(conv, [self = shared_from_this(), f, m = std::move(m), raw = std::move(raw)](auto res) mutable {
    if (!res.ok()) {
      // Not sent anywhere, nothing learnt: the client may send it again.
      const auto& cm = std::get_if<protocol::chat_send>(&m);
      f->answer(make_frame(protocol::make_error({protocol::error_code::unavailable, "store unavailable, retry",
                                                 cm ? cm->client_msg_id : std::string(protocol::type_name(m))})));
      return self->after_lookup(std::move(f), std::nullopt, {}, 0);
    }
    // Unknown to the store: the first shard says not_found.
    std::uint32_t k = f->shards().front();
    if (res.value) k = static_cast<std::uint32_t>(self->plan_.store_shard(res.value->shopper.store));
    self->after_lookup(std::move(f), std::move(m), std::move(raw), k);
  });
  return false;
}

void shard_router::after_lookup(std::shared_ptr<fan_in> f, std::optional<protocol::client_message> m, std::string raw,
                                std::uint32_t shard) {
  if (m) {
    const auto& mine = f->shards();
    // Not one of its shards: not its stores; the first answers (forbidden or not_found).
    if (std::find(mine.begin(), mine.end(), shard) == mine.end()) shard = mine.front();
    f->learn(fan_in::conversation_of(*m), shard);
    port_.handle(shard, f->id(), std::move(*m), std::move(raw));
  }
  for (;;) {
    std::pair<protocol::client_message, std::string> next;
    {
      std::lock_guard lk(f->queue_mu);
      if (f->held.empty()) {
        f->looking_up = false;
        return;
      }
      next = std::move(f->held.front());
      f->held.erase(f->held.begin());
    }
    if (!dispatch_fanned(f, next.first, next.second)) return;  // another lookup: the rest waits for it
  }
}

}  // namespace calma

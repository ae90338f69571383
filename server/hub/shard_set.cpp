#include "server/hub/shard_set.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include <spdlog/spdlog.h>

namespace calma {

namespace {

routing::shard_plan plan_for(const config& cfg, const auth::user_table& users, int asked) {
  std::vector<std::string> stores;
  for (const auto& st : cfg.stores) stores.push_back(st.id);
  std::vector<routing::staff_stores> staff;
  for (const auto& [id, u] : users)
    if (!u.disabled) staff.push_back({id, u.stores, u.r == role::agent});
  return routing::plan_shards(stores, staff, asked);
}

}  // namespace

shard_set::shard_set(const config& cfg, store& st, const auth::token_signer& signer, const auth::user_directory& users,
                     const hub_factory& make, int asked)
    : cfg_(cfg), store_(st), signer_(signer), users_(users), plan_(plan_for(cfg, *users.snapshot(), asked)) {
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

std::vector<std::uint32_t> shard_set::shards_of_staff(const std::string& user_id) const {
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

std::vector<std::uint32_t> shard_set::shards_of_hello(const protocol::hello& h) const {
  if (hubs_.size() == 1) return {0};
  if (!h.token)
    return {static_cast<std::uint32_t>(plan_.store_shard(h.store.empty() ? cfg_.stores.front().id : h.store))};
  // Expiry is the hub's to check: any time before it serves to read the claims.
  auto cl = signer_.verify(*h.token, 0);
  if (!cl) return {0};
  if (cl->r == role::shopper) return {static_cast<std::uint32_t>(plan_.store_shard(cl->store))};
  return shards_of_staff(cl->sub);
}

std::uint32_t shard_set::hello(std::shared_ptr<connection> c, protocol::hello h) {
  const auto shards = shards_of_hello(h);
  if (shards.size() == 1) {
    c->set_shard(shards.front());
    of(shards.front()).hello(std::move(c), std::move(h));
    return shards.front();
  }
  // A supervisor of stores on several shards: a leg in each hub.
  std::vector<std::pair<std::string, std::uint32_t>> stores;
  for (const auto& st : cfg_.stores) stores.emplace_back(st.id, static_cast<std::uint32_t>(plan_.store_shard(st.id)));
  auto f = std::make_shared<fan_in>(c, shards, stores, static_cast<std::size_t>(cfg_.routing.snapshot_max_agents));
  auto legs = f->legs();
  c->set_shard(fan_in::marker);
  {
    std::lock_guard lk(fans_mu_);
    fans_[c->id()] = f;
  }
  for (std::size_t i = 0; i < legs.size(); ++i) of(shards[i]).hello(legs[i], h);
  return fan_in::marker;
}

std::shared_ptr<fan_in> shard_set::fan_of(std::uint64_t conn_id) const {
  std::lock_guard lk(fans_mu_);
  auto it = fans_.find(conn_id);
  return it == fans_.end() ? nullptr : it->second;
}

void shard_set::handle(std::uint32_t shard, std::uint64_t conn_id, protocol::client_message m) {
  if (shard != fan_in::marker) return of(shard).handle(conn_id, std::move(m));
  if (auto f = fan_of(conn_id)) handle_fanned(f, std::move(m));
}

void shard_set::detach(std::uint32_t shard, std::uint64_t conn_id) {
  if (shard != fan_in::marker) return of(shard).detach(conn_id);
  std::shared_ptr<fan_in> f;
  {
    std::lock_guard lk(fans_mu_);
    auto it = fans_.find(conn_id);
    if (it == fans_.end()) return;
    f = std::move(it->second);
    fans_.erase(it);
  }
  for (std::size_t i = 0; i < f->shards().size(); ++i) of(f->shards()[i]).detach(conn_id, i == 0);
}

void shard_set::handle_fanned(const std::shared_ptr<fan_in>& f, protocol::client_message m) {
  {
    std::lock_guard lk(f->queue_mu);
    if (f->looking_up) return f->held.push_back(std::move(m));
  }
  dispatch_fanned(f, m);
}

bool shard_set::dispatch_fanned(const std::shared_ptr<fan_in>& f, protocol::client_message& m) {
  const auto r = f->route_of(m);
  if (r.all_legs) {
    // agents.list: every leg's colleagues, merged by the fan-in into the page asked for.
    auto ask = f->expect_agents_list(std::get<protocol::agents_list>(m));
    for (auto k : f->shards()) of(k).handle(f->id(), ask);
    return true;
  }
  if (r.shard) {
    of(*r.shard).handle(f->id(), std::move(m));
    return true;
  }
  // A conversation no leg spoke of (a closed one, say): its store says which
  // hub; this client's later messages wait behind it.
  {
    std::lock_guard lk(f->queue_mu);
    f->looking_up = true;
  }
  const auto conv = fan_in::conversation_of(m);
  store_.get_conversation(conv, [self = shared_from_this(), f, m = std::move(m)](auto res) mutable {
    if (!res.ok()) {
      // Not sent anywhere, nothing learnt: the client may send it again.
      const auto& cm = std::get_if<protocol::chat_send>(&m);
      f->answer(make_frame(protocol::make_error({protocol::error_code::unavailable, "store unavailable, retry",
                                                 cm ? cm->client_msg_id : std::string(protocol::type_name(m))})));
      return self->after_lookup(std::move(f), std::nullopt, 0);
    }
    // Unknown to the store: the first hub says not_found.
    std::uint32_t k = f->shards().front();
    if (res.value) k = static_cast<std::uint32_t>(self->plan_.store_shard(res.value->shopper.store));
    self->after_lookup(std::move(f), std::move(m), k);
  });
  return false;
}

void shard_set::after_lookup(std::shared_ptr<fan_in> f, std::optional<protocol::client_message> m, std::uint32_t shard) {
  if (m) {
    const auto& mine = f->shards();
    // Not one of its shards: not its stores; the first hub answers (forbidden or not_found).
    if (std::find(mine.begin(), mine.end(), shard) == mine.end()) shard = mine.front();
    f->learn(fan_in::conversation_of(*m), shard);
    of(shard).handle(f->id(), std::move(*m));
  }
  for (;;) {
    protocol::client_message next;
    {
      std::lock_guard lk(f->queue_mu);
      if (f->held.empty()) {
        f->looking_up = false;
        return;
      }
      next = std::move(f->held.front());
      f->held.erase(f->held.begin());
    }
    if (!dispatch_fanned(f, next)) return;  // another lookup: the rest waits for it
  }
}

void shard_set::signed_out(const std::string& token_id) {
  for (auto& h : hubs_) h->signed_out(token_id);
}

void shard_set::conversation_detail(participant who, std::string id, std::function<void(hub::http_answer)> done) {
  const auto shards = hubs_.size() == 1 ? std::vector<std::uint32_t>{0} : shards_of_staff(who.id);
  if (shards.size() == 1) return of(shards.front()).conversation_detail(std::move(who), std::move(id), std::move(done));
  // Stores on several shards: the conversation's store says whose hub has its freshest copy.
  store_.get_conversation(id, [self = shared_from_this(), who = std::move(who), id, done = std::move(done)](auto r) mutable {
    const auto k = r.ok() && r.value ? self->plan_.store_shard(r.value->shopper.store) : 0;
    self->of(static_cast<std::size_t>(k)).conversation_detail(std::move(who), std::move(id), std::move(done));
  });
}

void shard_set::followups(participant who, std::vector<std::string> stores,
                          std::function<void(hub::http_answer)> done) {
  // The stores asked for, by shard: each hub lists its own (its open copies are the freshest).
  std::map<std::uint32_t, std::vector<std::string>> by_shard;
  if (hubs_.size() == 1) by_shard[0] = stores;
  else
    for (const auto& st : stores) by_shard[static_cast<std::uint32_t>(plan_.store_shard(st))].push_back(st);
  if (by_shard.empty()) by_shard[0] = stores;
  if (by_shard.size() == 1)
    return of(by_shard.begin()->first).followups(std::move(who), std::move(by_shard.begin()->second), std::move(done));
  struct joint {
    std::mutex mu;
    std::size_t pending;
    hub::http_answer failed;  // status 200 while none failed
    nlohmann::json list = nlohmann::json::array();
    std::function<void(hub::http_answer)> done;
  };
  auto j = std::make_shared<joint>();
  j->pending = by_shard.size();
  j->done = std::move(done);
  for (auto& [k, subset] : by_shard)
    of(k).followups(who, std::move(subset), [j](hub::http_answer a) {
      std::unique_lock lk(j->mu);
      if (a.status != 200 && j->failed.status == 200) j->failed = std::move(a);
      else if (a.status == 200)
        for (auto& x : a.body["followups"]) j->list.push_back(std::move(x));
      if (--j->pending != 0) return;
      auto done = std::move(j->done);
      hub::http_answer out = j->failed;
      if (out.status == 200) {
        std::stable_sort(j->list.begin(), j->list.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
          return a.value("created_ts", std::int64_t{0}) < b.value("created_ts", std::int64_t{0});
        });
        out.body = nlohmann::json{{"followups", std::move(j->list)}};
      }
      lk.unlock();
      done(std::move(out));
    });
}

void shard_set::widget_status(std::string store_id, std::function<void(hub::http_answer)> done) {
  of(static_cast<std::size_t>(plan_.store_shard(store_id))).widget_status(std::move(store_id), std::move(done));
}

}  // namespace calma

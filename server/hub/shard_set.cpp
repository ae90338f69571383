#include "server/hub/shard_set.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include <spdlog/spdlog.h>

namespace calma {

shard_set::shard_set(const config& cfg, store& st, const auth::token_signer& signer, const auth::user_directory& users,
                     hub_factory make, int asked, metrics* m)
    : cfg_(cfg), store_(st), signer_(signer), users_(users), make_(std::move(make)), asked_(asked), metrics_(m) {
  auto g = make_generation(shard_router::plan_for(cfg, *users.snapshot(), asked), nullptr);
  const auto& plan = g->plan;
  if (asked > 1 || plan.shards > 1) {
    spdlog::info("{} hub shard(s) for {} store group(s) ({} asked)", plan.shards, plan.groups.size(), asked);
    for (const auto& why : plan.joined_by) spdlog::info("stores share a shard: {}", why);
  }
  current_ = std::move(g);
}

shard_set::generation::~generation() {
  if (replaced) spdlog::info("hub shards: plan {} and its {} hub(s) released, nothing holds them any more", number, hubs.size());
}

std::shared_ptr<shard_set::generation> shard_set::make_generation(routing::shard_plan plan, const hub* limits_of) {
  auto g = std::make_shared<generation>();
  g->plan = std::move(plan);
  g->router = std::make_shared<shard_router>(cfg_, store_, signer_, users_, g->plan, static_cast<shard_port&>(*g), metrics_);
  for (int k = 0; k < g->plan.shards; ++k) {
    auto h = make_();
    // One shard decides for every store, as a hub always did; several: each its own.
    if (g->plan.shards > 1) h->set_scope(k, g->plan.stores_of(k), k == 0);
    // One address's allowance, whatever the shards (and kept across a re-plan).
    if (limits_of) h->share_limits_with(*limits_of);
    else if (k > 0) h->share_limits_with(*g->hubs.front());
    g->hubs.push_back(std::move(h));
  }
  return g;
}

std::shared_ptr<shard_set::generation> shard_set::answering() const {
  std::lock_guard lk(gens_mu_);
  if (current_->ready.load(std::memory_order_acquire) || !previous_) return current_;
  // Planned again just now: until the new hubs have loaded, the old ones
  // (stopped, holding what was open when their sessions left) know better.
  return previous_;
}

std::uint32_t shard_set::hello(std::shared_ptr<connection> c, protocol::hello h, const std::string& raw) {
  auto g = now();
  if (!g->ready.load(std::memory_order_acquire)) {
    // Planned again just now: the new hubs are loading. Try again shortly.
    c->set_refused_hello();
    c->close(static_cast<std::uint16_t>(protocol::close_code::try_later), "the hub shards are being planned again; try again");
    return 0;
  }
  auto& router = *g->router;
  c->set_generation(std::move(g));
  return router.hello(std::move(c), std::move(h), raw);
}

void shard_set::detach(connection& c) {
  if (c.refused_hello()) {
    // It said hello to no hub: the gauge it was counted in at the upgrade is this one.
    if (metrics_) --metrics_->connections_unauthenticated;
    return;
  }
  // Before its hello (or without one) it is counted by any hub as unauthenticated.
  if (auto* g = static_cast<generation*>(c.generation().get())) return g->router->detach(c.shard(), c.id());
  now()->router->detach(c.shard(), c.id());
}

// Every hub of `g` loads; `done(first error)` once all have.
void shard_set::start_hubs(const generation& g, std::function<void(std::string)> done) {
  struct joint {
    std::size_t pending;
    std::string error;
    std::function<void(std::string)> done;
    std::mutex mu;
  };
  auto j = std::make_shared<joint>();
  j->pending = g.hubs.size();
  j->done = std::move(done);
  for (const auto& h : g.hubs)
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

void shard_set::start(std::function<void(std::string)> done) {
  start_hubs(*now(), [self = shared_from_this(), done = std::move(done)](std::string e) {
    if (e.empty()) self->started_ = true;
    done(std::move(e));
    self->recheck();
  });
}

void shard_set::stop(std::uint16_t code, std::string reason) {
  for (const auto& h : now()->hubs) h->stop(code, reason);
}

void shard_set::step_down() {
  for (const auto& h : now()->hubs) h->step_down();
}

void shard_set::set_decide_check(const std::function<bool()>& may_decide) {
  for (const auto& h : now()->hubs) h->set_decide_check(may_decide);
}

void shard_set::signed_out(const std::string& token_id) {
  for (const auto& h : now()->hubs) h->signed_out(token_id);
}

void shard_set::users_changed() {
  std::unique_lock lk(replan_mu_);
  const auto cur = now();
  // Loading (at start, or planned again just now): looked at once loaded.
  if (!started_ || !cur->ready) recheck_ = true;
  if (started_ && cur->ready) {
    auto plan = shard_router::plan_for(cfg_, *users_.snapshot(), asked_);
    if (plan.shards != cur->plan.shards || plan.shard_of_store != cur->plan.shard_of_store)
      return replan(cur, std::move(plan));
  }
  for (const auto& h : cur->hubs) h->users_changed();
}

// A users change that came while the hubs were loading: planned now.
void shard_set::recheck() {
  {
    std::lock_guard lk(replan_mu_);
    if (!std::exchange(recheck_, false)) return;
  }
  users_changed();
}

// Under replan_mu_. The old hubs close every client (1012: it reconnects) and
// take what their sessions still send; once those are gone (all stored), the
// new hubs load the open conversations from the store by the new plan, as at
// a start. Hellos meanwhile are refused with 1013 (try again later).
void shard_set::replan(const std::shared_ptr<generation>& old, routing::shard_plan plan) {
  auto fresh = make_generation(std::move(plan), old->hubs.front().get());
  fresh->ready = false;
  fresh->number = old->number + 1;
  spdlog::warn("users file: the store groups changed: planning the hub shards again ({} -> {} shard(s) for {} group(s)); "
               "every client is asked to reconnect (1012)",
               old->plan.shards, fresh->plan.shards, fresh->plan.groups.size());
  for (const auto& why : fresh->plan.joined_by) spdlog::info("stores share a shard: {}", why);
  old->ready = false;
  old->replaced = true;
  {
    std::lock_guard lk(gens_mu_);
    previous_ = old;
    current_ = fresh;
  }
  ++replans_;
  for (const auto& h : old->hubs) h->stop(static_cast<std::uint16_t>(protocol::close_code::restart), "hub shards planned again");
  auto left = std::make_shared<std::atomic<std::size_t>>(old->hubs.size());
  // What waits for the old hubs to empty holds the new plan, not the old one
  // (the old one goes once its last connection has).
  auto start_new = [self = shared_from_this(), fresh] {
    start_hubs(*fresh, [self, fresh](std::string err) {
      if (!err.empty()) spdlog::error("hub shards planned again: a hub could not load: {}", err);
      fresh->ready = true;
      std::shared_ptr<generation> gone;  // freed (if nothing else holds it) out of the lock
      {
        std::lock_guard lk(self->gens_mu_);
        if (self->current_ == fresh) gone = std::move(self->previous_);  // HTTP is answered by the new hubs from now on
      }
      gone.reset();
      spdlog::info("hub shards planned again: {} shard(s) serving", fresh->plan.shards);
      self->recheck();
    });
  };
  for (const auto& h : old->hubs)
    h->when_vacated(std::chrono::seconds(5), [left, start_new] {
      if (--*left == 0) start_new();
    });
}

void shard_set::conversation_detail(participant who, std::string id, std::function<void(hub::http_answer)> done) {
  const auto g = answering();
  const auto shards = g->hubs.size() == 1 ? std::vector<std::uint32_t>{0} : shards_of_staff(*g, who.id);
  if (shards.size() == 1) return g->of(shards.front()).conversation_detail(std::move(who), std::move(id), std::move(done));
  // Stores on several shards: the conversation's store says whose hub has its freshest copy.
  store_.get_conversation(id, [self = shared_from_this(), who = std::move(who), id, done = std::move(done)](auto r) mutable {
    const auto g = self->answering();
    const auto k = r.ok() && r.value ? g->plan.store_shard(r.value->shopper.store) : 0;
    g->of(static_cast<std::size_t>(k)).conversation_detail(std::move(who), std::move(id), std::move(done));
  });
}

void shard_set::followups(participant who, std::vector<std::string> stores,
                          std::function<void(hub::http_answer)> done) {
  // The stores asked for, by shard: each hub lists its own (its open copies are the freshest).
  const auto g = answering();
  std::map<std::uint32_t, std::vector<std::string>> by_shard;
  if (g->hubs.size() == 1) by_shard[0] = stores;
  else
    for (const auto& st : stores) by_shard[static_cast<std::uint32_t>(g->plan.store_shard(st))].push_back(st);
  if (by_shard.empty()) by_shard[0] = stores;
  if (by_shard.size() == 1)
    return g->of(by_shard.begin()->first).followups(std::move(who), std::move(by_shard.begin()->second), std::move(done));
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
    g->of(k).followups(who, std::move(subset), [j](hub::http_answer a) {
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
  const auto g = now();
  g->of(static_cast<std::size_t>(g->plan.store_shard(store_id))).widget_status(std::move(store_id), std::move(done));
}

}  // namespace calma

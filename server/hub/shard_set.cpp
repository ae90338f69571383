#include "server/hub/shard_set.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include <spdlog/spdlog.h>

namespace calma {

shard_set::shard_set(const config& cfg, store& st, const auth::token_signer& signer, const auth::user_directory& users,
                     const hub_factory& make, int asked, metrics* m)
    : store_(st), plan_(shard_router::plan_for(cfg, *users.snapshot(), asked)) {
  router_ = std::make_shared<shard_router>(cfg, st, signer, users, plan_, static_cast<shard_port&>(*this), m);
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

#include "common/cluster/shard_claims.hpp"

#include <algorithm>

namespace calma::cluster {

shard_claims::shard_claims(std::string self, std::size_t shards, claim_params p)
    : self_(std::move(self)),
      p_(p),
      holders_(shards),
      vacant_since_(shards, 0),
      giving_(shards, false),
      handed_at_(shards, 0) {}

void shard_claims::on_view(timestamp_ms now, std::vector<std::string> fresh, const std::vector<std::string>& holders) {
  if (std::find(fresh.begin(), fresh.end(), self_) == fresh.end()) fresh.push_back(self_);
  std::sort(fresh.begin(), fresh.end());
  fresh.erase(std::unique(fresh.begin(), fresh.end()), fresh.end());
  std::unordered_map<std::string, timestamp_ms> since;
  for (const auto& m : fresh) {
    auto it = since_.find(m);
    since.emplace(m, it == since_.end() ? now : it->second);
  }
  since_ = std::move(since);
  fresh_ = std::move(fresh);
  for (std::size_t k = 0; k < holders_.size() && k < holders.size(); ++k) {
    holders_[k] = holders[k];
    if (holders[k].empty()) {
      if (vacant_since_[k] == 0) vacant_since_[k] = now;
    } else {
      vacant_since_[k] = 0;
    }
    if (holders[k] != self_) giving_[k] = false;  // handed over (or gone): ask as anyone again
  }
}

void shard_claims::member_left(const std::string& member) {
  if (member == self_) return;
  fresh_.erase(std::remove(fresh_.begin(), fresh_.end(), member), fresh_.end());
  since_.erase(member);
}

std::unordered_map<std::string, int> shard_claims::loads() const {
  std::unordered_map<std::string, int> n;
  for (const auto& m : fresh_) n[m] = 0;
  for (const auto& h : holders_)
    if (auto it = n.find(h); it != n.end()) ++it->second;
  return n;
}

std::string shard_claims::preferred(std::size_t k) const {
  if (fresh_.empty()) return self_;
  if (since_.count(holders_.at(k))) return holders_[k];  // held by a fresh member: it stays
  // The shards without a fresh holder, in index order, each to the least
  // loaded fresh member (counting those assigned before it here).
  auto load = loads();
  for (std::size_t j = 0; j < holders_.size(); ++j) {
    if (since_.count(holders_[j])) continue;
    const std::string* pick = nullptr;
    for (std::size_t i = 0; i < fresh_.size(); ++i) {
      const auto& m = fresh_[(j + i) % fresh_.size()];
      if (!pick || load[m] < load[*pick]) pick = &m;
    }
    if (j == k) return *pick;
    ++load[*pick];
  }
  return self_;
}

shard_ask shard_claims::ask(std::size_t k, timestamp_ms now, bool leading) const {
  if (leading) return shard_ask::keep;  // a hub decides on it: never given (cancel_giving)
  if (giving_.at(k)) return shard_ask::give;
  if (holders_.size() == 1 || preferred(k) == self_) return shard_ask::take;
  if (vacant_since_[k] != 0 && now - vacant_since_[k] >= p_.vacant_grace_ms) return shard_ask::take;
  return shard_ask::keep;
}

std::string shard_claims::hand_over(std::size_t k, timestamp_ms now, bool leading) const {
  if (!leading || giving_.at(k) || holders_.size() == 1) return {};
  if (handed_at_[k] != 0 && now - handed_at_[k] < 2 * p_.settle_ms) return {};
  // Only the highest shard this node holds, one at a time.
  for (std::size_t j = k + 1; j < holders_.size(); ++j)
    if (holders_[j] == self_ && !giving_[j]) return {};
  const auto load = loads();
  auto mine = load.find(self_);
  if (mine == load.end()) return {};
  const std::string* to = nullptr;
  for (const auto& m : fresh_)  // sorted: ties go to the first
    if (!to || load.at(m) < load.at(*to)) to = &m;
  if (!to || *to == self_ || mine->second - load.at(*to) < 2) return {};
  auto it = since_.find(*to);
  return it != since_.end() && now - it->second >= p_.settle_ms ? *to : std::string();
}

std::string shard_claims::plan_key(std::size_t shards, const std::vector<std::pair<std::string, int>>& store_shards) {
  std::string out = std::to_string(shards);
  for (const auto& [store, k] : store_shards) out += ' ' + store + '=' + std::to_string(k);
  return out;
}

}  // namespace calma::cluster

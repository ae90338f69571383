#include "common/routing/shards.hpp"

#include <algorithm>
#include <numeric>

namespace calma::routing {

int shard_plan::store_shard(std::string_view store) const {
  auto it = shard_of_store.find(store);
  return it == shard_of_store.end() ? 0 : it->second;
}

std::optional<int> shard_plan::staff_shard(const std::vector<std::string>& stores) const {
  if (stores.empty()) return shards == 1 ? std::optional<int>(0) : std::nullopt;
  std::optional<int> k;
  for (const auto& st : stores) {
    auto it = shard_of_store.find(st);
    if (it == shard_of_store.end()) continue;  // a store not configured: serves nothing there
    if (k && *k != it->second) return std::nullopt;
    k = it->second;
  }
  return k.value_or(0);
}

std::vector<int> shard_plan::shards_of(const std::vector<std::string>& stores) const {
  std::vector<int> out;
  if (stores.empty()) {
    for (int k = 0; k < shards; ++k) out.push_back(k);
    return out;
  }
  for (const auto& st : stores)
    if (auto it = shard_of_store.find(st); it != shard_of_store.end()) out.push_back(it->second);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.empty()) out.push_back(0);
  return out;
}

std::vector<std::string> shard_plan::stores_of(int k) const {
  std::vector<std::string> out;
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (group_shard[g] == k) out.insert(out.end(), groups[g].begin(), groups[g].end());
  return out;
}

namespace {

// Union-find over the stores' indices.
struct components {
  std::vector<std::size_t> parent;
  explicit components(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  std::size_t find(std::size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  }
  bool join(std::size_t a, std::size_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return false;
    parent[std::max(a, b)] = std::min(a, b);  // the root stays the first store: groups in config order
    return true;
  }
};

}  // namespace

shard_plan plan_shards(const std::vector<std::string>& stores, const std::vector<staff_stores>& staff, int asked) {
  shard_plan p;
  const int want = std::max(asked, 1);
  std::map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < stores.size(); ++i) index.emplace(stores[i], i);
  components comp(stores.size());
  for (const auto& s : staff) {
    if (!s.links) continue;
    std::vector<std::size_t> mine;
    if (s.stores.empty()) {
      mine.resize(stores.size());
      std::iota(mine.begin(), mine.end(), 0);
    } else {
      for (const auto& st : s.stores)
        if (auto it = index.find(st); it != index.end()) mine.push_back(it->second);
    }
    bool joined = false;
    for (std::size_t i = 1; i < mine.size(); ++i) joined |= comp.join(mine[0], mine[i]);
    if (joined && want > 1 && p.joined_by.size() < 5)
      p.joined_by.push_back(s.stores.empty() ? s.id + " serves every store"
                                             : s.id + " serves " + std::to_string(mine.size()) + " stores");
  }
  std::map<std::size_t, std::size_t> group_of_root;
  for (std::size_t i = 0; i < stores.size(); ++i) {
    auto [it, fresh] = group_of_root.emplace(comp.find(i), p.groups.size());
    if (fresh) p.groups.emplace_back();
    p.groups[it->second].push_back(stores[i]);
  }
  p.shards = std::clamp(want, 1, std::max<int>(1, static_cast<int>(p.groups.size())));
  // The biggest groups first, each on the shard with the fewest stores so far
  // (ties: the earlier group, the lower shard).
  std::vector<std::size_t> order(p.groups.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return p.groups[a].size() > p.groups[b].size(); });
  std::vector<std::size_t> load(static_cast<std::size_t>(p.shards), 0);
  p.group_shard.assign(p.groups.size(), 0);
  for (auto g : order) {
    auto k = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    p.group_shard[g] = static_cast<int>(k);
    load[k] += p.groups[g].size();
    for (const auto& st : p.groups[g]) p.shard_of_store[st] = static_cast<int>(k);
  }
  if (p.shards == want) p.joined_by.clear();  // nothing to explain
  return p;
}

}  // namespace calma::routing

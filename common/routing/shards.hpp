// Which hub decides for which stores: the shard plan, as pure code.
//
// One hub (one strand) decides for the stores it owns: their queues, routing,
// curves, escalations and deadlines. Several hubs run side by side, one per
// shard, so the decisions of different stores use different cores. The rule
// that keeps routing consistent: an agent's capacity is counted in one place,
// so every store an agent serves is owned by the same hub. The stores
// therefore fall into groups, the connected components of the store-agent
// graph (an agent with no store list serves every store and joins them all),
// and each group is placed whole on one shard, the biggest groups first on
// the least loaded shard. Supervisors are not routed conversations: one whose
// stores are on several shards is served by each of them (server/hub/fan_in).
//
// Deterministic: the same stores, staff and shard count give the same plan.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace calma::routing {

/// A staff member and the stores it serves (empty: every store).
struct staff_stores {
  std::string id;
  std::vector<std::string> stores;
  /// Its stores must share a hub (an agent: its capacity is counted in one
  /// place); false for a supervisor, who may be served by several.
  bool links = true;
};

struct shard_plan {
  /// Hubs to run: the shards asked for, or fewer when there are fewer groups (at least 1).
  int shards = 1;
  /// The store groups, each in the configuration's order; ordered by their first store.
  std::vector<std::vector<std::string>> groups;
  /// The shard of each group (same index as `groups`).
  std::vector<int> group_shard;
  /// Why stores were joined when that kept shards from being used: e.g.
  /// "sup1 serves every store". At most a few lines, for the start-up log.
  std::vector<std::string> joined_by;

  /// The shard owning `store`; a store the plan does not know (not configured) is shard 0's.
  int store_shard(std::string_view store) const;
  /// The one shard holding every store of `stores` (empty: every store), or
  /// nullopt when they are on several shards (a supervisor's; an agent's only
  /// if the staff table changed since the plan).
  std::optional<int> staff_shard(const std::vector<std::string>& stores) const;
  /// The shards holding `stores` (empty: every store), ascending; shard 0 when none is known.
  std::vector<int> shards_of(const std::vector<std::string>& stores) const;
  /// The stores shard `k` owns, in the configuration's order.
  std::vector<std::string> stores_of(int k) const;

  std::map<std::string, int, std::less<>> shard_of_store;
};

/// `stores`: the configured store ids, in order. `asked`: shards wanted (≤ 0 counts as 1).
shard_plan plan_shards(const std::vector<std::string>& stores, const std::vector<staff_stores>& staff, int asked);

}  // namespace calma::routing

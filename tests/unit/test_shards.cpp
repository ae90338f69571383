#include <doctest/doctest.h>

#include "common/routing/shards.hpp"

using namespace calma::routing;

namespace {
const std::vector<std::string> five{"a", "b", "c", "d", "e"};
}

TEST_CASE("shards - stores whose staff do not overlap spread over the shards asked") {
  // a+b share an agent, c alone, d+e share a supervisor.
  std::vector<staff_stores> staff{{"ann", {"a", "b"}}, {"cid", {"c"}}, {"sue", {"d", "e"}}, {"bob", {"b"}}};
  auto p = plan_shards(five, staff, 2);
  REQUIRE(p.groups.size() == 3);
  CHECK(p.groups[0] == std::vector<std::string>{"a", "b"});
  CHECK(p.groups[1] == std::vector<std::string>{"c"});
  CHECK(p.groups[2] == std::vector<std::string>{"d", "e"});
  CHECK(p.shards == 2);
  // Biggest first, each on the least loaded: {a,b} -> 0, {d,e} -> 1, {c} -> 0 (2 stores vs 2: the lower).
  CHECK(p.store_shard("a") == 0);
  CHECK(p.store_shard("b") == 0);
  CHECK(p.store_shard("d") == 1);
  CHECK(p.store_shard("e") == 1);
  CHECK(p.store_shard("c") == 0);
  CHECK(p.stores_of(0) == std::vector<std::string>{"a", "b", "c"});
  CHECK(p.stores_of(1) == std::vector<std::string>{"d", "e"});
  // Every staff member's stores are on one shard: its capacity is counted in one place.
  for (const auto& s : staff) CHECK(p.staff_shard(s.stores).has_value());
  CHECK(p.staff_shard({"a"}) == 0);
  CHECK(p.staff_shard({"e", "d"}) == 1);
  CHECK(p.joined_by.empty());
}

TEST_CASE("shards - a staff member serving every store joins them all into one shard and says so") {
  std::vector<staff_stores> staff{{"ann", {"a"}}, {"cid", {"c"}}, {"boss", {}}};
  auto p = plan_shards(five, staff, 4);
  CHECK(p.shards == 1);
  REQUIRE(p.groups.size() == 1);
  CHECK(p.groups[0] == five);
  REQUIRE(p.joined_by.size() == 1);
  CHECK(p.joined_by[0] == "boss serves every store");
  CHECK(p.staff_shard({}) == 0);
  for (const auto& st : five) CHECK(p.store_shard(st) == 0);
}

TEST_CASE("shards - never more shards than groups and never fewer than one - unknown stores are shard 0s") {
  std::vector<staff_stores> staff{{"x", {"a", "b", "c", "d", "e"}}};
  CHECK(plan_shards(five, staff, 8).shards == 1);
  CHECK(plan_shards(five, {}, 8).shards == 5);
  CHECK(plan_shards(five, {}, 0).shards == 1);
  CHECK(plan_shards(five, {}, -3).shards == 1);
  CHECK(plan_shards({}, {}, 2).shards == 1);
  auto p = plan_shards(five, {}, 2);
  CHECK(p.store_shard("nope") == 0);
  // Listed stores that are not configured link nothing.
  auto q = plan_shards(five, {{"y", {"a", "zz"}}, {"z", {"zz", "e"}}}, 5);
  CHECK(q.shards == 5);
  CHECK(q.staff_shard({"zz"}) == 0);
}

TEST_CASE("shards - a staff table changed since the plan - a member spanning shards has no shard") {
  auto p = plan_shards(five, {}, 5);
  CHECK_FALSE(p.staff_shard({"a", "e"}).has_value());
  CHECK_FALSE(p.staff_shard({}).has_value());  // every store, on five shards
  CHECK(p.staff_shard({"c", "c"}) == p.store_shard("c"));
}

TEST_CASE("shards - the plan is deterministic and balanced by stores") {
  std::vector<std::string> stores;
  for (int i = 0; i < 40; ++i) stores.push_back("s" + std::to_string(i));
  std::vector<staff_stores> staff;
  for (int i = 0; i < 40; i += 4) staff.push_back({"a" + std::to_string(i), {stores[i], stores[i + 1]}});
  auto p = plan_shards(stores, staff, 3);
  auto q = plan_shards(stores, staff, 3);
  CHECK(p.shard_of_store == q.shard_of_store);
  CHECK(p.groups.size() == 30);  // 10 pairs + 20 alone
  std::size_t most = 0, least = 1000;
  for (int k = 0; k < 3; ++k) {
    most = std::max(most, p.stores_of(k).size());
    least = std::min(least, p.stores_of(k).size());
  }
  CHECK(most - least <= 1);
}

TEST_CASE("shards - supervisors do not join stores - they are served by every shard of their stores") {
  std::vector<staff_stores> staff{{"ann", {"a", "b"}}, {"cid", {"c"}}, {"boss", {}, false}, {"sue", {"b", "c"}, false}};
  auto p = plan_shards(five, staff, 2);
  CHECK(p.groups.size() == 4);  // {a,b} {c} {d} {e}
  CHECK(p.shards == 2);
  CHECK_FALSE(p.staff_shard({}).has_value());
  CHECK(p.shards_of({}) == std::vector<int>{0, 1});
  const auto sue = p.shards_of({"b", "c"});
  CHECK(sue.size() == (p.store_shard("b") == p.store_shard("c") ? 1u : 2u));
  CHECK(p.shards_of({"a", "b"}) == std::vector<int>{p.store_shard("a")});
  CHECK(p.shards_of({"zz"}) == std::vector<int>{0});
}

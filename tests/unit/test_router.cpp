#include <doctest/doctest.h>

#include "common/routing/router.hpp"

using namespace calma;
using namespace calma::routing;

namespace {
router with_agents(std::initializer_list<const char*> ids, int capacity = 2) {
  router r(params{capacity, 300'000, 0.2});
  for (auto id : ids) r.upsert_agent(id, id, agent_status::online);
  return r;
}
}  // namespace

TEST_CASE("oldest waiting conversation goes to the least-loaded online agent") {
  auto r = with_agents({"a", "b"});
  r.enqueue("c1", "default", 1000);
  r.enqueue("c2", "default", 2000);
  r.enqueue("c3", "default", 3000);
  auto d = r.assign_waiting(5000);
  REQUIRE(d.size() == 3);
  CHECK(d[0].conversation_id == "c1");
  CHECK(d[1].conversation_id == "c2");
  CHECK(d[0].agent_id != d[1].agent_id);  // spread, not piled on one
  CHECK(r.agent("a")->load + r.agent("b")->load == 3);
  CHECK(r.queued_count() == 0);
}

TEST_CASE("capacity is never exceeded and away/offline agents get nothing") {
  auto r = with_agents({"a"}, 1);
  r.upsert_agent("away", "away", agent_status::away);
  r.upsert_agent("off", "off", agent_status::offline);
  r.enqueue("c1", "default", 1);
  r.enqueue("c2", "default", 2);
  auto d = r.assign_waiting(10);
  REQUIRE(d.size() == 1);
  CHECK(d[0].agent_id == "a");
  CHECK(r.position("c2") == 1);
  CHECK(r.assign_waiting(11).empty());
  r.release("c1", 100, true);
  auto d2 = r.assign_waiting(101);
  REQUIRE(d2.size() == 1);
  CHECK(d2[0].conversation_id == "c2");
  r.set_capacity("a", 0);
  r.enqueue("c3", "default", 200);
  CHECK(r.assign_waiting(201).empty());
}

TEST_CASE("priority jumps the queue - ties by arrival") {
  auto r = with_agents({});
  r.enqueue("calm", "default", 1000);
  r.enqueue("angry", "default", 2000);
  r.enqueue("late", "default", 3000);
  CHECK(r.position("calm") == 1);
  r.set_priority("angry", 10);
  CHECK(r.position("angry") == 1);
  CHECK(r.position("calm") == 2);
  CHECK(r.position("late") == 3);
  auto q = r.queue_order();
  CHECK(q[0].conversation_id == "angry");
  CHECK(r.oldest_enqueued_ts() == 1000);
}

TEST_CASE("estimated wait is honest: zero with a free slot - grows with position") {
  router r(params{2, 60'000, 0.5});
  r.upsert_agent("a", "a", agent_status::online);
  r.enqueue("c1", "default", 0);
  CHECK(r.estimated_wait_s("c1") == 0);  // a slot is free
  r.assign_waiting(1);
  r.assign("x", "a", 1);  // agent now full (2 of 2)
  r.enqueue("c2", "default", 2);
  r.enqueue("c3", "default", 3);
  CHECK(r.estimated_wait_s("c2") == 30);  // 1 slot ahead * 60 s / capacity 2
  CHECK(r.estimated_wait_s("c3") == 60);
  // Handle time learns from closed chats.
  r.release("c1", 1 + 20'000, true);  // 20 s chat: 0.5*60 + 0.5*20 = 40 s
  CHECK(r.handle_time_ms() == doctest::Approx(40'000));
  CHECK(r.estimated_wait_s("c2") == 0);  // c1's slot is free again
}

TEST_CASE("a conversation sent back by an agent goes to someone else when possible") {
  auto r = with_agents({"a", "b"});
  r.enqueue("c1", "default", 1, 0, "a");
  auto d = r.assign_waiting(2);
  REQUIRE(d.size() == 1);
  CHECK(d[0].agent_id == "b");
  auto solo = with_agents({"a"});
  solo.enqueue("c1", "default", 1, 0, "a");
  auto d2 = solo.assign_waiting(2);
  REQUIRE(d2.size() == 1);
  CHECK(d2[0].agent_id == "a");  // nobody else: better than waiting forever
}

TEST_CASE("transfers and releases keep loads exact") {
  auto r = with_agents({"a", "b"});
  r.assign("c1", "a", 1);
  CHECK(r.agent("a")->load == 1);
  r.assign("c1", "b", 2);
  CHECK(r.agent("a")->load == 0);
  CHECK(r.agent("b")->load == 1);
  CHECK(r.agent_of("c1") == "b");
  CHECK(r.conversations_of("b") == std::vector<std::string>{"c1"});
  r.release("c1", 3, false);
  CHECK(r.agent("b")->load == 0);
  CHECK_FALSE(r.agent_of("c1"));
  r.release("c1", 4, false);  // idempotent
  CHECK(r.agent("b")->load == 0);
  r.enqueue("c2", "default", 5);
  r.enqueue("c2", "default", 6);  // no duplicate entries
  CHECK(r.queued_count() == 1);
}

// ---- stores, senior agents and VIPs

namespace {
router two_stores() {
  router r(params{2, 300'000, 0.2});
  r.upsert_agent("es", "es", agent_status::online);
  r.set_profile("es", {"demo"}, false);
  r.upsert_agent("pl", "pl", agent_status::online);
  r.set_profile("pl", {"demo-pl"}, false);
  return r;
}
}  // namespace

TEST_CASE("a store's conversations go only to agents of that store") {
  auto r = two_stores();
  r.enqueue("c-pl", "default", 1, 0, "", "demo-pl");
  r.enqueue("c-es", "default", 2, 0, "", "demo");
  auto d = r.assign_waiting(10);
  REQUIRE(d.size() == 2);
  CHECK(r.agent_of("c-pl") == "pl");
  CHECK(r.agent_of("c-es") == "es");
  // The Polish agent is full: a third Polish shopper waits even though the Spanish agent has room.
  r.enqueue("c-pl2", "default", 3, 0, "", "demo-pl");
  r.enqueue("c-pl3", "default", 4, 0, "", "demo-pl");
  auto d2 = r.assign_waiting(20);
  REQUIRE(d2.size() == 1);
  CHECK(d2[0].agent_id == "pl");
  CHECK(r.is_queued("c-pl3"));
  CHECK(r.position("c-pl3") == 1);  // counted among its own store's queue only
  CHECK(r.online_agents("demo-pl") == 1);
  CHECK(r.online_agents("demo") == 1);
  // An agent with no store list serves every store.
  r.upsert_agent("all", "all", agent_status::online);
  auto d3 = r.assign_waiting(30);
  REQUIRE(d3.size() == 1);
  CHECK(d3[0].agent_id == "all");
  CHECK(r.online_agents("demo-pl") == 2);
}

TEST_CASE("waiting estimates count only the store's own agents") {
  auto r = two_stores();
  r.assign("x1", "pl", 0);
  r.assign("x2", "pl", 0);  // the Polish agent is full
  r.enqueue("c-pl", "default", 1, 0, "", "demo-pl");
  CHECK(r.estimated_wait_s("c-pl") == 150);  // 1 slot ahead * 300 s / capacity 2
  r.enqueue("c-es", "default", 2, 0, "", "demo");
  CHECK(r.estimated_wait_s("c-es") == 0);  // the Spanish agent has room
}

TEST_CASE("VIP and angry conversations go to a free senior agent first") {
  router r(params{2, 300'000, 0.2});
  r.upsert_agent("junior", "junior", agent_status::online);
  r.upsert_agent("senior", "senior", agent_status::online);
  r.set_profile("senior", {}, true);
  // The junior has been idle longer: a calm shopper still goes to the junior
  // (seniors are kept free for the hard ones).
  r.enqueue("calm", "default", 1);
  r.enqueue("vip", "default", 2, 0, "", "", /*vip=*/true);
  r.enqueue("angry", "default", 3, 70);
  auto d = r.assign_waiting(10);
  REQUIRE(d.size() == 3);
  CHECK(r.agent_of("vip") == "senior");
  CHECK(r.agent_of("angry") == "senior");
  CHECK(r.agent_of("calm") == "junior");
  // Calm ones go to the least loaded, a non-senior on a tie.
  r.release("vip", 20, true);
  r.release("angry", 20, true);
  r.release("calm", 20, true);
  r.enqueue("calm2", "default", 30);
  CHECK(r.assign_waiting(31).at(0).agent_id == "junior");
}

TEST_CASE("with no senior free a VIP goes to anyone free rather than wait") {
  router r(params{1, 300'000, 0.2});
  r.upsert_agent("junior", "junior", agent_status::online);
  r.upsert_agent("senior", "senior", agent_status::online);
  r.set_profile("senior", {}, true);
  r.assign("busy", "senior", 0);
  r.enqueue("vip", "default", 1, 0, "", "", true);
  auto d = r.assign_waiting(2);
  REQUIRE(d.size() == 1);
  CHECK(d[0].agent_id == "junior");
  // And a calm shopper takes a senior when no one else is free.
  router s(params{1, 300'000, 0.2});
  s.upsert_agent("senior", "senior", agent_status::online);
  s.set_profile("senior", {}, true);
  s.enqueue("calm", "default", 1);
  auto d2 = s.assign_waiting(2);
  REQUIRE(d2.size() == 1);
  CHECK(d2[0].agent_id == "senior");
}

TEST_CASE("a senior of another store does not take a VIP") {
  router r(params{2, 300'000, 0.2});
  r.upsert_agent("senior-pl", "senior-pl", agent_status::online);
  r.set_profile("senior-pl", {"demo-pl"}, true);
  r.upsert_agent("junior-es", "junior-es", agent_status::online);
  r.set_profile("junior-es", {"demo"}, false);
  r.enqueue("vip-es", "default", 1, 0, "", "demo", true);
  auto d = r.assign_waiting(2);
  REQUIRE(d.size() == 1);
  CHECK(d[0].agent_id == "junior-es");
}

TEST_CASE("a calm shopper is not starved by a stream of angrier arrivals") {
  // One agent, one slot at a time. The calm shopper arrives first; every 30 s
  // a new angry (level 50) shopper arrives and every 60 s a chat ends: more
  // angry shoppers than the agent can serve, for ever. Ordered by anger alone
  // the calm one would never be served; with anger as a head start of 3 s per
  // level (150 s for level 50) only the angry ones that arrived less than
  // 150 s after it (at 30, 60, 90 and 120 s) go before it.
  router r(params{1, 300'000, 0.2});
  r.upsert_agent("a", "a", agent_status::online);
  r.assign("first", "a", 0);
  r.enqueue("calm", "default", 0);
  timestamp_ms served_at = -1;
  int angry = 0;
  std::string current = "first";
  for (timestamp_ms t = 30'000; t <= 1'800'000 && served_at < 0; t += 30'000) {
    r.enqueue("angry" + std::to_string(angry++), "default", t, 50);
    if (t % 60'000 == 0) {
      r.release(current, t, true);
      auto d = r.assign_waiting(t);
      REQUIRE(d.size() == 1);
      current = d[0].conversation_id;
      if (current == "calm") served_at = t;
    }
  }
  CHECK(served_at > 0);
  CHECK(served_at == 300'000);  // the fifth slot to free up
}

TEST_CASE("VIP by tier or order value") {
  params p;
  shopper_context c;
  CHECK_FALSE(is_vip(c, p));
  c.tier = "VIP";
  CHECK(is_vip(c, p));
  c.tier = "gold";
  CHECK_FALSE(is_vip(c, p));
  c.order_value = 499.99;
  CHECK_FALSE(is_vip(c, p));
  c.order_value = 500;
  CHECK(is_vip(c, p));
  p.vip_order_value = 0;  // 0: order value never makes a VIP
  CHECK_FALSE(is_vip(c, p));
}

TEST_CASE("positions in one pass agree with position() - per store") {
  auto r = two_stores();
  r.upsert_agent("es", "es", agent_status::away);
  r.upsert_agent("pl", "pl", agent_status::away);
  for (int i = 0; i < 6; ++i) r.enqueue("c" + std::to_string(i), "default", i, i == 4 ? 50 : 0, "", i % 2 ? "demo-pl" : "demo");
  auto all = r.positions();
  REQUIRE(all.size() == 6);
  for (const auto& [id, pos] : all) CHECK(pos == r.position(id));
  CHECK(all["c4"] == 1);  // the angry one jumped its store's queue
  CHECK(all["c1"] == 1);
}

TEST_CASE("an abandoned conversation keeps its place but counts for nobody and is not assigned") {
  router r(params{1, 300'000, 0.2});
  r.enqueue("gone", "default", 1000, 0, {}, "demo");
  r.enqueue("real", "default", 2000, 0, {}, "demo");
  r.enqueue("other", "default", 1500, 0, {}, "demo-pl");
  CHECK(r.position("real") == 2);
  r.set_abandoned("gone", true);
  CHECK(r.position("real") == 1);
  CHECK(r.positions().at("real") == 1);
  CHECK(r.positions().at("other") == 1);
  CHECK(*r.oldest_enqueued_ts() == 1500);
  r.upsert_agent("a", "a", agent_status::online);
  auto d = r.assign_waiting(3000);
  // The one free slot goes to a shopper who is there.
  REQUIRE(d.size() == 1);
  CHECK(d[0].conversation_id != "gone");
  CHECK(r.is_queued("gone"));
  // Back: first in line again, as it arrived first.
  r.set_abandoned("gone", false);
  CHECK(r.position("gone") == 1);
  r.set_abandoned("unknown", true);  // not queued: nothing happens
}

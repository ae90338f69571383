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

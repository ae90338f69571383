// Which node asks for which hub shard's lease: common/cluster/shard_claims.hpp.
#include <doctest/doctest.h>

#include "common/cluster/shard_claims.hpp"

using namespace calma::cluster;

namespace {
std::vector<std::string> holders(std::initializer_list<const char*> h) { return {h.begin(), h.end()}; }
}  // namespace

TEST_CASE("shard claims: alone a node prefers and takes every shard") {
  shard_claims c("a@1", 3);
  c.on_view(1000, {"a@1"}, holders({"", "", ""}));
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(c.preferred(k) == "a@1");
    CHECK(c.ask(k, 1000, false) == shard_ask::take);
  }
}

TEST_CASE("shard claims: the shards spread over the fresh members whatever order they come in") {
  shard_claims a("a@1", 4), b("b@2", 4);
  a.on_view(1000, {"b@2", "a@1"}, holders({"", "", "", ""}));
  b.on_view(1000, {"a@1", "b@2"}, holders({"", "", "", ""}));
  for (std::size_t k = 0; k < 4; ++k) {
    CHECK(a.preferred(k) == b.preferred(k));
    // Exactly one of the two asks to take each free shard at once.
    CHECK((a.ask(k, 1000, false) == shard_ask::take) != (b.ask(k, 1000, false) == shard_ask::take));
  }
  CHECK(a.preferred(0) == "a@1");
  CHECK(a.preferred(1) == "b@2");
  CHECK(a.preferred(2) == "a@1");
  CHECK(a.preferred(3) == "b@2");
}

TEST_CASE("shard claims: a free shard whose preferred member does not take it is taken by another after the grace") {
  shard_claims a("a@1", 2, {3000, 600});
  a.on_view(1000, {"a@1", "b@2"}, holders({"a@1", ""}));
  CHECK(a.ask(1, 1000, false) == shard_ask::keep);
  a.on_view(1300, {"a@1", "b@2"}, holders({"a@1", ""}));
  CHECK(a.ask(1, 1599, false) == shard_ask::keep);
  CHECK(a.ask(1, 1600, false) == shard_ask::take);
  // Someone holds it again: the grace starts over next time it is free.
  a.on_view(1700, {"a@1", "b@2"}, holders({"a@1", "b@2"}));
  a.on_view(2000, {"a@1", "b@2"}, holders({"a@1", ""}));
  CHECK(a.ask(1, 2300, false) == shard_ask::keep);
}

TEST_CASE("shard claims: a member that stops checking in is nobody's preferred: the survivor takes its shards") {
  shard_claims a("a@1", 2);
  a.on_view(1000, {"a@1", "b@2"}, holders({"a@1", "b@2"}));
  CHECK(a.ask(1, 1000, false) == shard_ask::keep);
  a.on_view(1900, {"a@1"}, holders({"a@1", "b@2"}));  // b's lease still runs; b is not fresh
  CHECK(a.preferred(1) == "a@1");
  CHECK(a.ask(1, 1900, false) == shard_ask::take);  // taken the moment the key is free
}

TEST_CASE("shard claims: a holder hands a shard to a member that joined once it has been fresh for the settle time") {
  shard_claims a("a@1", 2, {3000, 600});
  a.on_view(1000, {"a@1"}, holders({"a@1", "a@1"}));
  CHECK(a.hand_over(1, 1000, true).empty());
  a.on_view(2000, {"a@1", "b@2"}, holders({"a@1", "a@1"}));
  CHECK(a.hand_over(0, 9000, true).empty());  // one at a time: the highest it holds
  CHECK(a.hand_over(1, 4999, true).empty());
  CHECK(a.hand_over(1, 5000, true) == "b@2");
  CHECK(a.hand_over(1, 5000, false).empty());  // only a leading shard is handed over
  a.giving(1, 5000);
  CHECK(a.ask(1, 5000, false) == shard_ask::give);
  CHECK(a.hand_over(1, 5000, true).empty());
  // Given back (free), then taken by b: a asks as anyone again.
  a.on_view(5300, {"a@1", "b@2"}, holders({"a@1", ""}));
  CHECK_FALSE(a.is_giving(1));
  CHECK(a.ask(1, 5300, false) == shard_ask::keep);
}

TEST_CASE("shard claims: a member that drops out and comes back must settle again before shards move to it") {
  shard_claims a("a@1", 2, {3000, 600});
  a.on_view(0, {"a@1", "b@2"}, holders({"a@1", "a@1"}));
  a.on_view(2000, {"a@1"}, holders({"a@1", "a@1"}));
  a.on_view(2300, {"a@1", "b@2"}, holders({"a@1", "a@1"}));
  CHECK(a.hand_over(1, 5000, true).empty());
  CHECK(a.hand_over(1, 5300, true) == "b@2");
}

TEST_CASE("shard claims: the plan key names the shard count and every store's shard") {
  CHECK(shard_claims::plan_key(2, {{"demo", 0}, {"demo-pl", 1}}) == "2 demo=0 demo-pl=1");
  CHECK(shard_claims::plan_key(1, {{"demo", 0}}) != shard_claims::plan_key(2, {{"demo", 0}}));
}

TEST_CASE("shard claims: with one shard every node takes it when free and nobody hands it over") {
  shard_claims b("b@2", 1);
  b.on_view(0, {"a@1", "b@2"}, holders({""}));
  CHECK(b.preferred(0) == "a@1");
  CHECK(b.ask(0, 0, false) == shard_ask::take);
  b.on_view(100, {"a@1", "b@2"}, holders({"b@2"}));
  CHECK(b.hand_over(0, 100'000, true).empty());
  CHECK(b.ask(0, 100'000, true) == shard_ask::keep);
}

TEST_CASE("shard claims: a member that says it leaves is nobody's preferred at once") {
  shard_claims a("a@1", 2);
  a.on_view(0, {"a@1", "b@2"}, holders({"a@1", "b@2"}));
  CHECK(a.ask(1, 0, false) == shard_ask::keep);
  a.member_left("b@2");
  CHECK(a.preferred(1) == "a@1");
  CHECK(a.ask(1, 0, false) == shard_ask::take);
  a.member_left("a@1");  // never itself
  CHECK(a.preferred(0) == "a@1");
}

TEST_CASE("shard claims: three nodes - a death moves only its shard and a return moves only one back") {
  shard_claims a("a@1", 3, {3000, 600}), b("b@2", 3, {3000, 600});
  a.on_view(0, {"a@1", "b@2", "c@3"}, holders({"a@1", "b@2", "c@3"}));
  for (std::size_t k = 0; k < 3; ++k) CHECK(a.preferred(k) == holders({"a@1", "b@2", "c@3"})[k]);
  // c stops checking in: its shard goes to one survivor; the others stay.
  a.on_view(1000, {"a@1", "b@2"}, holders({"a@1", "b@2", "c@3"}));
  b.on_view(1000, {"a@1", "b@2"}, holders({"a@1", "b@2", "c@3"}));
  CHECK(a.preferred(2) == b.preferred(2));
  CHECK(a.preferred(0) == "a@1");
  CHECK(a.preferred(1) == "b@2");
  CHECK((a.ask(2, 1000, false) == shard_ask::take) != (b.ask(2, 1000, false) == shard_ask::take));
  // Say a took it; loads 2 and 1 differ by one: nothing moves.
  a.on_view(2000, {"a@1", "b@2"}, holders({"a@1", "b@2", "a@1"}));
  CHECK(a.hand_over(2, 100'000, true).empty());
  // c comes back: a (two shards, c none) hands its highest shard to c once c has settled; b keeps its one.
  a.on_view(3000, {"a@1", "b@2", "c@9"}, holders({"a@1", "b@2", "a@1"}));
  b.on_view(3000, {"a@1", "b@2", "c@9"}, holders({"a@1", "b@2", "a@1"}));
  CHECK(a.hand_over(2, 5999, true).empty());
  CHECK(a.hand_over(0, 6000, true).empty());
  CHECK(a.hand_over(2, 6000, true) == "c@9");
  CHECK(b.hand_over(1, 6000, true).empty());
}

TEST_CASE("shard claims: several shards free at once spread over the least loaded members") {
  shard_claims a("a@1", 4);
  // d held shards 2 and 3 and died; a and b hold one each.
  a.on_view(0, {"a@1", "b@2"}, holders({"a@1", "b@2", "d@4", "d@4"}));
  CHECK(a.preferred(2) != a.preferred(3));
}

TEST_CASE("shard claims: a shard taken back after a hand-over is not handed over again before two settle times") {
  shard_claims a("a@1", 2, {3000, 600});
  a.on_view(0, {"a@1", "b@2"}, holders({"a@1", "a@1"}));
  REQUIRE(a.hand_over(1, 3000, true) == "b@2");
  a.giving(1, 3000);
  a.on_view(3300, {"a@1", "b@2"}, holders({"a@1", ""}));  // given back; b does not take it
  a.on_view(4000, {"a@1", "b@2"}, holders({"a@1", ""}));
  CHECK(a.ask(1, 4000, false) == shard_ask::take);  // past the grace: a takes it again
  a.on_view(4300, {"a@1", "b@2"}, holders({"a@1", "a@1"}));
  CHECK(a.hand_over(1, 8999, true).empty());
  CHECK(a.hand_over(1, 9000, true) == "b@2");
}

TEST_CASE("shard claims: a shard that leads again is never given back") {
  shard_claims a("a@1", 2, {3000, 600});
  a.on_view(0, {"a@1", "b@2"}, holders({"a@1", "a@1"}));
  a.giving(1, 3000);
  CHECK(a.ask(1, 3000, false) == shard_ask::give);
  CHECK(a.ask(1, 3000, true) == shard_ask::keep);  // a hub leads it: keep, whatever was planned
  a.cancel_giving(1);
  CHECK_FALSE(a.is_giving(1));
}

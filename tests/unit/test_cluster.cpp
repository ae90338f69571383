// The cluster's pure parts: the leader lease and the relay wire form.
#include <doctest/doctest.h>

#include "common/cluster/lease.hpp"
#include "common/cluster/relay.hpp"

using namespace calma::cluster;

TEST_CASE("lease: the first node to hold the key becomes leader once") {
  lease_tracker t("a", {});
  CHECK_FALSE(t.is_leader());
  CHECK(t.on_reply(1000, "a") == lease_event::became_leader);
  CHECK(t.is_leader());
  CHECK(t.leader() == "a");
  CHECK(t.on_reply(2000, "a") == lease_event::none);
  CHECK(t.on_tick(2500) == lease_event::none);
}

TEST_CASE("lease: a follower learns the leader and each change of it") {
  lease_tracker t("b", {});
  CHECK(t.on_reply(1000, "a") == lease_event::leader_changed);
  CHECK(t.leader() == "a");
  CHECK(t.on_reply(2000, "a") == lease_event::none);
  CHECK(t.on_tick(60'000) == lease_event::none);  // followers never step down on time
  CHECK(t.on_reply(9000, "c") == lease_event::leader_changed);
  CHECK(t.leader() == "c");
  CHECK(t.on_reply(10'000, "b") == lease_event::became_leader);
}

TEST_CASE("lease: a leader that cannot renew steps down before its key can expire") {
  lease_params p;
  p.lease_ms = 5000;
  p.margin_ms = 1500;
  lease_tracker t("a", p);
  REQUIRE(t.on_reply(1000, "a") == lease_event::became_leader);
  // Renewals fail from here on (Redis away): no reply arrives.
  CHECK(t.on_tick(4499) == lease_event::none);
  CHECK(t.on_tick(4500) == lease_event::lost_leadership);  // 1000 + 5000 - 1500
  CHECK_FALSE(t.is_leader());
  CHECK(t.leader().empty());
  CHECK(t.on_tick(4600) == lease_event::none);
  // Redis back, the key (persisted) still names us: leader again.
  CHECK(t.on_reply(7000, "a") == lease_event::became_leader);
}

TEST_CASE("lease: the lease counts from when the renewal was sent") {
  lease_tracker t("a", {5000, 1000, 1500});
  REQUIRE(t.on_reply(1000, "a") == lease_event::became_leader);
  // A slow reply to a renewal sent at 2000 extends to 2000 + 5000, not from its arrival.
  CHECK(t.on_reply(2000, "a") == lease_event::none);
  CHECK(t.on_tick(5499) == lease_event::none);
  CHECK(t.on_tick(5500) == lease_event::lost_leadership);
}

TEST_CASE("lease: a leader that finds another node holding the key loses leadership") {
  lease_tracker t("a", {});
  REQUIRE(t.on_reply(1000, "a") == lease_event::became_leader);
  CHECK(t.on_reply(8000, "b") == lease_event::lost_leadership);
  CHECK(t.leader() == "b");
  CHECK(t.on_reply(9000, "b") == lease_event::none);
}

TEST_CASE("relay: every kind round-trips with a binary payload") {
  for (auto k : {relay_kind::hello, relay_kind::frame, relay_kind::detach, relay_kind::send, relay_kind::close,
                 relay_kind::reset, relay_kind::left, relay_kind::batch}) {
    static constexpr char binary[] = "{\"a\":\"x\x1fy\"}\0z";  // a separator and a NUL inside
    relay_message m{k, "node-1", 18446744073709551615ull, 4401, std::string(binary, sizeof binary - 1)};
    auto d = decode(encode(m));
    REQUIRE(d);
    CHECK(d->kind == k);
    CHECK(d->node == "node-1");
    CHECK(d->conn == m.conn);
    CHECK(d->code == 4401);
    CHECK(d->payload == m.payload);
  }
  auto empty = decode(encode({relay_kind::detach, "n", 7, 0, ""}));
  REQUIRE(empty);
  CHECK(empty->payload.empty());
}

TEST_CASE("relay: malformed messages are refused") {
  CHECK_FALSE(decode(""));
  CHECK_FALSE(decode("S\x1fn\x1f" "1\x1f" "0"));              // payload separator missing
  CHECK_FALSE(decode("X\x1fn\x1f" "1\x1f" "0\x1f{}"));        // unknown kind
  CHECK_FALSE(decode("SS\x1fn\x1f" "1\x1f" "0\x1f{}"));       // kind of two letters
  CHECK_FALSE(decode("S\x1f\x1f" "1\x1f" "0\x1f{}"));         // no node
  CHECK_FALSE(decode("S\x1fn\x1f-1\x1f" "0\x1f{}"));          // negative conn
  CHECK_FALSE(decode("S\x1fn\x1f" "1x\x1f" "0\x1f{}"));       // trailing junk
  CHECK_FALSE(decode("C\x1fn\x1f" "1\x1f" "70000\x1f{}"));    // code over 16 bits
  CHECK(decode("C\x1fn\x1f" "1\x1f" "1012\x1freason"));
}

TEST_CASE("relay: a batch carries its messages in order - malformed batches are refused") {
  std::vector<std::string> wires{encode({relay_kind::send, "b@x", 1, 0, "{\"type\":\"ack\"}"}),
                                 encode({relay_kind::send, "b@x", 2, 0, std::string("a:b\x1f" "c", 5)}),
                                 encode({relay_kind::close, "b@x", 1, 1012, ""})};
  auto m = decode(encode_batch("b@x", wires));
  REQUIRE(m);
  CHECK(m->kind == relay_kind::batch);
  auto parts = decode_batch(m->payload);
  REQUIRE(parts);
  CHECK(*parts == wires);
  CHECK(decode_batch("")->empty());
  CHECK_FALSE(decode_batch("5:abc"));        // shorter than it says
  CHECK_FALSE(decode_batch("x:abc"));        // not a length
  CHECK_FALSE(decode_batch("3abc"));         // no colon
  CHECK_FALSE(decode_batch("-1:a"));
  CHECK(decode_batch("1:a2:bc") == std::vector<std::string>{"a", "bc"});
}

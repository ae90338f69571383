// The cluster's pure parts: the leader lease and the relay wire form.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/cluster/failover.hpp"
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

TEST_CASE("lease: renewals a leader may have unanswered - one per interval of lease less margin") {
  CHECK(renewals_in_flight(lease_params{}) == 4);  // 1050 ms of 300 ms intervals
  CHECK(renewals_in_flight(*lease_params_for(1000)) == 4);
  CHECK(renewals_in_flight(*lease_params_for(10'000)) == 4);
  CHECK(renewals_in_flight({1000, 1000, 900}) == 1);
  CHECK(renewals_in_flight({1000, 0, 300}) == 1);
}

TEST_CASE("lease: slow answers under load - renewals pipelined keep the lease where one at a time lost it") {
  // The default timings; every renewal is answered `rtt` ms after it is sent
  // (Redis or the node waiting for a core), ticks every renew interval. The
  // leader keeps leading as long as an answer arrives within lease - margin
  // (1050 ms) of the last answered renewal's send.
  const lease_params p;
  auto leads_through = [&](timestamp_ms rtt, int most_in_flight) {
    lease_tracker t("a", p);
    REQUIRE(t.on_reply(0, "a") == lease_event::became_leader);
    std::vector<timestamp_ms> out;  // send times, answered in order
    for (timestamp_ms now = p.renew_every_ms; now <= 6000; now += 10) {
      while (!out.empty() && out.front() + rtt <= now) {
        t.on_reply(out.front(), "a");
        out.erase(out.begin());
      }
      if (t.on_tick(now) == lease_event::lost_leadership) return false;
      if (now % p.renew_every_ms == 0 && static_cast<int>(out.size()) < most_in_flight) out.push_back(now);
    }
    return true;
  };
  // One at a time (before): answers just over an interval late cost the lease.
  CHECK(leads_through(280, 1));
  CHECK_FALSE(leads_through(460, 1));
  // Pipelined: the same answers, and far slower ones, keep it; answers that
  // never come within lease - margin still step it down.
  CHECK(leads_through(460, renewals_in_flight(p)));
  CHECK(leads_through(700, renewals_in_flight(p)));
  CHECK_FALSE(leads_through(1100, renewals_in_flight(p)));
}

TEST_CASE("lease: a leader that finds another node holding the key loses leadership") {
  lease_tracker t("a", {});
  REQUIRE(t.on_reply(1000, "a") == lease_event::became_leader);
  CHECK(t.on_reply(8000, "b") == lease_event::lost_leadership);
  CHECK(t.leader() == "b");
  CHECK(t.on_reply(9000, "b") == lease_event::none);
}

TEST_CASE("lease: the default timings replace a SIGKILLed leader well within 2 s") {
  const lease_params d;
  auto p = lease_params_for(1500);
  REQUIRE(p);
  CHECK(p->lease_ms == d.lease_ms);
  CHECK(p->renew_every_ms == d.renew_every_ms);
  CHECK(p->margin_ms == d.margin_ms);
  CHECK(p->renew_every_ms == 300);
  CHECK(p->margin_ms == 450);
  // A leader steps down after lease - margin unconfirmed: two renewals or more
  // must have failed by then, so one slow reply does not cost the lease.
  CHECK(p->lease_ms - p->margin_ms >= 3 * p->renew_every_ms);
  // Killed just after renewing, the key lives lease_ms more; a follower asks
  // just after it expires (next_heartbeat_in): taken within lease_ms + slack.
  CHECK(next_heartbeat_in(*p, false, 1450) == p->renew_every_ms);  // far: the usual interval
  CHECK(next_heartbeat_in(*p, false, 120) == 125);                   // near: just after it ends
  CHECK(next_heartbeat_in(*p, false, 0) == 20);                      // ending now: soon, not in a busy loop
  CHECK(next_heartbeat_in(*p, false, -1) == p->renew_every_ms);      // unknown (failed or no key)
  CHECK(next_heartbeat_in(*p, true, 120) == p->renew_every_ms);      // the leader renews on its rhythm
  CHECK(next_heartbeat_in(*p, false, 295) == p->renew_every_ms);     // not sooner than the interval
}

TEST_CASE("lease: timings for other lease lengths - out of range refused with a reason") {
  auto small = lease_params_for(1000);
  REQUIRE(small);
  CHECK(small->renew_every_ms == 200);
  CHECK(small->margin_ms == 300);
  auto big = lease_params_for(5000);
  REQUIRE(big);
  CHECK(big->renew_every_ms == 1000);
  CHECK(big->margin_ms == 1500);
  std::string err;
  CHECK_FALSE(lease_params_for(999, &err));
  CHECK(err.find("leader_lease_ms") != std::string::npos);
  CHECK(err.find("999") != std::string::npos);
  err.clear();
  CHECK_FALSE(lease_params_for(600'001, &err));
  CHECK_FALSE(err.empty());
  CHECK_FALSE(lease_params_for(-5));
}

TEST_CASE("lease: a leader killed at the worst moment is replaced within its lease plus a heartbeat") {
  // Fake clock: the leader a renews at 0, 300, ... and dies at 1201 right
  // after its renewal at 1200 (key until 2700). Follower b heartbeats every
  // 300 ms from 50, following next_heartbeat_in with the PTTL Redis answers.
  const auto p = *lease_params_for(1500);
  lease_tracker b("b", p);
  const timestamp_ms expires = 1200 + p.lease_ms;
  timestamp_ms t = 50, taken = -1;
  for (int i = 0; i < 100 && taken < 0; ++i) {
    const bool alive_key = t < expires;
    const auto e = b.on_reply(t, alive_key ? "a" : "b");
    if (e == lease_event::became_leader) taken = t;
    t += next_heartbeat_in(p, b.is_leader(), alive_key ? expires - t : -1);
  }
  REQUIRE(taken > 0);
  CHECK(taken >= expires);
  CHECK(taken - expires <= 25);         // asked just after the key ran out
  CHECK(taken - 1201 <= p.lease_ms + 25);  // from the kill: the lease and a few ms
}

TEST_CASE("lease: an announcement makes a follower follow - a heartbeat answered before it does not undo it") {
  lease_tracker c("c", {});
  REQUIRE(c.on_reply(1000, "a") == lease_event::leader_changed);
  // a dies; b takes the key and announces itself (relay R) at 3000.
  CHECK(c.on_announce(3000, "b") == lease_event::leader_changed);
  CHECK(c.leader() == "b");
  // The reply to a heartbeat sent at 2900, before the announcement, still named a.
  CHECK(c.on_reply(2900, "a") == lease_event::none);
  CHECK(c.leader() == "b");
  CHECK(c.on_reply(3100, "b") == lease_event::none);
  // Later news from Redis counts again: d leads after b.
  CHECK(c.on_reply(6000, "d") == lease_event::leader_changed);
  CHECK(c.leader() == "d");
  // The same announcement twice is no change; one naming nobody or this node is ignored.
  CHECK(c.on_announce(6100, "d") == lease_event::none);
  CHECK(c.on_announce(6200, "") == lease_event::none);
  CHECK(c.on_announce(6300, "c") == lease_event::none);
  CHECK(c.leader() == "d");
  CHECK_FALSE(c.is_leader());
}

TEST_CASE("lease: a leader ignores announcements - Redis says who leads") {
  lease_tracker a("a", {});
  REQUIRE(a.on_reply(1000, "a") == lease_event::became_leader);
  CHECK(a.on_announce(1100, "b") == lease_event::none);
  CHECK(a.is_leader());
  CHECK(a.leader() == "a");
  // Its own replies still decide: another holder means it lost the lease.
  CHECK(a.on_reply(1200, "b") == lease_event::lost_leadership);
}

TEST_CASE("relay: every kind round-trips with a binary payload") {
  for (auto k : {relay_kind::hello, relay_kind::frame, relay_kind::detach, relay_kind::send, relay_kind::close,
                 relay_kind::reset, relay_kind::left, relay_kind::batch, relay_kind::revoked, relay_kind::quota}) {
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

TEST_CASE("relay: what piles up for a member goes as one batch in order - each message hears the answer of its publish") {
  std::vector<std::string> heard;
  auto receipt = [&](std::string name) { return [&heard, name](long long r) { heard.push_back(name + "=" + std::to_string(r)); }; };
  const auto f1 = encode({relay_kind::frame, "b@x", 1, 0, R"({"type":"chat.send","text":"one"})"});
  const auto h2 = encode({relay_kind::hello, "b@x", 2, 0, "127.0.0.1\x1e\x1e\x1e{}"});
  const auto s1 = encode({relay_kind::send, "c@x", 7, 0, R"({"type":"ack"})"});
  const auto f3 = encode({relay_kind::frame, "b@x", 1, 0, R"({"type":"chat.send","text":"two"})"});
  const auto d2 = encode({relay_kind::detach, "b@x", 2, 0, ""});
  std::vector<outgoing> q;
  q.push_back({"a@x", f1, receipt("f1")});
  q.push_back({"c@x", s1, {}});  // a leader's frame for c's client: no receipt asked
  q.push_back({"a@x", h2, receipt("h2")});
  q.push_back({"a@x", f3, receipt("f3")});
  q.push_back({"a@x", d2, {}});
  auto out = group_for_publish(std::move(q));
  REQUIRE(out.size() == 2);
  CHECK(out[0].member == "a@x");  // members in the order first queued for
  CHECK(out[0].messages == 4);
  auto m = decode(out[0].wire);
  REQUIRE(m);
  CHECK(m->kind == relay_kind::batch);
  auto parts = decode_batch(m->payload);
  REQUIRE(parts);
  CHECK(*parts == std::vector<std::string>{f1, h2, f3, d2});  // the client's frames, hello and detach in order
  REQUIRE(out[0].receipts.size() == 3);
  for (auto& r : out[0].receipts) r(0);  // nobody listened: each message hears it
  CHECK(heard == std::vector<std::string>{"f1=0", "h2=0", "f3=0"});
  for (auto& r : out[0].receipts) r(2);  // and another answer, the same way
  CHECK(heard == std::vector<std::string>{"f1=0", "h2=0", "f3=0", "f1=2", "h2=2", "f3=2"});
  // A message alone goes as itself, not as a batch of one.
  CHECK(out[1].member == "c@x");
  CHECK(out[1].messages == 1);
  CHECK(out[1].wire == s1);
  CHECK(out[1].receipts.empty());

  SUBCASE("past max_bytes the next batch starts - a message larger than that still goes - alone") {
    const std::string big(300, 'x');
    std::vector<outgoing> q2;
    for (int i = 0; i < 5; ++i)
      q2.push_back({"a@x", encode({relay_kind::frame, "b@x", 1, 0, std::to_string(i) + big}), receipt(std::to_string(i))});
    q2.push_back({"a@x", encode({relay_kind::frame, "b@x", 1, 0, std::string(2000, 'y')}), receipt("y")});
    auto split = group_for_publish(std::move(q2), 700);  // two of ~315 bytes fit
    std::vector<std::size_t> sizes;
    std::vector<std::string> payloads;
    heard.clear();
    long long answer = 10;
    for (auto& p : split) {
      CHECK(p.member == "a@x");
      sizes.push_back(p.messages);
      CHECK(p.receipts.size() == p.messages);  // each batch carries its own messages' receipts, no others
      for (auto& r : p.receipts) r(answer);
      ++answer;
      auto one = decode(p.wire);
      REQUIRE(one);
      if (one->kind == relay_kind::batch) {
        const auto ws = decode_batch(one->payload);
        REQUIRE(ws);
        for (const auto& w : *ws) payloads.push_back(decode(w)->payload.substr(0, 1));
      } else {
        payloads.push_back(one->payload.substr(0, 1));
      }
    }
    CHECK(sizes == std::vector<std::size_t>{2, 2, 1, 1});
    CHECK(payloads == std::vector<std::string>{"0", "1", "2", "3", "4", "y"});
    // Each message heard the answer of the PUBLISH that carried it.
    CHECK(heard == std::vector<std::string>{"0=10", "1=10", "2=11", "3=11", "4=12", "y=13"});
  }
  CHECK(group_for_publish({}).empty());
}

TEST_CASE("relay: quota counts round-trip - malformed ones are refused - unusable keys are left out") {
  const quota_counts q{{"127.0.0.1", 2}, {"2001:db8::/64", 1}, {"a b", 7}};
  auto m = decode(encode({relay_kind::quota, "a@h", 0, 0, encode_quota(q)}));
  REQUIRE(m);
  CHECK(m->kind == relay_kind::quota);
  CHECK(decode_quota(m->payload) == q);
  CHECK(encode_quota({{"", 1}, {"x\ny", 1}, {"z", 0}, {"w", -1}}).empty());
  CHECK(decode_quota("")->empty());
  CHECK_FALSE(decode_quota("2 k"));      // no line end
  CHECK_FALSE(decode_quota("k\n"));      // no count
  CHECK_FALSE(decode_quota("0 k\n"));    // not positive
  CHECK_FALSE(decode_quota("-1 k\n"));
  CHECK_FALSE(decode_quota("2x k\n"));
  CHECK_FALSE(decode_quota("2 \n"));     // no key
  CHECK_FALSE(decode_quota("99999999999 k\n"));  // over an int
}

TEST_CASE("failover: relayed clients are held when the leader goes and resumed with the one that announces itself") {
  relay_routes r({1500, 10'000});
  CHECK(r.add(1, 0, "a") == "a");
  CHECK(r.add(2, 0, "a") == "a");
  CHECK(r.welcomed(1));
  CHECK_FALSE(r.welcomed(1));  // once
  CHECK(r.welcomed(2));
  CHECK_FALSE(r.holding());
  // a dies: the heartbeat names b (not serving yet). Everyone is held, new clients too.
  r.hold(2000);
  CHECK(r.holding());
  CHECK(r.find(1)->leader.empty());
  CHECK_FALSE(r.find(1)->welcomed);
  CHECK(r.add(3, 2100, "b").empty());
  CHECK(r.on_tick(2500, "b").retarget_to.empty());  // b has time to load and announce
  // b announces itself: every hello goes to it, marked as resumptions by the caller.
  auto ids = r.retarget(2600, "b");
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::uint64_t>{1, 2, 3});
  CHECK_FALSE(r.holding());
  CHECK(r.find(3)->leader == "b");
  CHECK(r.add(4, 2700, "b") == "b");  // not holding any more: relayed at once
  CHECK(r.welcomed(1));
  CHECK(r.remove(2));
  CHECK_FALSE(r.remove(2));
  CHECK(r.size() == 3);
}

TEST_CASE("failover: a lost announcement - a hello that reached nobody - a client never welcomed") {
  relay_routes r({1500, 10'000});
  CHECK(r.add(1, 0, "a") == "a");
  CHECK(r.welcomed(1));
  // The announcement is lost: after the lease, re-target to whoever Redis names.
  r.hold(1000);
  CHECK(r.on_tick(2400, "b").retarget_to.empty());
  CHECK(r.on_tick(2501, "").retarget_to.empty());  // Redis names nobody else (or this node leads)
  CHECK(r.on_tick(2501, "b").retarget_to == "b");
  r.retarget(2501, "b");
  // A new client's hello to b reached nobody (b died too): held, not closed.
  CHECK(r.add(2, 3000, "b") == "b");
  CHECK(r.missed(2, "b", 3010));
  CHECK(r.holding());
  CHECK(r.find(2)->leader.empty());
  CHECK_FALSE(r.missed(2, "b", 3020));  // already held
  CHECK_FALSE(r.missed(1, "c", 3020));  // not where it was sent
  CHECK_FALSE(r.missed(9, "b", 3020));  // unknown: nothing changes
  CHECK(r.size() == 2);
  // Nobody welcomes them for 10 s: due to be closed (they reconnect).
  // Resumptions do not restart the count: 1 has had no welcoming leader since its hold at 1000.
  CHECK(r.on_tick(10'900, "").expired.empty());
  CHECK(r.on_tick(11'100, "").expired == std::vector<std::uint64_t>{1});
  auto late = r.on_tick(13'100, "").expired;
  std::sort(late.begin(), late.end());
  CHECK(late == std::vector<std::uint64_t>{1, 2});
  CHECK_FALSE(r.welcomed(2));  // held: a late welcome from an old leader does not count
  CHECK(r.retarget(13'200, "").empty());  // no leader: nothing changes
  CHECK(r.find(2)->leader.empty());
}

TEST_CASE("failover: a client with no leader to go to is held - and the fallback applies to it") {
  relay_routes r({1500, 10'000});
  CHECK(r.add(1, 100, "").empty());
  CHECK(r.holding());
  CHECK(r.on_tick(1700, "b").retarget_to == "b");
}

TEST_CASE("failover: the node that takes over adopts every relayed client") {
  relay_routes r;
  r.add(1, 0, "a");
  r.add(2, 0, "a");
  r.hold(100);
  auto ids = r.take_all();
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::uint64_t>{1, 2});
  CHECK(r.size() == 0);
  CHECK_FALSE(r.holding());
  CHECK(r.find(1) == nullptr);
  CHECK(r.on_tick(1'000'000, "b").expired.empty());
}

TEST_CASE("failover: a shopper's hello is said again with the token its welcome gave it") {
  const std::string hello = R"({"type":"hello","role":"shopper","store":"demo","name":"Ana","context":{"tier":"vip"}})";
  auto h = hello_after_welcome(hello, R"({"type":"welcome","role":"shopper","token":"tok.1","user_id":"s_1"})");
  REQUIRE(h);
  auto j = nlohmann::json::parse(*h);
  CHECK(j["token"] == "tok.1");
  CHECK(j["context"]["tier"] == "vip");  // kept: the new leader's staff still see it
  CHECK(j["name"] == "Ana");
  // Staff welcome (no token), not a welcome, or junk: nothing to change.
  CHECK_FALSE(hello_after_welcome(R"({"type":"hello","token":"staff"})", R"({"type":"welcome","role":"agent"})"));
  CHECK_FALSE(hello_after_welcome(hello, R"({"type":"ack","token":"x"})"));
  CHECK_FALSE(hello_after_welcome(hello, "not json"));
  CHECK_FALSE(hello_after_welcome("[1]", R"({"type":"welcome","token":"t"})"));
  CHECK_FALSE(hello_after_welcome(hello, R"({"type":"welcome","token":""})"));
  CHECK(is_welcome(R"({"role":"agent","type":"welcome"})"));
  CHECK_FALSE(is_welcome(R"({"type":"chat.message","text":"\"welcome\""})"));
  CHECK_FALSE(is_welcome(R"({"type":"ack"})"));
  CHECK_FALSE(is_welcome("{\"welcome\""));
}

TEST_CASE("failover: a leader that stepped down alive holds its own clients - re-targets them as soon as a leader is named") {
  relay_routes r({1500, 10'000});
  r.add(9, 0, "");  // a client held while this node's hub was loading
  r.take_all();
  // This node led; its lease lapsed (paused past it) and b took over: b's
  // announcement came while this node still led and was ignored.
  r.stepped_down(5000);
  CHECK(r.holding());
  CHECK(r.add(1, 5000, "b").empty());  // its own clients are held like relayed ones
  CHECK(r.add(2, 5000, "b").empty());
  CHECK(r.on_tick(5000, "").retarget_to.empty());  // Redis names nobody yet
  // Not retarget_after_ms later: at once, since b's announcement may be gone.
  CHECK(r.on_tick(5001, "b").retarget_to == "b");
  auto ids = r.retarget(5001, "b");
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::uint64_t>{1, 2});
  CHECK(r.welcomed(1));
  // Once re-targeted, a later leader change waits for its announcement again.
  r.hold(8000);
  CHECK(r.on_tick(8001, "c").retarget_to.empty());
  CHECK(r.on_tick(9501, "c").retarget_to == "c");
  // The welcome timeout counts from the step-down for a client never welcomed since.
  CHECK(r.on_tick(15'001, "").expired == std::vector<std::uint64_t>{2});
}

TEST_CASE("failover: the hello a stepped-down leader says again for its own client") {
  const std::string hello = R"({"type":"hello","role":"shopper","store":"demo","name":"Ana"})";
  auto j = nlohmann::json::parse(hello_to_resume(hello, R"({"type":"welcome","role":"shopper","token":"tok.2"})"));
  CHECK(j["token"] == "tok.2");
  CHECK(j["name"] == "Ana");
  CHECK(hello_to_resume(hello, "") == hello);  // never welcomed: its own hello
  const std::string staff = R"({"type":"hello","token":"staff.tok"})";
  CHECK(hello_to_resume(staff, R"({"type":"welcome","role":"agent"})") == staff);
}

TEST_CASE("lease: a follower told that its leader released the lease asks at once - nobody else's release counts") {
  lease_tracker t("b", lease_params{});
  CHECK_FALSE(t.released_by("a"));  // no leader known yet
  CHECK(t.on_reply(0, "a") == lease_event::leader_changed);
  CHECK(t.released_by("a"));
  CHECK_FALSE(t.released_by("c"));  // not the leader it follows
  CHECK_FALSE(t.released_by(""));
  CHECK(t.leader() == "a");         // unchanged until Redis answers
  // The next heartbeat finds the key free and takes it.
  CHECK(t.on_reply(10, "b") == lease_event::became_leader);
  CHECK_FALSE(t.released_by("a"));  // a leader ignores it
  CHECK_FALSE(t.released_by("b"));
}

TEST_CASE("lease: a paused leader steps down on its first tick - the stale answer of a renewal sent before does not make it lead again") {
  lease_tracker t("a", lease_params{});
  CHECK(t.on_reply(0, "a") == lease_event::became_leader);
  // A renewal goes out at 300, then the process is stopped (SIGSTOP) for 3 s;
  // Redis answered it before the pause, the answer waits in the socket.
  // Resumed at 3300: the tick comes first, the lease is long unconfirmed.
  CHECK(t.on_tick(3300) == lease_event::lost_leadership);
  CHECK_FALSE(t.is_leader());
  CHECK(t.on_reply(300, "a") == lease_event::none);  // stale: sent before the step-down
  CHECK_FALSE(t.is_leader());
  // The next renewal learns who took over.
  CHECK(t.on_reply(3305, "b") == lease_event::leader_changed);
  CHECK(t.leader() == "b");
  // A renewal sent after the step-down that finds the key free leads again.
  lease_tracker u("a", lease_params{});
  u.on_reply(0, "a");
  u.on_tick(3300);
  CHECK(u.on_reply(3310, "a") == lease_event::became_leader);
}

TEST_CASE("failover: a leader asks a node to say its clients' hello again once per interval - a forgotten member is asked afresh") {
  reannounce_limiter l(300);
  CHECK(l.due("b@1", 1000));
  CHECK_FALSE(l.due("b@1", 1000));  // the other unknown clients' frames follow the one announcement
  CHECK_FALSE(l.due("b@1", 1299));
  CHECK(l.due("c@1", 1100));        // per member
  CHECK(l.due("b@1", 1300));        // the announcement may have been lost: again
  CHECK_FALSE(l.due("b@1", 1400));
  l.forget("b@1");
  CHECK(l.size() == 1);
  CHECK(l.due("b@1", 1401));
}

TEST_CASE("lease: the decide gate - open while the lease holds - closed for good by the first ask past it - the node closes it too") {
  decide_gate g(lease_params{});
  g.set_link(-1000, 1);  // Redis reachable, a peer alive: time counts
  CHECK_FALSE(g.closed());
  g.extend(1050);
  CHECK(g.may_decide(0));
  CHECK(g.may_decide(1049));
  g.extend(1350);  // a renewal confirmed
  bool just = false;
  CHECK(g.may_decide(1300, &just));
  CHECK_FALSE(just);
  // Paused: the hub's timer asks first, at 4000.
  CHECK_FALSE(g.may_decide(4000, &just));
  CHECK(just);
  CHECK(g.closed());
  just = false;
  CHECK_FALSE(g.may_decide(4001, &just));
  CHECK_FALSE(just);  // told once
  // A late reply confirming the lease does not open it again: the node steps down anyway.
  g.extend(5000);
  CHECK_FALSE(g.may_decide(4002));
  // Alone with Redis out of reach, time does not count; the node's own step-down closes it.
  decide_gate alone(lease_params{});
  alone.set_link(0, 0);
  alone.extend(1050);
  CHECK(alone.may_decide(1'000'000));
  alone.close();
  CHECK_FALSE(alone.may_decide(0));
  // Alone, just after Redis came back: the clock runs once the link has had
  // two renew intervals, counted at the time of the ask (a node paused just
  // after it started leading finds it running when it resumes).
  decide_gate fresh(lease_params{});
  fresh.set_link(100, 0);
  fresh.extend(1150);
  CHECK(fresh.may_decide(600));    // 500 ms of link: not yet
  CHECK_FALSE(fresh.may_decide(1200));  // 1100 ms of link: the clock runs, and 1150 has passed
}

TEST_CASE("lease: when time counts against a leader's lease") {
  const lease_params p{};  // renew every 300 ms
  CHECK(lease_clock_runs(p, 10'000, 0, 1));        // a peer alive: always
  CHECK_FALSE(lease_clock_runs(p, 10'000, 0, 0));  // alone, Redis out of reach
  CHECK_FALSE(lease_clock_runs(p, 10'000, 9'500, 0));  // alone, Redis back 500 ms ago
  CHECK(lease_clock_runs(p, 10'000, 9'300, 0));    // alone, back for more than two renewals
}

TEST_CASE("lease: a leader told by its hub to stop steps down whatever the time - and may lead again") {
  lease_tracker t("a", lease_params{});
  CHECK(t.step_down(10) == lease_event::none);  // not leading
  CHECK(t.on_reply(0, "a") == lease_event::became_leader);
  CHECK(t.holds_until() == 1050);
  CHECK(t.step_down(500) == lease_event::lost_leadership);
  CHECK_FALSE(t.is_leader());
  CHECK(t.leader().empty());
  CHECK(t.on_reply(300, "a") == lease_event::none);  // sent before the step-down
  CHECK(t.on_reply(500, "a") == lease_event::none);  // in its millisecond: maybe before it
  CHECK(t.on_reply(600, "a") == lease_event::became_leader);
}

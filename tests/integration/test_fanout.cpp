// Staff fan-out (issue 12) on the real binary: what staff receive when many
// colleagues come online is bounded by structure, not by time.
//  - an agent gets nothing when colleagues come online (no queue.snapshot):
//    the frames all agents receive while N colleagues arrive do not grow with N
//    (zero beyond each one's own welcome), and colleagues come on request
//    (agents.list: paged, filtered, scoped to the agent's stores);
//  - supervisors' snapshots are coalesced (a burst of changes is one snapshot)
//    and capped (lists cut at their caps, with counts of everything);
//  - a supervisor's welcome sends a snapshot to that supervisor only.
#include "tests/integration/common.hpp"

#include <set>

using namespace calma::test;

namespace {

/// fan1..fanN (store demo), pl1, pl2 (demo-pl only), boss1..boss3 (every store).
std::string users_file(int n) {
  // Every agent's password is "agent", every supervisor's "supervisor".
  const demo_hashes hashes;
  const auto& agent_hash = hashes.agent;
  const auto& sup_hash = hashes.supervisor;
  json users = json::array();
  for (int i = 1; i <= n; ++i)
    users.push_back({{"username", "fan" + std::to_string(i)}, {"name", "Agent " + std::to_string(i)}, {"role", "agent"},
                     {"password_hash", agent_hash}, {"stores", {"demo"}}});
  for (int i = 1; i <= 2; ++i)
    users.push_back({{"username", "pl" + std::to_string(i)}, {"name", "Polski " + std::to_string(i)}, {"role", "agent"},
                     {"password_hash", agent_hash}, {"stores", {"demo-pl"}}});
  for (int i = 1; i <= 3; ++i)
    users.push_back({{"username", "boss" + std::to_string(i)}, {"name", "Boss " + std::to_string(i)},
                     {"role", "supervisor"}, {"password_hash", sup_hash}});
  return temp_file(users.dump());
}

std::vector<std::string> args(const json& extra, const std::string& users) {
  json cfg{{"stores", json::array({json{{"id", "demo"}, {"name", "Demo"}, {"languages", {"es", "en"}}},
                                   json{{"id", "demo-pl"}, {"name", "Sklep"}, {"languages", {"pl"}}}})},
           // Many logins from one address: the doors are not what this tests.
           {"doors", {{"logins_per_min", 100000}, {"logins_burst", 100000}}}};
  cfg.merge_patch(extra);
  auto a = test_args(cfg);
  a[3] = users;  // --users
  return a;
}

std::unique_ptr<staff> agent_online(std::uint16_t port, const std::string& user) {
  return std::make_unique<staff>(port, user, "agent");
}

json list(staff& s, json ask = json::object()) {
  ask["type"] = "agents.list";
  s->send(ask);
  return s->expect("agents.list");
}

}  // namespace

TEST_CASE("fan-out - colleagues coming online send an agent nothing - agents.list pages through them") {
  constexpr int n = 30;
  const auto users = users_file(n);
  server_process srv(args(json::object(), users));
  std::vector<std::unique_ptr<staff>> agents;
  // One by one: after each arrival, no agent online got anything for it.
  for (int i = 1; i <= n; ++i) {
    agents.push_back(agent_online(srv.port(), "fan" + std::to_string(i)));
    CHECK(agents.back()->welcome["role"] == "agent");
    CHECK_FALSE(agents.back()->welcome.contains("agents"));
  }
  staff pl1(srv.port(), "pl1", "agent");
  staff pl2(srv.port(), "pl2", "agent");
  // What N colleagues coming online sent the agents (after their own welcome): nothing at all,
  // so the total over all agents is 0 for any N, not N^2 colleague entries.
  std::size_t frames = 0;
  for (auto& a : agents) {
    auto got = (*a)->barrier();
    CHECK(count_type(got, "queue.snapshot") == 0);
    frames += got.size();
  }
  CHECK(frames == 0);
  CHECK(count_type(pl1->barrier(), "queue.snapshot") == 0);

  auto& me = *agents.front();
  auto all = list(me);
  CHECK(all["total"] == n);  // demo's agents, itself included; not the demo-pl ones
  CHECK(all["agents"].size() == n);
  CHECK(all["offset"] == 0);
  CHECK(all["more"] == false);
  for (const auto& a : all["agents"]) {
    CHECK(a["id"].get<std::string>().rfind("fan", 0) == 0);
    CHECK(a["status"] == "online");
    CHECK(a["load"] == 0);
    CHECK(a["capacity"].is_number_integer());
    CHECK(a["connected"] == true);
  }

  // Pages: bounded, and together every colleague exactly once.
  std::set<std::string> seen;
  for (int offset = 0; offset < n; offset += 12) {
    auto page = list(me, {{"offset", offset}, {"limit", 12}});
    CHECK(page["total"] == n);
    CHECK(page["offset"] == offset);
    CHECK(page["agents"].size() == static_cast<std::size_t>(std::min(12, n - offset)));
    CHECK(page["more"] == (offset + 12 < n));
    for (const auto& a : page["agents"]) CHECK(seen.insert(a["id"].get<std::string>()).second);
  }
  CHECK(seen.size() == static_cast<std::size_t>(n));

  // Available first: an away colleague comes after every online one.
  (*agents[4])->send(json{{"type", "presence.set"}, {"status", "away"}});
  (*agents[4])->expect("presence");
  auto ordered = list(me);
  CHECK(ordered["agents"].back()["id"] == "fan5");
  CHECK(ordered["agents"].back()["status"] == "away");
  CHECK(list(me, {{"status", "online"}})["total"] == n - 1);
  CHECK(list(me, {{"status", "away"}})["agents"][0]["id"] == "fan5");
  // By name or id, any case: fan1, fan10..fan19.
  CHECK(list(me, {{"q", "FAN1"}})["total"] == 11);
  CHECK(list(me, {{"q", "agent 2"}})["total"] == 11);  // Agent 2, Agent 20..29

  // Scoped to the asker's stores.
  auto pl = list(pl1);
  CHECK(pl["total"] == 2);
  for (const auto& a : pl["agents"]) CHECK(a["id"].get<std::string>().rfind("pl", 0) == 0);
  CHECK(list(pl1, {{"store", "demo-pl"}})["total"] == 2);
  me->send(json{{"type", "agents.list"}, {"store", "demo-pl"}});
  CHECK(me->expect("error")["code"] == "forbidden");
  me->send(json{{"type", "agents.list"}, {"store", "nowhere"}});
  CHECK(me->expect("error")["code"] == "not_found");
  for (const json& bad : {json{{"limit", 0}}, json{{"limit", 501}}, json{{"status", "busy"}}, json{{"offset", -1}}}) {
    json ask = bad;
    ask["type"] = "agents.list";
    me->send(ask);
    auto e = me->expect("error");
    CHECK(e["code"] == "bad_request");
    CHECK(e["ref"] == "agents.list");
  }
  // A supervisor sees every store's agents; a shopper none.
  staff boss(srv.port(), "boss1", "supervisor");
  CHECK(list(boss)["total"] == n + 2);
  shopper s(srv.port());
  s->send(json{{"type", "agents.list"}});
  CHECK(s->expect("error")["code"] == "forbidden");
}

TEST_CASE("fan-out - supervisors' snapshots are coalesced and capped - a welcome's goes to that supervisor alone") {
  constexpr int n = 20;
  const auto users = users_file(n);
  // A gap longer than the test: after the first snapshot, every change until the
  // end is coalesced into one pending snapshot. No periodic one either.
  server_process srv(args({{"routing",
                            {{"snapshot_min_gap_ms", 60000},
                             {"queue_snapshot_interval_s", 3600},
                             {"snapshot_max_agents", 5},
                             {"snapshot_max_waiting", 2}}}},
                          users));
  staff boss1(srv.port(), "boss1", "supervisor");
  auto first = boss1->expect("queue.snapshot");
  CHECK(first["agents"].empty());
  CHECK(first["agents_total"] == 0);
  CHECK(first["truncated"] == false);
  REQUIRE(first["queues"].size() == 2);  // default of demo, default of demo-pl
  for (const auto& q : first["queues"]) CHECK(q["waiting_total"] == 0);

  // Three conversations wait (nobody online): a burst of changes.
  std::vector<std::unique_ptr<shopper>> shoppers;
  std::vector<std::string> convs;
  for (int i = 0; i < 3; ++i) {
    shoppers.push_back(std::make_unique<shopper>(srv.port(), "S" + std::to_string(i)));
    convs.push_back(shoppers.back()->say("hola " + std::to_string(i), "c" + std::to_string(i))["conversation_id"]);
  }
  // A second supervisor's welcome: its own snapshot, capped, with the counts...
  staff boss2(srv.port(), "boss2", "supervisor");
  auto snap = boss2->expect("queue.snapshot");
  json demo_q;
  for (const auto& q : snap["queues"])
    if (q["store"] == "demo") demo_q = q;
  REQUIRE(demo_q.is_object());
  CHECK(demo_q["waiting_total"] == 3);
  CHECK(demo_q["waiting"].size() == 2);
  CHECK(demo_q["waiting"][0]["conversation_id"] == convs[0]);  // queue order: the first to come
  CHECK(demo_q["waiting"][1]["conversation_id"] == convs[1]);
  CHECK(snap["truncated"] == true);
  // ...and nothing for the first: three openings and a welcome cost it at most one snapshot.
  CHECK(count_type(boss1->barrier(), "queue.snapshot") <= 1);

  // N agents come online and take the three: still nothing more for either supervisor
  // (the changes wait for the one pending snapshot), whatever N.
  std::vector<std::unique_ptr<staff>> agents;
  for (int i = 1; i <= n; ++i) agents.push_back(agent_online(srv.port(), "fan" + std::to_string(i)));
  for (auto& s : shoppers) (*s)->expect("conversation.assigned");
  auto got1 = boss1->barrier();
  auto got2 = boss2->barrier();
  CHECK(count_type(got1, "queue.snapshot") == 0);
  CHECK(count_type(got2, "queue.snapshot") == 0);
  // The assignments themselves still reach the supervisors, one each.
  CHECK(count_type(got1, "conversation.assigned") == 3);
  CHECK(count_type(got2, "conversation.assigned") == 3);

  // A third supervisor sees the board as it is now: 5 of the 20 agents (available
  // first) and the counts of all.
  staff boss3(srv.port(), "boss3", "supervisor");
  auto now = boss3->expect("queue.snapshot");
  CHECK(now["agents"].size() == 5);
  CHECK(now["agents_total"] == n);
  CHECK(now["agents_by_status"]["online"] == n);
  CHECK(now["agents_by_status"]["away"] == 0);
  CHECK(now["truncated"] == true);
  for (const auto& a : now["agents"]) CHECK(a["status"] == "online");
  for (const auto& q : now["queues"]) {
    CHECK(q["waiting_total"] == 0);
    CHECK(q["waiting"].empty());
  }
  CHECK(count_type(boss1->barrier(), "queue.snapshot") == 0);
  CHECK(count_type(boss2->barrier(), "queue.snapshot") == 0);
}

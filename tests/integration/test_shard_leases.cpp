// Hub shards leased one by one across the nodes of a cluster (issue 12): each
// node leads its share of the shards, a node that joins gets its share, and a
// node's death or stop moves only its shards: the other shards' clients are
// not disturbed, the moved shard's clients stay open and resume on the node
// that takes it, nothing acked is lost or shown twice. Real nodes on a real Redis.
#include <csignal>
#include <fstream>
#include <set>

#include "tests/integration/cluster_support.hpp"
#include "tests/integration/common.hpp"
#include "tests/integration/shard_support.hpp"
#include "tests/store/support.hpp"

using namespace calma::test;

namespace {

/// Ana works for north, Ola for south (two store groups); Boss supervises every store.
std::string users_file() {
  const demo_hashes h;
  json users = json::array({
      {{"username", "ana"}, {"name", "Ana"}, {"role", "agent"}, {"password_hash", h.agent}, {"stores", {"north"}}},
      {{"username", "ola"}, {"name", "Ola"}, {"role", "agent"}, {"password_hash", h.agent}, {"stores", {"south"}}},
      {{"username", "boss"}, {"name", "Boss"}, {"role", "supervisor"}, {"password_hash", h.supervisor}},
  });
  return temp_file(users.dump());
}

std::vector<std::string> node_args(const std::string& users, const redis_server& r, const std::string& node,
                                   const json& doors = json::object()) {
  json cfg{{"stores", three_stores()}, {"server", {{"threads", 2}, {"shards", 2}}}, {"routing", {{"disconnect_grace_s", 10}}}};
  if (!doors.empty()) cfg["doors"] = doors;
  auto a = test_args(cfg);
  a[3] = users;  // --users
  for (const std::string& s : std::vector<std::string>{"--redis", r.url(), "--node-id", node}) a.push_back(s);
  return a;
}

/// The node name ("a") leading the shard of `store`, as `port`'s node sees it ("" while none).
std::string leader_of(std::uint16_t port, const std::string& store) {
  auto h = json::parse(http(port, "GET", "/healthz").body, nullptr, false);
  if (!h.is_object() || !h.contains("cluster")) return {};
  for (const auto& s : h["cluster"]["shards"]) {
    bool has = false;
    for (const auto& st : s["stores"]) has = has || st == store;
    if (!has) continue;
    const std::string m = s["leader"];
    return m.substr(0, m.find('@'));
  }
  return {};
}

/// Waits until both nodes see north's and south's shards led as `want` says ({north's, south's} node names).
bool led_as(const std::vector<std::uint16_t>& ports, const std::string& north, const std::string& south,
            std::chrono::milliseconds within = 20s) {
  const auto until = std::chrono::steady_clock::now() + within;
  for (;;) {
    bool all = true;
    for (auto p : ports) all = all && leader_of(p, "north") == north && leader_of(p, "south") == south;
    if (all) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(50ms);
  }
}

/// Waits until north's and south's shards are led by different nodes, as every node sees it; returns north's leader.
std::string spread(const std::vector<std::uint16_t>& ports, std::chrono::milliseconds within = 20s) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    const auto n = leader_of(ports.front(), "north"), s = leader_of(ports.front(), "south");
    if (!n.empty() && !s.empty() && n != s && led_as(ports, n, s, 0ms)) return n;
    std::this_thread::sleep_for(50ms);
  }
  return {};
}

}  // namespace

TEST_CASE("shard leases - two nodes lead a shard each - every path works across them") {
  redis_server r;
  const auto users = users_file();
  server_process a(node_args(users, r, "a"));
  server_process b(node_args(users, r, "b"));
  const auto north = spread({a.port(), b.port()});
  REQUIRE_FALSE(north.empty());
  CHECK(json::parse(http(a.port(), "GET", "/healthz").body)["cluster"]["leading"] == true);
  CHECK(json::parse(http(b.port(), "GET", "/healthz").body)["cluster"]["leading"] == true);
  // Each client on the node that does not lead its shard: every frame relayed.
  auto& north_node = north == "a" ? a : b;
  auto& south_node = north == "a" ? b : a;
  staff ana = welcomed([&] { return staff(south_node.port(), "ana", "agent"); });
  staff ola = welcomed([&] { return staff(north_node.port(), "ola", "agent"); });
  store_shopper n = welcomed([&] { return store_shopper(south_node.port(), "north", "en"); });
  store_shopper s = welcomed([&] { return store_shopper(north_node.port(), "south", "es"); });
  const auto cn = n.say("Hello, where is my parcel?", "n1");
  const auto cs = s.say("Quiero hablar con un responsable ahora mismo", "s1");
  ana->expect_if("conversation.assigned", [&](const json& x) { return x["conversation_id"] == cn; });
  ola->expect_if("conversation.assigned", [&](const json& x) { return x["conversation_id"] == cs; });
  ana->send(chat(cn, "It left the warehouse today.", "a1"));
  CHECK(n->expect("chat.message")["text"] == "It left the warehouse today.");
  // A supervisor of every store: a leg on each node's hub, one stream.
  staff boss = welcomed([&] { return staff(a.port(), "boss", "supervisor"); });
  CHECK(boss.welcome["node_id"] == "a");
  std::set<std::string> convs;
  for (const auto& c : boss.welcome["conversations"]) convs.insert(c["conversation_id"]);
  CHECK(convs == std::set<std::string>{cn, cs});
  REQUIRE(boss.welcome["escalations"].size() == 1);
  const std::string esc = boss.welcome["escalations"][0]["escalation_id"];
  auto snap = boss->expect_if("queue.snapshot", [](const json& j) { return j["agents_total"] == 2; }, 10s);
  CHECK(snap["queues"].size() == 3);
  // Acted on across the relay, each shard's leader in turn.
  boss->send(json{{"type", "escalation.ack"}, {"escalation_id", esc}});
  CHECK(ola->expect("escalation.acked")["escalation_id"] == esc);
  n.say("I want to speak to a manager right now!!!", "n2", cn);
  CHECK(boss->expect_if("escalation.raised", [&](const json& e) { return e["conversation_id"] == cn; }, 10s)["severity"] ==
        "high");
  CHECK(count_type(boss->barrier(), "welcome") == 0);
  // Each conversation written under its own shard's lease (the store's fence).
  CHECK(history_of(*n.ws, cn).size() == 3);
}

namespace {

/// SIGKILLs the node leading `moved`'s shard, with every client on the node
/// leading `kept`'s: only the moved store's clients (and the supervisor's leg
/// of it) notice, and they resume on their open connections.
void kill_the_leader_of(const std::string& moved, const std::string& kept) {
  redis_server r;
  const auto users = users_file();
  auto a = std::make_unique<server_process>(node_args(users, r, "a"));
  auto b = std::make_unique<server_process>(node_args(users, r, "b"));
  const auto north = spread({a->port(), b->port()});
  REQUIRE_FALSE(north.empty());
  const std::string moved_leader = leader_of(a->port(), moved);
  auto victim = moved_leader == "a" ? std::move(a) : std::move(b);
  auto survivor = moved_leader == "a" ? std::move(b) : std::move(a);
  const std::string survivor_name = moved_leader == "a" ? "b" : "a";
  const auto port = survivor->port();
  auto agent_of = [](const std::string& store) { return store == "north" ? "ana" : "ola"; };
  auto lang_of = [](const std::string& store) { return store == "north" ? "en" : "es"; };
  staff m_agent = welcomed([&] { return staff(port, agent_of(moved), "agent"); });
  staff k_agent = welcomed([&] { return staff(port, agent_of(kept), "agent"); });
  store_shopper m_shopper = welcomed([&] { return store_shopper(port, moved, lang_of(moved)); });
  store_shopper k_shopper = welcomed([&] { return store_shopper(port, kept, lang_of(kept)); });
  staff boss = welcomed([&] { return staff(port, "boss", "supervisor"); });
  const auto cm = m_shopper.say("Hello, where is my parcel?", "m1");
  const auto ck = k_shopper.say("Hello, is my order on its way?", "k1");
  m_agent->expect_if("conversation.assigned", [&](const json& x) { return x["conversation_id"] == cm; });
  k_agent->expect_if("conversation.assigned", [&](const json& x) { return x["conversation_id"] == ck; });
  boss->expect_if("queue.snapshot", [](const json& j) { return j["agents_total"] == 2; }, 10s);
  (void)boss->barrier();

  CHECK(victim->signal_and_wait(SIGKILL) != 0);
  // The kept store's shard is led by the survivor: its clients go on as if nothing happened.
  auto sent = send_until_acked(*k_shopper.ws, chat(ck, "Still there?", "k2"));
  CHECK(sent.unavailable == 0);
  CHECK(sent.welcomes == 0);
  CHECK(k_agent->expect_if("chat.message", [](const json& m) { return m["text"] == "Still there?"; }, 10s)["conversation_id"] == ck);
  // The moved store's clients stay open and resume on the survivor once it takes the shard.
  sent = send_until_acked(*m_shopper.ws, chat(cm, "Are you still there?", "m2"));
  CHECK_FALSE(m_shopper->is_closed());
  CHECK(m_agent->expect_if("chat.message", [](const json& m) { return m["text"] == "Are you still there?"; }, 10s)["conversation_id"] == cm);
  CHECK(led_as({port}, survivor_name, survivor_name));
  const auto hm = history_of(*m_shopper.ws, cm);
  CHECK(hm.size() == 2);
  check_exactly_once(hm);
  check_exactly_once(history_of(*k_shopper.ws, ck));
  // The supervisor's connection stayed open; it was welcomed afresh, once, with both conversations.
  CHECK_FALSE(boss->is_closed());
  auto frames = boss->barrier();
  int welcomes = 0;
  for (const auto& f : frames)
    if (f["type"] == "welcome") {
      ++welcomes;
      std::set<std::string> convs;
      for (const auto& c : f["conversations"]) convs.insert(c["conversation_id"]);
      CHECK(convs == std::set<std::string>{cm, ck});
    }
  CHECK(welcomes == 1);
  // The kept store's agent and shopper were never welcomed again.
  CHECK(count_type(k_agent->barrier(), "welcome") == 0);
  CHECK(count_type(k_shopper->barrier(), "welcome") == 0);
  CHECK(survivor->output().find("now leads shard") != std::string::npos);
  // The supervisor's legs said hello again with the gauges kept: nobody is left "unauthenticated".
  bool zero = false;
  for (int i = 0; i < 50 && !zero; ++i) {
    zero = http(port, "GET", "/metrics").body.find("calma_connections{role=\"unauthenticated\"} 0\n") != std::string::npos;
    if (!zero) std::this_thread::sleep_for(100ms);
  }
  CHECK(zero);
}

}  // namespace

TEST_CASE("shard leases - the leader of north's shard killed with SIGKILL - only its shard moves - south's clients are not disturbed") {
  kill_the_leader_of("north", "south");
}

TEST_CASE("shard leases - the leader of south's shard killed with SIGKILL - only its shard moves - north's clients are not disturbed") {
  kill_the_leader_of("south", "north");
}

TEST_CASE("shard leases - a node that joins gets its share and one stopped with SIGTERM hands it back - no client is dropped") {
  redis_server r;
  const auto users = users_file();
  server_process a(node_args(users, r, "a"));
  // Alone, a leads both shards.
  REQUIRE(led_as({a.port()}, "a", "a"));
  staff ana = welcomed([&] { return staff(a.port(), "ana", "agent"); });
  staff ola = welcomed([&] { return staff(a.port(), "ola", "agent"); });
  store_shopper n = welcomed([&] { return store_shopper(a.port(), "north", "en"); });
  store_shopper s = welcomed([&] { return store_shopper(a.port(), "south", "es"); });
  const auto cn = n.say("Hello, where is my parcel?", "n1");
  const auto cs = s.say("Hola, ¿dónde está mi paquete?", "s1");
  ana->expect_if("conversation.assigned", [&](const json& x) { return x["conversation_id"] == cn; });
  ola->expect_if("conversation.assigned", [&](const json& x) { return x["conversation_id"] == cs; });
  {
    server_process b(node_args(users, r, "b"));
    // b joins: once it has settled, a hands it one shard.
    const auto north = spread({a.port(), b.port()});
    REQUIRE_FALSE(north.empty());
    CHECK(a.output().find("hands shard") != std::string::npos);
    // The clients on a of the shard that moved resumed on b, on their open connections.
    auto sent_n = send_until_acked(*n.ws, chat(cn, "Any news?", "n2"));
    auto sent_s = send_until_acked(*s.ws, chat(cs, "¿Alguna novedad?", "s2"));
    CHECK(ana->expect_if("chat.message", [](const json& m) { return m["text"] == "Any news?"; }, 10s)["conversation_id"] == cn);
    CHECK(ola->expect_if("chat.message", [](const json& m) { return m["text"] == "¿Alguna novedad?"; }, 10s)["conversation_id"] == cs);
    b.signal_and_wait(SIGTERM);
  }
  // b stopped: a leads both again, and every client of a is still connected.
  CHECK(led_as({a.port()}, "a", "a"));
  auto sent_n = send_until_acked(*n.ws, chat(cn, "Hello again", "n3"));
  auto sent_s = send_until_acked(*s.ws, chat(cs, "Hola otra vez", "s3"));
  for (auto* c : {ana.ws.get(), ola.ws.get(), n.ws.get(), s.ws.get()}) CHECK_FALSE(c->is_closed());
  const auto hn = history_of(*n.ws, cn), hs = history_of(*s.ws, cs);
  CHECK(hn.size() == 3);
  CHECK(hs.size() == 3);
  check_exactly_once(hn);
  check_exactly_once(hs);
}

TEST_CASE("shard leases - a node planning other shards leads none of them and says why") {
  redis_server r;
  const auto users = users_file();
  server_process a(node_args(users, r, "a"));
  REQUIRE(led_as({a.port()}, "a", "a"));
  // b plans one shard for every store, or one per store (east alone too): it
  // must not lead any store a leads, nor wait for a shard nobody else has.
  int b_shards = 1;
  SUBCASE("one shard") { b_shards = 1; }
  SUBCASE("three shards") { b_shards = 3; }
  auto b_args = node_args(users, r, "b");
  json one{{"stores", three_stores()}, {"server", {{"threads", 2}, {"shards", b_shards}}}};
  const auto cfg = test_config(one);
  for (std::size_t i = 0; i + 1 < b_args.size(); ++i)
    if (b_args[i] == "--config") b_args[i + 1] = cfg;
  server_process b(b_args);
  bool said = false;
  for (int i = 0; i < 100 && !said; ++i) {
    said = b.output().find("leased under another plan") != std::string::npos;
    if (!said) std::this_thread::sleep_for(100ms);
  }
  CHECK(said);
  std::this_thread::sleep_for(4s);  // past a's settle time: nothing is handed to b
  CHECK(led_as({a.port()}, "a", "a", 0ms));
  const auto hb = http(b.port(), "GET", "/healthz");
  CHECK(hb.status == 503);  // a balancer sends its clients elsewhere
  CHECK(json::parse(hb.body)["cluster"]["leading"] == false);
  CHECK(json::parse(hb.body)["cluster"]["refusing_clients"] == true);
  CHECK(a.output().find("hands shard") == std::string::npos);
  // b's clients are refused (try later): served by b's plan, they would reach hubs of other stores.
  ws_client refused(b.port());
  refused.send(json{{"type", "hello"}, {"role", "shopper"}, {"store", "south"}, {"name", "Kim"}, {"language", "es"}});
  for (int i = 0; i < 50 && !refused.is_closed(); ++i) (void)refused.next(100ms);
  CHECK(refused.close_code() == 1013);
  // a serves on as before.
  staff ana = welcomed([&] { return staff(a.port(), "ana", "agent"); });
  store_shopper n = welcomed([&] { return store_shopper(a.port(), "north", "en"); });
  const auto cn = n.say("Hello, where is my parcel?", "n1");
  ana->expect_if("conversation.assigned", [&](const json& x) { return x["conversation_id"] == cn; });
}

TEST_CASE("shard leases - new conversations per address are counted once across the nodes leading the shards - a bystander is served") {
  redis_server r;
  const auto users = users_file();
  const json doors{{"conversations_per_min", 1}, {"conversations_burst", 3}};
  server_process a(node_args(users, r, "a", doors));
  server_process b(node_args(users, r, "b", doors));
  const auto north = spread({a.port(), b.port()});
  REQUIRE(!north.empty());
  // Each store's shopper connects to the node leading its shard, so that the
  // two stores' new conversations are decided by two processes.
  const auto north_port = north == "a" ? a.port() : b.port();
  const auto south_port = north == "a" ? b.port() : a.port();
  // One address alternates the stores: 3 new conversations in the cluster,
  // not 3 per leader (each node tells the other what it let pass; the pause
  // gives that message its time).
  // A hello takes nothing from the bucket: said again if a leader refuses it
  // for a moment (a renewal answered late on a loaded machine).
  auto shopper_at = [](std::uint16_t port, const std::string& store, const client_options& o = {}) {
    return welcomed([&] {
      auto c = std::make_unique<ws_client>(port, o);
      shopper_hello(*c, store);
      return c;
    });
  };
  std::vector<std::unique_ptr<ws_client>> flood;
  int acked = 0, refused = 0;
  for (int i = 0; i < 8; ++i) {
    const bool south = i % 2;
    flood.push_back(shopper_at(south ? south_port : north_port, south ? "south" : "north"));
    const auto got = first_message(*flood.back(), "f" + std::to_string(i));
    acked += got == "ack";
    refused += got == "rate_limited";
    std::this_thread::sleep_for(500ms);
  }
  CHECK(acked == 3);
  CHECK(refused == 5);
  // Other addresses, either store, through either node: served.
  for (auto [port, from] : {std::pair{a.port(), "127.0.0.2"}, std::pair{b.port(), "127.0.0.3"}})
    for (const char* store : {"north", "south"}) {
      client_options o;
      o.from = from;
      auto bystander = shopper_at(port, store, o);
      CHECK(first_message(*bystander, std::string("b-") + store) == "ack");
    }
}

TEST_CASE("shard leases - a users file that joins store groups is flagged on healthz until every node restarts - the node serves on") {
  redis_server r;
  const auto file = users_file();
  server_process a(node_args(file, r, "a"));
  REQUIRE(led_as({a.port()}, "a", "a"));
  auto health = [&] { return json::parse(http(a.port(), "GET", "/healthz").body, nullptr, false); };
  CHECK(health()["cluster"]["plan_outdated"] == false);
  auto write_users = [&](json ana_stores) {
    const demo_hashes h;
    std::ofstream(file, std::ios::trunc)
        << json::array({{{"username", "ana"}, {"name", "Ana"}, {"role", "agent"}, {"password_hash", h.agent}, {"stores", ana_stores}},
                        {{"username", "ola"}, {"name", "Ola"}, {"role", "agent"}, {"password_hash", h.agent}, {"stores", {"south"}}},
                        {{"username", "boss"}, {"name", "Boss"}, {"role", "supervisor"}, {"password_hash", h.supervisor}}})
               .dump();
  };
  auto said = [&](const std::string& what) {
    for (int i = 0; i < 100; ++i) {
      if (a.output().find(what) != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  };
  // Ana now serves south too: north and south would share a shard, which a running cluster does not re-plan.
  write_users(json{"north", "south"});
  REQUIRE(::kill(a.pid(), SIGHUP) == 0);
  CHECK(said("restart every node to plan them again"));
  const auto hz = http(a.port(), "GET", "/healthz");
  CHECK(hz.status == 200);  // still serving: not a reason for a balancer to send clients elsewhere
  CHECK(json::parse(hz.body)["cluster"]["plan_outdated"] == true);
  staff ana = welcomed([&] { return staff(a.port(), "ana", "agent"); });
  store_shopper n = welcomed([&] { return store_shopper(a.port(), "north", "en"); });
  const auto cn = n.say("Hello, where is my parcel?", "n1");
  ana->expect_if("conversation.assigned", [&](const json& x) { return x["conversation_id"] == cn; });
  // Back as planned: the flag goes.
  write_users(json{"north"});
  REQUIRE(::kill(a.pid(), SIGHUP) == 0);
  CHECK(said("the store groups are as this cluster planned them again"));
  CHECK(health()["cluster"]["plan_outdated"] == false);
}

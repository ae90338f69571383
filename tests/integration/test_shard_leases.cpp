// Hub shards leased one by one across the nodes of a cluster (issue 12): each
// node leads its share of the shards, a node that joins gets its share, and a
// node's death or stop moves only its shards: the other shards' clients are
// not disturbed, the moved shard's clients stay open and resume on the node
// that takes it, nothing acked is lost or shown twice. Real nodes on a real Redis.
#include <csignal>
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

std::vector<std::string> node_args(const std::string& users, const redis_server& r, const std::string& node) {
  json cfg{{"stores", three_stores()}, {"server", {{"threads", 2}, {"shards", 2}}}, {"routing", {{"disconnect_grace_s", 10}}}};
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

TEST_CASE("shard leases - a node killed with SIGKILL - only its shard moves - the other shard's clients are not disturbed") {
  redis_server r;
  const auto users = users_file();
  auto a = std::make_unique<server_process>(node_args(users, r, "a"));
  auto b = std::make_unique<server_process>(node_args(users, r, "b"));
  const auto north = spread({a->port(), b->port()});
  REQUIRE_FALSE(north.empty());
  // The victim leads north's shard; every client is on the survivor, which leads south's.
  auto victim = north == "a" ? std::move(a) : std::move(b);
  auto survivor = north == "a" ? std::move(b) : std::move(a);
  const std::string survivor_name = north == "a" ? "b" : "a";
  const auto port = survivor->port();
  staff ana = welcomed([&] { return staff(port, "ana", "agent"); });
  staff ola = welcomed([&] { return staff(port, "ola", "agent"); });
  store_shopper n = welcomed([&] { return store_shopper(port, "north", "en"); });
  store_shopper s = welcomed([&] { return store_shopper(port, "south", "es"); });
  staff boss = welcomed([&] { return staff(port, "boss", "supervisor"); });
  const auto cn = n.say("Hello, where is my parcel?", "n1");
  const auto cs = s.say("Hola, ¿dónde está mi paquete?", "s1");
  ana->expect_if("conversation.assigned", [&](const json& x) { return x["conversation_id"] == cn; });
  ola->expect_if("conversation.assigned", [&](const json& x) { return x["conversation_id"] == cs; });
  boss->expect_if("queue.snapshot", [](const json& j) { return j["agents_total"] == 2; }, 10s);
  (void)boss->barrier();

  CHECK(victim->signal_and_wait(SIGKILL) != 0);
  // South's shard is led by the survivor: its clients go on as if nothing happened.
  auto sent = send_until_acked(*s.ws, chat(cs, "¿Sigue ahí?", "s2"));
  CHECK(sent.unavailable == 0);
  CHECK(sent.welcomes == 0);
  CHECK(ola->expect_if("chat.message", [](const json& m) { return m["text"] == "¿Sigue ahí?"; }, 10s)["conversation_id"] == cs);
  // North's clients stay open and resume on the survivor once it takes the shard.
  sent = send_until_acked(*n.ws, chat(cn, "Are you still there?", "n2"));
  CHECK_FALSE(n->is_closed());
  CHECK(ana->expect_if("chat.message", [](const json& m) { return m["text"] == "Are you still there?"; }, 10s)["conversation_id"] == cn);
  CHECK(led_as({port}, survivor_name, survivor_name));
  const auto hn = history_of(*n.ws, cn);
  CHECK(hn.size() == 2);
  check_exactly_once(hn);
  check_exactly_once(history_of(*s.ws, cs));
  // The supervisor's connection stayed open; it was welcomed afresh, once, with both conversations.
  CHECK_FALSE(boss->is_closed());
  auto frames = boss->barrier();
  int welcomes = 0;
  for (const auto& f : frames)
    if (f["type"] == "welcome") {
      ++welcomes;
      std::set<std::string> convs;
      for (const auto& c : f["conversations"]) convs.insert(c["conversation_id"]);
      CHECK(convs == std::set<std::string>{cn, cs});
    }
  CHECK(welcomes == 1);
  // South's agent and shopper were never welcomed again.
  CHECK(count_type(ola->barrier(), "welcome") == 0);
  CHECK(count_type(s->barrier(), "welcome") == 0);
  CHECK(survivor->output().find("now leads shard") != std::string::npos);
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

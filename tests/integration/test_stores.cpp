// Several stores on one server (issue 8): stores kept apart on every path,
// shopper context, VIPs to senior agents, opening hours and the offline
// path (contact -> follow-up list -> done), prepared answers; on the memory
// store and on a real Redis.
#include "tests/integration/common.hpp"
#include "tests/store/support.hpp"

#include <fstream>
#include <set>

using namespace calma::test;

namespace {

// Users of two stores. Every password is the username's demo password from
// config/users.json's hashes: "agent" (for agents) or "supervisor".
std::string users_file() {
  const demo_hashes hashes;
  const auto& agent_hash = hashes.agent;
  const auto& sup_hash = hashes.supervisor;
  json users = json::array({
      {{"username", "ana"}, {"name", "Ana"}, {"role", "agent"}, {"password_hash", agent_hash}, {"stores", {"demo"}}},
      {{"username", "ola"}, {"name", "Ola"}, {"role", "agent"}, {"password_hash", agent_hash}, {"stores", {"demo-pl"}}},
      {{"username", "marek"}, {"name", "Marek"}, {"role", "agent"}, {"password_hash", agent_hash},
       {"stores", {"demo-pl"}}, {"senior", true}},
      {{"username", "sup-pl"}, {"name", "Kasia"}, {"role", "supervisor"}, {"password_hash", sup_hash}, {"stores", {"demo-pl"}}},
      {{"username", "boss"}, {"name", "Sofía"}, {"role", "supervisor"}, {"password_hash", sup_hash}},
  });
  return temp_file(users.dump());
}

json stores(const json& pl_hours = nullptr) {
  json pl{{"id", "demo-pl"}, {"name", "Sklep Demo"}, {"languages", {"pl"}}};
  if (!pl_hours.is_null()) pl["hours"] = pl_hours;
  return json::array({json{{"id", "demo"}, {"name", "Demo"}, {"languages", {"es", "en"}}}, pl});
}

// Never open: no weekly ranges.
const json closed_hours{{"tz", "Europe/Warsaw"}, {"weekly", json::array()}};

std::vector<std::string> args(const json& extra, const std::string& users, const redis_server* r = nullptr) {
  json cfg = extra;
  if (!cfg.contains("stores")) cfg["stores"] = stores();
  auto a = test_args(cfg);
  a[3] = users;  // --users
  if (r) {
    a.push_back("--redis");
    a.push_back(r->url());
  }
  return a;
}

using member = staff;

struct store_shopper {
  std::unique_ptr<ws_client> ws;
  json welcome;
  store_shopper(std::uint16_t port, const std::string& store, const std::string& lang, const json& context = nullptr) {
    ws = std::make_unique<ws_client>(port);
    json h{{"type", "hello"}, {"role", "shopper"}, {"store", store}, {"name", "Klient"}, {"language", lang}};
    if (!context.is_null()) h["context"] = context;
    ws->send(h);
    welcome = ws->expect("welcome");
  }
  ws_client* operator->() { return ws.get(); }
  std::string say(const std::string& text, const std::string& cmid) {
    ws->send(json{{"type", "chat.send"}, {"client_msg_id", cmid}, {"text", text}});
    return ws->expect_if("ack", [&](const json& a) { return a["client_msg_id"] == cmid; })["conversation_id"];
  }
};

bool mentions(const std::vector<json>& frames, const std::string& conv) {
  for (const auto& f : frames)
    if (f.dump().find(conv) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("stores - an unknown store is refused with 4401 and the widget endpoint describes each store") {
  server_process srv(args({}, users_file()));
  ws_client c(srv.port());
  c.send(json{{"type", "hello"}, {"role", "shopper"}, {"store", "no-such-store"}});
  CHECK(c.wait_closed());
  CHECK(c.close_code() == 4401);

  auto w = http(srv.port(), "GET", "/api/v1/stores/demo-pl/widget");
  REQUIRE(w.status == 200);
  auto j = w.j();
  CHECK(j["id"] == "demo-pl");
  CHECK(j["name"] == "Sklep Demo");
  CHECK(j["languages"] == json({"pl"}));
  CHECK(j["open"] == false);  // always in hours, but no agent of the store online
  CHECK(j["in_hours"] == true);
  CHECK(j["hours"].is_null());
  member ola(srv.port(), "ola", "agent");
  // The count reaches the store as soon as the agent is online.
  bool open = false;
  for (int i = 0; i < 100 && !open; ++i) {
    open = http(srv.port(), "GET", "/api/v1/stores/demo-pl/widget").j()["open"] == true;
    if (!open) std::this_thread::sleep_for(20ms);
  }
  CHECK(open);
  CHECK(http(srv.port(), "GET", "/api/v1/stores/demo/widget").j()["open"] == false);  // Ola is not of demo
  CHECK(http(srv.port(), "GET", "/api/v1/stores/nope/widget").status == 404);
  // The shopper's welcome names its store.
  store_shopper s(srv.port(), "demo-pl", "pl");
  CHECK(s.welcome["store"]["id"] == "demo-pl");
  CHECK(s.welcome["store"]["open"] == true);
}

TEST_CASE("stores - staff of one store never see or act on another store's conversations") {
  server_process srv(args({}, users_file()));
  member ana(srv.port(), "ana", "agent");
  member ola(srv.port(), "ola", "agent");
  member sup_pl(srv.port(), "sup-pl", "supervisor");
  member boss(srv.port(), "boss", "supervisor");
  CHECK(ana.welcome["stores"] == json::array({json{{"id", "demo"}, {"name", "Demo"}, {"languages", {"es", "en"}}}}));
  CHECK(boss.welcome["stores"].size() == 2);

  store_shopper pl(srv.port(), "demo-pl", "pl");
  auto conv = pl.say("Gdzie jest moja paczka? Zamówiłam tydzień temu!!!", "p1");
  CHECK(ola->expect("conversation.assigned")["conversation_id"] == conv);
  ola->expect("history");
  CHECK(pl->expect("conversation.assigned")["agent"]["id"] == "ola");
  // The Polish store's supervisor and the all-stores supervisor see it; the Spanish agent sees nothing of it.
  CHECK(sup_pl->expect_if("conversation.assigned", [&](const json& a) { return a["conversation_id"] == conv; })["store"] == "demo-pl");
  boss->expect_if("conversation.assigned", [&](const json& a) { return a["conversation_id"] == conv; });
  ola->send(chat(conv, "Przepraszam, już sprawdzam.", "o1"));
  ola->expect("ack");
  auto snap = sup_pl->expect_if("queue.snapshot", [](const json& j) { return !j["agents"].empty(); });
  for (const auto& a : snap["agents"]) CHECK(a["id"] != "ana");  // only colleagues of its store
  for (const auto& q : snap["queues"]) CHECK(q["store"] == "demo-pl");
  std::this_thread::sleep_for(300ms);  // let any (wrong) snapshot or escalation reach Ana
  CHECK_FALSE(mentions(ana->barrier(), conv));

  // Every path refuses Ana: chat, history, join-like actions, REST. (Forbidden,
  // or not_found when another hub shard holds the store: PROTOCOL allows both.)
  auto refused = [](const json& e) { return e["code"] == "forbidden" || e["code"] == "not_found"; };
  ana->send(chat(conv, "hola", "a1"));
  CHECK(refused(ana->expect("error")));
  ana->send(json{{"type", "history"}, {"conversation_id", conv}, {"after_seq", 0}});
  CHECK(ana->expect("error")["code"] == "forbidden");
  ana->send(json{{"type", "conversation.transfer"}, {"conversation_id", conv}, {"to_agent_id", "ana"}});
  CHECK(refused(ana->expect("error")));
  CHECK(http(srv.port(), "GET", "/api/v1/conversations/" + conv, {}, ana.token).status == 403);
  CHECK(http(srv.port(), "GET", "/api/v1/conversations/" + conv, {}, sup_pl.token).status == 200);
  CHECK(http(srv.port(), "GET", "/api/v1/followups?store=demo-pl", {}, ana.token).status == 403);
  CHECK(http(srv.port(), "GET", "/api/v1/canned?store=demo-pl&lang=pl", {}, ana.token).status == 403);
  // A supervisor of another store cannot join or take over.
  ola->send(json{{"type", "conversation.transfer"}, {"conversation_id", conv}, {"to_agent_id", "ana"}});
  CHECK(ola->expect("error")["code"] == "not_found");  // Ana is not an agent of demo-pl
  // A shopper of the Spanish store gets Ana, never Ola.
  store_shopper es(srv.port(), "demo", "es");
  auto conv_es = es.say("Hola", "e1");
  CHECK(ana->expect_if("conversation.assigned", [&](const json& a) { return a["conversation_id"] == conv_es; })["agent"]["id"] == "ana");
  CHECK_FALSE(mentions(ola->barrier(), conv_es));
  CHECK_FALSE(mentions(sup_pl->barrier(), conv_es));
}

TEST_CASE("stores - context travels to staff and VIPs go to the senior agent first") {
  server_process srv(args({}, users_file()));
  member ola(srv.port(), "ola", "agent");
  member marek(srv.port(), "marek", "agent");
  // A calm shopper first: the least loaded, a non-senior on a tie.
  store_shopper calm(srv.port(), "demo-pl", "pl");
  auto c1 = calm.say("Dzień dobry, mam pytanie o rozmiar.", "c1");
  CHECK(calm->expect("conversation.assigned")["agent"]["id"] == "ola");
  // The VIP (by tier and by order value) goes to Marek, the senior, though Ola is free.
  json ctx{{"order_id", "PL-77"}, {"order_value", 950}, {"currency", "pln"}, {"tier", "vip"}};
  store_shopper vip(srv.port(), "demo-pl", "pl", ctx);
  auto c2 = vip.say("Moje zamówienie nie dotarło.", "v1");
  auto assigned = marek->expect_if("conversation.assigned", [&](const json& a) { return a["conversation_id"] == c2; });
  CHECK(assigned["agent"]["id"] == "marek");
  CHECK(assigned["shopper"]["context"] == json{{"order_id", "PL-77"}, {"order_value", 950.0}, {"currency", "PLN"}, {"tier", "vip"}});
  auto detail = http(srv.port(), "GET", "/api/v1/conversations/" + c2, {}, marek.token).j();
  CHECK(detail["context"]["order_id"] == "PL-77");
  CHECK(detail["store"] == "demo-pl");
  CHECK(detail["conversation"]["shopper"]["context"]["tier"] == "vip");
  // An order worth the VIP threshold alone is enough.
  store_shopper rich(srv.port(), "demo-pl", "pl", json{{"order_value", "500.00"}});
  auto c3 = rich.say("Pytanie o fakturę", "r1");
  CHECK(marek->expect_if("conversation.assigned", [&](const json& a) { return a["conversation_id"] == c3; })["agent"]["id"] == "marek");
  (void)c1;
}

TEST_CASE("stores - a bad context is refused with a clear error and 4401") {
  server_process srv(args({}, users_file()));
  for (const json& ctx : {json{{"order_value", "lots"}}, json{{"order_id", json::array()}}, json{{"currency", "EURO"}},
                          json{{"tier", std::string(40, 'x')}}, json{{"coupon", "FREE"}}, json("vip")}) {
    ws_client c(srv.port());
    c.send(json{{"type", "hello"}, {"role", "shopper"}, {"store", "demo"}, {"context", ctx}});
    auto e = c.expect("error");
    CHECK(e["code"] == "bad_request");
    CHECK(e["message"].get<std::string>().find("context") != std::string::npos);
    CHECK(c.wait_closed());
    CHECK(c.close_code() == 4401);
  }
}

TEST_CASE("stores - closed hours: offline queue - contact - follow-up list - done") {
  server_process srv(args({{"stores", stores(closed_hours)}}, users_file()));
  CHECK(http(srv.port(), "GET", "/api/v1/stores/demo-pl/widget").j()["in_hours"] == false);
  store_shopper s(srv.port(), "demo-pl", "pl");
  CHECK(s.welcome["store"]["open"] == false);
  auto conv = s.say("Czy ktoś tu jest?", "s1");
  auto q = s->expect("conversation.queued");
  CHECK(q["offline"] == true);
  CHECK(q["offline_reason"] == "closed");
  CHECK(q["next_open_ts"].is_null());
  // The queue gauges carry the store.
  auto metrics = http(srv.port(), "GET", "/metrics").body;
  CHECK(metrics.find("calma_store_queue_length{store=\"demo-pl\"} 1") != std::string::npos);
  CHECK(metrics.find("calma_store_queue_length{store=\"demo\"} 0") != std::string::npos);

  // Bad contacts change nothing.
  for (const json& bad : {json{{"email", "not-an-email"}}, json{{"phone", "12"}}, json{{"note", "only a note"}}}) {
    json m{{"type", "contact"}, {"conversation_id", conv}};
    m.update(bad);
    s->send(m);
    auto e = s->expect("error");
    CHECK(e["code"] == "bad_request");
    CHECK(e["ref"] == "contact");
  }
  store_shopper other(srv.port(), "demo-pl", "pl");
  other->send(json{{"type", "contact"}, {"conversation_id", conv}, {"email", "eve@example.com"}});
  CHECK(other->expect("error")["code"] == "not_found");
  member sup(srv.port(), "sup-pl", "supervisor");
  auto empty = http(srv.port(), "GET", "/api/v1/followups?store=demo-pl", {}, sup.token);
  REQUIRE(empty.status == 200);
  CHECK(empty.j()["followups"].empty());

  s->send(json{{"type", "contact"}, {"conversation_id", conv}, {"email", "klient@example.pl"}, {"note", "Proszę o telefon"}});
  CHECK(s->expect("contact.saved")["conversation_id"] == conv);
  CHECK(sup->expect("followups.changed")["store"] == "demo-pl");
  auto list = http(srv.port(), "GET", "/api/v1/followups?store=demo-pl", {}, sup.token).j()["followups"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["conversation_id"] == conv);
  CHECK(list[0]["reason"] == "contact");
  CHECK(list[0]["contact"]["email"] == "klient@example.pl");
  CHECK(list[0]["shopper"]["name"] == "Klient");
  // Without ?store: every store the user serves (the all-stores supervisor sees it too).
  member boss(srv.port(), "boss", "supervisor");
  CHECK(http(srv.port(), "GET", "/api/v1/followups", {}, boss.token).j()["followups"].size() == 1);
  CHECK(http(srv.port(), "GET", "/api/v1/followups?store=nope", {}, boss.token).status == 404);
  CHECK(http(srv.port(), "GET", "/api/v1/followups?store=demo-pl").status == 401);
  // An agent of another store may not mark it done.
  member ana(srv.port(), "ana", "agent");
  ana->send(json{{"type", "followup.done"}, {"conversation_id", conv}});
  CHECK(ana->expect("error")["code"] == "not_found");

  // Done: it leaves the list, and the store's staff hear it.
  sup->send(json{{"type", "followup.done"}, {"conversation_id", conv}, {"note", "Oddzwoniłam"}});
  auto d = sup->expect("followup.done");
  CHECK(d["conversation_id"] == conv);
  CHECK(d["by"]["id"] == "sup-pl");
  CHECK(http(srv.port(), "GET", "/api/v1/followups?store=demo-pl", {}, sup.token).j()["followups"].empty());
  sup->send(json{{"type", "followup.done"}, {"conversation_id", conv}});
  CHECK(sup->expect("error")["code"] == "bad_request");  // not on the list any more

  // The conversation stayed: an agent coming online answers it; closing with follow_up lists it again.
  member ola(srv.port(), "ola", "agent");
  CHECK(ola->expect("conversation.assigned")["conversation_id"] == conv);
  ola->send(json{{"type", "conversation.close"}, {"conversation_id", conv}, {"follow_up", true}, {"reason", "oddzwonić"}});
  ola->expect("conversation.closed");
  auto again = http(srv.port(), "GET", "/api/v1/followups?store=demo-pl", {}, sup.token).j()["followups"];
  REQUIRE(again.size() == 1);
  CHECK(again[0]["reason"] == "follow_up");
  CHECK(again[0]["close_reason"] == "oddzwonić");
  CHECK(again[0]["state"] == "closed");
  // A shopper may not ask for a follow-up.
  store_shopper s2(srv.port(), "demo-pl", "pl");
  auto conv2 = s2.say("Halo", "x1");
  s2->send(json{{"type", "conversation.close"}, {"conversation_id", conv2}, {"follow_up", true}});
  CHECK(s2->expect("error")["code"] == "forbidden");
}

TEST_CASE("stores - in hours with nobody online the queue says no_agents and an answer clears the contact") {
  server_process srv(args({}, users_file()));
  store_shopper s(srv.port(), "demo-pl", "pl");
  auto conv = s.say("Halo?", "s1");
  auto q = s->expect("conversation.queued");
  CHECK(q["offline"] == true);
  CHECK(q["offline_reason"] == "no_agents");
  s->send(json{{"type", "contact"}, {"conversation_id", conv}, {"phone", "+48 600 100 200"}});
  s->expect("contact.saved");
  member ola(srv.port(), "ola", "agent");
  ola->expect("conversation.assigned");
  CHECK(http(srv.port(), "GET", "/api/v1/followups", {}, ola.token).j()["followups"].size() == 1);
  ola->send(chat(conv, "Dzień dobry, już jestem.", "o1"));
  ola->expect("ack");
  ola->expect("followups.changed");
  CHECK(http(srv.port(), "GET", "/api/v1/followups", {}, ola.token).j()["followups"].empty());
}

TEST_CASE("stores - prepared answers per store and language") {
  server_process srv(args({}, users_file()));
  member ola(srv.port(), "ola", "agent");
  auto r = http(srv.port(), "GET", "/api/v1/canned?store=demo-pl&lang=pl", {}, ola.token);
  REQUIRE(r.status == 200);
  auto list = r.j()["responses"];
  REQUIRE(list.size() >= 16);
  std::set<std::string> categories;
  for (const auto& a : list) {
    CHECK(a["lang"] == "pl");
    categories.insert(a["category"].get<std::string>());
  }
  for (const char* c : {"apology", "delay", "replacement", "refund", "partial_refund", "escalation", "callback", "follow_up"})
    CHECK(categories.count(c) == 1);
  // Without lang: every language of the store (Polish only here); another store's: forbidden.
  CHECK(http(srv.port(), "GET", "/api/v1/canned?store=demo-pl", {}, ola.token).j()["responses"].size() == list.size());
  CHECK(http(srv.port(), "GET", "/api/v1/canned?store=demo&lang=es", {}, ola.token).status == 403);
  CHECK(http(srv.port(), "GET", "/api/v1/canned?store=demo-pl&lang=p%20l", {}, ola.token).status == 400);
  CHECK(http(srv.port(), "GET", "/api/v1/canned?store=demo-pl").status == 401);
  member boss(srv.port(), "boss", "supervisor");
  auto es = http(srv.port(), "GET", "/api/v1/canned?store=demo&lang=es", {}, boss.token).j()["responses"];
  REQUIRE_FALSE(es.empty());
  CHECK(es[0]["lang"] == "es");
}

TEST_CASE("stores - hours that do not parse stop the server at start with one line") {
  json bad = stores(json{{"tz", "Europe/Nowhere"}, {"weekly", json::array({json{{"days", {9}}, {"from", "25:00"}, {"to", "18:00"}}})}});
  server_process srv(args({{"stores", bad}}, users_file()), /*wait_listening=*/false);
  CHECK(srv.wait_exit() != 0);
  auto out = srv.output();
  CHECK(out.find("unknown time zone 'Europe/Nowhere'") != std::string::npos);
  CHECK(out.find("config.stores[1].hours: weekly[0].days") != std::string::npos);
}

TEST_CASE("stores - on Redis: the follow-up list and the context survive a restart") {
  redis_server r({"--appendonly", "yes", "--appendfsync", "always"});
  const auto users = users_file();
  std::string conv;
  {
    server_process srv(args({{"stores", stores(closed_hours)}}, users, &r));
    store_shopper s(srv.port(), "demo-pl", "pl", json{{"order_id", "PL-9"}, {"tier", "vip"}});
    conv = s.say("Zamknięte?", "s1");
    CHECK(s->expect("conversation.queued")["offline"] == true);
    s->send(json{{"type", "contact"}, {"conversation_id", conv}, {"email", "a@b.pl"}});
    s->expect("contact.saved");
  }
  server_process srv(args({{"stores", stores(closed_hours)}}, users, &r));
  member sup(srv.port(), "sup-pl", "supervisor");
  auto list = http(srv.port(), "GET", "/api/v1/followups?store=demo-pl", {}, sup.token).j()["followups"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["conversation_id"] == conv);
  CHECK(list[0]["contact"]["email"] == "a@b.pl");
  CHECK(list[0]["shopper"]["context"]["order_id"] == "PL-9");
  member boss(srv.port(), "boss", "supervisor");
  CHECK(http(srv.port(), "GET", "/api/v1/followups?store=demo", {}, boss.token).j()["followups"].empty());
  sup->send(json{{"type", "followup.done"}, {"conversation_id", conv}});
  sup->expect("followup.done");
  CHECK(http(srv.port(), "GET", "/api/v1/followups?store=demo-pl", {}, sup.token).j()["followups"].empty());
  // The Polish agent gets it with its context when it comes online.
  member marek(srv.port(), "marek", "agent");
  auto a = marek->expect("conversation.assigned");
  CHECK(a["shopper"]["context"]["tier"] == "vip");
}

TEST_CASE("stores - a store's widget opens only on that store's pages") {
  json st = stores();
  st[0]["allowed_origins"] = {"https://tienda.example"};
  st[1]["allowed_origins"] = {"https://sklep.example"};
  server_process srv(args({{"stores", st}}, users_file()));
  {
    // The Polish store's page asking for the Spanish store's chat: let in at the upgrade, refused at hello.
    ws_client c(srv.port(), client_options{"https://sklep.example"});
    c.send(json{{"type", "hello"}, {"role", "shopper"}, {"store", "demo"}});
    CHECK(c.wait_closed());
    CHECK(c.close_code() == 4401);
  }
  ws_client ok(srv.port(), client_options{"https://sklep.example"});
  ok.send(json{{"type", "hello"}, {"role", "shopper"}, {"store", "demo-pl"}});
  CHECK(ok.expect("welcome")["store"]["id"] == "demo-pl");
}

TEST_CASE("stores - the Polish demo store's page is served at /pl/ and /pl") {
  server_process srv(test_args());
  for (const char* path : {"/pl/", "/pl"}) {
    auto r = http(srv.port(), "GET", path);
    CHECK(r.status == 200);
    CHECK(r.content_type.find("text/html") == 0);
    CHECK(r.body.find("demo-pl") != std::string::npos);
  }
}

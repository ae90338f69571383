// The public doors on the real binary: every limit shown from both sides,
// the flooder (127.0.0.1) refused with a clear code and a bystander from
// another loopback address (127.0.0.2) served as if nothing happened.
#include <fstream>
#include <future>
#include <set>
#include <sstream>

#include "tests/integration/common.hpp"

using namespace calma::test;

namespace {

const std::string bystander = "127.0.0.2";

http_options as(const std::string& from = "127.0.0.1") {
  http_options o;
  o.from = from;
  return o;
}

// Read from the bystander's address: the flooder's may be the one refused.
std::string metrics_text(std::uint16_t port) {
  http_options o;
  o.from = "127.0.0.2";
  return http_from(port, "GET", "/metrics", {}, o).body;
}

/// The value of calma_refused_total{reason="<reason>"} in /metrics.
long refused(std::uint16_t port, const std::string& reason) {
  const auto text = metrics_text(port);
  const std::string key = "calma_refused_total{reason=\"" + reason + "\"} ";
  auto at = text.find(key);
  return at == std::string::npos ? -1 : std::stol(text.substr(at + key.size()));
}

/// refused(port, reason) once it is at least `at_least`, polled until `within`
/// has passed (then its last value). For a refusal the server counts when it
/// is done with the connection, which may be after the client saw it closed.
long refused_by_then(std::uint16_t port, const std::string& reason, long at_least, std::chrono::milliseconds within = 5s) {
  const auto until = std::chrono::steady_clock::now() + within;
  for (;;) {
    const long n = refused(port, reason);
    if (n >= at_least || std::chrono::steady_clock::now() >= until) return n;
    std::this_thread::sleep_for(50ms);  // another process's counter: no clock to inject
  }
}

/// A shopper from `from` who says hello and writes: the bystander's whole visit.
json shopper_visit(std::uint16_t port, const std::string& from, const std::string& text = "hola, una pregunta") {
  client_options o;
  o.from = from;
  ws_client c(port, o);
  hello_shopper(c, "Bea", "es");
  c.send(json{{"type", "chat.send"}, {"client_msg_id", "b1"}, {"text", text}});
  return c.expect("ack");
}

std::string login_body(const std::string& user, const std::string& password) {
  return json{{"username", user}, {"password", password}}.dump();
}

}  // namespace

TEST_CASE("doors - connections per address: the flooder's extra one gets 429 and a bystander is served") {
  server_process srv(test_args({{"doors", {{"connections_per_address", 20}}}}));
  std::vector<std::unique_ptr<raw_tcp>> held;
  for (int i = 0; i < 20; ++i) held.push_back(std::make_unique<raw_tcp>(srv.port()));  // silent, half-open
  std::this_thread::sleep_for(200ms);  // let the server accept them all (another process: no clock to inject)
  raw_tcp extra(srv.port());
  extra.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto answer = extra.read(3s, "\r\n\r\n");
  CHECK(answer.rfind("HTTP/1.1 429", 0) == 0);
  CHECK(answer.find("Retry-After:") != std::string::npos);
  CHECK(shopper_visit(srv.port(), bystander)["seq"] == 1);
  CHECK(http_from(srv.port(), "GET", "/healthz", {}, as(bystander)).status == 200);
  held.clear();  // the flooder's connections close: its address is let in again
  std::this_thread::sleep_for(200ms);
  CHECK(http(srv.port(), "GET", "/healthz").status == 200);
  CHECK(refused(srv.port(), "connections_per_address") >= 1);
}

TEST_CASE("doors - new connections per second: the flooder gets 429 with Retry-After and a bystander is served") {
  server_process srv(test_args({{"doors", {{"new_connections_per_s", 0.5}, {"new_connections_burst", 5}}}}));
  int ok = 0, limited = 0;
  std::string retry;
  for (int i = 0; i < 12; ++i) {
    auto r = http_from(srv.port(), "GET", "/healthz", {}, as());
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      retry = r.header("retry-after");
    }
  }
  CHECK(ok <= 6);
  CHECK(limited >= 5);
  CHECK(std::stoi(retry) >= 1);
  CHECK(http_from(srv.port(), "GET", "/healthz", {}, as(bystander)).status == 200);
  CHECK(shopper_visit(srv.port(), bystander)["seq"] == 1);
  CHECK(refused(srv.port(), "connection_rate") >= 5);
}

TEST_CASE("doors - the total: over it new connections get 503 and the server serves again once they go") {
  server_process srv(test_args({{"doors", {{"connections_total", 8}, {"connections_per_address", 0}}}}));
  CHECK(srv.output().find("up to 8 connections") != std::string::npos);
  std::vector<std::unique_ptr<raw_tcp>> held;
  for (int i = 0; i < 8; ++i) held.push_back(std::make_unique<raw_tcp>(srv.port()));
  std::this_thread::sleep_for(200ms);
  raw_tcp late(srv.port(), bystander);
  late.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto answer = late.read(3s, "\r\n\r\n");
  CHECK(answer.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(answer.find("Retry-After:") != std::string::npos);
  held.clear();
  std::this_thread::sleep_for(200ms);
  CHECK(shopper_visit(srv.port(), bystander)["seq"] == 1);
  CHECK(refused(srv.port(), "connections_total") >= 1);
}

TEST_CASE("doors - the server says how many connections it can hold and raised its open-file limit") {
  server_process srv(test_args());
  CHECK(srv.output().find("connections)") != std::string::npos);
  std::ifstream limits("/proc/" + std::to_string(srv.pid()) + "/limits");
  std::string line;
  bool raised = false;
  while (std::getline(limits, line))
    if (line.rfind("Max open files", 0) == 0) {
      std::istringstream in(line.substr(14));
      std::string soft, hard;
      in >> soft >> hard;
      raised = soft == hard;
    }
  CHECK(raised);
}

TEST_CASE("doors - a big frame before hello is closed with 1009 and a bystander's chat goes on") {
  server_process srv(test_args());
  ws_client big(srv.port());
  try {
    big.send_text(std::string(100'000, 'x'));
  } catch (const std::exception&) {
    // The server may close before the client has written it all.
  }
  REQUIRE(big.wait_closed(5s));
  // 1009, unless the rest of the frame the server did not read made the
  // close a reset that took the close frame with it (then the metric below says why).
  CHECK((big.close_code() == 1009 || big.close_code() == 0));
  // A hello that fits is fine; the limit after hello is the usual one.
  CHECK(shopper_visit(srv.port(), bystander)["seq"] == 1);
  // Beast reports the frame over the limit only once the close handshake is
  // over (close frame, then the teardown reads the client's close to EOF), and
  // the session counts it then: the client can see the connection closed, and
  // the bystander be served, while that last handler still waits for a thread
  // (a loaded machine). Counted by then, not necessarily before.
  CHECK(refused_by_then(srv.port(), "pre_hello_frame", 1) >= 1);
}

TEST_CASE("doors - a flood of control pings is closed with 4429 and a bystander is served") {
  server_process srv(test_args({{"doors", {{"control_frames_per_s", 1}, {"control_frames_burst", 10}}}}));
  ws_client flooder(srv.port());
  hello_shopper(flooder);
  for (int i = 0; i < 200 && flooder.send_control_ping(); ++i) {
  }
  REQUIRE(flooder.wait_closed(5s));
  CHECK(flooder.close_code() == 4429);
  CHECK(shopper_visit(srv.port(), bystander)["seq"] == 1);
  CHECK(refused(srv.port(), "control_frames") >= 1);
}

TEST_CASE("doors - new conversations per address: the flooder's extra ones are refused and the bystander opens one") {
  server_process srv(test_args({{"doors", {{"conversations_per_min", 1}, {"conversations_burst", 3}}}}));
  std::vector<std::unique_ptr<ws_client>> throwaway;
  int acked = 0;
  json refusal;
  for (int i = 0; i < 6; ++i) {
    throwaway.push_back(std::make_unique<ws_client>(srv.port()));
    auto& c = *throwaway.back();
    hello_shopper(c);
    const std::string cmid = "t" + std::to_string(i);
    c.send(json{{"type", "chat.send"}, {"client_msg_id", cmid}, {"text", "x"}});
    for (;;) {  // its ack, or the error that names it (conversation.queued may come first)
      auto f = c.next(5s);
      REQUIRE(f);
      if ((*f)["type"] == "ack") {
        ++acked;
        break;
      }
      if ((*f)["type"] == "error" && (*f)["ref"] == cmid) {
        refusal = *f;
        break;
      }
    }
  }
  CHECK(acked == 3);
  REQUIRE(refusal.is_object());
  CHECK(refusal["type"] == "error");
  CHECK(refusal["code"] == "rate_limited");
  CHECK(refusal["ref"] == "t5");
  // Another address is not counted with them.
  CHECK(shopper_visit(srv.port(), bystander)["seq"] == 1);
  CHECK(refused(srv.port(), "conversation_rate") >= 3);
}

TEST_CASE("doors - shoppers who left stop counting: a real shopper's position and the supervisor's inbox stay honest") {
  server_process srv(test_args({{"routing", {{"abandon_after_s", 1}, {"abandon_close_s", 4}, {"queue_snapshot_interval_s", 1}}},
                                {"escalation", {{"queue_wait_s", 8}}},
                                {"doors", {{"conversations_burst", 100}}}}));
  staff sup(srv.port(), "supervisor");
  // Five throw-away shoppers open a conversation each (nobody is online to take them).
  std::vector<std::unique_ptr<shopper>> throwaway;
  std::set<std::string> throwaway_convs;
  for (int i = 0; i < 5; ++i) {
    throwaway.push_back(std::make_unique<shopper>(srv.port(), "T" + std::to_string(i)));
    throwaway_convs.insert(throwaway.back()->say("hola", "t")["conversation_id"].get<std::string>());
  }
  const std::string returning_token = throwaway.front()->token;
  shopper real(srv.port(), "Real", "es");
  const auto real_conv = real.say("hola, necesito ayuda", "r1")["conversation_id"].get<std::string>();
  CHECK(real->expect("conversation.queued")["position"] == 6);
  throwaway.clear();  // they leave
  // Soon after they left they no longer count: the real shopper is first in line.
  auto first = real->expect_if("conversation.queued", [](const json& j) { return j["position"] == 1; }, 6s);
  CHECK(first["estimated_wait_s"].is_number());
  // One of them comes back: its place is its own again (it came first); then it leaves again.
  {
    ws_client back(srv.port());
    hello_token(back, returning_token);
    auto mine = back.expect("conversation.queued");
    CHECK(mine["position"] == 1);
    CHECK(real->expect_if("conversation.queued", [](const json& j) { return j["position"] == 2; }, 5s)["position"] == 2);
  }
  // The real shopper waits past queue_wait_s and is escalated; the abandoned never
  // are, and each of them is closed as abandoned.
  std::set<std::string> escalated, closed_abandoned;
  auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until && (escalated.empty() || closed_abandoned.size() < 5)) {
    auto f = sup->next(500ms);
    if (!f) continue;
    if ((*f)["type"] == "escalation.raised") escalated.insert((*f)["conversation_id"].get<std::string>());
    if ((*f)["type"] == "conversation.closed" && (*f)["reason"] == "abandoned") {
      CHECK((*f)["by_role"] == "system");
      closed_abandoned.insert((*f)["conversation_id"].get<std::string>());
    }
  }
  CHECK(escalated == std::set<std::string>{real_conv});
  CHECK(closed_abandoned == throwaway_convs);
  CHECK(real->expect_if("conversation.queued", [](const json& j) { return j["position"] == 1; }, 5s)["position"] == 1);
}

TEST_CASE("doors - logins per address: the flooder gets 429 with Retry-After and a bystander logs in") {
  server_process srv(test_args({{"doors", {{"logins_per_min", 1}, {"logins_burst", 3}}}}));
  std::vector<unsigned> statuses;
  for (int i = 0; i < 5; ++i)
    statuses.push_back(http_from(srv.port(), "POST", "/api/v1/login", login_body("nobody" + std::to_string(i), "x"), as()).status);
  CHECK(statuses == std::vector<unsigned>{401, 401, 401, 429, 429});
  auto limited = http_from(srv.port(), "POST", "/api/v1/login", login_body("agent", "agent"), as());
  CHECK(limited.status == 429);
  CHECK(std::stoi(limited.header("retry-after")) >= 1);
  CHECK(limited.j()["error"]["code"] == "rate_limited");
  CHECK(http_from(srv.port(), "POST", "/api/v1/login", login_body("agent", "agent"), as(bystander)).status == 200);
  CHECK(refused(srv.port(), "login_rate") >= 3);
}

TEST_CASE("doors - wrong passwords for a real user from one address do not lock that user out elsewhere") {
  server_process srv(test_args({{"doors", {{"logins_burst", 100}}}}));
  int limited = 0;
  for (int i = 0; i < 15; ++i)
    if (http_from(srv.port(), "POST", "/api/v1/login", login_body("agent", "wrong"), as()).status == 429) ++limited;
  CHECK(limited >= 5);  // the attacker's pair is stopped
  auto real = http_from(srv.port(), "POST", "/api/v1/login", login_body("agent", "agent"), as(bystander));
  CHECK(real.status == 200);
  CHECK(refused(srv.port(), "login_user") >= 5);
}

TEST_CASE("doors - a full queue of password checks answers 503 at once and the bystander logs in after") {
  server_process srv(test_args({{"doors", {{"login_queue", 1}, {"logins_burst", 1000}, {"logins_per_min", 1000}}}}));
  std::vector<std::future<unsigned>> flood;
  for (int i = 0; i < 24; ++i)
    flood.push_back(std::async(std::launch::async, [&, i] {
      return http_from(srv.port(), "POST", "/api/v1/login", login_body("u" + std::to_string(i), "x"), as()).status;
    }));
  int unavailable = 0;
  for (auto& f : flood)
    if (f.get() == 503) ++unavailable;
  CHECK(unavailable >= 1);
  CHECK(http_from(srv.port(), "POST", "/api/v1/login", login_body("agent", "agent"), as(bystander)).status == 200);
  CHECK(refused(srv.port(), "login_queue") >= 1);
}

TEST_CASE("doors - login takes only application/json: a cross-site text/plain post gets 415") {
  server_process srv(test_args());
  http_options plain;
  plain.content_type = "text/plain";
  auto r = http_from(srv.port(), "POST", "/api/v1/login", login_body("agent", "agent"), plain);
  CHECK(r.status == 415);
  http_options with_charset;
  with_charset.content_type = "application/json; charset=utf-8";
  CHECK(http_from(srv.port(), "POST", "/api/v1/login", login_body("agent", "agent"), with_charset).status == 200);
}

TEST_CASE("doors - X-Forwarded-For counts only from a trusted proxy") {
  server_process srv(test_args({{"doors", {{"trusted_proxies", {"127.0.0.1"}}, {"logins_per_min", 1}, {"logins_burst", 2}}}}));
  auto via_proxy = [&](const std::string& client, const std::string& from = "127.0.0.1") {
    http_options o;
    o.from = from;
    o.headers = {{"X-Forwarded-For", client}};
    return http_from(srv.port(), "POST", "/api/v1/login", login_body("nobody", "x"), o).status;
  };
  // Behind the proxy, each client has its own budget.
  CHECK(via_proxy("198.51.100.1") == 401);
  CHECK(via_proxy("198.51.100.1") == 401);
  CHECK(via_proxy("198.51.100.1") == 429);
  CHECK(via_proxy("198.51.100.2") == 401);
  // A forged left part does not give a fresh budget.
  CHECK(via_proxy("6.6.6.6, 198.51.100.1") == 429);
  // Not from the proxy: the header is ignored, the peer counts.
  CHECK(via_proxy("198.51.100.9", bystander) == 401);
  CHECK(via_proxy("198.51.100.10", bystander) == 401);
  CHECK(via_proxy("198.51.100.11", bystander) == 429);
}

TEST_CASE("doors - oversized headers get 431 and the bystander is served") {
  server_process srv(test_args());
  raw_tcp big(srv.port());
  big.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + std::string(20'000, 'a') + "\r\n\r\n");
  auto answer = big.read(3s, "\r\n\r\n");
  CHECK(answer.rfind("HTTP/1.1 431", 0) == 0);
  CHECK(http_from(srv.port(), "GET", "/healthz", {}, as(bystander)).status == 200);
}

TEST_CASE("doors - a hello sent in the same packet as the upgrade request is answered") {
  server_process srv(test_args());
  raw_tcp c(srv.port());
  const auto hello = json{{"type", "hello"}, {"role", "shopper"}, {"store", "demo"}, {"name", "Eve"}}.dump();
  REQUIRE(c.write(ws_upgrade_request(srv.port()) + ws_text_frame(hello)));
  auto got = c.read(3s, "\"welcome\"");
  CHECK(got.rfind("HTTP/1.1 101", 0) == 0);
  CHECK(got.find("\"welcome\"") != std::string::npos);
  // Several frames behind the request, and a big request, still work.
  raw_tcp d(srv.port());
  std::string req = ws_upgrade_request(srv.port());
  req.insert(req.size() - 2, "Cookie: " + std::string(3000, 'c') + "\r\n");
  REQUIRE(d.write(req + ws_text_frame(hello) + ws_text_frame(R"({"type":"ping"})")));
  auto got2 = d.read(3s, "\"welcome\"");  // the pong may come first: the session answers it, the hub the hello
  if (got2.find("\"pong\"") == std::string::npos) got2 += d.read(3s, "\"pong\"");
  CHECK(got2.find("\"welcome\"") != std::string::npos);
  CHECK(got2.find("\"pong\"") != std::string::npos);
}

TEST_CASE("doors - a message of only invisible characters is refused and not stored") {
  server_process srv(test_args());
  shopper s(srv.port());
  auto conv = s.say("hola", "1")["conversation_id"].get<std::string>();
  for (const char* blank : {"\u00a0", "\u200b", "\u00a0\u200b \u2060"}) {
    s->send(chat(conv, blank, std::string("blank") + std::to_string(std::strlen(blank))));
    auto e = s->expect("error");
    CHECK(e["code"] == "bad_request");
  }
  CHECK(s.say("sigo aquí", "2", conv)["seq"] == 2);  // nothing was stored in between
}

TEST_CASE("doors - pages carry a Content-Security-Policy and framing protection and every answer nosniff") {
  server_process srv(test_args());
  for (const char* page : {"/", "/console"}) {
    auto r = http_from(srv.port(), "GET", page, {}, as());
    INFO(page);
    CHECK(r.status == 200);
    CHECK(r.header("content-security-policy").find("frame-ancestors 'none'") != std::string::npos);
    CHECK(r.header("content-security-policy").find("default-src 'self'") != std::string::npos);
    CHECK(r.header("x-frame-options") == "DENY");
    CHECK(r.header("referrer-policy") == "no-referrer");
  }
  for (const char* other : {"/healthz", "/widget.js", "/api/v1/nothing"}) {
    auto r = http_from(srv.port(), "GET", other, {}, as());
    INFO(other);
    CHECK(r.header("x-content-type-options") == "nosniff");
    CHECK(r.header("x-frame-options") == "DENY");
  }
}

TEST_CASE("doors - /metrics only from an allowed address or with the metrics token") {
  server_process srv(test_args({{"doors", {{"metrics_allow", {"127.0.0.2"}}, {"metrics_token", "metrics-secret-1"}}}}));
  CHECK(http_from(srv.port(), "GET", "/metrics", {}, as()).status == 403);
  http_options tok;
  tok.bearer = "metrics-secret-1";
  CHECK(http_from(srv.port(), "GET", "/metrics", {}, tok).status == 200);
  tok.bearer = "wrong";
  CHECK(http_from(srv.port(), "GET", "/metrics", {}, tok).status == 403);
  auto allowed = http_from(srv.port(), "GET", "/metrics", {}, as(bystander));
  CHECK(allowed.status == 200);
  CHECK(allowed.body.find("calma_refused_total{reason=\"metrics\"} 2") != std::string::npos);
}

TEST_CASE("doors - a session is closed with 4401 when its token expires") {
  server_process srv(test_args({{"auth", {{"staff_token_ttl_s", 2}}}, {"routing", {{"queue_snapshot_interval_s", 1}}}}));
  staff agent(srv.port(), "agent");
  REQUIRE(agent->wait_closed(6s));
  CHECK(agent->close_code() == 4401);
  ws_client again(srv.port());
  again.send(json{{"type", "hello"}, {"token", agent.token}});
  REQUIRE(again.wait_closed(5s));
  CHECK(again.close_code() == 4401);
}

TEST_CASE("doors - user text in the operator log cannot forge a line") {
  server_process srv(test_args());
  http(srv.port(), "POST", "/api/v1/login", login_body("eve\n2026-12-01T00:00:00.000 info login: admin (supervisor)", "x"));
  std::this_thread::sleep_for(300ms);  // the log line is written after the answer (another process: no clock)
  const auto out = srv.output();
  CHECK(out.find("\n2026-12-01T00:00:00.000 info login: admin") == std::string::npos);
  CHECK(out.find("eve\\n2026-12-01") != std::string::npos);
}

// libFuzzer target: the HTTP side of calma-server (server/net/http_api), one
// request at a time, on the real http_api with a real hub over a memory store
// holding two conversations (one per demo store), the demo users and static
// files in a temporary folder. Also its pure parts on the raw target:
// resolve_static, query_param, mime_type.
//
// Besides "no crash, no leak, no UB, an answer within 10 s", it checks:
//  - resolve_static never gives a path outside the root (nor a "." or ".."
//    segment, a NUL or a backslash), and no answer ever carries the file
//    placed next to the root;
//  - every answer has an HTTP status, and a JSON answer's body is JSON;
//  - a Content-Encoding is one the request accepted, a 304 has no body and
//    answers an If-None-Match, and no header carries a line break.
// The doors are on (per-address limits for logins and /metrics, with the
// request's client address), as in calma-server.
//
// Input, one field a line: method, target, Authorization (one of the words
// "sup", "agent", "agent2", "shopper" for a valid token of that demo user,
// "-" for none, or the header as written), Origin, then one line of
// tab-separated Content-Type, Accept-Encoding, If-None-Match and the
// client's address ("" fields: none; no address: 127.0.0.1), then the body.
// A login with a well-formed JSON body is not passed on: it would spend
// 210,000 PBKDF2 rounds on every such input (the JSON checks before that are
// fuzzed). Seeds: tests/fuzz/seeds/http (make_seeds.py).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "tests/fuzz/fuzz_common.hpp"
#include <spdlog/spdlog.h>

#include "common/config/config.hpp"
#include "server/auth/crypto.hpp"
#include "server/auth/users.hpp"
#include "server/canned_files.hpp"
#include "server/hub/anger_engine.hpp"
#include "server/hub/hub.hpp"
#include "server/metrics.hpp"
#include "server/net/doors.hpp"
#include "server/net/http_api.hpp"
#include "server/store/memory_store.hpp"

using namespace calma;
using nlohmann::json;
using calma::fuzz::read_file;
namespace fs = std::filesystem;

namespace {

constexpr timestamp_ms now_ms = 1'750'000'000'000;  // a fixed clock: same input, same answer
constexpr std::string_view secret_marker = "SECRET-OUTSIDE-THE-STATIC-ROOT";

struct world {
  config cfg;
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  memory_store store;
  metrics stats;
  auth::token_signer signer{std::string(48, 'k')};
  auth::user_directory users;
  std::shared_ptr<shard_set> h;
  std::unique_ptr<doors> gate;
  std::unique_ptr<http_api> api;
  std::string root;
  std::map<std::string, std::string> tokens;
};
world* w = nullptr;

[[noreturn]] void fail(const char* what, const http_request& req, std::string_view detail = {}) {
  std::fprintf(stderr,
               "fuzz_http: %s\n%s %s\nauthorization: %s\norigin: %s\ncontent-type: %s\naccept-encoding: %s\n"
               "if-none-match: %s\nclient: %s\nbody: %s\n%.*s\n",
               what, req.method.c_str(), req.target.c_str(), req.authorization.c_str(), req.origin.c_str(),
               req.content_type.c_str(), req.accept_encoding.c_str(), req.if_none_match.c_str(), req.client.c_str(),
               req.body.c_str(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void write_file(const fs::path& p, std::string_view body) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << body;
}
[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "fuzz_http: %s\n", why.c_str());
  std::exit(1);
}

template <class F>
void run_until(const std::atomic<bool>& flag, F&& on_timeout) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!flag.load(std::memory_order_acquire)) {
    if (w->ioc.poll() == 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
    if (std::chrono::steady_clock::now() > deadline) on_timeout();
  }
  w->ioc.poll();
}

void seed_store() {
  conversation_record a;
  a.id = "c1";
  a.shopper = {"s1", "Lucía", "es", "demo", {}};
  a.created_ts = a.updated_ts = now_ms - 120'000;
  a.last_seq = 0;
  conversation_record b;
  b.id = "c2";
  b.shopper = {"s2", "Jan", "pl", "demo-pl", {"A-1042", 950.0, "PLN", "vip"}};
  b.state = conversation_state::closed;
  b.agent_id = "agent2";
  b.agent_name = "Piotr Nowak";
  b.created_ts = now_ms - 86'400'000;
  b.updated_ts = now_ms - 80'000'000;
  b.closed_by = "agent2";
  b.follow_up = true;
  b.contact = {"jan@example.pl", "+48 600 100 200", "po 18", now_ms - 85'000'000};
  b.csat_score = 4;
  b.csat_comment = "dzięki";
  b.csat_ts = now_ms - 79'000'000;
  b.categories = {"delivery"};
  for (const auto* c : {&a, &b}) w->store.create_conversation(*c, [](result<none>) {});
  auto say = [](const char* conv, role r, const char* from, const char* text, timestamp_ms ts) {
    append_request q;
    q.message.conversation_id = conv;
    q.message.from = {r, from, from};
    q.message.text = text;
    q.message.client_msg_id = std::string("m") + std::to_string(ts);
    q.message.ts = ts;
    w->store.append_message(q, [](result<append_result>) {});
  };
  say("c1", role::shopper, "s1", "¿Dónde está mi pedido? ESTO ES UNA VERGÜENZA!!!", now_ms - 110'000);
  say("c2", role::shopper, "s2", "Paczka nie dotarła, chcę rozmawiać z kierownikiem", now_ms - 86'000'000);
  say("c2", role::agent, "agent2", "Przepraszam, sprawdzam", now_ms - 85'900'000);
  w->store.append_audit("c2", R"({"action":"closed","ts":1})", [](result<none>) {});
}

// Sends one request through http_api::handle and waits for its answer.
http_response ask(const http_request& req) {
  std::atomic<bool> done{false};
  http_response res;
  w->api->handle(req, [&](http_response r) {
    res = std::move(r);
    done.store(true, std::memory_order_release);
  });
  run_until(done, [&] { fail("no answer within 10 s", req); });
  return res;
}

bool inside_root(const std::string& resolved) {
  if (resolved.rfind(w->root + "/", 0) != 0) return false;
  const std::string rest = resolved.substr(w->root.size());
  if (rest.find('\0') != std::string::npos || rest.find('\\') != std::string::npos) return false;
  for (const auto& seg : fs::path(rest)) {
    if (seg == "." || seg == "..") return false;
  }
  const auto norm = fs::path(resolved).lexically_normal().string();
  return norm.rfind(w->root + "/", 0) == 0 || norm == w->root;
}

bool would_hash(const http_request& req) {
  const auto path = std::string_view(req.target).substr(0, req.target.find('?'));
  if (path != "/api/v1/login" || req.method != "POST") return false;
  auto j = json::parse(req.body, nullptr, false);
  return j.is_object() && j.contains("username") && j.contains("password") && j["username"].is_string() &&
         j["password"].is_string();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  const std::string src = CALMA_SOURCE_DIR;
  w = new world;
  std::vector<std::string> errors;
  auto j = json::parse(read_file(src + "/config/calma.json"), nullptr, false);
  if (!j.is_object()) die("cannot read " + src + "/config/calma.json");
  parse_config(j, w->cfg, errors);
  w->cfg.server.node_id = "fuzz";
  auto users = auth::load_users(src + "/config/users.json", errors);
  w->users.replace(users);
  auto engine = load_anger_engine(w->cfg.anger, w->cfg.escalation, src + "/config/lexicons", errors);
  if (engine) load_causes(*engine, src + "/config/causes", errors);
  auto canned = load_canned(src + "/config/canned", w->cfg.stores, errors);
  if (!errors.empty() || !engine) die("cannot load the configuration: " + (errors.empty() ? std::string("?") : errors[0]));

  // Static files, and one beside the root that must never be served.
  char tmpl[] = "/tmp/calma-fuzz-http-XXXXXX";
  if (!mkdtemp(tmpl)) die("mkdtemp failed");
  const fs::path base = tmpl;
  w->root = (base / "www").string();
  write_file(base / "secret.txt", secret_marker);
  write_file(base / "www-secret" / "index.html", secret_marker);
  write_file(base / "www" / "index.html", "<!doctype html><title>store</title>");
  write_file(base / "www" / "console.html", "<!doctype html><title>console</title>");
  write_file(base / "www" / "pl" / "index.html", "<!doctype html><title>sklep</title>");
  write_file(base / "www" / "widget.js", "console.log(1)");
  // Precompressed variants beside it (any bytes do: they are sent as they are).
  write_file(base / "www" / "widget.js.br", "br-bytes");
  write_file(base / "www" / "widget.js.gz", "gzip-bytes");
  write_file(base / "www" / "assets" / "app-1a2b3c.js.gz", "gzip-bytes");
  write_file(base / "www" / "assets" / "app-1a2b3c.js", "export {}");
  write_file(base / "www" / "assets" / "style.css", "body{}");
  static std::string tmp_dir = base.string();
  std::atexit([] {
    std::error_code ec;
    fs::remove_all(tmp_dir, ec);
  });

  seed_store();
  auto clock = [] { return now_ms; };
  // Two shards asked: the demo's staff join its stores into one group, so one hub, as a server makes it.
  w->h = std::make_shared<shard_set>(
      w->cfg, w->store, w->signer, w->users,
      [&] { return std::make_shared<hub>(w->ioc, w->cfg, w->store, w->stats, w->signer, w->users, clock, engine); }, 2);
  std::atomic<bool> started{false};
  std::string start_error;
  w->h->start([&](std::string e) {
    start_error = std::move(e);
    started.store(true);
  });
  run_until(started, [] { die("the hub did not start"); });
  if (!start_error.empty()) die("the hub did not start: " + start_error);
  w->api = std::make_unique<http_api>(w->cfg, w->h, w->store, w->stats, w->signer, w->users, clock, w->root,
                                      std::move(canned));
  w->gate = std::make_unique<doors>(w->cfg, clock, w->stats);
  w->api->set_doors(w->gate.get());
  auto token = [&](role r, const char* sub, const char* store) {
    auth::claims c;
    c.r = r;
    c.sub = sub;
    c.store = store;
    c.exp = now_ms + 3'600'000;
    return "Bearer " + w->signer.sign(c);
  };
  w->tokens["sup"] = token(role::supervisor, "supervisor", "");
  w->tokens["agent"] = token(role::agent, "agent", "");
  w->tokens["agent2"] = token(role::agent, "agent2", "");
  w->tokens["shopper"] = token(role::shopper, "s1", "demo");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto line = [&in]() {
    const auto nl = in.find('\n');
    std::string out(in.substr(0, nl));
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    return out;
  };
  http_request req;
  req.method = line();
  req.target = line();
  req.authorization = line();
  req.origin = line();
  {
    const std::string h = line();
    std::string* fields[] = {&req.content_type, &req.accept_encoding, &req.if_none_match, &req.client};
    std::size_t at = 0;
    for (auto* f : fields) {
      if (at > h.size()) break;
      const auto tab = h.find('\t', at);
      *f = h.substr(at, tab == std::string::npos ? std::string::npos : tab - at);
      at = tab == std::string::npos ? h.size() + 1 : tab + 1;
    }
    if (req.client.empty()) req.client = "127.0.0.1";
  }
  req.body = std::string(in);
  req.host = "localhost:8080";
  if (auto it = w->tokens.find(req.authorization); it != w->tokens.end()) req.authorization = it->second;
  else if (req.authorization == "-") req.authorization.clear();

  // The pure parts, on the raw target.
  const std::string_view target = req.target;
  const std::string_view path = target.substr(0, target.find('?'));
  if (const auto file = resolve_static(w->root, path); !file.empty() && !inside_root(file))
    fail("resolve_static left the root", req, file);
  if (const auto file = resolve_static(w->root, target); !file.empty() && !inside_root(file))
    fail("resolve_static left the root", req, file);
  for (std::string_view name : {"store", "lang", "from", "to", ""})
    if (query_param(target, name).size() > target.size()) fail("query_param grew", req);
  (void)mime_type(target);
  for (bool br : {false, true})
    for (bool gz : {false, true}) {
      const std::string e = pick_encoding(req.accept_encoding, br, gz);
      if (!(e.empty() || (e == "br" && br) || (e == "gzip" && gz))) fail("pick_encoding chose a variant that is not there", req, e);
    }
  (void)etag_matches(req.if_none_match, "\"0-br\"");

  if (would_hash(req)) return 0;
  const http_response res = ask(req);
  if (res.status < 100 || res.status > 599) fail("not an HTTP status", req, std::to_string(res.status));
  if (res.body.find(secret_marker) != std::string::npos) fail("served a file outside the static root", req);
  if (res.content_type.rfind("application/json", 0) == 0 && !res.body.empty() &&
      json::parse(res.body, nullptr, false).is_discarded())
    fail("a JSON answer that is not JSON", req, res.body);
  for (const auto& [k, v] : res.headers) {
    if (k.find_first_of("\r\n") != std::string::npos || v.find_first_of("\r\n") != std::string::npos)
      fail("a header with a line break", req, k + ": " + v);
    if (k == "Content-Encoding" && pick_encoding(req.accept_encoding, v == "br", v == "gzip") != v)
      fail("a Content-Encoding the request did not accept", req, v);
  }
  if (res.status == 304 && (!res.body.empty() || req.if_none_match.empty())) fail("a 304 with a body, or unasked", req);
  return 0;
}

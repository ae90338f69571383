#include "server/net/http_api.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace calma {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

http_response json_response(unsigned status, const json& body) {
  return http_response{status, "application/json", body.dump(), {}};
}

http_response error_response(unsigned status, protocol::error_code code, std::string message) {
  return json_response(status, json{{"error", json{{"code", protocol::to_string(code)}, {"message", std::move(message)}}}});
}

std::string path_of(std::string_view target) {
  auto q = target.find('?');
  return std::string(target.substr(0, q));
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  auto rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      std::string out;
      auto v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '+') out.push_back(' ');
        else if (v[i] == '%' && i + 2 < v.size() + 0 && hexval(v[i + 1]) >= 0 && i + 2 < v.size() && hexval(v[i + 2]) >= 0) {
          out.push_back(static_cast<char>(hexval(v[i + 1]) * 16 + hexval(v[i + 2])));
          i += 2;
        } else out.push_back(v[i]);
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return {};
}

std::string pick_encoding(std::string_view accept_encoding, bool have_br, bool have_gzip) {
  // Tokens with their q (absent: 1); q=0 refuses. "*" stands for the rest.
  double q_br = -1, q_gzip = -1, q_any = -1;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    auto semi = item.find(';');
    auto name = item.substr(0, semi);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    double q = 1;
    if (semi != std::string_view::npos) {
      auto params = item.substr(semi + 1);
      if (auto qp = params.find("q="); qp != std::string_view::npos) q = std::atof(std::string(params.substr(qp + 2)).c_str());
    }
    std::string lower(name);
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower == "br") q_br = q;
    else if (lower == "gzip" || lower == "x-gzip") q_gzip = q;
    else if (lower == "*") q_any = q;
  }
  if (q_br < 0) q_br = q_any;
  if (q_gzip < 0) q_gzip = q_any;
  if (have_br && q_br > 0 && q_br >= q_gzip) return "br";
  if (have_gzip && q_gzip > 0) return "gzip";
  if (have_br && q_br > 0) return "br";
  return {};
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match.empty()) return false;
  std::string_view rest = if_none_match;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.rfind("W/", 0) == 0) item.remove_prefix(2);  // weak comparison, as for GET
    if (item == "*" || item == etag) return true;
  }
  return false;
}

std::string mime_type(std::string_view path) {
  auto dot = path.rfind('.');
  std::string_view ext = dot == std::string_view::npos ? "" : path.substr(dot);
  static const std::map<std::string_view, std::string_view> types{
      {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"}, {".json", "application/json"},
      {".map", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
      {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".gif", "image/gif"},
      {".webp", "image/webp"}, {".ico", "image/x-icon"}, {".woff", "font/woff"},
      {".woff2", "font/woff2"}, {".txt", "text/plain; charset=utf-8"}, {".wav", "audio/wav"},
      {".mp3", "audio/mpeg"}};
  auto it = types.find(ext);
  return std::string(it == types.end() ? "application/octet-stream" : it->second);
}

std::string resolve_static(const std::string& root, std::string_view url_path) {
  // Percent-decode; refuse NUL, backslashes and any ".." segment.
  std::string p;
  for (std::size_t i = 0; i < url_path.size(); ++i) {
    char c = url_path[i];
    if (c == '%') {
      if (i + 2 >= url_path.size()) return {};
      int h = hexval(url_path[i + 1]), l = hexval(url_path[i + 2]);
      if (h < 0 || l < 0) return {};
      c = static_cast<char>(h * 16 + l);
      i += 2;
    }
    if (c == '\0' || c == '\\') return {};
    p.push_back(c);
  }
  if (p.empty() || p[0] != '/') return {};
  std::size_t start = 1;
  while (start <= p.size()) {
    auto end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    auto seg = std::string_view(p).substr(start, end - start);
    if (seg == ".." || seg == ".") return {};
    start = end + 1;
  }
  return root + p;
}

http_api::http_api(const config& cfg, std::shared_ptr<shard_set> h, store& st, metrics& m,
                   const auth::token_signer& signer, const auth::user_directory& users, clock_fn clock,
                   std::string static_root, canned::library canned, auth::revocations* revoked)
    : cfg_(cfg), hub_(std::move(h)), store_(st), metrics_(m), signer_(signer), users_(users),
      canned_(std::move(canned)), revoked_(revoked), clock_(std::move(clock)), static_root_(std::move(static_root)) {}

std::optional<auth::user> http_api::staff_of(const http_request& req, http_response& refusal) const {
  constexpr std::string_view bearer = "Bearer ";
  if (req.authorization.rfind(bearer, 0) != 0) {
    refusal = error_response(401, protocol::error_code::unauthorized, "send Authorization: Bearer <staff token>");
    return std::nullopt;
  }
  const auto token = std::string_view(req.authorization).substr(bearer.size());
  auto cl = signer_.verify(token, clock_());
  if (cl && revoked_ && revoked_->revoked(auth::token_id(token))) cl.reset();
  auto users = users_.snapshot();
  auto u = cl ? users->find(cl->sub) : users->end();
  if (!cl || !is_staff(cl->r) || u == users->end() || u->second.disabled || u->second.r != cl->r) {
    refusal = error_response(401, protocol::error_code::unauthorized, "bad or expired staff token");
    return std::nullopt;
  }
  return u->second;
}

std::optional<std::vector<std::string>> http_api::stores_for(const auth::user& u, const std::string& target,
                                                             http_response& refusal) const {
  const std::string store = query_param(target, "store");
  if (!store.empty()) {
    if (!cfg_.find_store(store)) {
      refusal = error_response(404, protocol::error_code::not_found, "no such store");
      return std::nullopt;
    }
    if (!u.serves(store)) {
      refusal = error_response(403, protocol::error_code::forbidden, "not one of your stores");
      return std::nullopt;
    }
    return std::vector<std::string>{store};
  }
  std::vector<std::string> out;
  for (const auto& st : cfg_.stores)
    if (u.serves(st.id)) out.push_back(st.id);
  return out;
}

http_api::~http_api() { hash_pool_.join(); }

void http_api::handle(http_request req, std::function<void(http_response)> done) {
  ++metrics_.http_requests;
  const std::string path = path_of(req.target);
  const bool get = req.method == "GET" || req.method == "HEAD";

  if (path == "/healthz" && get) {
    store_.ping([this, done = std::move(done)](result<none> r) {
      json body{{"status", r.ok() ? "ok" : "unavailable"}, {"store", std::string(store_.kind())},
                {"node_id", cfg_.server.node_id}, {"ts", clock_()}};
      if (!r.ok()) body["error"] = r.error;
      bool serving = r.ok();
      if (health_extra_) {
        body["cluster"] = health_extra_();
        // A node refusing its clients (it plans other shards than the cluster) is not healthy for a balancer.
        if (body["cluster"].value("refusing_clients", false)) {
          serving = false;
          body["status"] = "unavailable";
          body["error"] = "this node plans other hub shards than the cluster";
        }
      }
      done(json_response(serving ? 200 : 503, body));
    });
    return;
  }
  if (path == "/metrics" && get) {
    if (doors_ && !doors_->metrics_allowed(req.client, req.authorization)) {
      metrics_.refused(refusal::metrics);
      return done(error_response(403, protocol::error_code::forbidden,
                                 "metrics are for the operator: from an allowed address or with the metrics token"));
    }
    return done(http_response{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.render(clock_()), {}});
  }
  if (path == "/api/v1/login") {
    if (req.method != "POST")
      return done(http_response{405, "application/json", R"({"error":{"code":"bad_request","message":"use POST"}})", {{"Allow", "POST"}}});
    return login(req, std::move(done));
  }
  if (path == "/api/v1/logout") {
    if (req.method != "POST")
      return done(http_response{405, "application/json", R"({"error":{"code":"bad_request","message":"use POST"}})", {{"Allow", "POST"}}});
    constexpr std::string_view bearer = "Bearer ";
    if (req.authorization.rfind(bearer, 0) != 0)
      return done(error_response(401, protocol::error_code::unauthorized, "send Authorization: Bearer <token>"));
    const auto token = std::string_view(req.authorization).substr(bearer.size());
    auto cl = signer_.verify(token, clock_());
    const auto id = auth::token_id(token);
    if (!cl || (revoked_ && revoked_->revoked(id)))
      return done(error_response(401, protocol::error_code::unauthorized, "bad, expired or signed-out token"));
    if (revoked_) revoked_->revoke(id, cl->exp, clock_());
    spdlog::info("signed out: {} ({})", limits::log_safe(cl->sub), to_string(cl->r));
    if (on_signed_out_) on_signed_out_(id, cl->exp);
    return done(http_response{204, "application/json", "", {}});
  }
  constexpr std::string_view conv_prefix = "/api/v1/conversations/";
  if (path.rfind(conv_prefix, 0) == 0) {
    if (!get) return done(error_response(405, protocol::error_code::bad_request, "use GET"));
    std::string id = path.substr(conv_prefix.size());
    if (!protocol::valid_id(id, cfg_.limits.max_id_bytes))
      return done(error_response(404, protocol::error_code::not_found, "no such conversation"));
    http_response refusal;
    auto u = staff_of(req, refusal);
    if (!u) return done(std::move(refusal));
    participant who{u->r, u->username, u->name};
    hub_->conversation_detail(who, id, [done = std::move(done)](hub::http_answer a) {
      done(json_response(a.status, a.body));
    });
    return;
  }
  constexpr std::string_view stores_prefix = "/api/v1/stores/";
  if (path.rfind(stores_prefix, 0) == 0 && path.size() > stores_prefix.size() + 7 &&
      path.compare(path.size() - 7, 7, "/widget") == 0) {
    if (!get) return done(error_response(405, protocol::error_code::bad_request, "use GET"));
    std::string id = path.substr(stores_prefix.size(), path.size() - stores_prefix.size() - 7);
    if (!protocol::valid_id(id, 64)) return done(error_response(404, protocol::error_code::not_found, "no such store"));
    // The widget on the store's own site (another origin) may read it: CORS for that store's origins.
    std::string allow;
    if (const auto* st = cfg_.find_store(id); st && !req.origin.empty() && origin_allowed(cfg_, st, req.origin, req.host))
      allow = req.origin;
    hub_->widget_status(id, [done = std::move(done), allow](hub::http_answer a) {
      auto r = json_response(a.status, a.body);
      // Public and cheap to ask: let the widget's page cache it for a little while.
      r.headers.emplace_back("Cache-Control", "max-age=15");
      r.headers.emplace_back("Vary", "Origin");
      if (!allow.empty()) r.headers.emplace_back("Access-Control-Allow-Origin", allow);
      done(std::move(r));
    });
    return;
  }
  if (path == "/api/v1/canned" || path == "/api/v1/followups") {
    if (!get) return done(error_response(405, protocol::error_code::bad_request, "use GET"));
    http_response refusal;
    auto u = staff_of(req, refusal);
    if (!u) return done(std::move(refusal));
    auto stores = stores_for(*u, req.target, refusal);
    if (!stores) return done(std::move(refusal));
    if (path == "/api/v1/followups") {
      participant who{u->r, u->username, u->name};
      hub_->followups(who, *stores, [done = std::move(done)](hub::http_answer a) { done(json_response(a.status, a.body)); });
      return;
    }
    const std::string lang = query_param(req.target, "lang");
    if (!lang.empty() && !protocol::valid_id(lang, 16))
      return done(error_response(400, protocol::error_code::bad_request, "lang must be a language code such as es"));
    json out = json::array();
    for (const auto& st : *stores) {
      auto it = canned_.find(st);
      if (it == canned_.end()) continue;
      for (const auto& [l, answers] : it->second) {
        if (!lang.empty() && l != lang) continue;
        for (const auto& a : answers) {
          auto j = canned::to_json(a);
          if (stores->size() > 1) j["store"] = st;
          out.push_back(std::move(j));
        }
      }
    }
    return done(json_response(200, json{{"responses", std::move(out)}}));
  }
  if (path == "/api/v1/reports/summary" || path == "/api/v1/reports/conversations.csv") {
    if (!get) return done(error_response(405, protocol::error_code::bad_request, "use GET"));
    return report(req, path, std::move(done));
  }
  if (path.rfind("/api/", 0) == 0) return done(error_response(404, protocol::error_code::not_found, "no such endpoint"));
  if (!get) return done(error_response(405, protocol::error_code::bad_request, "method not allowed"));
  serve_static(path, req, std::move(done));
}

void http_api::report(const http_request& req, const std::string& path, std::function<void(http_response)> done) {
  http_response refusal;
  auto u = staff_of(req, refusal);
  if (!u) return done(std::move(refusal));
  if (u->r != role::supervisor) return done(error_response(403, protocol::error_code::forbidden, "reports are for supervisors"));
  auto stores = stores_for(*u, req.target, refusal);
  if (!stores) return done(std::move(refusal));
  auto ms = [&](const char* name) -> std::optional<timestamp_ms> {
    const auto v = query_param(req.target, name);
    if (v.empty() || v.size() > 15 || v.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoll(v);
  };
  const auto from = ms("from"), to = ms("to");
  if (!from || !to)
    return done(error_response(400, protocol::error_code::bad_request, "give from and to as milliseconds since the epoch"));
  if (*from >= *to) return done(error_response(400, protocol::error_code::bad_request, "the window is reversed or empty: from must be before to"));
  if (*to - *from > static_cast<timestamp_ms>(report_runner::max_window_days) * 86'400'000)
    return done(error_response(400, protocol::error_code::bad_request,
                               "the window is longer than " + std::to_string(report_runner::max_window_days) + " days"));
  window_query q;
  q.from = *from;
  q.to = *to;
  q.stores = *stores;
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".csv") == 0) {
    return reports_.csv(q, [done = std::move(done)](result<std::string> r) {
      if (!r.ok()) return done(error_response(503, protocol::error_code::unavailable, "store unavailable"));
      http_response res{200, "text/csv; charset=utf-8", std::move(r.value), {}};
      res.headers.emplace_back("Content-Disposition", "attachment; filename=\"calma-conversations.csv\"");
      done(std::move(res));
    });
  }
  reports_.summary(q, [done = std::move(done), q](result<json> r) {
    if (!r.ok()) return done(error_response(503, protocol::error_code::unavailable, "store unavailable"));
    r.value["from"] = q.from;
    r.value["to"] = q.to;
    r.value["stores"] = q.stores;
    done(json_response(200, r.value));
  });
}

namespace {
http_response refusal_response(const door_refusal& r) {
  auto res = error_response(r.status, r.status == 503 ? protocol::error_code::unavailable : protocol::error_code::rate_limited,
                            r.message);
  res.headers.emplace_back("Retry-After", std::to_string(r.retry_after_s));
  return res;
}

bool is_json(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  std::string lower(t);
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return lower == "application/json";
}
}  // namespace

void http_api::check_in_turn(const std::string& client, std::function<void()> job) {
  {
    std::lock_guard lk(checks_mu_);
    checks_.push(limits::address_key(client), std::move(job));
  }
  // One task per job; each runs whichever job's turn it is.
  boost::asio::post(hash_pool_, [this] {
    std::function<void()> next;
    {
      std::lock_guard lk(checks_mu_);
      if (auto j = checks_.pop()) next = std::move(*j);
    }
    if (next) next();
  });
}

void http_api::login(const http_request& req, std::function<void(http_response)> done) {
  // A form on another site can post text/plain without asking; JSON it cannot.
  if (!is_json(req.content_type)) {
    metrics_.refused(refusal::content_type);
    return done(error_response(415, protocol::error_code::bad_request, "send Content-Type: application/json"));
  }
  auto j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("username") || !j.contains("password") ||
      !j["username"].is_string() || !j["password"].is_string())
    return done(error_response(400, protocol::error_code::bad_request,
                               "send JSON {\"username\": \"...\", \"password\": \"...\"}"));
  std::string username = j["username"].get<std::string>();
  std::string password = j["password"].get<std::string>();
  if (username.size() > 128 || password.size() > 1024)
    return done(error_response(400, protocol::error_code::too_large, "username or password too long"));
  if (doors_) {
    if (auto r = doors_->login_attempt(req.client, username)) {
      ++metrics_.logins_failed;
      return done(refusal_response(*r));
    }
    // Password checks are slow on purpose: a bounded queue of them, and when
    // it is full an answer at once rather than a wait nobody can bound.
    if (!doors_->enter_login_queue())
      return done(refusal_response(door_refusal{503, refusal::login_queue, 1, "too many logins at once; try again"}));
  }
  // Checks are taken round-robin by client address: a backlog from one
  // address does not make another address's login wait behind all of it.
  check_in_turn(req.client, [this, username = std::move(username), password = std::move(password),
                             client = req.client, done = std::move(done)]() mutable {
    auto users = users_.snapshot();
    auto u = users->find(username);
    // Unknown users cost the same time as known ones: no user enumeration by timing.
    static const std::string dummy = auth::hash_password("calma-dummy");
    bool ok = auth::verify_password(password, u == users->end() ? dummy : u->second.password_hash) &&
              u != users->end() && !u->second.disabled;
    http_response res;
    if (!ok) {
      ++metrics_.logins_failed;
      spdlog::warn("login refused for '{}' from {}", limits::log_safe(username), limits::log_safe(client, 64));
      res = error_response(401, protocol::error_code::unauthorized, "wrong username or password");
    } else {
      ++metrics_.logins_ok;
      spdlog::info("login: {} ({})", limits::log_safe(username), to_string(u->second.r));
      auth::claims cl;
      cl.r = u->second.r;
      cl.sub = u->second.username;
      cl.exp = clock_() + static_cast<timestamp_ms>(cfg_.auth.staff_token_ttl_s) * 1000;
      res = json_response(200, json{{"token", signer_.sign(cl)}, {"role", to_string(cl.r)},
                                    {"user_id", cl.sub}, {"name", u->second.name},
                                    {"expires_ts", cl.exp}});
    }
    if (!doors_) return done(std::move(res));
    doors_->leave_login_queue();
    // A name guessed at from everywhere: its answers are held a little (a
    // timer, not the checking thread), whoever asks; nobody is locked out.
    const int hold_ms = doors_->login_result(client, username, ok);
    if (hold_ms <= 0) return done(std::move(res));
    auto t = std::make_shared<boost::asio::steady_timer>(hash_pool_.get_executor(), std::chrono::milliseconds(hold_ms));
    t->async_wait([t, res = std::move(res), done = std::move(done)](const boost::system::error_code&) mutable {
      done(std::move(res));
    });
  });
}

void http_api::serve_static(const std::string& path, const http_request& req, std::function<void(http_response)> done) {
  std::string p = path;
  if (p == "/console" || p == "/console/") p = "/console.html";
  else if (!p.empty() && p.back() == '/') p += "index.html";  // "/" and the other store pages ("/pl/")
  std::string file = resolve_static(static_root_, p);
  std::error_code ec;
  // "/pl" as "/pl/": a folder's page (the other demo stores).
  if (!file.empty() && fs::is_directory(file, ec) && fs::is_regular_file(file + "/index.html", ec)) file += "/index.html";
  if (!file.empty() && fs::is_regular_file(file, ec)) {
    // The build wrote file.br and file.gz beside it (client-web/scripts/precompress.mjs):
    // the smallest the client takes is sent as it is, never compressed per request.
    const std::string coding = pick_encoding(req.accept_encoding, fs::exists(file + ".br", ec), fs::exists(file + ".gz", ec));
    const std::string sent = coding.empty() ? file : file + (coding == "br" ? ".br" : ".gz");
    const auto size = fs::file_size(sent, ec);
    const auto mtime = fs::last_write_time(sent, ec).time_since_epoch().count();
    char tag[64];
    std::snprintf(tag, sizeof tag, "\"%llx-%llx%s%s\"", static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(mtime), coding.empty() ? "" : "-", coding.c_str());
    // Built assets carry a hash in their names: cached for good. Pages and
    // widget.js revalidate, cheaply: a matching ETag answers 304 without a body.
    const bool hashed = p.rfind("/assets/", 0) == 0;
    http_response r{200, mime_type(file), {}, {}};
    r.headers.emplace_back("Cache-Control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
    r.headers.emplace_back("ETag", tag);
    r.headers.emplace_back("Vary", "Accept-Encoding");
    if (etag_matches(req.if_none_match, tag)) {
      r.status = 304;
      return done(std::move(r));
    }
    if (!coding.empty()) r.headers.emplace_back("Content-Encoding", coding);
    std::ifstream in(sent, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    r.body = ss.str();
    return done(std::move(r));
  }
  if (p == "/index.html" || p == "/console.html") {
    // The web client is not built: say so plainly instead of a bare 404.
    return done(http_response{200, "text/html; charset=utf-8",
                              "<!doctype html><meta charset=utf-8><title>Calma</title>"
                              "<h1>Calma is running</h1><p>The web client is not built yet: run "
                              "<code>scripts/calma demo</code> (or <code>npm ci && npm run build</code> in "
                              "<code>client-web/</code>). The WebSocket endpoint is <code>/ws</code>.</p>",
                              {}});
  }
  done(error_response(404, protocol::error_code::not_found, "not found"));
}

}  // namespace calma

// calma-bench-fanout: what staff receive when many colleagues come online and
// many conversations are set up. A benchmark program, not a ctest test (see
// README.md here). It starts calma-server (or --server PATH) on 127.0.0.1 with a
// temporary config and users file, then:
//
//   1. online:        S supervisors connect, then A agents log in (HTTP, not
//                     measured) and connect with P handshakes in flight; each
//                     says hello and is online. Time from the first connect to
//                     the last welcome, then until every staff connection has
//                     been quiet for --quiet-ms (what the server sent because
//                     they came online, coalesced snapshots included).
//   2. conversations: C shoppers connect and each opens a conversation; time
//                     until every one is assigned (the shopper's
//                     conversation.assigned), then until quiet again.
//
// For each phase: payload bytes and frames received per agent (mean, max) and
// per supervisor, by frame type. With --ask-colleagues every agent asks
// agents.list once after phase 1 (what a console does when its agent opens the
// transfer list): that cost is reported on its own.
//
// One io_context, one thread, every connection on it; every wait is bounded.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tests/bench/common/bench_support.hpp"
#include "tests/support/harness.hpp"

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using sclock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const sclock::time_point t0 = sclock::now();
double now_s() { return std::chrono::duration<double>(sclock::now() - t0).count(); }
void log(const std::string& s) {
  std::cerr << "[fanout " << std::fixed << std::setprecision(2) << now_s() << "s] " << s << std::endl;
}
[[noreturn]] void die(const std::string& s) { throw std::runtime_error(s); }

struct options {
  std::string server;
  int agents = 1000;
  int supervisors = 1;
  int conversations = 1000;
  int parallel = 100;
  int capacity = 4;
  int quiet_ms = 1500;
  double phase_timeout = 180;
  bool ask_colleagues = false;
  bool json_out = false;
  std::string label;
};

/// The command line (CLI11). Exits after --help (0) or a bad option (non-zero, the reason on stderr).
options parse_args(int argc, char** argv) {
  options o;
  CLI::App app{"calma-bench-fanout: staff fan-out when agents come online and conversations start"};
  app.add_option("--server", o.server, "calma-server to start (default: <build>/server/calma-server)");
  app.add_option("--agents", o.agents, "agents coming online")->check(CLI::Range(1, 5000))->capture_default_str();
  app.add_option("--supervisors", o.supervisors, "supervisors connected before them")->check(CLI::Range(0, 50))->capture_default_str();
  app.add_option("--conversations", o.conversations, "shoppers that then open a conversation each (0: skip)")
      ->check(CLI::Range(0, 20000))->capture_default_str();
  app.add_option("--parallel", o.parallel, "handshakes in flight")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--capacity", o.capacity, "routing.default_capacity")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--quiet-ms", o.quiet_ms, "a phase ends when no staff connection got a frame this long")
      ->check(CLI::Range(1, 600000))->capture_default_str();
  app.add_option("--phase-timeout", o.phase_timeout, "bound of each phase (s)")->check(CLI::Range(1e-9, 900.0))->capture_default_str();
  app.add_flag("--ask-colleagues", o.ask_colleagues, "after phase 1 every agent sends agents.list once (the transfer list)");
  app.add_option("--label", o.label, "printed with the results (e.g. before / after)");
  app.add_flag("--json", o.json_out, "one JSON object on stdout (the readable report goes to stderr)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return o;
}

/// The frame's top-level "type". Small frames are parsed; big ones (snapshots
/// can be 100s of KB) are searched from the end: the server's keys are sorted,
/// so the top-level "type" comes after the nested objects that hold one.
std::string frame_type(const char* p, std::size_t n) {
  if (n < 64 * 1024) {
    auto j = json::parse(p, p + n, nullptr, false);
    if (j.is_object() && j.contains("type") && j["type"].is_string()) return j["type"].get<std::string>();
    return "?";
  }
  static const std::string key = "\"type\":\"";
  std::string_view v(p, n);
  auto at = v.rfind(key);
  if (at == std::string_view::npos) return "?";
  at += key.size();
  auto q = v.find('"', at);
  return std::string(v.substr(at, q == std::string_view::npos ? 0 : q - at));
}

enum class kind { agent, supervisor, shopper };

/// What one connection received, since it connected.
struct tally {
  std::uint64_t bytes = 0, frames = 0;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> by_type;  // type -> (frames, bytes)
  std::uint64_t max_frame = 0;
};

struct conn : calma::bench::ws_conn {
  conn(asio::io_context& ioc, kind k, int idx) : ws_conn(ioc), k(k), idx(idx) {
    on_bytes = [this](std::string_view f) {
      auto type = frame_type(f.data(), f.size());
      t.bytes += f.size();
      ++t.frames;
      auto& bt = t.by_type[type];
      ++bt.first;
      bt.second += f.size();
      t.max_frame = std::max<std::uint64_t>(t.max_frame, f.size());
      if (on_frame) on_frame(*this, type, f.data(), f.size());
    };
    on_end = [this](const beast::error_code& ec) {
      static int shown = 0;
      if (shown++ < 5)
        log("connection closed (" + ec.message() + ", code " + std::to_string(close_code) + " " +
            std::string(ws.reason().reason.c_str()) + ")");
    };
  }
  kind k;
  int idx;
  std::string token;
  bool welcomed = false, assigned = false;
  double welcomed_at = 0;
  tally t;
  std::function<void(conn&, const std::string& type, const char*, std::size_t)> on_frame;

  bool failed() const { return !fail.empty(); }
  void connect(std::uint16_t port, std::function<void(conn&, bool)> done) {
    ws_conn::connect(port, 30s, 30s, 256 << 20, [this, done](bool ok) { done(*this, ok); });
  }
};
using conn_ptr = std::shared_ptr<conn>;

struct runner {
  options opt;
  asio::io_context ioc{1};
  std::unique_ptr<calma::test::server_process> srv;
  std::vector<std::string> temp_files;
  std::uint16_t port = 0;
  std::vector<conn_ptr> agents, sups, shoppers;
  double last_staff_frame = 0;
  std::size_t assigned = 0;
  std::size_t lists = 0;  // agents.list answers (or errors) received by agents
  std::string server_bin;

  explicit runner(options o) : opt(std::move(o)) {}

  bool run_until(const std::function<bool()>& pred, double timeout_s) {
    const double until = now_s() + timeout_s;
    while (!pred()) {
      if (now_s() >= until) return false;
      ioc.restart();
      ioc.run_for(5ms);
    }
    return true;
  }

  /// Until no staff connection got a frame for quiet_ms (bounded).
  bool settle(double timeout_s) {
    return run_until([&] { return now_s() - last_staff_frame >= opt.quiet_ms / 1000.0; }, timeout_s);
  }

  std::string default_server() {
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {  // <build>/tests/bench/fanout/calma-bench-fanout -> <build>/server/calma-server
      auto p = exe.parent_path().parent_path().parent_path().parent_path() / "server" / "calma-server";
      if (std::filesystem::exists(p)) return p.string();
    }
    return "calma-server";
  }

  void start_server() {
    server_bin = opt.server.empty() ? default_server() : opt.server;
    if (!std::filesystem::exists(server_bin)) die("no calma-server at " + server_bin + " (use --server PATH)");
    const std::string pw = "fanoutpass";
    const auto hash = calma::bench::hash_password("calma-fanout", server_bin, pw);
    json users = json::array();
    for (int i = 1; i <= opt.agents; ++i)
      users.push_back(json{{"username", "fanagent" + std::to_string(i)}, {"name", "Fanout Agent " + std::to_string(i)},
                           {"role", "agent"}, {"password_hash", hash}});
    for (int i = 1; i <= opt.supervisors; ++i)
      users.push_back(json{{"username", "fansup" + std::to_string(i)}, {"name", "Fanout Supervisor " + std::to_string(i)},
                           {"role", "supervisor"}, {"password_hash", hash}});
    // Every door wide open: this measures fan-out, not the doors.
    json cfg{{"server", {{"bind", "127.0.0.1"}}},
             {"websocket", {{"idle_timeout_s", 3600}, {"send_queue_messages", 1'000'000}, {"send_queue_bytes", 1LL << 31}}},
             {"rate_limit", {{"frames_per_s", 1e6}, {"burst", 1e6}}},
             {"auth", {{"login_attempts_per_minute", 100000}, {"token_secret", "fanout-bench-secret-0123456789abcdef"}}},
             {"doors", calma::bench::doors_wide_open(10000)},
             {"routing", {{"default_capacity", opt.capacity}}}};
    auto cfg_path = calma::bench::write_temp("calma-fanout", cfg.dump(2), "config.json");
    auto users_path = calma::bench::write_temp("calma-fanout", users.dump(), "users.json");
    temp_files = {cfg_path, users_path};
    srv = std::make_unique<calma::test::server_process>(
        server_bin, std::vector<std::string>{"--port", "0", "--bind", "127.0.0.1", "--config", cfg_path, "--users", users_path},
        true);
    port = srv->port();
    log("started " + server_bin + " (pid " + std::to_string(srv->pid()) + ") on port " + std::to_string(port));
  }

  void stop_server() {
    if (srv) {
      if (srv->signal_and_wait(SIGTERM, 10s) < 0) srv->signal_and_wait(SIGKILL, 10s);
      srv.reset();
    }
    for (const auto& f : temp_files) std::filesystem::remove(f);
  }

  conn_ptr make(kind k, int idx) {
    auto c = std::make_shared<conn>(ioc, k, idx);
    c->on_frame = [this](conn& cn, const std::string& type, const char* p, std::size_t n) {
      if (cn.k != kind::shopper) last_staff_frame = now_s();
      if (type == "welcome" && !cn.welcomed) {
        cn.welcomed = true;
        cn.welcomed_at = now_s();
        if (cn.k == kind::shopper)
          cn.send(json{{"type", "chat.send"}, {"client_msg_id", "open1"}, {"text", "Hello, where is my order?"}}.dump());
      }
      if (type == "agents.list" || (type == "error" && cn.k == kind::agent)) ++lists;  // answered (or refused)
      if (type == "conversation.assigned" && cn.k == kind::shopper && !cn.assigned) {
        cn.assigned = true;
        ++assigned;
      }
      if (type == "error") {
        auto j = json::parse(p, p + n, nullptr, false);
        static int shown = 0;
        if (shown++ < 5) log("error frame: " + j.dump());
      }
    };
    return c;
  }

  /// Connects every one (P at a time; hello once connected); true when all are welcomed.
  bool connect_all(std::vector<conn_ptr>& cs, double timeout_s) {
    std::size_t next = 0, finished = 0;
    std::function<void()> launch = [&] {
      auto c = cs[next++];
      c->connect(port, [&](conn& cn, bool ok) {
        if (ok) {
          if (cn.k == kind::shopper)
            cn.send(json{{"type", "hello"}, {"role", "shopper"}, {"store", "demo"},
                         {"name", "Shopper " + std::to_string(cn.idx)}, {"language", "en"}}.dump());
          else cn.send(json{{"type", "hello"}, {"token", cn.token}}.dump());
        }
        ++finished;
        if (next < cs.size()) launch();
      });
    };
    for (int i = 0; i < opt.parallel && next < cs.size(); ++i) launch();
    bool ok = run_until(
        [&] {
          if (finished < cs.size()) return false;
          for (auto& c : cs)
            if (!c->welcomed && !c->failed() && !c->closed) return false;
          return true;
        },
        timeout_s);
    // The handlers above refer to locals: let none outlive them.
    run_until([&] { return finished == next; }, 30);
    std::size_t good = 0;
    for (auto& c : cs) good += c->welcomed;
    return ok && good == cs.size();
  }

  static std::vector<tally> snapshot(const std::vector<conn_ptr>& cs) {
    std::vector<tally> v;
    for (auto& c : cs) v.push_back(c->t);
    return v;
  }

  /// What `cs` received since `before` (same order), summarised.
  static json delta(const std::vector<conn_ptr>& cs, const std::vector<tally>& before) {
    std::uint64_t total = 0, max = 0, frames = 0, max_frame = 0;
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> types;
    for (std::size_t i = 0; i < cs.size(); ++i) {
      const auto& a = cs[i]->t;
      const tally b = i < before.size() ? before[i] : tally{};
      const auto bytes = a.bytes - b.bytes;
      total += bytes;
      frames += a.frames - b.frames;
      max = std::max(max, bytes);
      max_frame = std::max(max_frame, a.max_frame);
      for (const auto& [t, v] : a.by_type) {
        auto old = b.by_type.count(t) ? b.by_type.at(t) : std::pair<std::uint64_t, std::uint64_t>{0, 0};
        auto& d = types[t];
        d.first += v.first - old.first;
        d.second += v.second - old.second;
      }
    }
    const double n = cs.empty() ? 1.0 : static_cast<double>(cs.size());
    json by = json::object();
    for (const auto& [t, v] : types)
      if (v.first) by[t] = json{{"frames", v.first}, {"bytes", v.second}};
    return json{{"connections", cs.size()},
                {"bytes_total", total},
                {"bytes_mean", static_cast<double>(total) / n},
                {"bytes_max", max},
                {"frames_mean", static_cast<double>(frames) / n},
                {"largest_frame", max_frame},
                {"by_type", by}};
  }

  static std::string kib(double b) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(b < 10 * 1024 ? 2 : 1) << b / 1024.0 << " KiB";
    return o.str();
  }

  static void describe(const std::string& who, const json& d) {
    std::ostringstream o;
    o << "  " << who << ": " << kib(d["bytes_mean"].get<double>()) << " each (max " << kib(d["bytes_max"].get<double>())
      << "), " << std::fixed << std::setprecision(1) << d["frames_mean"].get<double>() << " frames each, total "
      << kib(d["bytes_total"].get<double>()) << ";";
    for (const auto& [t, v] : d["by_type"].items())
      o << " " << t << " " << v["frames"].get<std::uint64_t>() << "/" << kib(v["bytes"].get<double>());
    log(o.str());
  }

  int run() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    start_server();
    json report{{"label", opt.label}, {"server", server_bin}, {"agents", opt.agents}, {"supervisors", opt.supervisors},
                {"conversations", opt.conversations}, {"parallel", opt.parallel}, {"nproc", sysconf(_SC_NPROCESSORS_ONLN)}};
    int rc = 0;
    try {
      for (int i = 1; i <= opt.supervisors; ++i) {
        auto c = make(kind::supervisor, i);
        c->token = calma::test::login(port, "fansup" + std::to_string(i), "fanoutpass");
        sups.push_back(c);
      }
      for (int i = 1; i <= opt.agents; ++i) {
        auto c = make(kind::agent, i);
        c->token = calma::test::login(port, "fanagent" + std::to_string(i), "fanoutpass");
        agents.push_back(c);
      }
      log("logged in " + std::to_string(opt.agents) + " agents and " + std::to_string(opt.supervisors) + " supervisors");
      if (!sups.empty() && !connect_all(sups, 30)) die("supervisors did not connect");
      settle(10);

      // ---- phase 1: agents come online
      auto sup0 = snapshot(sups);
      const double t1 = now_s();
      const bool ok1 = connect_all(agents, opt.phase_timeout);
      const double welcomed1 = now_s() - t1;
      settle(opt.phase_timeout);
      const double quiet1 = now_s() - t1 - opt.quiet_ms / 1000.0;
      json p1{{"welcomed_all", ok1}, {"connect_s", welcomed1}, {"until_quiet_s", quiet1},
              {"agents", delta(agents, {})}, {"supervisors", delta(sups, sup0)}};
      log((ok1 ? "" : "NOT ALL WELCOMED: ") + std::to_string(opt.agents) + " agents online: last welcome after " +
          std::to_string(welcomed1) + " s, quiet after " + std::to_string(quiet1) + " s");
      describe("agents", p1["agents"]);
      if (!sups.empty()) describe("supervisors", p1["supervisors"]);
      report["online"] = p1;

      // ---- agents ask for their colleagues once (the transfer list)
      if (opt.ask_colleagues) {
        auto a0 = snapshot(agents);
        const double t = now_s();
        const std::size_t before = lists;
        for (auto& a : agents) a->send(json{{"type", "agents.list"}}.dump());
        run_until([&] { return lists - before >= agents.size(); }, opt.phase_timeout);
        settle(opt.phase_timeout);
        json pa{{"until_quiet_s", now_s() - t - opt.quiet_ms / 1000.0}, {"agents", delta(agents, a0)}};
        log("every agent asked agents.list once:");
        describe("agents", pa["agents"]);
        report["ask_colleagues"] = pa;
      }

      // ---- phase 2: conversations
      if (opt.conversations > 0) {
        auto a0 = snapshot(agents);
        auto s0 = snapshot(sups);
        for (int i = 1; i <= opt.conversations; ++i) shoppers.push_back(make(kind::shopper, i));
        const double t2 = now_s();
        connect_all(shoppers, opt.phase_timeout);
        const bool ok2 = run_until([&] { return assigned == shoppers.size(); }, opt.phase_timeout);
        const double assigned2 = now_s() - t2;
        settle(opt.phase_timeout);
        const double quiet2 = now_s() - t2 - opt.quiet_ms / 1000.0;
        json p2{{"assigned", assigned}, {"assigned_all", ok2}, {"assigned_s", assigned2}, {"until_quiet_s", quiet2},
                {"agents", delta(agents, a0)}, {"supervisors", delta(sups, s0)}, {"shoppers", delta(shoppers, {})}};
        log((ok2 ? "" : "NOT ALL ASSIGNED: ") + std::to_string(assigned) + "/" + std::to_string(opt.conversations) +
            " conversations assigned after " + std::to_string(assigned2) + " s, quiet after " + std::to_string(quiet2) + " s");
        describe("agents", p2["agents"]);
        if (!sups.empty()) describe("supervisors", p2["supervisors"]);
        describe("shoppers", p2["shoppers"]);
        report["conversations_phase"] = p2;
        if (!ok2) rc = 1;
      }
      if (!ok1) rc = 1;
      int closed = 0;
      for (const auto* set : {&agents, &sups, &shoppers})
        for (const auto& c : *set) closed += c->closed;
      report["closed_by_server"] = closed;
      if (closed) log(std::to_string(closed) + " connections were closed by the server");
      // Whole run, per agent: what 1,000 agents online and their conversations cost each.
      report["total"] = json{{"agents", delta(agents, {})}, {"supervisors", delta(sups, {})}};
      log("whole run:");
      describe("agents", report["total"]["agents"]);
      if (!sups.empty()) describe("supervisors", report["total"]["supervisors"]);
    } catch (...) {
      stop_server();
      throw;
    }
    for (auto* set : {&agents, &sups, &shoppers})
      for (auto& c : *set) {
        beast::error_code ec;
        beast::get_lowest_layer(c->ws).socket().close(ec);
      }
    ioc.restart();
    ioc.run_for(100ms);
    stop_server();
    if (opt.json_out) std::cout << report.dump(2) << std::endl;
    return rc;
  }
};

}  // namespace

int main(int argc, char** argv) {
  try {
    runner r(parse_args(argc, argv));
    return r.run();
  } catch (const std::exception& e) {
    std::cerr << "calma-bench-fanout: " << e.what() << std::endl;
    return 2;
  }
}

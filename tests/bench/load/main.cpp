// calma-load: a load generator for calma-server that speaks PROTOCOL.md over
// real WebSockets. One io_context on one thread drives every connection
// (no thread per connection); every run is bounded in time and in count.
// It only ever connects to 127.0.0.1.
//
// Scenarios:
//   chat        A agents and S shoppers; each shopper opens a conversation and
//               is assigned; then both sides exchange messages at a target total
//               rate for D seconds. Throughput, ack and delivery latency, errors,
//               and correctness (exactly-once delivery, seq order without gaps).
//   idle        N shoppers connect and say hello; server memory per connection
//               (VmRSS of the server process, when calma-load started it).
//   escalation  S shoppers each ask for a manager while one supervisor is
//               connected; latency from send to escalation.raised at the supervisor.
//
// See README.md next to this file for usage and results.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/protocol/merge.hpp"
#include "tests/bench/common/bench_support.hpp"
#include "tests/support/harness.hpp"

extern char** environ;

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using sclock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const sclock::time_point t0 = sclock::now();
/// Microseconds on the monotonic clock since the program started.
std::int64_t now_us() { return std::chrono::duration_cast<std::chrono::microseconds>(sclock::now() - t0).count(); }

void log(const std::string& s) { std::cerr << "[calma-load " << std::fixed << std::setprecision(1) << now_us() / 1e6 << "s] " << s << std::endl; }

// Fatal errors unwind to main, which stops a server we started before exiting.
[[noreturn]] void die(const std::string& s) { throw std::runtime_error(s); }

// ---------------------------------------------------------------------------
// options

struct options {
  std::string scenario = "chat";
  std::string server;  // path to calma-server
  std::string url;     // http://127.0.0.1:PORT of a running server
  int agents = 20;
  int shoppers = 200;
  double rate = -1;  // messages/s; default per scenario
  double duration = 10;
  int connections = 2000;
  int server_threads = 0;  // 0: the server's default
  int server_shards = 0;   // 0: the server's default
  int stores = 1;          // chat: 1 = the demo store; N: stores load-1..load-N, each with its own agents
  bool watch = false;      // chat: a supervisor of every store watches the whole run
  double setup_timeout = 30;
  double drain_timeout = 5;
  int max_inflight = 50000;
  int connect_parallel = 200;
  std::string agent_prefix = "loadagent";
  std::string supervisor_user = "loadsup";
  std::string password = "loadpass";
  bool json_out = false;
  bool keep_files = false;
  std::string target = "calma";  // calma | relay (tests/bench/peer/relay.mjs)
  std::string relay;             // path to relay.mjs (default: <source>/tests/bench/peer/relay.mjs)
  std::string server_cpus;       // pin the started server: taskset -c LIST
  int words = 7;                 // chat: words per message
  unsigned seed = 42;
};

/// The command line (CLI11). Exits after --help (0) or a bad option (non-zero, the reason on stderr).
options parse_args(int argc, char** argv) {
  options o;
  CLI::App app{"calma-load: load generator for calma-server (127.0.0.1 only)"};
  app.add_option("--scenario", o.scenario, "chat, idle or escalation")
      ->check(CLI::IsMember({"chat", "idle", "escalation"}))->capture_default_str();
  app.add_option("--server", o.server, "calma-server to start (default: <build>/server/calma-server)");
  app.add_option("--url", o.url,
                 "use a running server at http://127.0.0.1:PORT instead; it must know users "
                 "<agent-prefix>1..A and <supervisor> with --password");
  app.add_option("--agents", o.agents, "agents (chat, escalation)")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--shoppers", o.shoppers, "shoppers (chat, escalation)")->check(CLI::Range(1, 50000))->capture_default_str();
  app.add_option("--rate", o.rate, "chat: total messages/s (default 2000); escalation: angry messages/s (default 200)")
      ->check(CLI::Range(1e-9, 1e6));
  app.add_option("--duration", o.duration, "chat: seconds of traffic")->check(CLI::Range(1e-9, 600.0))->capture_default_str();
  app.add_option("--connections", o.connections, "idle: connections")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--server-threads", o.server_threads, "pass --threads T to the started server")->check(CLI::Range(0, 256));
  app.add_option("--server-shards", o.server_shards, "the started server's server.shards (hubs side by side)")
      ->check(CLI::Range(0, 64));
  app.add_option("--stores", o.stores,
                 "chat: spread the shoppers over N stores, each with its own agents (agents i serves store "
                 "load-((i-1) mod N + 1)): stores the server can decide on separate hub shards")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_flag("--watch", o.watch,
               "chat: a supervisor of every store is connected the whole run (with several hub shards: served by "
               "each of them, through a fan-in)");
  app.add_option("--setup-timeout", o.setup_timeout, "seconds allowed for connecting and assigning")
      ->check(CLI::Range(1e-9, 300.0))->capture_default_str();
  app.add_option("--drain-timeout", o.drain_timeout, "seconds to wait for outstanding acks/deliveries")
      ->check(CLI::Range(0.0, 60.0))->capture_default_str();
  app.add_option("--max-inflight", o.max_inflight, "chat: unacked messages beyond which sends are skipped")
      ->check(CLI::Range(1, 10'000'000))->capture_default_str();
  app.add_option("--agent-prefix", o.agent_prefix, "agents' user names (with --url)")->capture_default_str();
  app.add_option("--supervisor", o.supervisor_user, "the supervisor's user name (with --url)")->capture_default_str();
  app.add_option("--password", o.password, "their password (with --url)")->capture_default_str();
  app.add_option("--seed", o.seed, "random seed")->capture_default_str();
  app.add_flag("--keep-files", o.keep_files, "keep the temporary config and users files");
  app.add_option("--target", o.target,
                 "what to start: calma-server, or the Node ws relay of tests/bench/peer "
                 "(no login, no /metrics; same clients, same checks)")
      ->check(CLI::IsMember({"calma", "relay"}))->capture_default_str();
  app.add_option("--relay", o.relay, "relay.mjs to run with --target relay (default: the source tree's)");
  app.add_option("--server-cpus", o.server_cpus, "start the server under `taskset -c LIST` (e.g. 0)");
  app.add_option("--words", o.words, "chat: words per message (16 makes ~150-byte chat.send frames)")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_flag("--json", o.json_out, "print one JSON object on stdout (the readable report goes to stderr)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  if (o.rate < 0) o.rate = o.scenario == "escalation" ? 200 : 2000;
  return o;
}


struct dist {
  std::vector<double> v;  // milliseconds
  void add(double ms) { v.push_back(ms); }
  double pct(double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto i = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size()))) ;
    if (i > 0) --i;
    return v[std::min(i, v.size() - 1)];
  }
  double max() { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }
  double mean() {
    if (v.empty()) return 0;
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
  }
  json to_json() {
    return json{{"count", v.size()}, {"p50_ms", r3(pct(50))}, {"p90_ms", r3(pct(90))}, {"p99_ms", r3(pct(99))},
                {"p999_ms", r3(pct(99.9))}, {"max_ms", r3(max())}, {"mean_ms", r3(mean())}};
  }
  std::string line() {
    std::ostringstream o;
    o << std::fixed << std::setprecision(2) << "p50 " << pct(50) << " ms, p90 " << pct(90) << " ms, p99 " << pct(99)
      << " ms, p99.9 " << pct(99.9) << " ms, max " << max() << " ms (n=" << v.size() << ")";
    return o.str();
  }
  static double r3(double x) { return std::round(x * 1000) / 1000; }
};

// ---------------------------------------------------------------------------
// the server process (when we start it) and /proc readings

// The server this tool starts, through the test harness's process helper.
struct server_proc {
  std::unique_ptr<calma::test::server_process> proc;
  pid_t pid = -1;
  std::uint16_t port = 0;
  std::vector<std::string> temp_files;
  bool keep_files = false;

  void start(const std::string& bin, std::vector<std::string> args) {
    proc = std::make_unique<calma::test::server_process>(bin, std::move(args), true);
    pid = proc->pid();
    port = proc->port();
  }
  /// The same under `taskset -c cpus` (it execs: the pid is the server's).
  void start_pinned(const std::string& cpus, const std::string& bin, std::vector<std::string> args) {
    if (cpus.empty()) return start(bin, std::move(args));
    args.insert(args.begin(), {"-c", cpus, bin});
    start("/usr/bin/taskset", std::move(args));
  }

  // SIGTERM, then SIGKILL; returns the exit status description.
  std::string stop() {
    std::string result = "not started";
    if (proc) {
      int code = proc->signal_and_wait(SIGTERM, 10s);
      if (code < 0) {
        proc->signal_and_wait(SIGKILL, 10s);
        result = "killed after 10 s (did not stop on SIGTERM)";
      } else {
        result = code >= 128 ? "signal " + std::to_string(code - 128) : "exit " + std::to_string(code);
      }
      proc.reset();
      pid = -1;
    }
    if (!keep_files)
      for (const auto& f : temp_files) std::filesystem::remove(f);
    return result;
  }

  bool alive() const { return proc && proc->alive(); }
};

/// VmRSS (or another field) of a process in KiB, -1 if unknown.
long proc_status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

/// CPU seconds (user + system) used by a process so far, -1 if unknown.
double proc_cpu_s(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(in, s);
  auto p = s.rfind(')');
  if (p == std::string::npos) return -1;
  std::istringstream is(s.substr(p + 2));
  std::vector<std::string> f;
  std::string x;
  while (is >> x) f.push_back(x);
  // after ")": state(0) ppid(1) ... utime is field 14 overall -> index 11 here
  if (f.size() < 13) return -1;
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// Scheduler time so far, in ms (/proc/PID/task/*/schedstat): on a CPU, and
/// waiting runnable on a run queue (another process had the core).
struct sched_ms {
  double on_cpu = 0, waiting = 0;
};
struct thread_sched {
  std::string name;
  sched_ms t;
};
/// Each thread of a process, by thread id.
std::map<long, thread_sched> proc_threads(pid_t pid) {
  std::map<long, thread_sched> r;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream st(t.path() / "schedstat"), cm(t.path() / "comm");
    double run_ns = 0, wait_ns = 0;
    if (!(st >> run_ns >> wait_ns)) continue;
    auto& x = r[std::atol(t.path().filename().c_str())];
    std::getline(cm, x.name);
    x.t = {run_ns / 1e6, wait_ns / 1e6};
  }
  return r;
}
/// All of a process's threads together.
sched_ms proc_sched_ms(pid_t pid) {
  sched_ms r;
  for (const auto& [tid, x] : proc_threads(pid)) {
    r.on_cpu += x.t.on_cpu;
    r.waiting += x.t.waiting;
  }
  return r;
}

double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string write_temp(const std::string& text, const std::string& name) {
  return calma::bench::write_temp("calma-load", text, name);
}

// ---------------------------------------------------------------------------
// blocking HTTP (login, /metrics): outside the measured windows

// HTTP through the test harness's client (tests/support): one copy of it.
std::string login(std::uint16_t port, const std::string& user, const std::string& pw) {
  try {
    return calma::test::login(port, user, pw);
  } catch (const std::exception& ex) {
    die(ex.what());
  }
}

/// The Prometheus text of /metrics as name{labels} -> value.
std::map<std::string, double> fetch_metrics(std::uint16_t port) {
  std::map<std::string, double> m;
  try {
    auto r = calma::test::http(port, "GET", "/metrics");
    std::istringstream in(r.body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      auto sp = line.rfind(' ');
      if (sp == std::string::npos) continue;
      m[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    }
  } catch (const std::exception& e) {
    log(std::string("cannot fetch /metrics: ") + e.what());
  }
  return m;
}

// ---------------------------------------------------------------------------
// WebSocket client connections, all on one io_context

enum class role { shopper, agent, supervisor };

struct conn;
using frame_handler = std::function<void(conn&, json&)>;

/// Frames of a type no scenario reads but counts (the server's curve,
/// causes and alerts: a Node relay sends none): counted by their type, not
/// parsed, so that the load generator's own cost per message is alike for
/// every target and its lag does not count as the server's latency.
bool counted_only(std::string_view type) {
  return type == "anger.update" || type == "causes.updated" || type == "agent.alert" || type == "queue.snapshot" ||
         type == "presence" || type == "typing" || type == "read";
}

struct conn : calma::bench::ws_conn {
  conn(asio::io_context& ioc, int idx, role r) : ws_conn(ioc), idx(idx), r(r) {
    on_bytes = [this](std::string_view f) {
      // Escalations are read at a supervisor only (the escalation scenario): an
      // agent's are ~5 KB each, ~1,000 of them in the chat scenario's first seconds.
      if (const auto type = calma::protocol::top_level_type(f);
          on_counted && (counted_only(type) || (this->r != role::supervisor && type == "escalation.raised")))
        return on_counted(*this, type);
      auto j = json::parse(f.begin(), f.end(), nullptr, false);
      if (on_frame) on_frame(*this, j);
    };
    on_end = [this](const beast::error_code&) {
      if (on_closed) on_closed(*this);
    };
  }
  int idx;
  role r;
  std::string token;    // staff token to say hello with
  std::string user_id;  // from welcome
  bool welcomed = false;
  frame_handler on_frame;
  std::function<void(conn&, std::string_view type)> on_counted;  // a counted_only frame
  std::function<void(conn&)> on_closed;
  // chat: per conversation, seqs observed (chat.message, history) and own acked seqs
  struct seen {
    std::int64_t last_delivered = 0;
    std::vector<std::int64_t> seqs;  // every seq this side saw or was acked with
  };
  std::unordered_map<std::string, seen> convs;

  using ws_conn::send;
  void send(const json& j) { send(j.dump()); }
  void connect(std::uint16_t port, std::function<void(conn&, bool)> done) {
    ws_conn::connect(port, 10s, 15s, 64 << 20, [this, done](bool ok) { done(*this, ok); });
  }
};
using conn_ptr = std::shared_ptr<conn>;

/// Opens connections with at most `parallel` handshakes in flight; each one
/// sends its hello once connected. `done` once every one succeeded or failed.
struct connector {
  asio::io_context& ioc;
  std::uint16_t port;
  int parallel;
  std::vector<conn_ptr> todo;
  std::size_t next = 0, finished = 0, failed = 0;
  std::function<void(conn&)> on_connected;  // sends the hello
  std::function<void()> done;
  std::map<std::string, int> failures;

  void start() {
    if (todo.empty()) return done();
    for (int i = 0; i < parallel && next < todo.size(); ++i) launch();
  }
  void launch() {
    auto c = todo[next++];
    c->connect(port, [this](conn& cn, bool ok) {
      if (ok) {
        on_connected(cn);
      } else {
        ++failed;
        ++failures[cn.fail];
      }
      if (next < todo.size()) launch();
      if (++finished == todo.size()) done();
    });
  }
};

/// The store of shopper `i` (or agent `i - 1`) when the load spreads over `stores` stores.
std::string load_store(int i, int stores) { return stores <= 1 ? "demo" : "load-" + std::to_string(i % stores + 1); }

json hello_shopper(int i, int stores) {
  return json{{"type", "hello"},
              {"role", "shopper"},
              {"store", load_store(i, stores)},
              {"name", "Load " + std::to_string(i)},
              {"language", "en"}};
}

// Neutral words: messages look like ordinary questions and answers, and vary
// enough that the anger scorer's repetition cue stays quiet.
const std::vector<std::string> kWords = {
    "order",   "delivery", "package", "size",    "colour",   "tomorrow", "today",    "address",  "shipping", "return",
    "invoice", "payment",  "card",    "blue",    "medium",   "large",    "small",    "shoes",    "jacket",   "shirt",
    "please",  "thanks",   "could",   "would",   "check",    "status",   "number",   "tracking", "week",     "store",
    "pickup",  "gift",     "wrap",    "discount", "code",    "account",  "email",    "change",   "exchange", "stock",
    "available", "model",  "price",   "cotton",  "wool",     "black",    "white",    "green",    "monday",   "friday",
    "morning", "evening",  "courier", "parcel",  "receipt",  "warranty", "battery",  "charger",  "cable",    "lamp"};

std::string neutral_text(std::mt19937& rng, int words = 7) {
  std::string s;
  std::uniform_int_distribution<std::size_t> w(0, kWords.size() - 1);
  for (int i = 0; i < words; ++i) s += (i ? " " : "") + kWords[w(rng)];
  return s;
}

// ---------------------------------------------------------------------------
// the run

struct msg_rec {
  std::int64_t t_send = 0;   // us
  std::int64_t t_ack = -1;   // us
  std::int64_t t_deliv = -1; // us, first delivery
  std::int64_t seq = 0;      // from the ack
  std::int64_t deliv_seq = 0;
  int conv = -1;
  int sender = -1;    // connection index (global)
  int receiver = -1;  // connection index (global)
  int deliveries = 0;
  int acks = 0;
  bool measured = false;  // sent within the measured window
  bool via_history = false;
  std::string err;
};

struct conv_info {
  std::string id;
  int shopper = -1;  // global conn index
  int agent = -1;    // global conn index
  bool shopper_assigned = false;
  bool agent_assigned = false;
};

struct runner {
  options opt;
  asio::io_context ioc{1};
  std::uint16_t port = 0;
  server_proc srv;
  bool own_server = false;
  std::mt19937 rng;
  json report = json::object();
  std::vector<std::string> text;  // readable report lines

  std::vector<conn_ptr> conns;  // every connection, by global index
  std::vector<msg_rec> msgs;
  std::vector<conv_info> convs;
  std::unordered_map<std::string, int> conv_by_id;
  std::unordered_map<std::string, int> shopper_by_user;  // user_id -> conn index
  std::map<std::string, long> errors_by_code;
  std::map<std::string, long> frames_by_type;
  std::map<std::string, long> anomalies;
  long closed_unexpectedly = 0;
  std::map<int, long> close_codes;
  bool stopping = false;
  std::vector<std::unique_ptr<connector>> connectors;
  std::size_t opened = 0;  // chat: shoppers that sent their opening message

  explicit runner(options o) : opt(std::move(o)), rng(opt.seed) {}

  void line(const std::string& s) { text.push_back(s); }

  void anomaly(const std::string& what) { ++anomalies[what]; }

  // ---- setup

  std::string default_server() {
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    // <build>/tests/bench/load/calma-load -> <build>/server/calma-server
    if (!ec) {
      auto p = exe.parent_path().parent_path().parent_path().parent_path() / "server" / "calma-server";
      if (std::filesystem::exists(p)) return p.string();
    }
    return "calma-server";
  }

  void start_server(int staff_agents, bool supervisor) {
    if (!opt.url.empty()) {
      static const std::regex re(R"(^http://127\.0\.0\.1:([0-9]+)/?$)");
      std::smatch m;
      if (!std::regex_match(opt.url, m, re)) die("--url must be http://127.0.0.1:PORT (calma-load only targets 127.0.0.1)");
      port = static_cast<std::uint16_t>(std::stoi(m[1]));
      return;
    }
    own_server = true;
    if (opt.target == "relay") return start_relay();
    std::string bin = opt.server.empty() ? default_server() : opt.server;
    if (!std::filesystem::exists(bin)) die("no calma-server at " + bin + " (use --server PATH or --url)");
    std::string hash = calma::bench::hash_password("calma-load", bin, opt.password);
    json users = json::array();
    for (int i = 1; i <= staff_agents; ++i) {
      json u{{"username", opt.agent_prefix + std::to_string(i)}, {"name", "Load Agent " + std::to_string(i)},
             {"role", "agent"}, {"password_hash", hash}};
      if (opt.stores > 1) u["stores"] = json::array({load_store(i - 1, opt.stores)});
      users.push_back(std::move(u));
    }
    if (supervisor)
      users.push_back(json{{"username", opt.supervisor_user}, {"name", "Load Supervisor"}, {"role", "supervisor"},
                           {"password_hash", hash}});
    // Each store's shoppers over that store's agents (all of them with one store).
    const int store_agents = std::max(1, opt.agents / opt.stores);
    const int store_shoppers = (opt.shoppers + opt.stores - 1) / opt.stores;
    const int per_agent = (store_shoppers + store_agents - 1) / store_agents;
    json cfg{
        {"server", {{"bind", "127.0.0.1"}}},
        // Idle for the whole run is fine; frames may be many.
        {"websocket", {{"idle_timeout_s", 3600}}},
        {"rate_limit", {{"frames_per_s", 1e6}, {"burst", 1e6}}},
        {"auth", {{"login_attempts_per_minute", 100000}}},
        {"routing", {{"default_capacity", std::min(1000, per_agent + 1)}}},
        // Every client comes from 127.0.0.1: the doors' limits per address would refuse the load itself.
        {"doors", calma::bench::doors_wide_open(100000)},
    };
    if (opt.server_threads > 0) cfg["server"]["threads"] = opt.server_threads;
    if (opt.server_shards > 0) cfg["server"]["shards"] = opt.server_shards;
    if (opt.stores > 1) {
      json stores = json::array();
      for (int k = 0; k < opt.stores; ++k)
        stores.push_back(json{{"id", load_store(k, opt.stores)}, {"name", "Load store " + std::to_string(k + 1)},
                              {"languages", {"en"}}});
      cfg["stores"] = std::move(stores);
    }
    auto cfg_path = write_temp(cfg.dump(2), "config.json");
    auto users_path = write_temp(users.dump(2), "users.json");
    srv.temp_files = {cfg_path, users_path};
    srv.keep_files = opt.keep_files;
    if (opt.keep_files) log("config " + cfg_path + ", users " + users_path);
    srv.start_pinned(opt.server_cpus, bin, {"--port", "0", "--bind", "127.0.0.1", "--config", cfg_path, "--users", users_path});
    port = srv.port;
    log("started " + bin + " (pid " + std::to_string(srv.pid) + ") on port " + std::to_string(port));
  }

  /// The Node ws relay of tests/bench/peer, started like the server (pinned alike).
  void start_relay() {
    std::string script = opt.relay;
    if (script.empty()) script = std::string(CALMA_SOURCE_DIR) + "/tests/bench/peer/relay.mjs";
    if (!std::filesystem::exists(script)) die("no relay at " + script + " (--relay PATH)");
    std::string node;
    for (const char* d : {"/usr/bin/node", "/usr/local/bin/node"})
      if (std::filesystem::exists(d)) node = d, d = nullptr;
    if (node.empty()) die("node not found in /usr/bin or /usr/local/bin");
    srv.start_pinned(opt.server_cpus, node, {script, "--bind", "127.0.0.1"});
    port = srv.port;
    log("started the Node ws relay " + script + " (pid " + std::to_string(srv.pid) + ") on port " + std::to_string(port));
  }
  bool relay() const { return opt.target == "relay"; }
  std::map<std::string, double> metrics_now() { return relay() ? std::map<std::string, double>{} : fetch_metrics(port); }

  conn_ptr new_conn(role r) {
    auto c = std::make_shared<conn>(ioc, static_cast<int>(conns.size()), r);
    c->on_frame = [this](conn& cn, json& j) { on_frame(cn, j); };
    c->on_counted = [this](conn&, std::string_view type) { ++frames_by_type[std::string(type)]; };
    c->on_closed = [this](conn& cn) {
      if (stopping) return;
      ++closed_unexpectedly;
      ++close_codes[cn.close_code];
    };
    conns.push_back(c);
    return c;
  }

  /// Runs the io_context until `pred` holds or `timeout` passes; true if it holds.
  bool run_until(const std::function<bool()>& pred, double timeout_s) {
    auto until = sclock::now() + std::chrono::microseconds(static_cast<std::int64_t>(timeout_s * 1e6));
    while (!pred()) {
      if (sclock::now() >= until) return false;
      ioc.restart();
      ioc.run_for(5ms);
    }
    return true;
  }

  /// Connects `cs` (hello once connected); true once every one is welcomed.
  bool connect_all(std::vector<conn_ptr> cs, const std::string& what, double timeout_s, double* elapsed_s = nullptr,
                   std::size_t* failed = nullptr) {
    auto start = now_us();
    // Kept alive as long as the runner: handlers may outlive a timed-out wait.
    connectors.push_back(std::make_unique<connector>(connector{ioc, port, opt.connect_parallel, cs, 0, 0, 0, {}, {}, {}}));
    auto& k = *connectors.back();
    k.on_connected = [this](conn& c) {
      if (c.r == role::shopper) c.send(hello_shopper(c.idx, opt.stores));
      else c.send(json{{"type", "hello"}, {"token", c.token}});
    };
    k.done = [] {};
    k.start();
    auto welcomed = [&] {
      if (k.finished < k.todo.size()) return false;
      for (auto& c : cs)
        if (!c->welcomed && c->fail.empty() && !c->closed) return false;
      return true;
    };
    bool ok = run_until(welcomed, timeout_s);
    std::size_t good = 0;
    for (auto& c : cs) good += c->welcomed ? 1 : 0;
    if (elapsed_s) *elapsed_s = static_cast<double>(now_us() - start) / 1e6;
    if (failed) *failed = cs.size() - good;
    std::string f;
    for (auto& [why, n] : k.failures) f += " " + std::to_string(n) + "x " + why + ";";
    log(what + ": " + std::to_string(good) + "/" + std::to_string(cs.size()) + " welcomed in " +
        std::to_string(static_cast<double>(now_us() - start) / 1e6) + " s" + (f.empty() ? "" : " failures:" + f) +
        (ok ? "" : " (TIMEOUT)"));
    return good == cs.size();
  }

  std::vector<conn_ptr> make_agents(int n) {
    std::vector<conn_ptr> v;
    for (int i = 1; i <= n; ++i) {
      auto c = new_conn(role::agent);
      c->token = relay() ? "relay" : login(port, opt.agent_prefix + std::to_string(i), opt.password);
      v.push_back(c);
    }
    return v;
  }

  // ---- frames

  msg_rec* rec_of(const json& j) {
    auto it = j.find("client_msg_id");
    if (it == j.end() || !it->is_string()) return nullptr;
    const auto& s = it->get_ref<const std::string&>();
    if (s.size() < 2 || s[0] != 'm') return nullptr;
    char* end = nullptr;
    auto n = std::strtoll(s.c_str() + 1, &end, 10);
    if (*end != '\0' || n < 0 || static_cast<std::size_t>(n) >= msgs.size()) return nullptr;
    return &msgs[static_cast<std::size_t>(n)];
  }

  void on_delivery(conn& c, const json& m, bool via_history, std::int64_t t) {
    const auto conv_id = m.value("conversation_id", "");
    const auto seq = m.value("seq", std::int64_t{0});
    auto& seen = c.convs[conv_id];
    if (seq <= seen.last_delivered) anomaly(via_history ? "history seq not increasing at a receiver" : "chat.message seq not increasing at a receiver");
    seen.last_delivered = std::max(seen.last_delivered, seq);
    seen.seqs.push_back(seq);
    auto* r = rec_of(m);
    if (!r) return anomaly("chat.message with an unknown client_msg_id");
    if (r->sender == c.idx) return anomaly("sender got its own message back (echo)");
    if (r->receiver >= 0 && r->receiver != c.idx) anomaly("message delivered to a connection outside the conversation");
    if (++r->deliveries == 1) {
      r->t_deliv = t;
      r->deliv_seq = seq;
      r->via_history = via_history;
    } else if (r->deliv_seq != seq) {
      anomaly("same message delivered with two different seqs");
    }
  }

  void on_frame(conn& c, json& j) {
    const auto t = now_us();
    if (!j.is_object()) return anomaly("frame that is not a JSON object");
    const std::string type = j.value("type", "");
    ++frames_by_type[type];
    if (type == "welcome") {
      c.welcomed = true;
      c.user_id = j.value("user_id", "");
      if (c.r == role::shopper) shopper_by_user[c.user_id] = c.idx;
    } else if (type == "ack") {
      auto* r = rec_of(j);
      if (!r) return anomaly("ack with an unknown client_msg_id");
      if (r->sender != c.idx) anomaly("ack at a connection that did not send the message");
      const auto conv_id = j.value("conversation_id", "");
      const auto seq = j.value("seq", std::int64_t{0});
      if (++r->acks > 1) {
        anomaly("message acked twice");
        if (seq != r->seq) anomaly("message acked twice with different seqs");
        return;
      }
      r->t_ack = t;
      r->seq = seq;
      c.convs[conv_id].seqs.push_back(seq);
      if (r->conv < 0 && c.r == role::shopper) {  // the opening message
        auto [it, fresh] = conv_by_id.emplace(conv_id, static_cast<int>(convs.size()));
        if (fresh) convs.push_back(conv_info{conv_id, c.idx, -1, false, false});
        convs[static_cast<std::size_t>(it->second)].shopper = c.idx;
        r->conv = it->second;
        on_conv_known(it->second);
      }
    } else if (type == "chat.message") {
      on_delivery(c, j, false, t);
    } else if (type == "history") {
      for (const auto& m : j.value("messages", json::array())) on_delivery(c, m, true, t);
    } else if (type == "conversation.assigned") {
      const auto conv_id = j.value("conversation_id", "");
      auto [it, fresh] = conv_by_id.emplace(conv_id, static_cast<int>(convs.size()));
      if (fresh) convs.push_back(conv_info{conv_id, -1, -1, false, false});
      auto& ci = convs[static_cast<std::size_t>(it->second)];
      if (c.r == role::shopper) {
        ci.shopper_assigned = true;
        ci.shopper = c.idx;
      } else if (c.r == role::agent) {
        ci.agent_assigned = true;
        if (ci.agent >= 0 && ci.agent != c.idx) anomaly("conversation assigned to two agents");
        ci.agent = c.idx;
        if (ci.shopper < 0) {
          auto sid = j.value("/shopper/id"_json_pointer, std::string());
          if (auto s = shopper_by_user.find(sid); s != shopper_by_user.end()) ci.shopper = s->second;
        }
      }
      if (c.r != role::supervisor) on_conv_known(it->second);
    } else if (type == "error") {
      const auto code = j.value("code", "?");
      ++errors_by_code[code];
      if (auto* r = rec_of(json{{"client_msg_id", j.value("ref", "")}})) r->err = code;
    } else if (type == "escalation.raised") {
      on_escalation(c, j, t);
    }
  }

  // The opening message's receiver is the agent, once known.
  void on_conv_known(int ci) {
    auto& cv = convs[static_cast<std::size_t>(ci)];
    for (auto mi : opening_of_conv(ci))
      if (cv.agent >= 0) msgs[mi].receiver = cv.agent;
  }
  std::vector<std::size_t> opening_of_conv(int ci) {
    std::vector<std::size_t> v;
    auto& cv = convs[static_cast<std::size_t>(ci)];
    if (cv.shopper >= 0) {
      auto it = opening_msg.find(cv.shopper);
      if (it != opening_msg.end()) v.push_back(it->second);
    }
    return v;
  }
  std::unordered_map<int, std::size_t> opening_msg;  // shopper conn -> msg index

  std::size_t new_msg(int sender, int receiver, int conv, bool measured) {
    msg_rec r;
    r.t_send = now_us();
    r.sender = sender;
    r.receiver = receiver;
    r.conv = conv;
    r.measured = measured;
    msgs.push_back(r);
    return msgs.size() - 1;
  }

  // ---- escalation bookkeeping
  struct esc_seen {
    std::int64_t t = -1;
    int count = 0;
  };
  std::unordered_map<std::string, esc_seen> escalations;  // conversation id -> first raised at the supervisor
  void on_escalation(conn& c, const json& j, std::int64_t t) {
    if (c.r != role::supervisor) return;
    if (j.value("update", false)) return;
    auto& e = escalations[j.value("conversation_id", "")];
    if (++e.count == 1) e.t = t;
    else anomaly("escalation.raised (not an update) twice for one conversation");
  }

  // ---- common report parts

  void report_env() {
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    report["scenario"] = opt.scenario;
    report["nproc"] = ncpu;
    report["server"] = own_server ? json{{"started_by_calma_load", true}, {"pid", srv.pid}, {"port", port}}
                                  : json{{"started_by_calma_load", false}, {"url", opt.url}};
    double la[3] = {0, 0, 0};
    if (getloadavg(la, 3) == 3) report["loadavg_1m_at_end"] = la[0];
    line("machine: nproc " + std::to_string(ncpu) + (own_server ? ", server started by calma-load (pid " + std::to_string(srv.pid) + ")" : ", server at " + opt.url));
  }

  void report_metrics(const std::map<std::string, double>& before, const std::map<std::string, double>& after) {
    json m = json::object();
    for (const auto& [k, v] : after) m[k] = v;
    report["server_metrics"] = m;
    auto get = [&](const std::map<std::string, double>& mm, const std::string& k) {
      auto it = mm.find(k);
      return it == mm.end() ? 0.0 : it->second;
    };
    static const std::vector<std::string> keys = {
        "calma_messages_in_total", "calma_messages_duplicate_total", "calma_frames_in_total", "calma_frames_out_total",
        "calma_slow_consumer_disconnects_total", "calma_flood_disconnects_total", "calma_store_errors_total",
        "calma_assignments_total"};
    std::ostringstream o;
    o << "server /metrics at end:";
    json delta = json::object();
    for (const auto& k : keys) {
      o << "\n    " << k << " " << static_cast<long long>(get(after, k));
      if (!before.empty()) {
        o << " (+" << static_cast<long long>(get(after, k) - get(before, k)) << " during the measured window)";
        delta[k] = get(after, k) - get(before, k);
      }
    }
    std::string errs;
    for (const auto& [k, v] : after)
      if (k.rfind("calma_errors_total", 0) == 0 && v > 0) errs += " " + k.substr(k.find('"') + 1, k.rfind('"') - k.find('"') - 1) + "=" + std::to_string(static_cast<long long>(v));
    o << "\n    calma_errors_total:" << (errs.empty() ? " none" : errs);
    if (!before.empty()) report["server_metrics_window_delta"] = delta;
    line(o.str());
  }

  void report_client_side() {
    json e = json::object();
    for (const auto& [k, v] : errors_by_code) e[k] = v;
    report["errors_by_code"] = e;
    json a = json::object();
    for (const auto& [k, v] : anomalies) a[k] = v;
    report["anomalies"] = a;
    json ft = json::object();
    for (const auto& [k, v] : frames_by_type) ft[k] = v;
    report["frames_received_by_type"] = ft;
    json cc = json::object();
    for (const auto& [k, v] : close_codes) cc[std::to_string(k)] = v;
    report["unexpected_closes"] = json{{"count", closed_unexpectedly}, {"by_code", cc}};
    std::string s = "errors received by code:";
    if (errors_by_code.empty()) s += " none";
    for (const auto& [k, v] : errors_by_code) s += " " + k + "=" + std::to_string(v);
    line(s);
    s = "connections closed by the server during the run: " + std::to_string(closed_unexpectedly);
    for (const auto& [k, v] : close_codes) s += " [code " + std::to_string(k) + ": " + std::to_string(v) + "]";
    line(s);
    s = "frames received by type:";
    for (const auto& [k, v] : frames_by_type) s += " " + k + "=" + std::to_string(v);
    line(s);
    if (!anomalies.empty()) {
      line("ANOMALIES:");
      for (const auto& [k, v] : anomalies) line("    " + k + ": " + std::to_string(v));
    }
  }

  // ---- scenario: chat

  void chat() {
    if (opt.stores > opt.agents) die("--stores must not exceed --agents (every store needs an agent)");
    raise_fd_limit(opt.shoppers + opt.agents + 256);
    start_server(opt.agents, opt.watch);
    report_env();
    run_until([] { return false; }, 1.0);  // let the server settle
    const long rss0 = own_server ? proc_status_kb(srv.pid, "VmRSS") : -1;
    msgs.reserve(static_cast<std::size_t>(opt.rate * opt.duration * 1.1) + static_cast<std::size_t>(opt.shoppers) + 16);
    auto agents = make_agents(opt.agents);
    if (!connect_all(agents, "agents", opt.setup_timeout)) die("agents did not all connect");
    conn_ptr watcher;
    if (opt.watch) {
      watcher = new_conn(role::supervisor);
      watcher->token = login(port, opt.supervisor_user, opt.password);
      if (!connect_all({watcher}, "supervisor", opt.setup_timeout)) die("the supervisor did not connect");
    }
    if (!own_server) {  // a running server: ask for enough capacity (the protocol caps it at 100)
      const int cap = std::min(100, (opt.shoppers + opt.agents - 1) / opt.agents + 1);
      for (auto& a : agents) a->send(json{{"type", "presence.set"}, {"status", "online"}, {"capacity", cap}});
    }
    std::vector<conn_ptr> shoppers;
    for (int i = 0; i < opt.shoppers; ++i) shoppers.push_back(new_conn(role::shopper));
    // Each shopper opens its conversation as soon as it is welcomed.
    for (auto& s : shoppers) {
      auto prev = s->on_frame;
      s->on_frame = [this, prev](conn& c, json& j) {
        const bool was = c.welcomed;
        prev(c, j);
        if (!was && c.welcomed) {
          auto mi = new_msg(c.idx, -1, -1, false);
          opening_msg[c.idx] = mi;
          ++opened;
          c.send(json{{"type", "chat.send"}, {"client_msg_id", "m" + std::to_string(mi)}, {"text", neutral_text(rng, opt.words)}});
        }
      };
    }
    auto setup_start = now_us();
    connect_all(shoppers, "shoppers", opt.setup_timeout);
    auto all_assigned = [&] {
      if (opened < shoppers.size()) return false;
      std::size_t n = 0;
      for (auto& cv : convs) n += (cv.shopper_assigned && cv.agent_assigned && cv.shopper >= 0 && cv.agent >= 0) ? 1 : 0;
      return n >= shoppers.size();
    };
    const double left = opt.setup_timeout - static_cast<double>(now_us() - setup_start) / 1e6;
    bool ok = run_until(all_assigned, std::max(1.0, left));
    std::vector<int> ready;
    std::map<int, int> per_agent;
    for (std::size_t i = 0; i < convs.size(); ++i) {
      auto& cv = convs[i];
      if (cv.shopper_assigned && cv.agent_assigned && cv.shopper >= 0 && cv.agent >= 0) {
        ready.push_back(static_cast<int>(i));
        ++per_agent[cv.agent];
      }
    }
    log("conversations assigned: " + std::to_string(ready.size()) + "/" + std::to_string(shoppers.size()) +
        (ok ? "" : " (setup TIMEOUT: going on with the assigned ones)"));
    if (ready.empty()) die("no conversation was assigned");
    int min_load = 1 << 30, max_load = 0;
    for (auto& a : agents) {
      int l = per_agent.count(a->idx) ? per_agent[a->idx] : 0;
      min_load = std::min(min_load, l);
      max_load = std::max(max_load, l);
    }
    report["setup"] = json{{"agents", opt.agents}, {"shoppers", opt.shoppers}, {"conversations_assigned", ready.size()},
                           {"setup_s", static_cast<double>(now_us() - setup_start) / 1e6},
                           {"conversations_per_agent_min", min_load}, {"conversations_per_agent_max", max_load}};
    // Let the setup traffic settle (histories, queue positions).
    run_until([] { return false; }, 0.5);
    const long rss1 = own_server ? proc_status_kb(srv.pid, "VmRSS") : -1;

    // ---- the measured window: open loop at the target rate
    auto m_before = metrics_now();
    const double srv_cpu0 = own_server ? proc_cpu_s(srv.pid) : -1;
    const auto srv_threads0 = own_server ? proc_threads(srv.pid) : std::map<long, thread_sched>{};
    const double my_cpu0 = self_cpu_s();
    const auto w0 = now_us();
    const auto w_end = w0 + static_cast<std::int64_t>(opt.duration * 1e6);
    std::int64_t sent = 0, skipped = 0, send_bytes = 0;
    std::size_t first_measured = msgs.size();
    std::uniform_int_distribution<std::size_t> pick(0, ready.size() - 1);
    std::uniform_int_distribution<int> side(0, 1);
    asio::steady_timer tick(ioc);
    bool window_over = false;
    std::int64_t last_tick = w0, max_lag_us = 0;  // how late the 1 ms tick ran: calma-load's own loop lag
    // Each second of the window: the server's CPU and its threads' wait on a run
    // queue (runnable while something else had the core), calma-load's wait too:
    // a slow second with a long wait is the machine, one without is the server.
    struct second_sched {
      double srv_cpu = 0, srv_wait = 0, load_wait = 0, load_lag = 0;
    };
    std::vector<second_sched> sched_by_s;
    sched_ms srv_s0 = own_server ? proc_sched_ms(srv.pid) : sched_ms{}, load_s0 = proc_sched_ms(getpid());
    std::int64_t sec_lag_us = 0;
    auto close_second = [&] {
      const auto srv_s1 = own_server ? proc_sched_ms(srv.pid) : sched_ms{}, load_s1 = proc_sched_ms(getpid());
      sched_by_s.push_back({srv_s1.on_cpu - srv_s0.on_cpu, srv_s1.waiting - srv_s0.waiting,
                            load_s1.waiting - load_s0.waiting, static_cast<double>(sec_lag_us) / 1000.0});
      srv_s0 = srv_s1;
      load_s0 = load_s1;
      sec_lag_us = 0;
    };
    std::function<void()> on_tick = [&] {
      const auto t = now_us();
      max_lag_us = std::max(max_lag_us, t - last_tick - 1000);
      sec_lag_us = std::max(sec_lag_us, t - last_tick - 1000);
      last_tick = t;
      while (static_cast<std::int64_t>(sched_by_s.size() + 1) * 1'000'000 <= std::min(t, w_end) - w0) close_second();
      const auto until = std::min(t, w_end);
      const auto due = static_cast<std::int64_t>(opt.rate * static_cast<double>(until - w0) / 1e6);
      while (sent + skipped < due) {
        // in flight: sent in the window and not yet acked (an upper bound)
        if (static_cast<std::int64_t>(msgs.size() - first_measured) - acked_in_window(first_measured) >= opt.max_inflight) {
          ++skipped;
          continue;
        }
        auto& cv = convs[static_cast<std::size_t>(ready[pick(rng)])];
        const bool from_shopper = side(rng) == 0;
        const int s = from_shopper ? cv.shopper : cv.agent;
        const int r = from_shopper ? cv.agent : cv.shopper;
        auto mi = new_msg(s, r, conv_by_id[cv.id], true);
        conns[static_cast<std::size_t>(s)]->send(json{{"type", "chat.send"}, {"client_msg_id", "m" + std::to_string(mi)},
                                                      {"conversation_id", cv.id}, {"text", neutral_text(rng, opt.words)}}
                                                     .dump());
        send_bytes += conns[static_cast<std::size_t>(s)]->outq.back().size();
        ++sent;
      }
      if (t >= w_end) {
        window_over = true;
        return;
      }
      tick.expires_after(1ms);
      tick.async_wait([&](beast::error_code ec) {
        if (!ec) on_tick();
      });
    };
    on_tick();
    run_until([&] { return window_over; }, opt.duration + 5);
    const auto w_stop = now_us();
    const double srv_cpu1 = own_server ? proc_cpu_s(srv.pid) : -1;
    // The server's threads over the window, busiest first: with the work spread
    // over threads, the busiest one bounds what more cores can give.
    std::vector<std::pair<double, std::string>> srv_threads;
    if (own_server)
      for (const auto& [tid, x] : proc_threads(srv.pid)) {
        auto it = srv_threads0.find(tid);
        const double ms = x.t.on_cpu - (it != srv_threads0.end() ? it->second.t.on_cpu : 0.0);
        if (ms >= 1) srv_threads.emplace_back(ms, x.name + " (" + std::to_string(tid) + ")");
      }
    std::sort(srv_threads.rbegin(), srv_threads.rend());
    const double my_cpu1 = self_cpu_s();
    const double window_s = static_cast<double>(w_stop - w0) / 1e6;
    // acks received inside the window
    std::int64_t acked_in = 0;
    for (std::size_t i = first_measured; i < msgs.size(); ++i)
      if (msgs[i].t_ack >= 0 && msgs[i].t_ack <= w_stop) ++acked_in;
    // ---- drain: wait for the outstanding acks and deliveries
    auto settled = [&] {
      for (std::size_t i = 0; i < msgs.size(); ++i) {
        const auto& r = msgs[i];
        if (!r.err.empty()) continue;
        if (r.t_ack < 0 || r.deliveries == 0) return false;
      }
      return true;
    };
    const auto d0 = now_us();
    bool drained = run_until(settled, opt.drain_timeout);
    const double drain_s = static_cast<double>(now_us() - d0) / 1e6;
    run_until([] { return false; }, 0.3);  // late duplicates, if any
    auto m_after = metrics_now();

    // ---- figures
    dist ack_lat, deliv_lat;
    std::vector<dist> deliv_by_s;  // by the second of the window the message was sent in: where the tail is
    long acked = 0, unacked = 0, errored = 0, lost = 0, dup = 0, delivered_unacked = 0, seq_mismatch = 0;
    long open_acked = 0, open_delivered_once = 0, not_checked = 0;
    // A connection the server cut (slow consumer, flood...) loses its frames by
    // design: its messages and conversations are left out of the checks.
    auto cut = [&](int ci) { return ci >= 0 && conns[static_cast<std::size_t>(ci)]->closed; };
    long cut_conns = 0;
    for (auto& c : conns) cut_conns += c->closed ? 1 : 0;
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      const auto& r = msgs[i];
      if (r.measured && r.t_ack >= 0) ack_lat.add(static_cast<double>(r.t_ack - r.t_send) / 1000.0);
      if (r.measured && r.deliveries > 0 && !r.via_history) {
        deliv_lat.add(static_cast<double>(r.t_deliv - r.t_send) / 1000.0);
        const auto sec = static_cast<std::size_t>(std::max<std::int64_t>(r.t_send - w0, 0) / 1'000'000);
        if (deliv_by_s.size() <= sec) deliv_by_s.resize(sec + 1);
        deliv_by_s[sec].add(static_cast<double>(r.t_deliv - r.t_send) / 1000.0);
      }
      if (cut(r.sender) || cut(r.receiver)) {
        ++not_checked;
        continue;
      }
      if (!r.err.empty()) {
        ++errored;
        if (r.deliveries > 0) anomaly("refused message (error) delivered anyway");
        continue;
      }
      if (r.t_ack < 0) {
        ++unacked;
        if (r.deliveries > 0) ++delivered_unacked;
        continue;
      }
      ++acked;
      if (r.deliveries == 0) ++lost;
      if (r.deliveries > 1) ++dup;
      if (r.deliveries > 0 && r.deliv_seq != r.seq) ++seq_mismatch;
      if (!r.measured) {
        ++open_acked;
        open_delivered_once += r.deliveries == 1 ? 1 : 0;
      }
    }
    // Per conversation and per receiver: every seq 1..max seen exactly once
    // (the other side's messages delivered, one's own acked).
    long conv_checked = 0, conv_gap = 0, conv_dup_seq = 0, recv_gap = 0, recv_dup = 0;
    {
      std::vector<std::vector<std::int64_t>> by_conv(convs.size());
      for (const auto& r : msgs)
        if (r.t_ack >= 0 && r.conv >= 0) by_conv[static_cast<std::size_t>(r.conv)].push_back(r.seq);
      for (int ci : ready) {
        if (cut(convs[static_cast<std::size_t>(ci)].shopper) || cut(convs[static_cast<std::size_t>(ci)].agent)) continue;
        auto v = by_conv[static_cast<std::size_t>(ci)];
        std::sort(v.begin(), v.end());
        ++conv_checked;
        for (std::size_t k = 0; k < v.size(); ++k) {
          if (k > 0 && v[k] == v[k - 1]) ++conv_dup_seq;
          if (v[k] != static_cast<std::int64_t>(k + 1)) {
            ++conv_gap;
            break;
          }
        }
        const auto& cv = convs[static_cast<std::size_t>(ci)];
        const auto max_seq = v.empty() ? 0 : v.back();
        for (int who : {cv.shopper, cv.agent}) {
          auto s = conns[static_cast<std::size_t>(who)]->convs[cv.id].seqs;
          std::sort(s.begin(), s.end());
          if (std::adjacent_find(s.begin(), s.end()) != s.end()) ++recv_dup;
          s.erase(std::unique(s.begin(), s.end()), s.end());
          if (static_cast<std::int64_t>(s.size()) != max_seq || (!s.empty() && (s.front() != 1 || s.back() != max_seq))) ++recv_gap;
        }
      }
    }
    const long measured_sent = static_cast<long>(msgs.size() - first_measured);
    const double thr = static_cast<double>(acked_in) / window_s;
    report["params"] = json{{"agents", opt.agents}, {"shoppers", opt.shoppers}, {"target_rate", opt.rate},
                            {"duration_s", opt.duration}, {"max_inflight", opt.max_inflight}, {"target", opt.target},
                            {"words", opt.words}, {"server_cpus", opt.server_cpus}};
    // Delivered inside the window (chat.message at the peer, not via history): what the relay must also do.
    std::int64_t delivered_in = 0;
    for (std::size_t i = first_measured; i < msgs.size(); ++i)
      if (msgs[i].deliveries > 0 && !msgs[i].via_history && msgs[i].t_deliv <= w_stop) ++delivered_in;
    const long rss_end = own_server ? proc_status_kb(srv.pid, "VmRSS") : -1;
    const double nconn = static_cast<double>(opt.agents + opt.shoppers);
    report["memory"] = json{{"server_rss_start_kib", rss0}, {"server_rss_after_setup_kib", rss1},
                            {"server_rss_end_kib", rss_end},
                            {"server_kib_per_connection_setup", rss0 > 0 && rss1 > 0 ? json((rss1 - rss0) / nconn) : json(nullptr)},
                            {"server_kib_per_connection_end", rss0 > 0 && rss_end > 0 ? json((rss_end - rss0) / nconn) : json(nullptr)}};
    report["window"] = json{{"seconds", window_s},
                            {"sent", measured_sent},
                            {"skipped_inflight_cap", skipped},
                            {"sent_per_s", static_cast<double>(measured_sent) / window_s},
                            {"acked_within_window", acked_in},
                            {"delivered_within_window", delivered_in},
                            {"delivered_per_s", static_cast<double>(delivered_in) / window_s},
                            {"mean_chat_send_frame_bytes", sent ? static_cast<double>(send_bytes) / static_cast<double>(sent) : 0.0},
                            {"server_cpu_us_per_delivered", own_server && delivered_in
                                                               ? json((srv_cpu1 - srv_cpu0) * 1e6 / static_cast<double>(delivered_in))
                                                               : json(nullptr)},
                            {"throughput_acked_per_s", thr},
                            {"server_cpu_s", own_server ? json(srv_cpu1 - srv_cpu0) : json(nullptr)},
                            {"server_cpu_cores_used", own_server ? json((srv_cpu1 - srv_cpu0) / window_s) : json(nullptr)},
                            {"loadgen_cpu_cores_used", (my_cpu1 - my_cpu0) / window_s},
                            {"loadgen_max_loop_lag_ms", static_cast<double>(max_lag_us) / 1000.0}};
    report["ack_latency"] = ack_lat.to_json();
    report["delivery_latency"] = deliv_lat.to_json();
    {
      json by_s = json::array();
      for (auto& d : deliv_by_s) by_s.push_back(std::round(d.pct(99) * 1000) / 1000);
      report["delivery_p99_ms_by_second"] = by_s;
      json sched = json::array();
      auto ms = [](double v) { return std::round(v * 10) / 10; };
      for (auto& s : sched_by_s)
        sched.push_back(json{{"server_cpu_ms", own_server ? json(ms(s.srv_cpu)) : json(nullptr)},
                             {"server_runqueue_wait_ms", own_server ? json(ms(s.srv_wait)) : json(nullptr)},
                             {"loadgen_runqueue_wait_ms", ms(s.load_wait)},
                             {"loadgen_max_loop_lag_ms", ms(s.load_lag)}});
      report["sched_by_second"] = sched;
      json threads = json::array();
      for (const auto& [ms, name] : srv_threads) threads.push_back(json{{"thread", name}, {"cpu_ms", std::round(ms)}});
      report["server_threads"] = threads;
    }
    const bool correct = lost == 0 && dup == 0 && seq_mismatch == 0 && conv_gap == 0 && conv_dup_seq == 0 &&
                         recv_gap == 0 && recv_dup == 0 && unacked == 0 && anomalies.empty();
    report["correctness"] = json{{"messages_total", msgs.size()},
                                 {"acked", acked},
                                 {"unacked_after_drain", unacked},
                                 {"refused_with_error", errored},
                                 {"acked_not_delivered", lost},
                                 {"delivered_more_than_once", dup},
                                 {"delivered_but_never_acked", delivered_unacked},
                                 {"ack_seq_differs_from_delivered_seq", seq_mismatch},
                                 {"opening_messages_acked", open_acked},
                                 {"opening_messages_delivered_once", open_delivered_once},
                                 {"conversations_checked", conv_checked},
                                 {"conversations_with_seq_gap", conv_gap},
                                 {"conversations_with_duplicate_seq", conv_dup_seq},
                                 {"receivers_with_seq_gap", recv_gap},
                                 {"receivers_seeing_a_seq_twice", recv_dup},
                                 {"connections_cut_by_server", cut_conns},
                                 {"messages_not_checked_party_cut", not_checked},
                                 {"drained", drained},
                                 {"drain_s", drain_s},
                                 {"ok", correct}};

    std::ostringstream o;
    o << std::fixed << std::setprecision(1);
    o << "chat: " << opt.agents << " agents, " << ready.size() << "/" << opt.shoppers << " conversations assigned ("
      << min_load << ".." << max_load << " per agent), target " << opt.rate << " msg/s for " << opt.duration << " s";
    line(o.str());
    o.str("");
    o << "sent " << measured_sent << " (" << static_cast<double>(measured_sent) / window_s << "/s";
    if (skipped) o << ", " << skipped << " skipped: in-flight cap " << opt.max_inflight;
    o << "), acked within the window " << acked_in << " -> throughput " << thr << " msg/s acked";
    line(o.str());
    if (own_server) {
      o.str("");
      o << "CPU during the window: server " << std::setprecision(2) << (srv_cpu1 - srv_cpu0) / window_s
        << " cores, calma-load " << (my_cpu1 - my_cpu0) / window_s << " cores (its event loop lagged up to "
        << static_cast<double>(max_lag_us) / 1000.0 << " ms)";
      line(o.str());
    }
    {
      // The hub's strand decides for everyone: its busy share bounds what more cores can give.
      auto busy = [](const std::map<std::string, double>& m) {
        auto it = m.find("calma_hub_busy_seconds_total");
        return it == m.end() ? -1.0 : it->second;
      };
      const double b0 = busy(m_before), b1 = busy(m_after);
      if (b0 >= 0 && b1 >= 0 && window_s > 0) {
        const double share = (b1 - b0) / window_s;
        report["hub_busy_share"] = share;
        o.str("");
        o << "hub strand busy " << std::setprecision(1) << 100.0 * share << "% of the window";
        if (own_server && srv_cpu1 > srv_cpu0)
          o << " (" << 100.0 * (b1 - b0) / (srv_cpu1 - srv_cpu0) << "% of the server's CPU time)";
        line(o.str());
      }
      // Several hub shards: each strand's share (the busiest one bounds what more cores can give).
      json shards = json::array();
      for (int k = 0;; ++k) {
        const std::string series = "calma_hub_shard_busy_seconds_total{shard=\"" + std::to_string(k) + "\"}";
        auto a = m_before.find(series), z = m_after.find(series);
        if (a == m_before.end() || z == m_after.end() || window_s <= 0) break;
        shards.push_back((z->second - a->second) / window_s);
      }
      if (!shards.empty()) {
        report["hub_shard_busy_share"] = shards;
        o.str("");
        o << "hub strands busy by shard:";
        for (const auto& v : shards) o << " " << std::setprecision(1) << 100.0 * v.get<double>() << "%";
        o << " of the window";
        line(o.str());
      }
    }
    if (own_server && rss0 > 0 && rss1 > 0) {
      o.str("");
      const double nconn = static_cast<double>(opt.agents + opt.shoppers);
      o << std::setprecision(2) << "RSS per connection (agents + shoppers, with their conversations): server VmRSS "
        << rss0 << " KiB -> " << rss1 << " KiB after setup: " << static_cast<double>(rss1 - rss0) / nconn
        << " KiB per connection";
      line(o.str());
    }
    line("ack latency (send -> ack at the sender):          " + ack_lat.line());
    line("delivery latency (send -> chat.message at peer):  " + deliv_lat.line());
    if (deliv_by_s.size() > 1) {
      o.str("");
      o << "delivery p99 by second of the window (ms):";
      for (auto& d : deliv_by_s) o << " " << std::fixed << std::setprecision(1) << d.pct(99);
      line(o.str());
    }
    if (!sched_by_s.empty()) {
      auto row = [&](const char* what, auto get) {
        o.str("");
        o << what;
        for (auto& s : sched_by_s) o << " " << std::fixed << std::setprecision(0) << get(s);
        line(o.str());
      };
      if (own_server) {
        row("server CPU by second (ms):                   ", [](auto& s) { return s.srv_cpu; });
        row("server's wait on a run queue by second (ms): ", [](auto& s) { return s.srv_wait; });
      }
      row("calma-load's wait on a run queue (ms):       ", [](auto& s) { return s.load_wait; });
      row("calma-load's worst loop lag by second (ms):  ", [](auto& s) { return s.load_lag; });
    }
    if (!srv_threads.empty()) {
      double total = 0;
      for (const auto& t : srv_threads) total += t.first;
      o.str("");
      o << "server threads' CPU in the window (ms), busiest first:";
      for (const auto& [ms, name] : srv_threads) o << " " << name << " " << std::fixed << std::setprecision(0) << ms;
      o << "; the busiest has " << std::setprecision(1) << 100 * srv_threads.front().first / total << "% of it";
      line(o.str());
    }
    o.str("");
    o << "correctness: " << (correct ? "OK" : "FAILED") << " - " << acked << " acked, " << unacked
      << " unacked after drain, " << errored << " refused; acked but not delivered " << lost << ", delivered twice "
      << dup << ", ack/delivery seq mismatch " << seq_mismatch << "; " << conv_checked
      << " conversations: seq gaps " << conv_gap << ", duplicate seqs " << conv_dup_seq
      << "; receivers with a gap " << recv_gap << ", seeing a seq twice " << recv_dup << "; opening messages "
      << open_delivered_once << "/" << open_acked << " delivered once (via history)"
      << (drained ? "" : "; DRAIN TIMEOUT");
    if (cut_conns)
      o << "; " << cut_conns << " connections cut by the server: their " << not_checked
        << " messages and their conversations not checked";
    line(o.str());
    report_client_side();
    report_metrics(m_before, m_after);
  }

  std::int64_t acked_cache_ = 0;
  std::size_t acked_scan_ = 0;
  // Acks received among the window's messages, counted incrementally (for the in-flight cap).
  std::int64_t acked_in_window(std::size_t first) {
    if (acked_scan_ < first) acked_scan_ = first;
    while (acked_scan_ < msgs.size() && (msgs[acked_scan_].t_ack >= 0 || !msgs[acked_scan_].err.empty())) {
      ++acked_scan_;
      ++acked_cache_;
    }
    // Messages after the scan point that are acked are not counted: a lower bound on acks,
    // so the in-flight estimate is an upper bound (the cap errs on the safe side).
    return acked_cache_;
  }

  // ---- scenario: idle

  void idle() {
    raise_fd_limit(opt.connections + 256);
    start_server(0, false);
    report_env();
    run_until([] { return false; }, 1.0);  // let the server settle
    const long rss0 = own_server ? proc_status_kb(srv.pid, "VmRSS") : -1;
    std::vector<conn_ptr> cs;
    for (int i = 0; i < opt.connections; ++i) cs.push_back(new_conn(role::shopper));
    double elapsed = 0;
    std::size_t failed = 0;
    connect_all(cs, "idle shoppers", opt.setup_timeout, &elapsed, &failed);
    run_until([] { return false; }, 2.0);  // settle: welcome frames flushed, buffers shrunk
    const long rss1 = own_server ? proc_status_kb(srv.pid, "VmRSS") : -1;
    auto m = metrics_now();
    const long ok_n = static_cast<long>(cs.size() - failed);
    report["params"] = json{{"connections", opt.connections}};
    json r{{"welcomed", ok_n}, {"failed", failed}, {"connect_s", elapsed},
           {"connections_per_s", static_cast<double>(ok_n) / elapsed},
           {"server_shopper_connections_gauge", m.count("calma_connections{role=\"shopper\"}") ? m["calma_connections{role=\"shopper\"}"] : -1}};
    std::ostringstream o;
    o << std::fixed << std::setprecision(2);
    o << "idle: " << ok_n << "/" << opt.connections << " shoppers welcomed in " << elapsed << " s ("
      << static_cast<double>(ok_n) / elapsed << " conn/s)";
    line(o.str());
    if (own_server && rss0 > 0 && rss1 > 0 && ok_n > 0) {
      const double per = static_cast<double>(rss1 - rss0) / static_cast<double>(ok_n);
      r["server_rss_before_kib"] = rss0;
      r["server_rss_after_kib"] = rss1;
      r["server_kib_per_connection"] = per;
      o.str("");
      o << "server VmRSS " << rss0 << " KiB -> " << rss1 << " KiB: " << per << " KiB per connection";
      line(o.str());
    } else {
      line("server memory: not measured (the server was not started by calma-load)");
    }
    report["idle"] = r;
    report_client_side();
    report_metrics({}, m);
  }

  static void raise_fd_limit(int want) {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY && static_cast<long>(rl.rlim_cur) < want)
      die("RLIMIT_NOFILE is " + std::to_string(rl.rlim_cur) + ", need about " + std::to_string(want) +
          " (client and server share this machine): lower --connections");
  }

  // ---- scenario: escalation

  void escalation() {
    raise_fd_limit(opt.shoppers + opt.agents + 256);
    start_server(opt.agents, true);
    report_env();
    auto agents = make_agents(opt.agents);
    auto sup = new_conn(role::supervisor);
    sup->token = login(port, opt.supervisor_user, opt.password);
    if (!connect_all({sup}, "supervisor", opt.setup_timeout)) die("supervisor did not connect");
    if (!connect_all(agents, "agents", opt.setup_timeout)) die("agents did not all connect");
    if (!own_server) {
      const int cap = std::min(100, (opt.shoppers + opt.agents - 1) / opt.agents + 1);
      for (auto& a : agents) a->send(json{{"type", "presence.set"}, {"status", "online"}, {"capacity", cap}});
    }
    std::vector<conn_ptr> shoppers;
    for (int i = 0; i < opt.shoppers; ++i) shoppers.push_back(new_conn(role::shopper));
    if (!connect_all(shoppers, "shoppers", opt.setup_timeout)) log("not every shopper connected; going on");
    run_until([] { return false; }, 0.5);
    auto m_before = metrics_now();
    // Angry openings at the given rate.
    std::size_t next = 0;
    const auto w0 = now_us();
    asio::steady_timer tick(ioc);
    std::function<void()> on_tick = [&] {
      const auto due = static_cast<std::size_t>(opt.rate * static_cast<double>(now_us() - w0) / 1e6) + 1;
      while (next < shoppers.size() && next < due) {
        auto& s = shoppers[next++];
        if (!s->welcomed) continue;
        auto mi = new_msg(s->idx, -1, -1, true);
        s->send(json{{"type", "chat.send"}, {"client_msg_id", "m" + std::to_string(mi)},
                     {"text", "I want to speak to a manager NOW!!!"}});
      }
      if (next >= shoppers.size()) return;
      tick.expires_after(1ms);
      tick.async_wait([&](beast::error_code ec) {
        if (!ec) on_tick();
      });
    };
    on_tick();
    const double send_s = static_cast<double>(shoppers.size()) / opt.rate;
    // Every sent message acked and its conversation escalated at the supervisor.
    auto done = [&] {
      if (next < shoppers.size()) return false;
      for (const auto& r : msgs) {
        if (r.t_ack < 0 && r.err.empty()) return false;
        if (r.conv >= 0 && !escalations.count(convs[static_cast<std::size_t>(r.conv)].id)) return false;
      }
      return true;
    };
    bool all = run_until(done, send_s + 15);
    run_until([] { return false; }, 0.3);
    auto m_after = metrics_now();
    dist lat, ack_lat;
    long sent = 0, acked = 0, raised = 0, missing = 0;
    for (const auto& r : msgs) {
      ++sent;
      if (r.t_ack < 0) continue;
      ++acked;
      ack_lat.add(static_cast<double>(r.t_ack - r.t_send) / 1000.0);
      auto it = escalations.find(convs[static_cast<std::size_t>(r.conv)].id);
      if (it == escalations.end()) {
        ++missing;
        continue;
      }
      ++raised;
      lat.add(static_cast<double>(it->second.t - r.t_send) / 1000.0);
    }
    report["params"] = json{{"agents", opt.agents}, {"shoppers", opt.shoppers}, {"rate", opt.rate}};
    report["escalation"] = json{{"sent", sent}, {"acked", acked}, {"raised_at_supervisor", raised},
                                {"not_raised", missing}, {"complete", all}, {"latency", lat.to_json()},
                                {"ack_latency", ack_lat.to_json()}};
    std::ostringstream o;
    o << std::fixed << std::setprecision(1);
    o << "escalation: " << shoppers.size() << " shoppers asked for a manager at " << opt.rate << "/s (" << opt.agents
      << " agents, 1 supervisor): " << raised << "/" << sent << " escalations raised at the supervisor"
      << (all ? "" : " (TIMEOUT)");
    line(o.str());
    line("escalation latency (send -> escalation.raised at the supervisor): " + lat.line());
    line("ack latency of the angry message:                                  " + ack_lat.line());
    report_client_side();
    report_metrics(m_before, m_after);
  }

  // ---- run

  int run() {
    if (opt.scenario == "chat") chat();
    else if (opt.scenario == "idle") idle();
    else escalation();
    // Close everything, then stop the server.
    stopping = true;
    for (auto& c : conns) c->shutdown();
    ioc.restart();
    ioc.run_for(500ms);
    if (own_server) {
      const bool alive = srv.alive();
      const long hwm = proc_status_kb(srv.pid, "VmHWM");
      auto how = srv.stop();
      report["server"]["alive_at_end"] = alive;
      report["server"]["exit"] = how;
      if (hwm > 0) report["server"]["vm_hwm_kib"] = hwm;
      line(std::string("server: ") + (alive ? "alive at the end" : "DEAD at the end (crashed?)") + ", stopped: " + how +
           (hwm > 0 ? ", peak RSS " + std::to_string(hwm) + " KiB" : ""));
    }
    std::ostream& out = opt.json_out ? std::cerr : std::cout;
    out << "\n==== calma-load report ====\n";
    for (const auto& l : text) out << l << "\n";
    if (opt.json_out) std::cout << report.dump() << std::endl;
    return 0;
  }
};

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<runner> r;
  try {
    r = std::make_unique<runner>(parse_args(argc, argv));
    return r->run();
  } catch (const std::exception& e) {
    if (r && r->own_server) r->srv.stop();
    std::cerr << "calma-load: " << e.what() << std::endl;
    return 2;
  }
}

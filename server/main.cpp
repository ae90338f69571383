// calma-server: composes the pieces and runs them. No rule lives here.
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/config/config.hpp"
#include "server/auth/crypto.hpp"
#include "server/auth/users.hpp"
#include "server/canned_files.hpp"
#include "server/auth/users_cli.hpp"
#include "server/auth/users_watch.hpp"
#include "server/cluster/node.hpp"
#include "server/hub/anger_engine.hpp"
#include "server/hub/hub.hpp"
#include "server/metrics.hpp"
#include "server/net/http_api.hpp"
#include "server/net/net.hpp"
#include "server/paths.hpp"
#include "server/store/memory_store.hpp"
#include "server/store/redis_store.hpp"

namespace {

[[noreturn]] void die(const std::string& msg, int code = 2) {
  std::cerr << "calma-server: " << msg << std::endl;
  std::exit(code);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += (s.empty() ? "" : "; ") + e;
  return s;
}

int hash_password_command(int iterations) {
  std::string pw;
  std::getline(std::cin, pw);
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  if (pw.empty()) die("hash-password: read an empty password from stdin");
  std::cout << calma::auth::hash_password(pw, iterations) << std::endl;
  return 0;
}

calma::timestamp_ms system_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Calma: live chat for online stores, with the customer's anger curve"};
  std::string config_file, users_file, bind, redis_url, node_id;
  int port = -1, threads = -1, iterations = calma::auth::default_pbkdf2_iterations;
  app.add_option("--config", config_file, "configuration file (JSON; see config/calma.json)");
  app.add_option("--port", port, "TCP port (0: any free port)")->check(CLI::Range(0, 65535));
  app.add_option("--bind", bind, "address to listen on");
  app.add_option("--users", users_file, "staff users file (JSON array)");
  app.add_option("--redis", redis_url, "Redis URL redis://HOST:PORT[/DB] (default: embedded memory store)");
  app.add_option("--node-id", node_id, "this node's name in a cluster");
  app.add_option("--threads", threads, "I/O threads (default: one per core)")->check(CLI::Range(1, 256));
  auto* hp = app.add_subcommand("hash-password", "read a password on stdin, print its hash for the users file");
  hp->add_option("--iterations", iterations, "PBKDF2 iterations")->check(CLI::Range(1000, 10'000'000));
  calma::auth::users_command_line users_cmd;
  calma::auth::add_users_subcommands(app, users_cmd);
  CLI11_PARSE(app, argc, argv);
  if (*hp) return hash_password_command(iterations);
  if (*users_cmd.cmd) {
    if (users_cmd.users_file.empty()) users_cmd.users_file = users_file;  // calma-server --users FILE users ...
    return calma::auth::run_users_command(users_cmd, std::cin, std::cout, std::cerr);
  }

  // ---- configuration: defaults, then the file, then the flags
  calma::config cfg;
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) die("cannot read config file " + config_file);
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded()) die("config file " + config_file + " is not valid JSON");
    std::vector<std::string> errors;
    calma::parse_config(j, cfg, errors);
    if (!errors.empty()) die("bad config " + config_file + ": " + join(errors));
  }
  if (port >= 0) cfg.server.port = static_cast<std::uint16_t>(port);
  if (!bind.empty()) cfg.server.bind = bind;
  if (threads > 0) cfg.server.threads = threads;
  if (!node_id.empty()) cfg.server.node_id = node_id;
  if (cfg.server.node_id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    cfg.server.node_id = std::string(host) + "-" + std::to_string(getpid());
  }
  if (!redis_url.empty()) cfg.redis.url = redis_url;
  // Sentinels say where the master is: the URL then only carries password and DB.
  if (cfg.redis.url.empty() && !cfg.redis.sentinels.empty()) cfg.redis.url = "redis://sentinel-master";

  const std::string users_path =
      !users_file.empty() ? users_file
                          : (!cfg.server.users_file.empty() ? cfg.server.users_file : calma::find_default("config/users.json"));
  // Swapped whole on SIGHUP or when the file changes (users_watcher, below).
  calma::auth::user_directory directory;
  calma::auth::revocations revoked;  // signed-out tokens (in a cluster kept in step through Redis)
  if (!users_path.empty()) {
    std::vector<std::string> errors;
    auto loaded = calma::auth::load_users(users_path, errors);
    if (!errors.empty()) die(join(errors));
    for (const auto& [id, u] : loaded)
      for (const auto& st : u.stores)
        if (!cfg.find_store(st))
          std::cerr << "calma-server: warning: users file " << users_path << ": " << id
                    << " serves store '" << st << "', which is not configured" << std::endl;
    directory.replace(std::move(loaded));
  } else {
    std::cerr << "calma-server: warning: no users file: staff cannot log in (use --users)" << std::endl;
  }
  // Prepared answers: config/canned beside the config file, else the repository's.
  std::string canned_dir;
  if (!config_file.empty()) {
    // Only a folder that holds answers: a stray "canned" folder beside a config in /tmp is not one.
    auto beside = std::filesystem::path(config_file).parent_path() / "canned";
    std::error_code ec;
    for (const auto& st : cfg.stores)
      for (const auto& l : st.languages)
        if (canned_dir.empty() && std::filesystem::is_regular_file(beside / (l + ".json"), ec)) canned_dir = beside.string();
  }
  if (canned_dir.empty()) canned_dir = calma::find_default("config/canned");
  calma::canned::library canned;
  {
    std::vector<std::string> errors;
    if (!canned_dir.empty()) canned = calma::load_canned(canned_dir, cfg.stores, errors);
    if (!errors.empty()) die("bad prepared answers: " + join(errors));
  }
  // The anger curve: its parameters and lexicons, checked before anything runs.
  std::string lexicon_dir = cfg.server.lexicon_dir;
  if (lexicon_dir.empty() && !config_file.empty()) {
    auto beside = std::filesystem::path(config_file).parent_path() / "lexicons";
    if (std::filesystem::exists(beside)) lexicon_dir = beside.string();
  }
  if (lexicon_dir.empty()) lexicon_dir = calma::find_default("config/lexicons");
  if (lexicon_dir.empty()) die("no lexicons found: set server.lexicon_dir");
  std::vector<std::string> anger_errors;
  auto engine = calma::load_anger_engine(cfg.anger, cfg.escalation, lexicon_dir, anger_errors);
  if (!engine) die("bad anger configuration: " + join(anger_errors));
  // Complaint causes: causes/ beside the lexicons, else the repository's.
  {
    std::string causes_dir = (std::filesystem::path(lexicon_dir).parent_path() / "causes").string();
    if (!std::filesystem::exists(causes_dir)) causes_dir = calma::find_default("config/causes");
    if (causes_dir.empty()) die("no complaint causes' lexicons found (config/causes)");
    std::vector<std::string> errors;
    if (!calma::load_causes(*engine, causes_dir, errors)) die("bad complaint causes: " + join(errors));
  }

  std::string static_root =
      !cfg.server.static_dir.empty() ? cfg.server.static_dir : calma::find_default("client-web/dist");
  if (static_root.empty()) static_root = "client-web/dist";

  std::string secret = cfg.auth.token_secret;
  bool generated_secret = false, shared_secret = false;
  if (const char* env = std::getenv("CALMA_TOKEN_SECRET"); secret.empty() && env && *env) secret = env;
  if (secret.empty()) {
    secret = calma::auth::random_token(32);
    generated_secret = true;
  } else if (secret.size() < 32) {
    die("the token secret must be at least 32 characters");
  }

  // Operator log on stderr; the "listening on" line stays on stdout.
  {
    auto logger = spdlog::stderr_logger_mt("calma");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    logger->set_level(spdlog::level::from_str(cfg.server.log_level));
    spdlog::set_default_logger(logger);
  }

  // ---- composition
  const int nthreads = cfg.server.threads > 0 ? cfg.server.threads
                                              : std::max(1u, std::thread::hardware_concurrency());
  boost::asio::io_context ioc(nthreads);
  calma::metrics stats;
  calma::clock_fn clock = system_now;
  std::unique_ptr<calma::store> store_ptr;
  calma::redis_options ro;
  // In a cluster: this process's member id, the node's name and an incarnation.
  const std::string cluster_member = cfg.server.node_id + "@" + calma::auth::random_token(6);
  // The hubs decide side by side, one per shard: a group of stores each
  // (server/hub/shard_set.hpp); as many as threads unless the config says.
  // In a cluster each shard is leased on its own, so every node must plan
  // the same shards (the same users file, stores and server.shards).
  // Unset in a cluster: one per store group up to 8, whatever the machine
  // (nodes with different core counts must still plan alike; beyond 8 a
  // supervisor of every store would merge too many legs).
  constexpr int cluster_default_shards = 8;
  const int shards_asked = cfg.server.shards > 0   ? cfg.server.shards
                           : cfg.redis.url.empty() ? nthreads
                                                   : std::min(cluster_default_shards, static_cast<int>(cfg.stores.size()));
  const auto cluster_plan = calma::shard_router::plan_for(cfg, *directory.snapshot(), shards_asked);
  if (cfg.redis.url.empty()) {
    store_ptr = std::make_unique<calma::memory_store>();
  } else {
    ro.url = cfg.redis.url;
    ro.password = cfg.redis.password;
    ro.connect_timeout_ms = cfg.redis.connect_timeout_ms;
    ro.command_timeout_ms = cfg.redis.command_timeout_ms;
    ro.retention_s = cfg.redis.retention_s;
    ro.key_prefix = cfg.redis.key_prefix;
    ro.wakeups = false;  // the cluster's leader sees every message: nobody subscribes
    ro.sentinels = cfg.redis.sentinels;
    ro.sentinel_master = cfg.redis.sentinel_master;
    ro.sentinel_password = cfg.redis.sentinel_password;
    // Conversations change only through the leader of their store's hub
    // shard (server/cluster), fenced by that shard's lease.
    ro.fence_value = cluster_member;
    ro.fence_key_of = [plan = cluster_plan, prefix = cfg.redis.key_prefix](const std::string& store_id) {
      return calma::cluster::node::lease_key(prefix, static_cast<std::size_t>(plan.shards),
                                             static_cast<std::size_t>(plan.store_shard(store_id)));
    };
    std::string err;
    auto rs = calma::redis_store::create(ioc, ro, err);
    if (!rs) die("--redis: " + err);
    // Before the I/O threads start: a store that cannot be reached is a start-up error.
    err = rs->wait_ready(std::chrono::milliseconds(cfg.redis.startup_timeout_ms));
    if (!err.empty()) die(err, 1);
    if (generated_secret) {
      // No secret configured: every node on this Redis shares the first one
      // stored there, so a token from one node is good on the others.
      secret = rs->shared_token_secret(secret, err);
      if (secret.empty()) die("cannot share a token secret through Redis: " + err, 1);
      generated_secret = false;
      shared_secret = true;
    }
    store_ptr = std::move(rs);
  }
  calma::store& store = *store_ptr;
  const calma::auth::token_signer signer(secret);
  auto make_hub = [&] { return std::make_shared<calma::hub>(ioc, cfg, store, stats, signer, directory, clock, engine, &revoked); };
  auto make_hubs = [&] { return std::make_shared<calma::shard_set>(cfg, store, signer, directory, make_hub, shards_asked, &stats); };
  // Alone (memory store): this process's hubs. On Redis, the node joins
  // the cluster of every node on that Redis (one alone is a cluster of one):
  // the leader's hubs serve every node's clients (server/cluster/node.hpp).
  // The hubs the HTTP API reads conversations through: on Redis, ones that are
  // never started and answer from the store.
  std::shared_ptr<calma::shard_set> the_hub = make_hubs();
  std::shared_ptr<calma::cluster::node> cluster_node;
  std::shared_ptr<calma::front> the_front;
  if (cfg.redis.url.empty()) {
    the_front = std::make_shared<calma::local_front>(the_hub);
  } else {
    calma::cluster::node_options no;
    no.node_id = cluster_member;
    no.key_prefix = cfg.redis.key_prefix;
    no.redis = calma::connection_options_from(ro);
    std::string lease_err;
    auto lease = calma::cluster::lease_params_for(cfg.redis.leader_lease_ms, &lease_err);
    if (!lease) die(lease_err, 1);
    no.lease = *lease;
    no.node_timeout_ms = cfg.redis.node_timeout_ms;
    no.revoked = &revoked;
    cluster_node = calma::cluster::node::create(ioc, std::move(no), cfg, stats,
                                                calma::cluster::node_shards{&store, &signer, &directory, cluster_plan},
                                                make_hub);
    the_front = cluster_node;
  }
  calma::http_api api(cfg, the_hub, store, stats, signer, directory, clock, static_root, std::move(canned), &revoked);
  // A sign-out closes the sessions holding that token (alone: this hub; in a cluster, where this node leads).
  api.on_signed_out([&](std::string id, calma::timestamp_ms exp) {
    if (!cluster_node) the_hub->signed_out(std::move(id));
    else cluster_node->signed_out(std::move(id), exp);
  });
  if (cluster_node) api.set_health_extra([n = cluster_node] { return n->status(); });
  // The doors: limits per client address and in total. The total follows
  // the open-file limit, raised to its hard limit: each connection is one fd,
  // and a server out of fds serves nobody.
  calma::doors gate(cfg, clock, stats);
  {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
      if (rl.rlim_cur < rl.rlim_max) {
        rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
      }
      constexpr rlim_t reserve = 64;  // the store's connections, files, the listener
      const auto fds = rl.rlim_cur == RLIM_INFINITY ? rlim_t{1'000'000} : rl.rlim_cur;
      const int room = fds > reserve ? static_cast<int>(std::min<rlim_t>(fds - reserve, 10'000'000)) : 1;
      int total = cfg.doors.connections_total;
      if (total == 0 || total > room) {
        if (total > room)
          std::cerr << "calma-server: note: doors.connections_total " << total << " is more than the open-file limit allows; using "
                    << room << std::endl;
        total = room;
      }
      gate.set_total_limit(total);
    }
  }
  api.set_doors(&gate);
  auto ctx = std::shared_ptr<calma::net_context>(new calma::net_context{cfg, the_front, api, stats, clock, gate});
  ctx->one_thread = nthreads == 1;
  calma::listener lst(ioc, ctx);
  if (auto err = lst.open(cfg.server.bind, cfg.server.port); !err.empty()) die(err, 1);

  // SIGHUP, or a change of the users file (checked every second): reload it.
  // Before the "listening on" line: from then on SIGHUP reloads instead of ending the process.
  calma::auth::users_watcher users_watch(ioc, users_path, directory);
  users_watch.on_reloaded([&] {
    if (cluster_node) {
      cluster_node->users_changed();
      cluster_node->users_plan(calma::shard_router::plan_for(cfg, *directory.snapshot(), shards_asked));
    } else {
      the_hub->users_changed();
    }
  });
  users_watch.start();

  std::string start_error;
  auto started = [&] {
    lst.start();
    if (generated_secret)
      std::cerr << "calma-server: note: no auth.token_secret configured; generated one for this run "
                   "(tokens end with the process; set auth.token_secret to keep them across restarts)"
                << std::endl;
    if (shared_secret)
      std::cerr << "calma-server: note: no auth.token_secret configured; using the one every node on this "
                   "Redis shares (stored there: set auth.token_secret to keep it out of Redis)"
                << std::endl;
    std::string shown = cfg.server.bind == "0.0.0.0" ? "127.0.0.1" : cfg.server.bind;
    std::cout << "calma-server: listening on http://" << shown << ":" << lst.port() << " (node "
              << cfg.server.node_id << ", store " << store.kind() << ", " << nthreads << " threads, "
              << directory.snapshot()->size() << " staff users, up to " << gate.total_limit() << " connections"
              << (cluster_node ? (cluster_node->leading() ? ", leading the cluster" : ", following the cluster's leader") : "")
              << ")" << std::endl;
  };
  if (cluster_node) {
    cluster_node->start(started);
  } else {
    the_hub->start([&](std::string err) {
      if (!err.empty()) {
        start_error = err;
        ioc.stop();
        return;
      }
      started();
    });
  }

  // Store housekeeping once a minute, on the node that leads shard 0 (or alone).
  boost::asio::steady_timer housekeeping(ioc);
  std::function<void()> housekeep = [&] {
    housekeeping.expires_after(std::chrono::seconds(60));
    housekeeping.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      if (!cluster_node || cluster_node->leads_first())
        store.maintain([](calma::result<std::size_t> r) {
          if (!r.ok()) spdlog::warn("store housekeeping failed: {}", r.error);
          else if (r.value > 0) spdlog::info("store housekeeping: {} expired conversations trimmed from the indexes", r.value);
        });
      housekeep();
    });
  };
  housekeep();

  // SIGTERM/SIGINT: stop accepting, close every session with 1001, let the
  // queued frames go out, then stop. Messages are acked only once stored, so
  // nothing acked is lost by stopping.
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  boost::asio::steady_timer grace(ioc);
  std::function<void()> drain_check;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    std::cout << "calma-server: signal " << sig << ", draining" << std::endl;
    ctx->draining = true;
    lst.stop();
    housekeeping.cancel();
    users_watch.stop();
    if (cluster_node) cluster_node->stop();
    else the_hub->stop();
    // Stop as soon as every session has closed, at the latest after the grace period.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.server.shutdown_grace_ms);
    drain_check = [&, deadline] {
      // This node's sockets; in a cluster, also the lease given up, so another node leads at once.
      const bool done = stats.websocket_sessions <= 0 && (!cluster_node || cluster_node->released());
      if (done || std::chrono::steady_clock::now() >= deadline) return ioc.stop();
      grace.expires_after(std::chrono::milliseconds(20));
      grace.async_wait([&](const boost::system::error_code& e) {
        if (!e) drain_check();
      });
    };
    drain_check();
  });

  std::vector<std::thread> pool;
  for (int i = 1; i < nthreads; ++i)
    pool.emplace_back([&, i] {
      // Named for top, perf and calma-load's per-thread figures (the first runs on the main thread).
      pthread_setname_np(pthread_self(), ("calma-io-" + std::to_string(i)).c_str());
      ioc.run();
    });
  ioc.run();
  ioc.stop();
  for (auto& t : pool) t.join();
  if (!start_error.empty()) die("cannot start: " + start_error, 1);
  std::cout << "calma-server: stopped" << std::endl;
  return 0;
}

// calma-bench-reports: the time to compute the store report (summary and CSV)
// over N stored conversations, through the same report_runner the HTTP API
// uses (pages of 500 read from the store, added up off the hub), on the
// memory store and on Redis (a redis-server started here on a free port).
//
//   build/tests/bench/reports/calma-bench-reports --conversations 10000 --runs 5
//
// Prints, per store: conversations stored, then min / median / max of the
// summary's and the CSV's wall time over the runs, and conversations per second.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <random>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include "server/report_runner.hpp"
#include "server/store/memory_store.hpp"
#include "server/store/redis_store.hpp"
#include "tests/store/support.hpp"

using namespace calma;
using clk = std::chrono::steady_clock;

namespace {

// Stored conversations that look like a real day: several agents, a third
// escalated, most rated, causes spread, anger figures from 0 to 100.
conversation_record sample(int i, timestamp_ms base, std::mt19937& rng) {
  static const char* causes[] = {"delivery", "damaged", "wrong_item", "refund", "payment", "service", "other"};
  static const char* reasons[] = {"level_high", "manager_request", "queue_wait", "unanswered", "legal_threat"};
  std::uniform_real_distribution<double> level(0, 100);
  conversation_record c;
  c.id = "bench-" + std::to_string(i);
  c.shopper = {"s" + std::to_string(i), "Shopper " + std::to_string(i), i % 3 ? "es" : "pl", i % 4 ? "demo" : "demo-pl", {}};
  c.state = conversation_state::closed;
  c.created_ts = base + static_cast<timestamp_ms>(i) * 60'000;
  c.updated_ts = c.created_ts + 600'000;
  const std::string agent = "agent" + std::to_string(i % 12);
  c.agent_id = agent;
  c.agent_name = "Agent " + std::to_string(i % 12);
  c.first_response_ts = c.created_ts + 5'000 + static_cast<timestamp_ms>(rng() % 300'000);
  c.csat_score = i % 5 == 0 ? 0 : 1 + static_cast<int>(rng() % 5);
  c.csat_comment = c.csat_score ? "gracias, todo bien" : "";
  c.categories = {causes[rng() % 7]};
  c.figures.peak_level = level(rng);
  c.figures.closing_level = c.figures.peak_level * 0.3;
  if (i % 3 == 0) {
    c.figures.escalations = 1;
    c.figures.escalation_reasons = {reasons[rng() % 5]};
  }
  c.figures.first_response_by = agent;
  c.figures.agents.push_back(agent_figures{agent, c.agent_name, 1 + static_cast<int>(rng() % 6), level(rng) / 2});
  return c;
}

struct figures {
  double min, median, max;
};
figures stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2], v.back()};
}

void run(const char* name, store& st, boost::asio::io_context& ioc, int n, int runs) {
  // Fill: created in order, in batches so Redis pipelines them.
  std::mt19937 rng(42);
  const timestamp_ms base = 1'796'083'200'000;
  const auto t0 = clk::now();
  for (int i = 0; i < n;) {
    std::promise<void> batch;
    auto left = std::make_shared<int>(std::min(500, n - i));
    const int end = i + *left;
    for (; i < end; ++i)
      st.create_conversation(sample(i, base, rng), [&batch, left](result<none> r) {
        if (!r.ok()) std::fprintf(stderr, "store error: %s\n", r.error.c_str());
        if (--*left == 0) batch.set_value();
      });
    batch.get_future().wait();
  }
  const double fill_s = std::chrono::duration<double>(clk::now() - t0).count();
  report_runner runner(st);
  window_query q;
  q.from = base;
  q.to = base + static_cast<timestamp_ms>(n) * 60'000 + 1;
  std::vector<double> summary_ms, csv_ms;
  std::size_t counted = 0, csv_bytes = 0;
  for (int r = 0; r < runs; ++r) {
    std::promise<void> done;
    auto s0 = clk::now();
    runner.summary(q, [&](result<nlohmann::json> res) {
      counted = res.ok() ? res.value["conversations"].get<std::size_t>() : 0;
      done.set_value();
    });
    done.get_future().wait();
    summary_ms.push_back(std::chrono::duration<double, std::milli>(clk::now() - s0).count());
    std::promise<void> done2;
    auto c0 = clk::now();
    runner.csv(q, [&](result<std::string> res) {
      csv_bytes = res.ok() ? res.value.size() : 0;
      done2.set_value();
    });
    done2.get_future().wait();
    csv_ms.push_back(std::chrono::duration<double, std::milli>(clk::now() - c0).count());
  }
  auto s = stats(summary_ms), c = stats(csv_ms);
  std::printf("%-6s conversations=%zu (filled in %.2f s)  summary ms min/median/max = %.1f / %.1f / %.1f  (%.0f conv/s)  "
              "csv ms = %.1f / %.1f / %.1f (%zu KiB)\n",
              name, counted, fill_s, s.min, s.median, s.max, counted / (s.median / 1000.0), c.min, c.median, c.max,
              csv_bytes / 1024);
  (void)ioc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time the store report over stored conversations (memory store and Redis)"};
  int n = 10'000, runs = 5;
  bool skip_redis = false;
  app.add_option("--conversations", n, "conversations stored")->check(CLI::Range(1, 1'000'000));
  app.add_option("--runs", runs, "runs of each report")->check(CLI::Range(1, 100));
  app.add_flag("--no-redis", skip_redis, "only the memory store");
  CLI11_PARSE(app, argc, argv);

  {
    boost::asio::io_context ioc;
    memory_store st;
    run("memory", st, ioc, n, runs);
  }
  if (!skip_redis) {
    test::redis_server redis;
    boost::asio::io_context ioc;
    auto guard = boost::asio::make_work_guard(ioc);
    std::thread io([&] { ioc.run(); });
    redis_options o;
    o.url = redis.url();
    std::string err;
    auto st = redis_store::create(ioc, o, err);
    if (!st) {
      std::fprintf(stderr, "redis: %s\n", err.c_str());
      guard.reset();
      io.join();
      return 1;
    }
    std::promise<std::string> ready;
    st->when_ready(std::chrono::seconds(10), [&](std::string e) { ready.set_value(e); });
    if (auto e = ready.get_future().get(); !e.empty()) {
      std::fprintf(stderr, "redis: %s\n", e.c_str());
      return 1;
    }
    run("redis", *st, ioc, n, runs);
    st.reset();
    guard.reset();
    io.join();
  }
  return 0;
}

// calma-bench-doors: the floods of issue 10, repeated against the real
// calma-server. Each scenario floods from 127.0.0.1 and measures a bystander
// from 127.0.0.2 at the same time; it prints what the flooder got and how the
// bystander was served, next to the bystander's figures without the flood.
// A program, not a test: the figures depend on the machine.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <thread>

#include <CLI/CLI.hpp>

#include "tests/support/harness.hpp"

using namespace calma::test;
using clk = std::chrono::steady_clock;

namespace {

const std::string bystander = "127.0.0.2";

double ms_since(clk::time_point t) { return std::chrono::duration<double, std::milli>(clk::now() - t).count(); }

struct stats {
  std::vector<double> v;
  void add(double x) { v.push_back(x); }
  double pct(double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
  }
};

std::string config_file(const json& extra) {
  json j{{"auth", {{"token_secret", "bench-doors-secret-0123456789abcdef0123"}}}};
  j.merge_patch(extra);
  return temp_file(j.dump());
}

std::vector<std::string> args(const std::string& source, const json& extra = json::object()) {
  return {"--config", config_file(extra), "--users", source + "/config/users.json", "--bind", "127.0.0.1"};
}

http_options from(const std::string& a) {
  http_options o;
  o.from = a;
  return o;
}

std::string login_body(const std::string& u, const std::string& p) { return json{{"username", u}, {"password", p}}.dump(); }

/// A bystander shopper: hello, then `n` messages one after another; the ack time of each.
stats chat_acks(std::uint16_t port, int n) {
  stats s;
  client_options o;
  o.from = bystander;
  ws_client c(port, o);
  hello_shopper(c, "Bea", "es");
  for (int i = 0; i < n; ++i) {
    const auto cmid = "b" + std::to_string(i);
    auto t = clk::now();
    c.send(json{{"type", "chat.send"}, {"client_msg_id", cmid}, {"text", "hola, una pregunta sobre mi pedido"}});
    c.expect_if("ack", [&](const json& a) { return a["client_msg_id"] == cmid; }, std::chrono::seconds(30));
    s.add(ms_since(t));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a person types; one rate limit bucket
  }
  return s;
}

void logins(const std::string& src) {
  server_process srv(args(src));
  auto t0 = clk::now();
  auto quiet = http_from(srv.port(), "POST", "/api/v1/login", login_body("agent", "agent"), from(bystander));
  const double alone = ms_since(t0);
  std::map<unsigned, int> got;
  std::mutex mu;
  std::vector<std::thread> flood;
  for (int i = 0; i < 300; ++i)
    flood.emplace_back([&, i] {
      auto r = http_from(srv.port(), "POST", "/api/v1/login", login_body("bogus" + std::to_string(i), "x"), from("127.0.0.1"));
      std::lock_guard lk(mu);
      ++got[r.status];
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  t0 = clk::now();
  auto during = http_from(srv.port(), "POST", "/api/v1/login", login_body("agent", "agent"), from(bystander));
  const double with_flood = ms_since(t0);
  for (auto& t : flood) t.join();
  std::printf("| 300 concurrent bogus logins | ");
  for (auto [k, v] : got) std::printf("%u x%d ", k, v);
  std::printf("| real login %u in %.0f ms (alone: %u in %.0f ms) |\n", during.status, with_flood, quiet.status, alone);
}

void half_open(const std::string& src, int n) {
  server_process srv(args(src));
  auto before = chat_acks(srv.port(), 20);
  std::vector<std::unique_ptr<raw_tcp>> held;
  for (int i = 0; i < n; ++i) held.push_back(std::make_unique<raw_tcp>(srv.port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  int cut = 0;
  for (auto& h : held) {
    h->write("GET /ws HTTP/1.1\r\nHost: x\r\n");  // never finished
    if (h->closed_by_peer(std::chrono::milliseconds(20))) ++cut;
  }
  auto during = chat_acks(srv.port(), 20);
  std::printf("| %d half-open upgrades from one address | %d closed at once (429) | bystander ack p50 %.2f / p99 %.2f ms (before %.2f / %.2f) |\n",
              n, cut, during.pct(0.5), during.pct(0.99), before.pct(0.5), before.pct(0.99));
}

void throwaway_shoppers(const std::string& src) {
  server_process srv(args(src, {{"routing", {{"abandon_after_s", 2}, {"queue_snapshot_interval_s", 1}}},
                                {"escalation", {{"queue_wait_s", 4}}}}));
  auto sup_token = login(srv.port(), "supervisor", "supervisor");
  ws_client sup(srv.port());
  hello_token(sup, sup_token);
  int acked = 0, refused = 0, not_connected = 0;
  for (int i = 0; i < 300; ++i) {
    std::unique_ptr<ws_client> tp;
    try {
      tp = std::make_unique<ws_client>(srv.port());
    } catch (const std::exception&) {
      ++not_connected;  // 429 at the upgrade: too many new connections
      continue;
    }
    auto& t = *tp;
    hello_shopper(t, "T", "es");
    t.send(json{{"type", "chat.send"}, {"client_msg_id", "t"}, {"text", "x"}});
    for (;;) {
      auto f = t.next(std::chrono::seconds(5));
      if (!f) break;
      if ((*f)["type"] == "ack") {
        ++acked;
        break;
      }
      if ((*f)["type"] == "error") {
        ++refused;
        break;
      }
    }
  }
  client_options o;
  o.from = bystander;
  ws_client real(srv.port(), o);
  hello_shopper(real, "Real", "es");
  real.send(json{{"type", "chat.send"}, {"client_msg_id", "r"}, {"text", "hola, necesito ayuda"}});
  const auto real_conv = real.expect("ack")["conversation_id"].get<std::string>();
  const int first_pos = real.expect("conversation.queued")["position"];
  int later_pos = first_pos;
  auto until = clk::now() + std::chrono::seconds(8);
  int escalations = 0, of_real = 0;
  while (clk::now() < until) {
    if (auto f = real.next(std::chrono::milliseconds(100)); f && (*f)["type"] == "conversation.queued") later_pos = (*f)["position"];
    while (auto g = sup.next(std::chrono::milliseconds(0)))
      if ((*g)["type"] == "escalation.raised") ++((*g)["conversation_id"] == real_conv ? of_real : escalations);
  }
  std::printf("| 300 throw-away shoppers from one address | %d conversations opened, %d refused (rate_limited), %d upgrades refused (429) | real shopper position %d, then %d; escalations in 8 s: %d of the real shopper, %d of the abandoned (abandon_after_s 2, queue_wait_s 4) |\n",
              acked, refused, not_connected, first_pos, later_pos, of_real, escalations);
}

void big_frames(const std::string& src) {
  server_process srv(args(src));
  auto before = chat_acks(srv.port(), 40);
  std::atomic<bool> stop{false};
  std::atomic<int> cut{0}, sent{0};
  std::vector<std::thread> flood;
  for (int i = 0; i < 4; ++i)
    flood.emplace_back([&] {
      while (!stop) {
        try {
          ws_client c(srv.port());
          c.send_text(std::string(1 << 20, 'x'));
          ++sent;
          if (c.wait_closed(std::chrono::seconds(2))) ++cut;
        } catch (const std::exception&) {
          ++cut;  // cut while writing
        }
      }
    });
  auto during = chat_acks(srv.port(), 40);
  stop = true;
  for (auto& t : flood) t.join();
  std::printf("| 4 connections sending 1 MB frames before hello | %d cut (1009) | bystander ack p50 %.2f / p99 %.2f ms (before %.2f / %.2f) |\n",
              cut.load(), during.pct(0.5), during.pct(0.99), before.pct(0.5), before.pct(0.99));
}

void pings(const std::string& src) {
  server_process srv(args(src));
  auto before = chat_acks(srv.port(), 20);
  ws_client c(srv.port());
  hello_shopper(c);
  int n = 0;
  auto t0 = clk::now();
  while (n < 1'000'000 && c.send_control_ping()) {
    ++n;
    if (c.is_closed()) break;
  }
  c.wait_closed(std::chrono::seconds(2));
  const double took = ms_since(t0);
  auto during = chat_acks(srv.port(), 20);
  std::printf("| control pings as fast as possible | closed %d after %d pings (%.0f ms) | bystander ack p50 %.2f / p99 %.2f ms (before %.2f / %.2f) |\n",
              c.close_code(), n, took, during.pct(0.5), during.pct(0.99), before.pct(0.5), before.pct(0.99));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"calma-bench-doors: issue 10's floods against the real server, flooder 127.0.0.1, bystander 127.0.0.2"};
  std::string source = CALMA_SOURCE_DIR;
  int half = 3000;
  app.add_option("--source", source, "the source tree (config/users.json)");
  app.add_option("--half-open", half, "half-open connections in that scenario");
  std::string only;
  app.add_option("--only", only, "one scenario: logins, half-open, shoppers, frames, pings");
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  std::printf("| flood (from 127.0.0.1) | the flooder got | the bystander (127.0.0.2) |\n| --- | --- | --- |\n");
  auto run = [&](const char* name, auto f) {
    if (!only.empty() && only != name) return;
    try {
      f();
    } catch (const std::exception& e) {
      std::printf("| %s | failed: %s | |\n", name, e.what());
    }
  };
  run("logins", [&] { logins(source); });
  run("half-open", [&] { half_open(source, half); });
  run("shoppers", [&] { throwaway_shoppers(source); });
  run("frames", [&] { big_frames(source); });
  run("pings", [&] { pings(source); });
  return 0;
}

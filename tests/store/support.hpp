// Test support for the store suite: a real redis-server child per test, and
// helpers that drive an io_context on the test thread until a completion
// arrives (no sleeps: the loop blocks in run_one() until something happens,
// and a watchdog timer bounds the wait).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "server/store/store.hpp"

namespace calma::test {

/// A redis-server on 127.0.0.1:<free port> with its own temp dir, logging to
/// a pipe drained by a thread. start() returns when Redis logs that it is
/// ready; kill() sends SIGKILL; restart() starts it again on the same port and
/// dir (so an AOF is replayed).
class redis_server {
 public:
  explicit redis_server(std::vector<std::string> extra_args = {});
  /// A Redis Sentinel watching the master at 127.0.0.1:`master_port` as
  /// `name`, with quorum 1 and short timeouts (down after 500 ms).
  static std::unique_ptr<redis_server> sentinel(int master_port, const std::string& name);
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  void start();
  void kill();
  void restart() { start(); }
  void pause();   ///< SIGSTOP: the socket stays open, nothing answers
  void resume();  ///< SIGCONT

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_; }

 private:
  redis_server(std::vector<std::string> extra_args, bool start_now);
  std::vector<std::string> extra_;
  std::string config_file_;  ///< first argument when set (Sentinel needs one)
  std::string ready_marker_ = "Ready to accept connections";
  std::string binary_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::thread drain_;
};

/// A port nothing listens on (bound then released).
int free_port();

/// Runs `ioc` on this thread until pred() is true or `timeout` passes;
/// returns pred().
bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(15));

/// Starts an operation with a callback<T> and runs `ioc` until it completes.
/// Fails the test (REQUIRE) if it does not complete in time.
template <class T, class Start>
result<T> await(boost::asio::io_context& ioc, Start&& start,
                std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  auto out = std::make_shared<std::optional<result<T>>>();
  start([out](result<T> r) { *out = std::move(r); });
  const bool done = run_until(ioc, [&] { return out->has_value(); }, timeout);
  if (!done) throw std::runtime_error("store operation did not complete in time");
  return std::move(**out);
}

}  // namespace calma::test

// One asynchronous connection to Redis (hiredis 0.14 on the server's
// io_context, through asio_adapter), with the things hiredis 0.14 lacks:
// connect and command timeouts, AUTH/SELECT on connect, and reconnection with
// full-jitter exponential backoff.
//
// Threading: every public member may be called from any thread; the work is
// posted to the connection's strand, so calls from one thread keep their order
// and are pipelined on the socket in that order. Nothing here blocks. Handlers
// run on the strand.
//
// Failure: while the connection is not ready a command fails at once with
// "not connected: <last error>". When the connection drops, or a command gets
// no reply within command_timeout_ms (replies are ordered, so one late reply
// stalls all that follow: the connection is torn down), every command in
// flight fails with the reason. A failed command may or may not have been
// applied by Redis; callers treat failures as "safe to retry" only with
// idempotent commands (the store's scripts are).
//
// Lifetime: created by create() as a shared_ptr; call stop() when done (it is
// also what the owner's destructor should do); in-flight commands keep the
// object alive until they are answered.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "server/store/redis/value.hpp"

struct redisAsyncContext;

namespace calma::redis {

struct connection_options {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string username;  ///< ACL user (Redis 6+); empty: AUTH with the password alone
  std::string password;  ///< empty: no AUTH
  int db = 0;            ///< 0: no SELECT
  int connect_timeout_ms = 2000;  ///< resolve + TCP connect + handshake
  int command_timeout_ms = 2000;  ///< per command, from issue to reply
  /// Commands sent and not yet answered; beyond it a command fails at once
  /// ("Redis overloaded") instead of growing hiredis's buffers without bound.
  std::size_t max_inflight = 10000;
  int backoff_min_ms = 100;
  int backoff_max_ms = 5000;
  /// Redis Sentinel: when non-empty, every (re)connection first asks these
  /// sentinels ("host:port", in order, the first that answers wins) where the
  /// master named `sentinel_master` is, and then checks with ROLE that the
  /// server it reached is that master (else it drops it and asks again).
  /// `host` and `port` are then unused.
  std::vector<std::string> sentinels;
  std::string sentinel_master = "mymaster";
  std::string sentinel_password;  ///< AUTH to the sentinels; empty: none
  /// Sent after AUTH/SELECT on every (re)connection; an error reply to any of
  /// them tears the connection down. The connection is ready once all replied.
  std::vector<std::vector<std::string>> on_connect;
};

/// Parses redis://[[user]:password@]HOST[:PORT][/DB] into host, port, password, db.
bool parse_redis_url(std::string_view url, connection_options& out, std::string& error);

class connection : public std::enable_shared_from_this<connection> {
 public:
  using reply_handler = std::function<void(reply_or_error)>;

  static std::shared_ptr<connection> create(boost::asio::io_context& ioc, connection_options o);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Callbacks, set before start(). on_ready: after every successful (re)connect
  /// and handshake; on_down(reason): after every failed attempt or lost connection.
  void set_on_ready(std::function<void()> f) { on_ready_ = std::move(f); }
  void set_on_down(std::function<void(const std::string&)> f) { on_down_ = std::move(f); }

  /// Makes this a subscriber connection: on every (re)connect it subscribes to
  /// `channel` and is ready when Redis confirms. It must then carry no command.
  void set_subscription(std::string channel, std::function<void(std::string payload)> on_message);

  void start();
  void stop();  ///< fails what is in flight; no reconnection afterwards

  /// Sends one command (argv form, binary safe). `cb` is called exactly once, on the strand.
  void command(std::vector<std::string> args, reply_handler cb);

  bool connected() const { return ready_.load(); }
  std::string last_error() const;
  std::string endpoint() const;

 private:
  struct pending;
  connection(boost::asio::io_context& ioc, connection_options o);

  void do_connect();
  void connect_to_target(std::uint64_t gen);
  void arm_connect_timer(std::uint64_t gen);
  void ask_sentinel(std::uint64_t gen, std::size_t index, std::string errors);
  void start_hiredis(const std::string& ip);
  void on_resolved(const boost::system::error_code& ec,
                   const boost::asio::ip::tcp::resolver::results_type& results);
  void on_tcp_connected(int status);
  void on_hiredis_disconnect();
  void handshake_reply(const reply_or_error& r);
  void become_ready();
  void teardown(const std::string& reason);  ///< we drop the link
  void link_lost(const std::string& reason);  ///< common tail: state, callbacks, backoff
  void schedule_reconnect();
  void do_command(std::vector<std::string>& args, reply_handler& cb);
  void arm_command_timer();
  void set_error(std::string e);

  static void reply_trampoline(redisAsyncContext* ac, void* r, void* privdata);
  static void sub_trampoline(redisAsyncContext* ac, void* r, void* privdata);
  static void connect_trampoline(const redisAsyncContext* ac, int status);
  static void disconnect_trampoline(const redisAsyncContext* ac, int status);

  connection_options opts_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer command_timer_;
  boost::asio::steady_timer backoff_timer_;
  std::minstd_rand rng_;

  // Strand-only state.
  redisAsyncContext* ac_ = nullptr;
  std::uint64_t generation_ = 0;  ///< bumps per attempt; stale timer/resolve handlers check it
  bool stopping_ = false;
  bool tcp_up_ = false;
  bool command_timer_armed_ = false;
  int attempt_ = 0;
  std::size_t handshake_left_ = 0;
  std::string teardown_reason_;
  std::deque<pending*> inflight_;  ///< in send order; replies come back in that order
  std::string host_;  ///< where to connect: opts_.host, or what Sentinel said
  int port_ = 0;
  std::shared_ptr<connection> asking_;  ///< the connection to a sentinel, while asking
  std::string sub_channel_;
  std::function<void(std::string)> on_message_;
  std::function<void()> on_ready_;
  std::function<void(const std::string&)> on_down_;

  std::atomic<bool> ready_{false};
  mutable std::mutex err_mu_;
  std::string last_error_ = "not connected yet";
  std::string target_;  ///< host:port of the current target, under err_mu_
};

}  // namespace calma::redis

// The network front: a listener that accepts TCP, an HTTP session per
// connection, and a WebSocket session once a connection upgrades on /ws.
// Beast stays inside net/*.cpp; this header only names what main composes.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "common/config/config.hpp"
#include "server/hub/front.hpp"
#include "server/hub/hub.hpp"
#include "server/metrics.hpp"
#include "server/net/doors.hpp"
#include "server/net/http_api.hpp"

namespace calma {

/// What every session needs; built once by main, shared by pointer.
struct net_context {
  const config& cfg;
  std::shared_ptr<front> the_front;
  http_api& api;
  metrics& stats;
  clock_fn clock;
  doors& gate;  ///< the limits per client address and in total
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<bool> draining{false};
  /// One thread runs the io_context: connections need no strand of their own
  /// (a strand costs an allocation per connection and a hop per handler).
  bool one_thread = false;
};

class listener_impl;

class listener {
 public:
  listener(boost::asio::io_context& ioc, std::shared_ptr<net_context> ctx);
  ~listener();
  /// Binds and listens; returns an error message (empty on success).
  std::string open(const std::string& address, std::uint16_t port);
  std::uint16_t port() const;
  void start();
  void stop();

 private:
  std::shared_ptr<listener_impl> impl_;
};

}  // namespace calma

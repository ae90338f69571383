// What the benchmark programs (tests/bench/load: calma-load, tests/bench/fanout:
// calma-bench-fanout) share: one WebSocket client connection on an
// io_context (connect, handshake, a read loop, a write queue), temporary
// files, a users file's password hash from `calma-server hash-password`,
// and the doors opened wide (a benchmark from 127.0.0.1 measures the
// server, not its limits per address). Header-only: each program is one
// translation unit.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

namespace calma::bench {

/// A client connection. Set on_bytes (each frame's bytes, valid during the
/// call) and on_end before connect(); frames queued with send() go out one
/// at a time, in order.
struct ws_conn : std::enable_shared_from_this<ws_conn> {
  explicit ws_conn(boost::asio::io_context& ioc) : ws(ioc) {}
  virtual ~ws_conn() = default;

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws;
  boost::beast::flat_buffer buf;
  std::deque<std::string> outq;
  bool writing = false;
  bool closed = false;
  int close_code = 0;
  std::string fail;  // why it failed to connect
  std::function<void(std::string_view)> on_bytes;
  std::function<void(const boost::beast::error_code&)> on_end;

  /// TCP connect (bounded by `connect_timeout`), then the WebSocket handshake
  /// (bounded by `handshake_timeout`); `done(ok)`; the read loop starts first.
  void connect(std::uint16_t port, std::chrono::seconds connect_timeout, std::chrono::seconds handshake_timeout,
               std::size_t read_max, std::function<void(bool)> done) {
    namespace beast = boost::beast;
    namespace websocket = beast::websocket;
    using tcp = boost::asio::ip::tcp;
    auto self = shared_from_this();
    beast::get_lowest_layer(ws).expires_after(connect_timeout);
    beast::get_lowest_layer(ws).async_connect(
        tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port),
        [self, port, handshake_timeout, read_max, done](beast::error_code ec) {
          if (ec) {
            self->fail = "connect: " + ec.message();
            return done(false);
          }
          beast::get_lowest_layer(self->ws).socket().set_option(tcp::no_delay(true), ec);
          beast::get_lowest_layer(self->ws).expires_never();
          auto t = websocket::stream_base::timeout::suggested(beast::role_type::client);
          t.handshake_timeout = handshake_timeout;
          self->ws.set_option(t);
          self->ws.read_message_max(read_max);
          self->ws.async_handshake("127.0.0.1:" + std::to_string(port), "/ws", [self, done](beast::error_code ec2) {
            if (ec2) {
              self->fail = "handshake: " + ec2.message();
              return done(false);
            }
            self->read_loop();
            done(true);
          });
        });
  }

  void send(std::string s) {
    if (closed) return;
    outq.push_back(std::move(s));
    if (!writing) write_next();
  }

  /// Cuts the TCP connection (no close handshake).
  void shutdown() {
    boost::beast::error_code ec;
    boost::beast::get_lowest_layer(ws).socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    boost::beast::get_lowest_layer(ws).close();
  }

 private:
  void read_loop() {
    ws.async_read(buf, [self = shared_from_this()](boost::beast::error_code ec, std::size_t n) {
      if (ec) {
        self->closed = true;
        self->close_code = self->ws.reason().code;
        if (self->on_end) self->on_end(ec);
        return;
      }
      if (self->on_bytes) self->on_bytes(std::string_view(static_cast<const char*>(self->buf.data().data()), n));
      self->buf.consume(self->buf.size());
      self->read_loop();
    });
  }

  void write_next() {
    writing = true;
    ws.text(true);
    ws.async_write(boost::asio::buffer(outq.front()), [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
      self->writing = false;
      if (ec) return self->outq.clear();
      self->outq.pop_front();
      if (!self->outq.empty() && !self->closed) self->write_next();
    });
  }
};

/// A file in the temporary folder named `<tag>-<pid>-<name>`, holding `text`.
inline std::string write_temp(const std::string& tag, const std::string& text, const std::string& name) {
  auto path = std::filesystem::temp_directory_path() / (tag + "-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

/// `bin args < input`: its standard output, without the trailing newline.
inline std::string run_capture(const std::string& tag, const std::string& bin, const std::vector<std::string>& args,
                               const std::string& input) {
  auto in_path = write_temp(tag, input + "\n", "stdin.txt");
  std::string cmd = "'" + bin + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " < '" + in_path + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + bin);
  std::string out;
  char b[512];
  while (fgets(b, sizeof b, p)) out += b;
  pclose(p);
  std::filesystem::remove(in_path);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

/// A users-file hash of `password` (1,000 PBKDF2 rounds: logins stay cheap).
inline std::string hash_password(const std::string& tag, const std::string& server_bin, const std::string& password) {
  auto hash = run_capture(tag, server_bin, {"hash-password", "--iterations", "1000"}, password);
  if (hash.rfind("$pbkdf2", 0) != 0) throw std::runtime_error("hash-password gave: " + hash);
  return hash;
}

/// The `doors` config section with every limit per address lifted (every
/// client of a benchmark is 127.0.0.1); `login_queue` password checks may wait.
inline nlohmann::json doors_wide_open(int login_queue) {
  return nlohmann::json{{"connections_per_address", 0},   {"new_connections_per_s", 1e6}, {"new_connections_burst", 1e6},
                        {"conversations_per_min", 1e6},   {"conversations_burst", 1e6},   {"logins_per_min", 1e6},
                        {"logins_burst", 1e6},            {"login_queue", login_queue}};
}

}  // namespace calma::bench

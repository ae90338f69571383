// Test harness for integration tests: the real calma-server binary started as
// a child process on a free port, real WebSocket clients (Beast) and a small
// HTTP client. Frames are received on a background thread into a queue; a
// test waits for the frame it expects with a timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace calma::test {

using nlohmann::json;
using namespace std::chrono_literals;

/// A calma-server child process. Stopped (SIGTERM, then SIGKILL) on destruction.
class server_process {
 public:
  /// Starts the binary with `args` (plus --port 0 unless a --port is given) and
  /// waits for its "listening on" line. Throws with the output if it does not come.
  explicit server_process(std::vector<std::string> args = {}, bool wait_listening = true);
  /// The same with another binary (the load generator's --server).
  server_process(std::string binary_path, std::vector<std::string> args, bool wait_listening);
  ~server_process();
  server_process(const server_process&) = delete;

  std::uint16_t port() const { return port_; }
  int pid() const { return pid_; }
  /// Sends a signal and waits for the exit status (or -1 on timeout).
  int signal_and_wait(int sig, std::chrono::milliseconds timeout = 10s);
  /// Waits for the process to exit by itself; returns its exit code, -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout = 10s);
  std::string output() const;
  /// Running and not yet reaped.
  bool alive();

  static std::string binary();

 private:
  void reader();
  int pid_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;
  bool eof_ = false;
  int status_ = -1;
  bool reaped_ = false;
};

/// Writes `text` to a new temporary file and returns its path.
std::string temp_file(const std::string& text, const std::string& suffix = ".json");

struct http_result {
  unsigned status = 0;
  std::string body;
  std::string content_type;
  std::map<std::string, std::string> headers;  ///< names in lower case
  json j() const { return json::parse(body, nullptr, false); }
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};
http_result http(std::uint16_t port, const std::string& method, const std::string& target,
                 const std::string& body = {}, const std::string& bearer = {});

/// A request from a chosen loopback address (127.0.0.2: a bystander), with
/// extra headers; `content_type` is sent with the body ("" : none).
struct http_options {
  std::string from = "127.0.0.1";
  std::string bearer;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};
http_result http_from(std::uint16_t port, const std::string& method, const std::string& target,
                      const std::string& body, const http_options& opt);

/// A bare TCP connection (from `from`) for what a client library would not
/// send: oversized headers, a frame in the upgrade's packet, silence.
class raw_tcp {
 public:
  raw_tcp(std::uint16_t port, const std::string& from = "127.0.0.1");
  ~raw_tcp();
  /// False if the connection failed or was cut.
  bool write(const std::string& bytes);
  /// What arrives until the peer closes, `until` is seen, or `timeout`.
  std::string read(std::chrono::milliseconds timeout = 3s, const std::string& until = {});
  /// True when the server closed the connection (EOF or reset) within `timeout`.
  bool closed_by_peer(std::chrono::milliseconds timeout = 3s);

 private:
  int fd_ = -1;
  std::string pending_;
};

/// A masked client text frame (RFC 6455), for raw_tcp.
std::string ws_text_frame(const std::string& payload);
/// The upgrade request of a WebSocket handshake to /ws.
std::string ws_upgrade_request(std::uint16_t port);
/// Logs in and returns the token (throws if it fails).
std::string login(std::uint16_t port, const std::string& user, const std::string& password);

struct client_options {
  std::string origin;
  bool read = true;            ///< false: never read (a slow consumer)
  int receive_buffer = 0;      ///< SO_RCVBUF, 0: default
  std::string from = "127.0.0.1";  ///< the client's own address (127.0.0.2: a bystander)
};

class ws_client {
 public:
  explicit ws_client(std::uint16_t port, client_options opt = {});
  ~ws_client();
  ws_client(const ws_client&) = delete;

  void send(const json& j);
  void send_text(const std::string& text);
  void send_binary(const std::string& bytes);
  /// A WebSocket control ping (not the JSON ping); false once the connection is gone.
  bool send_control_ping();
  /// Next frame in arrival order, or nullopt after `timeout`.
  std::optional<json> next(std::chrono::milliseconds timeout = 5s);
  /// The first queued or arriving frame of this type (other frames stay queued,
  /// in order). Throws on timeout, listing what did arrive.
  json expect(const std::string& type, std::chrono::milliseconds timeout = 5s);
  /// Like expect, but the frame must also satisfy `pred`.
  template <class Pred>
  json expect_if(const std::string& type, Pred pred, std::chrono::milliseconds timeout = 5s);
  /// Sends ping and waits for pong: every frame the server queued for us
  /// before it read the ping has arrived by then. Returns the frames before the pong.
  std::vector<json> barrier(std::chrono::milliseconds timeout = 5s);
  /// True once the connection is closed; close_code() is the code the server sent.
  bool wait_closed(std::chrono::milliseconds timeout = 5s);
  int close_code() const;
  bool is_closed() const;
  /// Frames received and not yet taken.
  std::vector<json> pending();

 private:
  struct impl;
  std::unique_ptr<impl> p_;
  json take_matching(const std::string& type, const std::function<bool(const json&)>& pred,
                     std::chrono::milliseconds timeout);
};

template <class Pred>
json ws_client::expect_if(const std::string& type, Pred pred, std::chrono::milliseconds timeout) {
  return take_matching(type, std::function<bool(const json&)>(pred), timeout);
}

/// hello as a new shopper; returns the welcome.
json hello_shopper(ws_client& c, const std::string& name = "Ana", const std::string& lang = "es");
json hello_token(ws_client& c, const std::string& token);

}  // namespace calma::test

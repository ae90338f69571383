#include "tests/support/harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <regex>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

extern char** environ;

namespace calma::test {

namespace beast = boost::beast;
namespace http_ = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// ---------------------------------------------------------------------------
// server_process

std::string server_process::binary() {
  if (const char* env = std::getenv("CALMA_SERVER")) return env;
  return CALMA_SERVER_BIN;
}

server_process::server_process(std::vector<std::string> args, bool wait_listening)
    : server_process(binary(), std::move(args), wait_listening) {}

bool server_process::alive() {
  if (reaped_) return false;
  return wait_exit(0ms) < 0;
}

server_process::server_process(std::string binary_path, std::vector<std::string> args, bool wait_listening) {
  bool has_port = false;
  for (const auto& a : args) has_port = has_port || a == "--port";
  if (!has_port) {
    args.push_back("--port");
    args.push_back("0");
  }
  args.insert(args.begin(), std::move(binary_path));
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0)
    throw std::runtime_error("cannot start " + args[0]);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  out_fd_ = fds[0];
  reader_ = std::thread([this] { reader(); });
  if (!wait_listening) return;
  std::unique_lock lk(mu_);
  static const std::regex re("listening on http://[^:]+:([0-9]+)");
  std::smatch m;
  bool ok = cv_.wait_for(lk, 20s, [&] { return std::regex_search(output_, m, re) || eof_; });
  if (!ok || !std::regex_search(output_, m, re))
    throw std::runtime_error("calma-server did not start listening; output:\n" + output_);
  port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
}

void server_process::reader() {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;
    {
      std::lock_guard lk(mu_);
      output_.append(buf, static_cast<std::size_t>(n));
      cv_.notify_all();
    }
    // Gather what comes meanwhile: one wake-up per line would compete with the
    // test's (or the load generator's) own thread on its core.
    if (n < static_cast<ssize_t>(sizeof buf)) std::this_thread::sleep_for(10ms);
  }
  std::lock_guard lk(mu_);
  eof_ = true;
  cv_.notify_all();
}

std::string server_process::output() const {
  std::lock_guard lk(mu_);
  return output_;
}

int server_process::wait_exit(std::chrono::milliseconds timeout) {
  if (reaped_) return status_;
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {  // checked at least once, also with a zero timeout
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      // Let the reader drain what the process printed before it exited.
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, 2s, [&] { return eof_; });
      return status_;
    }
    if (std::chrono::steady_clock::now() >= until) return -1;
    std::this_thread::sleep_for(10ms);  // polling a child process: no clock to inject here
  }
}

int server_process::signal_and_wait(int sig, std::chrono::milliseconds timeout) {
  if (!reaped_) kill(pid_, sig);
  return wait_exit(timeout);
}

server_process::~server_process() {
  if (pid_ > 0 && !reaped_) {
    if (signal_and_wait(SIGTERM, 5s) < 0) signal_and_wait(SIGKILL, 5s);
  }
  if (reader_.joinable()) reader_.join();
  if (out_fd_ >= 0) close(out_fd_);
  // CALMA_TEST_LOGS=<dir>: every server's output is kept there, to read after
  // a run that failed (a flake under load leaves nothing else behind).
  if (const char* dir = std::getenv("CALMA_TEST_LOGS"); dir && *dir)
    std::ofstream(std::string(dir) + "/calma-server-" + std::to_string(pid_) + ".log") << output_;
  // A server built with sanitizers reports on stderr, which is ours: make a
  // report fail the run loudly instead of vanishing with the process.
  for (const char* mark : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "WARNING: ThreadSanitizer:"}) {
    if (output_.find(mark) != std::string::npos) {
      std::fprintf(stderr, "calma-server reported a sanitizer error:\n%s\n", output_.c_str());
      std::_Exit(99);
    }
  }
}

std::string temp_file(const std::string& text, const std::string& suffix) {
  static std::atomic<int> n{0};
  std::string path = "/tmp/calma-test-" + std::to_string(getpid()) + "-" + std::to_string(n++) + suffix;
  std::ofstream(path) << text;
  return path;
}

// ---------------------------------------------------------------------------
// HTTP

http_result http(std::uint16_t port, const std::string& method, const std::string& target,
                 const std::string& body, const std::string& bearer) {
  http_options o;
  o.bearer = bearer;
  return http_from(port, method, target, body, o);
}

http_result http_from(std::uint16_t port, const std::string& method, const std::string& target,
                      const std::string& body, const http_options& opt) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(10s);
  auto& sock = stream.socket();
  sock.open(tcp::v4());
  sock.bind(tcp::endpoint(asio::ip::make_address(opt.from), 0));
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http_::request<http_::string_body> req{http_::string_to_verb(method), target, 11};
  req.set(http_::field::host, "127.0.0.1:" + std::to_string(port));
  if (!opt.bearer.empty()) req.set(http_::field::authorization, "Bearer " + opt.bearer);
  for (const auto& [k, v] : opt.headers) req.set(k, v);
  if (!body.empty()) {
    if (!opt.content_type.empty()) req.set(http_::field::content_type, opt.content_type);
    req.body() = body;
  }
  req.prepare_payload();
  http_::write(stream, req);
  beast::flat_buffer buf;
  http_::response<http_::string_body> res;
  http_::read(stream, buf, res);
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  http_result out{res.result_int(), res.body(), std::string(res[http_::field::content_type]), {}};
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.headers[name] = std::string(f.value());
  }
  return out;
}

// ---------------------------------------------------------------------------
// raw TCP

raw_tcp::raw_tcp(std::uint16_t port, const std::string& from) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, from.c_str(), &local.sin_addr);
  ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

raw_tcp::~raw_tcp() {
  if (fd_ >= 0) ::close(fd_);
}

bool raw_tcp::write(const std::string& bytes) {
  if (fd_ < 0) return false;
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::string raw_tcp::read(std::chrono::milliseconds timeout, const std::string& until) {
  std::string out = std::move(pending_);
  pending_.clear();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fd_ >= 0 && (until.empty() || out.find(until) == std::string::npos)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool raw_tcp::closed_by_peer(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

std::string ws_text_frame(const std::string& payload) {
  std::string f;
  f.push_back(static_cast<char>(0x81));  // FIN, text
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80 | payload.size()));
  } else if (payload.size() < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> (8 * i)) & 0xff));
  }
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

std::string ws_upgrade_request(std::uint16_t port) {
  return "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\n";
}

std::string login(std::uint16_t port, const std::string& user, const std::string& password) {
  auto r = http(port, "POST", "/api/v1/login", json{{"username", user}, {"password", password}}.dump());
  if (r.status != 200) throw std::runtime_error("login " + user + " failed: " + r.body);
  return r.j().at("token").get<std::string>();
}

// ---------------------------------------------------------------------------
// WebSocket client

struct ws_client::impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buf;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<json> frames;
  bool closed = false;
  int close_code = 0;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

  void read_loop() {
    ws.async_read(buf, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        std::lock_guard lk(mu);
        closed = true;
        close_code = ws.reason().code;
        cv.notify_all();
        return;
      }
      auto text = beast::buffers_to_string(buf.data());
      buf.consume(buf.size());
      {
        std::lock_guard lk(mu);
        frames.push_back(json::parse(text, nullptr, false));
        cv.notify_all();
      }
      read_loop();
    });
  }

  // Runs `fn` on the client's thread and waits for it.
  void run_sync(const std::function<void()>& fn) {
    std::promise<void> done;
    asio::post(ioc, [&] {
      try {
        fn();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
    done.get_future().get();
  }
};

ws_client::ws_client(std::uint16_t port, client_options opt) : p_(std::make_unique<impl>()) {
  auto& sock = beast::get_lowest_layer(p_->ws).socket();
  sock.open(tcp::v4());
  sock.bind(tcp::endpoint(asio::ip::make_address(opt.from), 0));
  if (opt.receive_buffer > 0) sock.set_option(asio::socket_base::receive_buffer_size(opt.receive_buffer));
  beast::get_lowest_layer(p_->ws).expires_after(10s);
  sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  if (!opt.origin.empty())
    p_->ws.set_option(websocket::stream_base::decorator(
        [o = opt.origin](websocket::request_type& r) { r.set(beast::http::field::origin, o); }));
  p_->ws.read_message_max(64 << 20);
  p_->ws.handshake("127.0.0.1:" + std::to_string(port), "/ws");
  beast::get_lowest_layer(p_->ws).expires_never();
  p_->work.emplace(p_->ioc.get_executor());
  if (opt.read) p_->read_loop();
  p_->thread = std::thread([this] { p_->ioc.run(); });
}

ws_client::~ws_client() {
  try {
    p_->run_sync([this] {
      beast::error_code ec;
      beast::get_lowest_layer(p_->ws).socket().shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(p_->ws).close();
    });
  } catch (...) {
  }
  p_->work.reset();
  p_->ioc.stop();
  if (p_->thread.joinable()) p_->thread.join();
}

void ws_client::send_text(const std::string& text) {
  p_->run_sync([&] {
    p_->ws.text(true);
    p_->ws.write(asio::buffer(text));
  });
}

void ws_client::send_binary(const std::string& bytes) {
  p_->run_sync([&] {
    p_->ws.binary(true);
    p_->ws.write(asio::buffer(bytes));
  });
}

void ws_client::send(const json& j) { send_text(j.dump()); }

bool ws_client::send_control_ping() {
  bool ok = true;
  p_->run_sync([&] {
    beast::error_code ec;
    p_->ws.ping({}, ec);
    ok = !ec;
  });
  return ok;
}

std::optional<json> ws_client::next(std::chrono::milliseconds timeout) {
  std::unique_lock lk(p_->mu);
  if (!p_->cv.wait_for(lk, timeout, [&] { return !p_->frames.empty(); })) return std::nullopt;
  json j = std::move(p_->frames.front());
  p_->frames.pop_front();
  return j;
}

json ws_client::take_matching(const std::string& type, const std::function<bool(const json&)>& pred,
                              std::chrono::milliseconds timeout) {
  std::unique_lock lk(p_->mu);
  std::optional<json> found;
  auto scan = [&] {
    for (auto it = p_->frames.begin(); it != p_->frames.end(); ++it) {
      if (it->is_object() && it->value("type", "") == type && (!pred || pred(*it))) {
        found = std::move(*it);
        p_->frames.erase(it);
        return true;
      }
    }
    return p_->closed;
  };
  p_->cv.wait_for(lk, timeout, scan);
  if (found) return *found;
  std::string got;
  for (const auto& f : p_->frames) got += "\n  " + f.dump();
  throw std::runtime_error("expected a '" + type + "' frame" + (p_->closed ? " (connection closed, code " + std::to_string(p_->close_code) + ")" : "") +
                           "; queued instead:" + (got.empty() ? " nothing" : got));
}

json ws_client::expect(const std::string& type, std::chrono::milliseconds timeout) {
  return take_matching(type, nullptr, timeout);
}

std::vector<json> ws_client::barrier(std::chrono::milliseconds timeout) {
  send(json{{"type", "ping"}});
  std::vector<json> before;
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    auto f = next(left.count() > 0 ? left : 0ms);
    if (!f) throw std::runtime_error("no pong");
    if (f->value("type", "") == "pong") return before;
    before.push_back(*f);
  }
}

bool ws_client::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock lk(p_->mu);
  return p_->cv.wait_for(lk, timeout, [&] { return p_->closed; });
}

int ws_client::close_code() const {
  std::lock_guard lk(p_->mu);
  return p_->close_code;
}

bool ws_client::is_closed() const {
  std::lock_guard lk(p_->mu);
  return p_->closed;
}

std::vector<json> ws_client::pending() {
  std::lock_guard lk(p_->mu);
  std::vector<json> out(p_->frames.begin(), p_->frames.end());
  p_->frames.clear();
  return out;
}

json hello_shopper(ws_client& c, const std::string& name, const std::string& lang) {
  c.send(json{{"type", "hello"}, {"role", "shopper"}, {"store", "demo"}, {"name", name}, {"language", lang}});
  return c.expect("welcome");
}

json hello_token(ws_client& c, const std::string& token) {
  c.send(json{{"type", "hello"}, {"token", token}});
  return c.expect("welcome");
}

}  // namespace calma::test

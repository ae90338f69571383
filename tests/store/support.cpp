#include "tests/store/support.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace calma::test {

namespace {

std::string find_redis_server() {
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    std::size_t start = 0;
    while (start <= p.size()) {
      auto end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      auto candidate = std::filesystem::path(p.substr(start, end - start)) / "redis-server";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
      start = end + 1;
    }
  }
  if (::access("/usr/bin/redis-server", X_OK) == 0) return "/usr/bin/redis-server";
  throw std::runtime_error("redis-server not found on PATH nor at /usr/bin/redis-server "
                           "(apt-get install redis-server)");
}

}  // namespace

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("cannot bind a free port");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

redis_server::redis_server(std::vector<std::string> extra_args) : redis_server(std::move(extra_args), true) {}

redis_server::redis_server(std::vector<std::string> extra_args, bool start_now)
    : extra_(std::move(extra_args)), binary_(find_redis_server()) {
  char tmpl[] = "/tmp/calma-store-test-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  port_ = free_port();
  if (start_now) start();
}

redis_server::~redis_server() {
  kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::unique_ptr<redis_server> redis_server::sentinel(int master_port, const std::string& name) {
  auto s = std::unique_ptr<redis_server>(new redis_server({"--sentinel"}, false));
  s->config_file_ = s->dir_ + "/sentinel.conf";
  std::ofstream(s->config_file_) << "sentinel monitor " << name << " 127.0.0.1 " << master_port << " 1\n"
                                 << "sentinel down-after-milliseconds " << name << " 500\n"
                                 << "sentinel failover-timeout " << name << " 5000\n";
  s->ready_marker_ = "+monitor master";
  s->start();
  return s;
}

void redis_server::start() {
  if (pid_ > 0) throw std::runtime_error("redis-server already running");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> args = {binary_};
  if (!config_file_.empty()) args.push_back(config_file_);
  for (std::string a : {std::string("--port"), std::to_string(port_), std::string("--bind"), std::string("127.0.0.1"),
                        std::string("--dir"), dir_, std::string("--save"), std::string(), std::string("--logfile"),
                        std::string(), std::string("--daemonize"), std::string("no"), std::string("--protected-mode"),
                        std::string("no")})
    args.push_back(a);
  args.insert(args.end(), extra_.begin(), extra_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  pid_ = pid;
  out_fd_ = fds[0];

  // Read the log until Redis says it is ready (poll bounds the wait).
  std::string log;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (log.find(ready_marker_) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{out_fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      kill();
      throw std::runtime_error("redis-server did not become ready:\n" + log);
    }
    char buf[4096];
    ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) {
      kill();
      throw std::runtime_error("redis-server exited:\n" + log);
    }
    log.append(buf, static_cast<std::size_t>(n));
  }
  // Keep draining so Redis never blocks on a full pipe.
  drain_ = std::thread([fd = out_fd_] {
    char buf[4096];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
  });
}

void redis_server::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  if (drain_.joinable()) drain_.join();  // EOF once the child is gone
  if (out_fd_ >= 0) {
    ::close(out_fd_);
    out_fd_ = -1;
  }
}

void redis_server::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}
void redis_server::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& pred,
               std::chrono::milliseconds timeout) {
  if (pred()) return true;
  bool expired = false;
  boost::asio::steady_timer watchdog(ioc, timeout);
  watchdog.async_wait([&](boost::system::error_code ec) {
    if (!ec) expired = true;
  });
  if (ioc.stopped()) ioc.restart();
  while (!pred() && !expired) {
    if (ioc.run_one() == 0) ioc.restart();
  }
  watchdog.cancel();
  // Let the cancelled watchdog's handler run so it does not outlive `expired`.
  while (ioc.poll_one() > 0) {
  }
  if (ioc.stopped()) ioc.restart();
  return pred();
}

}  // namespace calma::test

#include "server/auth/users_watch.hpp"

#include <sys/stat.h>

#include <csignal>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace calma::auth {

users_watcher::users_watcher(boost::asio::io_context& ioc, std::string path, user_directory& dir,
                             std::chrono::milliseconds every)
    : strand_(boost::asio::make_strand(ioc)),
      hup_(strand_, SIGHUP),
      timer_(strand_),
      path_(std::move(path)),
      dir_(dir),
      every_(every) {}

void users_watcher::start() {
  // The file as it is now is what the server loaded at start-up (a change in
  // between is picked up by the next SIGHUP).
  boost::asio::post(strand_, [this] {
    seen_ = look();
    wait_signal();
    if (!path_.empty()) tick();
  });
}

void users_watcher::stop() {
  boost::asio::post(strand_, [this] {
    stopped_ = true;
    timer_.cancel();
    hup_.cancel();
  });
}

users_watcher::fingerprint users_watcher::look() const {
  fingerprint f;
  struct stat st {};
  if (path_.empty() || ::stat(path_.c_str(), &st) != 0) return f;
  f.exists = true;
  f.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  f.size = static_cast<std::int64_t>(st.st_size);
  f.inode = static_cast<std::uint64_t>(st.st_ino);
  return f;
}

void users_watcher::wait_signal() {
  hup_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec || stopped_) return;
    reload("SIGHUP");
    wait_signal();
  });
}

void users_watcher::tick() {
  timer_.expires_after(every_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    if (look() != seen_) reload("file changed");
    tick();
  });
}

void users_watcher::reload(const char* why) {
  const std::size_t current = dir_.snapshot()->size();
  if (path_.empty()) {
    spdlog::warn("{}: no users file to reload (start with --users FILE)", why);
    return;
  }
  // Seen before reading: a write that lands while we read changes it again, and is read next time.
  seen_ = look();
  std::vector<std::string> errors;
  auto t = load_users(path_, errors);
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
    spdlog::warn("users not reloaded ({}), keeping the {} users loaded: {}", why, current, all);
    return;
  }
  const std::size_t n = t.size();
  dir_.replace(std::move(t));
  spdlog::info("users reloaded: {} users from {} ({})", n, path_, why);
  if (on_reloaded_) on_reloaded_();
}

}  // namespace calma::auth

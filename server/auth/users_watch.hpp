// Live reload of the staff users file into a user_directory: on SIGHUP, and
// when the file's mtime, size or inode changes (checked every second on the
// io_context; no thread of its own). A file that does not parse is logged
// (one warning line) and the table loaded before is kept.
#pragma once

#include <functional>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "server/auth/users.hpp"

namespace calma::auth {

class users_watcher {
 public:
  /// `path` empty: SIGHUP only logs that there is no file to reload.
  users_watcher(boost::asio::io_context& ioc, std::string path, user_directory& dir,
                std::chrono::milliseconds every = std::chrono::seconds(1));
  /// Starts listening for SIGHUP and watching the file (as it is now: the table
  /// in `dir` is taken to be its contents).
  void start();
  /// Stops both; safe from any thread.
  void stop();
  /// Called (on the watcher's strand) after each reload that replaced the table. Before start().
  void on_reloaded(std::function<void()> f) { on_reloaded_ = std::move(f); }

 private:
  struct fingerprint {
    bool exists = false;
    std::int64_t mtime_ns = 0;
    std::int64_t size = 0;
    std::uint64_t inode = 0;
    bool operator==(const fingerprint&) const = default;
  };
  fingerprint look() const;
  void reload(const char* why);
  void wait_signal();
  void tick();

  std::function<void()> on_reloaded_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::signal_set hup_;
  boost::asio::steady_timer timer_;
  std::string path_;
  user_directory& dir_;
  std::chrono::milliseconds every_;
  fingerprint seen_;        ///< the file's state when last read (or found missing)
  std::string loaded_text_; ///< the text the directory's table came from
  bool stopped_ = false;
};

}  // namespace calma::auth

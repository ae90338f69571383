// Runs the reports off the chat's hot path: pages of conversations are read
// from the store and added up on a thread of the runner's own, never on the
// hub's strand. The work is bounded by the window (at most
// `max_window_days`) and read page by page (`page_size` conversations at a time).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "server/store/store.hpp"

namespace calma {

class report_runner {
 public:
  static constexpr int max_window_days = 93;
  // A page is one Lua call on Redis, which serves nobody else meanwhile: small
  // enough that a chat command waits at most a few milliseconds behind it.
  static constexpr std::size_t page_size = 200;

  explicit report_runner(store& st) : store_(st) {}
  ~report_runner() { pool_.join(); }

  /// PROTOCOL v1.1's summary of the conversations created in [q.from, q.to) of q.stores.
  void summary(window_query q, std::function<void(result<nlohmann::json>)> done);
  /// The same conversations as CSV, one row each.
  void csv(window_query q, std::function<void(result<std::string>)> done);

 private:
  /// Reads every page, calling `each(record)` on the runner's thread, then `done(error)`.
  void walk(window_query q, std::shared_ptr<std::function<void(const conversation_record&)>> each,
            std::function<void(std::string)> done);

  store& store_;
  boost::asio::thread_pool pool_{1};
};

}  // namespace calma

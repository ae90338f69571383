// Counters and gauges for /metrics (Prometheus text format). Lock-free: any
// thread may bump them; the scrape reads them without stopping anyone.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/protocol/errors.hpp"

namespace calma {

/// Why a door refused a client (calma_refused_total{reason}).
enum class refusal : std::size_t {
  connections_per_address,  ///< too many open connections from one address (429)
  connections_total,        ///< the server is full (503)
  connection_rate,          ///< too many new connections from one address (429)
  request_header,           ///< request header over the limit (431)
  pre_hello_frame,          ///< a frame before hello over the limit (1009)
  control_frames,           ///< pings/pongs over the limit (4429)
  conversation_rate,        ///< too many new conversations from one address (error rate_limited)
  login_rate,               ///< too many logins from one address (429)
  login_user,               ///< too many attempts of one username from one address (429)
  login_queue,              ///< the password checks' queue is full (503)
  metrics,                  ///< /metrics without the token, from an address not allowed (403)
  content_type,             ///< login without application/json (415)
  count_
};
const char* to_string(refusal r);

struct metrics {
  using counter = std::atomic<std::uint64_t>;
  using gauge = std::atomic<std::int64_t>;

  gauge connections_shopper{0}, connections_agent{0}, connections_supervisor{0};
  gauge connections_unauthenticated{0};
  gauge websocket_sessions{0};  ///< this node's open WebSocket sockets (in a cluster the leader's hub counts every node's clients above)
  gauge relayed_sessions{0};    ///< of those, relayed to the cluster's leader
  gauge cluster_leader{-1};     ///< 1 leading the cluster, 0 following; -1 not in a cluster (not shown)
  counter cluster_resumed{0};   ///< relayed clients said hello again to a new leader (kept open across a leader change)
  counter cluster_gap_unavailable{0};  ///< client frames answered `unavailable` while no leader could take them
  counter relay_messages_out{0};   ///< relay messages queued for other members (frames, hellos, detaches, sends, closes)
  counter relay_publishes_out{0};  ///< the PUBLISHes that carried them (a batch carries several)
  counter connections_total{0};
  counter messages_in{0};        ///< chat messages stored
  counter messages_duplicate{0}; ///< resends answered from the store
  counter frames_in{0}, frames_out{0};
  counter bytes_out{0};
  gauge queue_length{0};
  gauge queue_oldest_enqueued_ms{0};  ///< 0 when empty
  counter assignments{0};
  counter conversations_opened{0}, conversations_closed{0};
  std::array<counter, static_cast<std::size_t>(protocol::error_code::count_)> errors{};
  counter slow_disconnects{0};
  counter flood_disconnects{0};
  counter auth_failures{0};
  counter logins_ok{0}, logins_failed{0};
  counter http_requests{0};
  counter store_errors{0};
  counter hub_busy_ns{0};  ///< CPU time the hub's strand spent in handlers (sampled; its share of one core)
  /// The same by hub shard (server.shards; shown for the shards in use).
  std::array<counter, 64> hub_shard_busy_ns{};
  std::atomic<int> hub_shards{1};
  /// Hub shard `k` exists: its series are shown.
  void count_shard(int k) {
    for (int seen = hub_shards.load(); seen < k + 1 && !hub_shards.compare_exchange_weak(seen, k + 1);) {
    }
  }

  std::array<counter, static_cast<std::size_t>(refusal::count_)> refusals{};
  gauge login_queue_depth{0};   ///< password checks waiting or running

  void error(protocol::error_code c) { ++errors[static_cast<std::size_t>(c)]; }
  void refused(refusal r) { ++refusals[static_cast<std::size_t>(r)]; }

  /// Per store (label `store`: as many series as configured stores, no more).
  struct store_figures {
    std::int64_t queue_length = 0;
    std::int64_t oldest_enqueued_ms = 0;  ///< 0 when none waits
    std::uint64_t escalations = 0;
  };
  void set_store_queue(const std::string& store, std::int64_t length, std::int64_t oldest_ms) {
    std::lock_guard lk(store_mu_);
    auto& f = stores_[store];
    f.queue_length = length;
    f.oldest_enqueued_ms = oldest_ms;
  }
  /// One hub's queue (a shard's): queue_length and queue_oldest_enqueued_ms are
  /// then every shard's total and earliest.
  void set_shard_queue(int shard, std::int64_t length, std::int64_t oldest_ms) {
    std::lock_guard lk(store_mu_);
    shards_[shard] = {length, oldest_ms};
    std::int64_t n = 0, oldest = 0;
    for (const auto& [k, q] : shards_) {
      n += q.first;
      if (q.second != 0 && (oldest == 0 || q.second < oldest)) oldest = q.second;
    }
    queue_length = n;
    queue_oldest_enqueued_ms = oldest;
  }
  void count_escalation(const std::string& store) {
    std::lock_guard lk(store_mu_);
    ++stores_[store].escalations;
  }
  gauge& connections(std::string_view role);

  /// Renders the Prometheus exposition text; `now_ms` for the oldest-wait gauge.
  std::string render(std::int64_t now_ms) const;

 private:
  mutable std::mutex store_mu_;
  std::map<std::string, store_figures> stores_;
  std::map<int, std::pair<std::int64_t, std::int64_t>> shards_;  // shard -> (queued, oldest)
};

}  // namespace calma

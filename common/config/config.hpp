// Calma's configuration: one aggregate with defaults (equal to
// config/calma.json) and a parser that lists every problem at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/hours/hours.hpp"
#include "common/protocol/messages.hpp"
#include "common/protocol/rate_limiter.hpp"
#include "common/routing/router.hpp"

namespace calma {

struct server_config {
  std::string bind = "0.0.0.0";
  std::uint16_t port = 8080;
  int threads = 0;                 ///< 0: as many as cores
  int shards = 0;                  ///< hubs deciding side by side (common/routing/shards.hpp); 0: one per thread
  std::string node_id;             ///< empty: hostname-pid
  std::string static_dir;          ///< empty: client-web/dist found beside the sources
  std::string users_file;          ///< empty: config/users.json found beside the sources
  std::string lexicon_dir;         ///< empty: lexicons/ beside the config file, else config/lexicons
  std::vector<std::string> allowed_origins;  ///< besides the server's own origin; "*" allows any
  std::size_t http_body_limit = 64 * 1024;
  int http_timeout_s = 30;
  int shutdown_grace_ms = 3000;    ///< SIGTERM: how long sessions get to close
  std::string log_level = "info";  ///< trace, debug, info, warn, error, off (stderr)
};

struct websocket_config {
  std::size_t max_frame_bytes = 16 * 1024;     ///< over: error too_large, connection kept
  std::size_t hard_frame_bytes = 64 * 1024;    ///< over: connection closed (1009)
  int hello_timeout_ms = 5000;                 ///< no hello in time: close 4401
  int idle_timeout_s = 120;                    ///< nothing received: close 4408
  int ping_interval_s = 30;                    ///< transport keep-alive pings
  std::size_t send_queue_messages = 1024;      ///< over either: slow consumer, closed
  std::size_t send_queue_bytes = 4 * 1024 * 1024;
};

/// The public doors (server/net/doors.hpp): limits per client address and in
/// total, so that a flood from one address never takes Calma from anyone
/// else. Over a limit: HTTP 429 (per address) or 503 (in total) with
/// Retry-After, or a WebSocket close (1009 frame too big, 4429 flood),
/// counted in /metrics as calma_refused_total{reason}. 0 disables a limit.
struct doors_config {
  /// Peers whose X-Forwarded-For names the client ("10.0.0.1", "10.0.0.0/8", "::1").
  std::vector<std::string> trusted_proxies;
  int connections_per_address = 256;     ///< open at once (HTTP and WebSocket)
  int connections_total = 0;             ///< open at once; 0: what the open-file limit allows, less a reserve
  double new_connections_per_s = 20;     ///< per address, sustained
  double new_connections_burst = 200;
  int request_timeout_s = 10;            ///< a request's header must arrive within this
  std::size_t pre_hello_frame_bytes = 8 * 1024;  ///< frames before hello larger than this: close 1009
  double conversations_per_min = 10;     ///< new conversations per address
  double conversations_burst = 20;
  double logins_per_min = 30;            ///< login attempts per address
  double logins_burst = 15;
  int login_queue = 32;                  ///< password checks waiting at once; full: 503 at once
  /// Failed logins of one username (from any address) beyond this within the
  /// hour make every further check of that name wait login_slowdown_ms first:
  /// slower guessing, never a locked-out staff member.
  int login_failures_before_slowdown = 20;
  int login_slowdown_ms = 1000;
  double control_frames_per_s = 2;       ///< WebSocket pings and pongs per connection
  double control_frames_burst = 30;
  std::string metrics_token;             ///< set: /metrics also answers "Authorization: Bearer <token>"
  /// Client addresses/networks that read /metrics without the token ("loopback", "*" for anyone).
  std::vector<std::string> metrics_allow{"loopback"};
};

struct auth_config {
  std::string token_secret;             ///< empty: generated at start (tokens die with the process)
  int staff_token_ttl_s = 12 * 3600;
  int shopper_token_ttl_s = 30 * 24 * 3600;
  int login_attempts_per_minute = 10;   ///< per (address, username), then 429
};

struct routing_config {
  routing::params router;  ///< also senior_from_level, vip_order_value, vip_tiers, priority_s_per_level
  std::string status_on_connect = "online";  ///< agent status when its first session connects
  int disconnect_grace_s = 30;               ///< after this, a gone agent's chats are requeued
  int presence_ttl_s = 43'200;               ///< an agent's chosen status and capacity are remembered this long
  std::vector<std::string> queues{"default"};
  int queue_snapshot_interval_s = 5;
  /// Supervisors' queue.snapshot: at most one per this gap, however many changes.
  int snapshot_min_gap_ms = 500;
  /// A snapshot lists at most this many agents (available ones first) and this
  /// many waiting conversations per queue (in queue order); counts give the rest.
  int snapshot_max_agents = 100;
  int snapshot_max_waiting = 100;
  /// A queued conversation whose shopper has had no connection this long (and
  /// left no contact) stops counting in others' positions and waits, is not
  /// assigned and raises no waiting escalations; it is back in its place if the
  /// shopper returns, and closed as "abandoned" after abandon_close_s.
  int abandon_after_s = 60;
  int abandon_close_s = 900;
};

/// The Redis store (`--redis URL` selects it; these are its options).
struct redis_config {
  std::string url;                 ///< empty: the embedded memory store
  std::string password;            ///< overrides the URL's
  int connect_timeout_ms = 2000;
  int command_timeout_ms = 2000;
  std::int64_t retention_s = 0;    ///< closed conversations expire after this; 0 keeps them
  std::string key_prefix = "calma";
  int startup_timeout_ms = 5000;   ///< Redis unreachable this long at start: exit non-zero
  std::vector<std::string> sentinels;  ///< "host:port" of Redis Sentinels: ask them where the master is
  std::string sentinel_master = "mymaster";
  std::string sentinel_password;
  // Several nodes on one Redis (server/cluster): one leader at a time.
  int leader_lease_ms = 1500;      ///< TTL of the leader's lease; a dead leader is replaced within about this
  int node_timeout_ms = 2000;      ///< a node silent this long is gone: its clients are dropped
};

/// One tenant: a shop with its own languages, origins, opening hours, queues
/// and staff (users carry the stores they serve).
struct store_config {
  std::string id;
  std::string name;
  std::vector<std::string> languages{"es", "en", "pl"};
  std::vector<std::string> allowed_origins;  ///< pages of this store that embed the widget
  std::vector<std::string> queues;           ///< empty: routing.queues
  hours::opening_hours hours;                ///< default: always open
  std::string canned_dir;                    ///< empty: config/canned (and config/canned/<id>/)
};

struct config {
  server_config server;
  /// The stores served; the default (no `stores` in the file) is the one demo store.
  std::vector<store_config> stores{default_store()};
  websocket_config websocket;
  protocol::limits limits;
  protocol::rate_limit_params rate_limit;
  doors_config doors;
  auth_config auth;
  routing_config routing;
  redis_config redis;
  std::size_t history_page = 500;  ///< most messages in one `history` answer
  nlohmann::json anger = nlohmann::json::object();       ///< parsed by common/anger
  nlohmann::json escalation = nlohmann::json::object();  ///< parsed by common/escalation

  static store_config default_store() {
    store_config s;
    s.id = "demo";
    s.name = "Calma Demo Store";
    return s;
  }
  /// nullptr when no store has this id.
  const store_config* find_store(std::string_view id) const {
    for (const auto& s : stores)
      if (s.id == id) return &s;
    return nullptr;
  }
  /// The queues of a store (its own, else routing.queues).
  const std::vector<std::string>& queues_of(const store_config& s) const {
    return s.queues.empty() ? routing.queues : s.queues;
  }
};

/// May a page of `origin` open the chat? The server's own pages (origin
/// http(s)://<host>) always; else an origin in server.allowed_origins, or in
/// the allowed_origins of `store` (nullptr: of any store, as at the upgrade,
/// before the store is known). "*" allows any. No Origin (not a browser): yes.
bool origin_allowed(const config& cfg, const store_config* store, std::string_view origin, std::string_view host);

/// Fills `out` from `j` (missing keys keep their defaults) and appends one line
/// to `errors` for every problem: unknown key, wrong type, value out of range.
void parse_config(const nlohmann::json& j, config& out, std::vector<std::string>& errors);

/// Checks cross-field rules on an already parsed config.
void validate(const config& c, std::vector<std::string>& errors);

}  // namespace calma

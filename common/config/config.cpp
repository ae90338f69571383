#include "common/config/config.hpp"

#include "common/config/param_reader.hpp"
#include "common/limits/doors.hpp"

namespace calma {

using nlohmann::json;

namespace {

void parse_stores(const json& j, config& c, std::vector<std::string>& errors) {
  if (!j.is_array() || j.empty()) {
    errors.push_back("config.stores: must be a non-empty array of stores");
    return;
  }
  std::vector<store_config> out;
  int i = 0;
  for (const auto& e : j) {
    const std::string at = "config.stores[" + std::to_string(i++) + "]";
    store_config s;
    s.languages.clear();
    json hours;
    {
      param_reader r(&e, at, errors);
      r.string("id", s.id);
      r.string("name", s.name);
      r.strings("languages", s.languages);
      r.strings("allowed_origins", s.allowed_origins);
      r.strings("queues", s.queues);
      r.string("canned_dir", s.canned_dir);
      r.raw("hours", hours);
    }
    if (!protocol::valid_id(s.id, 64)) errors.push_back(at + ".id: must be 1-64 characters of [A-Za-z0-9._:-]");
    if (s.name.empty()) s.name = s.id;
    if (s.languages.empty()) errors.push_back(at + ".languages: must name at least one language (es, en, pl...)");
    for (const auto& l : s.languages)
      if (!protocol::valid_id(l, 16)) errors.push_back(at + ".languages: bad language '" + l + "'");
    for (const auto& q : s.queues)
      if (!protocol::valid_id(q, 64)) errors.push_back(at + ".queues: bad queue name '" + q + "'");
    if (!hours.is_null()) {
      if (auto h = hours::opening_hours::parse(hours, at + ".hours", errors)) s.hours = std::move(*h);
    }
    for (const auto& o : out)
      if (o.id == s.id) errors.push_back(at + ".id: duplicate store '" + s.id + "'");
    out.push_back(std::move(s));
  }
  c.stores = std::move(out);
}

}  // namespace

void parse_config(const json& j, config& c, std::vector<std::string>& errors) {
  {
    // Each reader lists its unknown keys when it goes out of scope.
    param_reader root(&j, "config", errors);
    {
      auto s = root.child("server");
      s.string("bind", c.server.bind);
      s.integer("port", c.server.port, 0, 65535);
      s.integer("threads", c.server.threads, 0, 256);
      s.integer("shards", c.server.shards, 0, 64);
      s.string("node_id", c.server.node_id);
      s.string("static_dir", c.server.static_dir);
      s.string("users_file", c.server.users_file);
      s.string("lexicon_dir", c.server.lexicon_dir);
      s.strings("allowed_origins", c.server.allowed_origins);
      s.integer("http_body_limit", c.server.http_body_limit, 1024, 16 << 20);
      s.integer("http_timeout_s", c.server.http_timeout_s, 1, 3600);
      s.integer("shutdown_grace_ms", c.server.shutdown_grace_ms, 0, 60'000);
      s.string("log_level", c.server.log_level);
    }
    {
      auto s = root.child("websocket");
      s.integer("max_frame_bytes", c.websocket.max_frame_bytes, 256, 16 << 20);
      s.integer("hard_frame_bytes", c.websocket.hard_frame_bytes, 256, 64 << 20);
      s.integer("hello_timeout_ms", c.websocket.hello_timeout_ms, 100, 600'000);
      s.integer("idle_timeout_s", c.websocket.idle_timeout_s, 1, 86'400);
      s.integer("ping_interval_s", c.websocket.ping_interval_s, 1, 3600);
      s.integer("send_queue_messages", c.websocket.send_queue_messages, 1, 1'000'000);
      s.integer("send_queue_bytes", c.websocket.send_queue_bytes, 1024, 1LL << 32);
    }
    {
      auto s = root.child("limits");
      s.integer("max_text_bytes", c.limits.max_text_bytes, 1, 1 << 20);
      s.integer("max_id_bytes", c.limits.max_id_bytes, 8, 1024);
      s.integer("max_name_bytes", c.limits.max_name_bytes, 1, 1024);
      s.integer("max_reason_bytes", c.limits.max_reason_bytes, 1, 1 << 16);
      s.integer("history_page", c.history_page, 1, 100'000);
    }
    {
      auto s = root.child("rate_limit");
      s.number("frames_per_s", c.rate_limit.frames_per_s, 0.01, 1e6);
      s.number("burst", c.rate_limit.burst, 1, 1e6);
      s.integer("max_strikes", c.rate_limit.max_strikes, 0, 1'000'000);
      s.integer("strike_window_ms", c.rate_limit.strike_window_ms, 1, 3'600'000);
    }
    {
      auto s = root.child("doors");
      auto& d = c.doors;
      s.strings("trusted_proxies", d.trusted_proxies);
      s.integer("connections_per_address", d.connections_per_address, 0, 10'000'000);
      s.integer("connections_total", d.connections_total, 0, 10'000'000);
      s.number("new_connections_per_s", d.new_connections_per_s, 0.01, 1e6);
      s.number("new_connections_burst", d.new_connections_burst, 1, 1e6);
      s.integer("request_timeout_s", d.request_timeout_s, 1, 3600);
      s.integer("pre_hello_frame_bytes", d.pre_hello_frame_bytes, 256, 1 << 20);
      s.number("conversations_per_min", d.conversations_per_min, 0.01, 1e6);
      s.number("conversations_burst", d.conversations_burst, 1, 1e6);
      s.number("logins_per_min", d.logins_per_min, 0.01, 1e6);
      s.number("logins_burst", d.logins_burst, 1, 1e6);
      s.integer("login_queue", d.login_queue, 1, 100'000);
      s.integer("login_failures_before_slowdown", d.login_failures_before_slowdown, 1, 1'000'000);
      s.integer("login_slowdown_ms", d.login_slowdown_ms, 0, 60'000);
      s.number("control_frames_per_s", d.control_frames_per_s, 0.01, 1e6);
      s.number("control_frames_burst", d.control_frames_burst, 1, 1e6);
      s.string("metrics_token", d.metrics_token);
      s.strings("metrics_allow", d.metrics_allow);
    }
    {
      auto s = root.child("auth");
      s.string("token_secret", c.auth.token_secret);
      s.integer("staff_token_ttl_s", c.auth.staff_token_ttl_s, 1, 365 * 86'400);
      s.integer("shopper_token_ttl_s", c.auth.shopper_token_ttl_s, 1, 365 * 86'400);
      s.integer("login_attempts_per_minute", c.auth.login_attempts_per_minute, 1, 100'000);
    }
    {
      auto s = root.child("routing");
      s.integer("default_capacity", c.routing.router.default_capacity, 0, 1000);
      long long handle_s = c.routing.router.initial_handle_time_ms / 1000;
      s.integer("initial_handle_time_s", handle_s, 1, 86'400);
      c.routing.router.initial_handle_time_ms = handle_s * 1000;
      s.number("handle_time_weight", c.routing.router.handle_time_weight, 0.0, 1.0);
      s.string("status_on_connect", c.routing.status_on_connect);
      s.integer("disconnect_grace_s", c.routing.disconnect_grace_s, 0, 86'400);
      s.integer("presence_ttl_s", c.routing.presence_ttl_s, 1, 30 * 86'400);
      s.strings("queues", c.routing.queues);
      s.number("senior_from_level", c.routing.router.senior_from_level, 0, 100);
      s.number("vip_order_value", c.routing.router.vip_order_value, 0, 1e12);
      s.strings("vip_tiers", c.routing.router.vip_tiers);
      s.number("priority_s_per_level", c.routing.router.priority_s_per_level, 0, 3600);
      s.integer("vip_head_start_s", c.routing.router.vip_head_start_s, 0, 86'400);
      s.integer("queue_snapshot_interval_s", c.routing.queue_snapshot_interval_s, 1, 3600);
      s.integer("snapshot_min_gap_ms", c.routing.snapshot_min_gap_ms, 0, 60'000);
      s.integer("snapshot_max_agents", c.routing.snapshot_max_agents, 1, 100'000);
      s.integer("snapshot_max_waiting", c.routing.snapshot_max_waiting, 1, 100'000);
      s.integer("abandon_after_s", c.routing.abandon_after_s, 1, 86'400);
      s.integer("abandon_close_s", c.routing.abandon_close_s, 1, 30 * 86'400);
    }
    {
      auto s = root.child("redis");
      s.string("url", c.redis.url);
      s.string("password", c.redis.password);
      s.integer("connect_timeout_ms", c.redis.connect_timeout_ms, 10, 600'000);
      s.integer("command_timeout_ms", c.redis.command_timeout_ms, 10, 600'000);
      s.integer("retention_s", c.redis.retention_s, 0, 100LL * 365 * 86'400);
      s.string("key_prefix", c.redis.key_prefix);
      s.integer("startup_timeout_ms", c.redis.startup_timeout_ms, 100, 600'000);
      s.strings("sentinels", c.redis.sentinels);
      s.string("sentinel_master", c.redis.sentinel_master);
      s.string("sentinel_password", c.redis.sentinel_password);
      s.integer("leader_lease_ms", c.redis.leader_lease_ms, 1000, 600'000);
      s.integer("node_timeout_ms", c.redis.node_timeout_ms, 1000, 600'000);
    }
    if (const auto* st = root.any("stores")) parse_stores(*st, c, errors);
    root.raw("anger", c.anger);
    root.raw("escalation", c.escalation);
  }
  validate(c, errors);
}

bool origin_allowed(const config& cfg, const store_config* store, std::string_view origin, std::string_view host) {
  if (origin.empty()) return true;
  for (std::string_view scheme : {"http://", "https://"})
    if (!host.empty() && origin.size() == scheme.size() + host.size() && origin.substr(0, scheme.size()) == scheme &&
        origin.substr(scheme.size()) == host)
      return true;
  for (const auto& o : cfg.server.allowed_origins)
    if (o == "*" || o == origin) return true;
  for (const auto& st : cfg.stores) {
    if (store && st.id != store->id) continue;
    for (const auto& o : st.allowed_origins)
      if (o == "*" || o == origin) return true;
  }
  return false;
}

void validate(const config& c, std::vector<std::string>& errors) {
  if (c.websocket.hard_frame_bytes < c.websocket.max_frame_bytes)
    errors.push_back("config.websocket.hard_frame_bytes: must be >= max_frame_bytes");
  if (c.limits.max_text_bytes + 1024 > c.websocket.max_frame_bytes)
    errors.push_back("config.limits.max_text_bytes: must leave 1 KiB of room under websocket.max_frame_bytes");
  {
    const auto& l = c.server.log_level;
    if (l != "trace" && l != "debug" && l != "info" && l != "warn" && l != "error" && l != "off")
      errors.push_back("config.server.log_level: must be trace, debug, info, warn, error or off");
  }
  if (!agent_status_from_string(c.routing.status_on_connect))
    errors.push_back("config.routing.status_on_connect: must be online, away or offline");
  if (c.routing.queues.empty()) errors.push_back("config.routing.queues: must name at least one queue");
  for (const auto& q : c.routing.queues)
    if (!protocol::valid_id(q, 64)) errors.push_back("config.routing.queues: bad queue name '" + q + "'");
  if (!c.auth.token_secret.empty() && c.auth.token_secret.size() < 32)
    errors.push_back("config.auth.token_secret: must be at least 32 characters");
  if (!protocol::valid_id(c.redis.key_prefix, 64))
    errors.push_back("config.redis.key_prefix: must be 1-64 characters of [A-Za-z0-9._:-]");
  for (const auto& t : c.doors.trusted_proxies) {
    limits::network n;
    if (!limits::network::parse(t, n))
      errors.push_back("config.doors.trusted_proxies: '" + t + "' is not an address or network (10.0.0.1, 10.0.0.0/8, ::1)");
  }
  for (const auto& t : c.doors.metrics_allow) {
    limits::network n;
    if (t != "loopback" && t != "*" && !limits::network::parse(t, n))
      errors.push_back("config.doors.metrics_allow: '" + t + "' is not loopback, * or an address or network");
  }
  if (c.doors.pre_hello_frame_bytes > c.websocket.hard_frame_bytes)
    errors.push_back("config.doors.pre_hello_frame_bytes: must be <= websocket.hard_frame_bytes");
  if (c.routing.abandon_close_s < c.routing.abandon_after_s)
    errors.push_back("config.routing.abandon_close_s: must be >= abandon_after_s");
  if (c.rate_limit.burst < 1) errors.push_back("config.rate_limit.burst: must be >= 1");
}

}  // namespace calma

#include "server/metrics.hpp"

#include <sstream>

namespace calma {

const char* to_string(refusal r) {
  switch (r) {
    case refusal::connections_per_address: return "connections_per_address";
    case refusal::connections_total: return "connections_total";
    case refusal::connection_rate: return "connection_rate";
    case refusal::request_header: return "request_header";
    case refusal::pre_hello_frame: return "pre_hello_frame";
    case refusal::control_frames: return "control_frames";
    case refusal::conversation_rate: return "conversation_rate";
    case refusal::login_rate: return "login_rate";
    case refusal::login_user: return "login_user";
    case refusal::login_queue: return "login_queue";
    case refusal::metrics: return "metrics";
    case refusal::content_type: return "content_type";
    case refusal::count_: break;
  }
  return "unknown";
}

metrics::gauge& metrics::connections(std::string_view role) {
  if (role == "shopper") return connections_shopper;
  if (role == "agent") return connections_agent;
  if (role == "supervisor") return connections_supervisor;
  return connections_unauthenticated;
}

std::string metrics::render(std::int64_t now_ms) const {
  std::ostringstream o;
  auto one = [&](const char* name, const char* type, const char* help, auto value) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
  };
  o << "# HELP calma_connections Open WebSocket connections by role.\n"
       "# TYPE calma_connections gauge\n"
    << "calma_connections{role=\"shopper\"} " << connections_shopper.load() << '\n'
    << "calma_connections{role=\"agent\"} " << connections_agent.load() << '\n'
    << "calma_connections{role=\"supervisor\"} " << connections_supervisor.load() << '\n'
    << "calma_connections{role=\"unauthenticated\"} " << connections_unauthenticated.load() << '\n';
  one("calma_websocket_sessions", "gauge", "WebSocket connections open on this node.", websocket_sessions.load());
  one("calma_relayed_sessions", "gauge", "WebSocket connections of this node relayed to the cluster's leader.",
      relayed_sessions.load());
  if (cluster_leader >= 0) {
    one("calma_cluster_leader", "gauge", "1 when this node leads the cluster, 0 when it follows.", cluster_leader.load());
    one("calma_cluster_resumed_total", "counter",
        "Clients of this node kept open across a leader change: their hello said again to the new leader.",
        cluster_resumed.load());
    one("calma_cluster_gap_unavailable_total", "counter",
        "Client frames answered unavailable while no cluster leader could take them.", cluster_gap_unavailable.load());
    one("calma_cluster_relay_messages_total", "counter",
        "Relay messages this node sent other members through its batching outbox (client frames, hellos, detaches to "
        "a shard's leader; frames and closes for a member's clients).",
        relay_messages_out.load());
    one("calma_cluster_relay_publishes_total", "counter",
        "PUBLISHes that carried them: several messages queued for one member while the node's strand was busy go as one.",
        relay_publishes_out.load());
  }
  one("calma_connections_total", "counter", "WebSocket connections accepted.", connections_total.load());
  one("calma_messages_in_total", "counter", "Chat messages stored.", messages_in.load());
  one("calma_messages_duplicate_total", "counter", "Resent chat messages answered with the stored copy.",
      messages_duplicate.load());
  one("calma_frames_in_total", "counter", "WebSocket frames received.", frames_in.load());
  one("calma_frames_out_total", "counter", "WebSocket frames sent.", frames_out.load());
  one("calma_bytes_out_total", "counter", "WebSocket payload bytes sent.", bytes_out.load());
  one("calma_hub_busy_seconds_total", "counter",
      "Time the hub's strand spent deciding (one core at most: its rate near 1 means the hub is the bottleneck).",
      hub_busy_ns.load() / 1e9);
  if (const int shards = hub_shards.load(); shards > 1) {
    o << "# HELP calma_hub_shard_busy_seconds_total The same, by hub shard (each shard's strand: one core at most).\n"
         "# TYPE calma_hub_shard_busy_seconds_total counter\n";
    for (int k = 0; k < shards && k < static_cast<int>(hub_shard_busy_ns.size()); ++k)
      o << "calma_hub_shard_busy_seconds_total{shard=\"" << k << "\"} " << hub_shard_busy_ns[static_cast<std::size_t>(k)].load() / 1e9 << '\n';
  }
  one("calma_queue_length", "gauge", "Conversations waiting for an agent.", queue_length.load());
  auto oldest = queue_oldest_enqueued_ms.load();
  one("calma_queue_oldest_wait_seconds", "gauge", "Wait of the longest-waiting queued conversation.",
      oldest == 0 ? 0.0 : (now_ms - oldest) / 1000.0);
  {
    std::lock_guard lk(store_mu_);
    o << "# HELP calma_store_queue_length Conversations waiting for an agent, by store.\n"
         "# TYPE calma_store_queue_length gauge\n";
    for (const auto& [st, f] : stores_) o << "calma_store_queue_length{store=\"" << st << "\"} " << f.queue_length << '\n';
    o << "# HELP calma_store_queue_oldest_wait_seconds Longest wait in the queue, by store.\n"
         "# TYPE calma_store_queue_oldest_wait_seconds gauge\n";
    for (const auto& [st, f] : stores_)
      o << "calma_store_queue_oldest_wait_seconds{store=\"" << st << "\"} "
        << (f.oldest_enqueued_ms == 0 ? 0.0 : (now_ms - f.oldest_enqueued_ms) / 1000.0) << '\n';
    o << "# HELP calma_store_escalations_total Escalations raised, by store.\n"
         "# TYPE calma_store_escalations_total counter\n";
    for (const auto& [st, f] : stores_) o << "calma_store_escalations_total{store=\"" << st << "\"} " << f.escalations << '\n';
  }
  one("calma_assignments_total", "counter", "Conversations assigned to an agent.", assignments.load());
  one("calma_conversations_opened_total", "counter", "Conversations opened.", conversations_opened.load());
  one("calma_conversations_closed_total", "counter", "Conversations closed.", conversations_closed.load());
  o << "# HELP calma_errors_total Error frames sent, by code.\n# TYPE calma_errors_total counter\n";
  for (std::size_t i = 0; i < errors.size(); ++i)
    o << "calma_errors_total{code=\"" << protocol::to_string(static_cast<protocol::error_code>(i))
      << "\"} " << errors[i].load() << '\n';
  o << "# HELP calma_refused_total Clients refused at a door (a limit per address or in total), by reason.\n"
       "# TYPE calma_refused_total counter\n";
  for (std::size_t i = 0; i < refusals.size(); ++i)
    o << "calma_refused_total{reason=\"" << to_string(static_cast<refusal>(i)) << "\"} " << refusals[i].load() << '\n';
  one("calma_login_queue", "gauge", "Password checks waiting or running.", login_queue_depth.load());
  one("calma_slow_consumer_disconnects_total", "counter",
      "Connections closed because they did not read their frames.", slow_disconnects.load());
  one("calma_flood_disconnects_total", "counter", "Connections closed for flooding (4429).",
      flood_disconnects.load());
  one("calma_auth_failures_total", "counter", "WebSocket hellos refused (4401).", auth_failures.load());
  one("calma_logins_total", "counter", "Successful staff logins.", logins_ok.load());
  one("calma_login_failures_total", "counter", "Refused staff logins.", logins_failed.load());
  one("calma_http_requests_total", "counter", "HTTP requests served.", http_requests.load());
  one("calma_store_errors_total", "counter", "Store operations that failed.", store_errors.load());
  return o.str();
}

}  // namespace calma

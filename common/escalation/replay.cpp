#include "common/escalation/replay.hpp"

#include <nlohmann/json.hpp>

namespace calma::escalation {

std::optional<replay_event> parse_replay_line(std::string_view line, std::string& error) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) {
    error = "invalid JSON";
    return std::nullopt;
  }
  if (!j.is_object() || !j.contains("ts") || !j["ts"].is_number_integer()) {
    error = "each line needs an integer \"ts\" (ms)";
    return std::nullopt;
  }
  replay_event ev;
  ev.ts = j["ts"].get<std::int64_t>();
  if (auto l = j.find("label"); l != j.end() && l->is_string()) ev.label = l->get<std::string>();
  if (j.contains("text")) {
    if (!j["text"].is_string()) {
      error = "\"text\" must be a string";
      return std::nullopt;
    }
    ev.text = j["text"].get<std::string>();
    const std::string role = j.value("role", "");
    if (role == "shopper") ev.k = replay_event::kind::customer;
    else if (role == "agent" || role == "supervisor") ev.k = replay_event::kind::staff;
    else {
      error = "\"role\" must be \"shopper\", \"agent\" or \"supervisor\"";
      return std::nullopt;
    }
    return ev;
  }
  if (j.contains("tick") && j["tick"] == true) {
    ev.k = replay_event::kind::tick;
    return ev;
  }
  if (auto e = j.find("event"); e != j.end() && e->is_string()) {
    const std::string name = e->get<std::string>();
    if (name == "queued") ev.k = replay_event::kind::queued;
    else if (name == "assigned") ev.k = replay_event::kind::assigned;
    else if (name == "ack") ev.k = replay_event::kind::ack;
    else if (name == "resolve") ev.k = replay_event::kind::resolve;
    else if (name == "closed") ev.k = replay_event::kind::closed;
    else {
      error = "unknown event \"" + name + "\"";
      return std::nullopt;
    }
    return ev;
  }
  error = "expected \"text\" with \"role\", \"tick\": true or \"event\"";
  return std::nullopt;
}

output apply(monitor& m, const replay_event& ev) {
  output out = m.catch_up(ev.ts);
  auto add = [&](output o) {
    for (auto& p : o.points) out.points.push_back(std::move(p));
    for (auto& d : o.decisions) out.decisions.push_back(std::move(d));
  };
  using k = replay_event::kind;
  switch (ev.k) {
    case k::customer: add(m.on_customer_message(ev.ts, ev.text)); break;
    case k::staff: add(m.on_staff_message(ev.ts, ev.text)); break;
    case k::tick: add(m.advance(ev.ts)); break;
    case k::queued: add(m.on_queued(ev.ts)); break;
    case k::assigned: add(m.on_assigned(ev.ts)); break;
    case k::ack: m.on_acknowledged(ev.ts); break;
    case k::resolve: m.on_resolved(ev.ts); break;
    case k::closed: m.on_closed(ev.ts); break;
  }
  return out;
}

}  // namespace calma::escalation

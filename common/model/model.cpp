#include "common/model/model.hpp"

namespace calma {

std::string_view to_string(role r) {
  switch (r) {
    case role::shopper: return "shopper";
    case role::agent: return "agent";
    case role::supervisor: return "supervisor";
  }
  return "shopper";
}
std::optional<role> role_from_string(std::string_view s) {
  if (s == "shopper") return role::shopper;
  if (s == "agent") return role::agent;
  if (s == "supervisor") return role::supervisor;
  return std::nullopt;
}

std::string_view to_string(conversation_state s) {
  switch (s) {
    case conversation_state::queued: return "queued";
    case conversation_state::assigned: return "assigned";
    case conversation_state::closed: return "closed";
  }
  return "queued";
}
std::optional<conversation_state> conversation_state_from_string(std::string_view s) {
  if (s == "queued") return conversation_state::queued;
  if (s == "assigned") return conversation_state::assigned;
  if (s == "closed") return conversation_state::closed;
  return std::nullopt;
}

std::string_view to_string(agent_status s) {
  switch (s) {
    case agent_status::online: return "online";
    case agent_status::away: return "away";
    case agent_status::offline: return "offline";
  }
  return "offline";
}
std::optional<agent_status> agent_status_from_string(std::string_view s) {
  if (s == "online") return agent_status::online;
  if (s == "away") return agent_status::away;
  if (s == "offline") return agent_status::offline;
  return std::nullopt;
}

bool needs_follow_up(const conversation_record& c) { return !follow_up_reason(c).empty(); }

std::string_view follow_up_reason(const conversation_record& c) {
  if (c.follow_up_done_ts != 0) return {};
  if (c.follow_up) return "follow_up";
  if (!c.contact.empty() && c.contact_answered_ts == 0) return "contact";
  return {};
}

std::string_view to_string(visibility v) { return v == visibility::staff ? "staff" : "all"; }

}  // namespace calma

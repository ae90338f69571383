// Frames of several hubs put together for one client (server/hub/fan_in), as
// pure code: reading a frame's type and ids without parsing it, and merging
// the welcomes, boards and colleague pages that each hub answers for its own
// stores.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/protocol/messages.hpp"

namespace calma::protocol {

/// The value of a JSON object's top-level "type" (a plain string), read
/// without parsing the frame: strings skipped with their escapes, nested
/// values skipped by depth (a transcript's messages have types of their own).
/// "" when not found or not a plain string.
std::string_view top_level_type(std::string_view frame);

/// Calls `f(value)` for the string after each `"key":"` in a compact JSON text
/// (as the hub writes: no spaces). Inside a string a quote is escaped, so the
/// pattern only matches a key, at any depth.
template <class F>
void each_string_value(std::string_view text, std::string_view key, F&& f) {
  std::string pat;
  pat.reserve(key.size() + 4);
  pat.append("\"").append(key).append("\":\"");
  for (auto at = text.find(pat); at != std::string_view::npos; at = text.find(pat, at)) {
    at += pat.size();
    const auto end = text.find('"', at);
    if (end == std::string_view::npos) return;
    f(text.substr(at, end - at));
    at = end;
  }
}

/// One welcome of several: the first's fields, everyone's conversations,
/// escalations and stores, the first presence found.
nlohmann::json merge_welcomes(std::vector<nlohmann::json> welcomes);

/// One queue.snapshot of several (each a hub's latest, for its stores): queues
/// side by side, agents merged in the hubs' order (available first, then by
/// name) and capped at `max_agents` (truncated then), counts added up.
nlohmann::json merge_snapshots(const std::vector<const nlohmann::json*>& snapshots, std::size_t max_agents);

/// What to ask of every hub for the page `m` of all of them: from the first
/// agent, as many as the page's end (not capped: any page of the merge is exact).
agents_list widen_agents_list(const agents_list& m);
/// The text of an agents.list request, as a client would send it (for a relay to another node).
std::string agents_list_text(const agents_list& m);
/// The page `offset`, `limit` of the hubs' answers to widen_agents_list:
/// merged in the hubs' order; `total` the sum of theirs.
nlohmann::json merge_agents_pages(std::vector<nlohmann::json> pages, int offset, int limit);

}  // namespace calma::protocol

#pragma once
// The replay format of calma-anger --replay (one JSON object a line) and how
// an event drives a monitor. Shared by the CLI and the evaluation so both
// replay conversations exactly as the server would run them.
//   {"ts":ms,"role":"shopper"|"agent"|"supervisor","text":"..."}
//   {"ts":ms,"tick":true}
//   {"ts":ms,"event":"queued"|"assigned"|"ack"|"resolve"|"closed"}
// Other keys (e.g. "label" in the labelled data sets) are kept in `label`.

#include "common/escalation/monitor.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace calma::escalation {

struct replay_event {
  enum class kind { customer, staff, tick, queued, assigned, ack, resolve, closed };
  std::int64_t ts = 0;
  kind k = kind::tick;
  std::string text;
  std::string label;
};

// Parses one line; on failure returns nullopt and sets `error`.
std::optional<replay_event> parse_replay_line(std::string_view line, std::string& error);

// Fires every deadline due at or before `ev.ts` (as the server's timer would),
// then applies the event. Returns everything produced, in order.
output apply(monitor& m, const replay_event& ev);

}  // namespace calma::escalation

#pragma once
// Every number of the escalation rules. Defaults = config/calma.json
// ("escalation"), documented in config/README.md.

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace calma::escalation {

struct params {
  double level_high = 80;             // level at or above: escalation, severity high
  double level_high_release = 70;     // the level rule re-arms only below this (hysteresis)
  double level_warning = 60;          // level at or above...
  int warning_messages = 3;           // ...for this many customer messages in a row: warning
  double level_warning_release = 50;  // the streak rule re-arms only below this
  double predict_within_s = 60;       // trend predicts level_high within this: warn the agent
  double agent_warning_cooldown_s = 120;  // at most one agent warning per this period
  // Cue categories that escalate at once, severity high.
  std::vector<std::string> immediate_high = {"manager_request", "legal_threat"};
  double queue_wait_s = 120;          // queued with no agent this long: escalation
  double unanswered_s = 180;          // customer message unanswered this long: escalation
  double nudge_s = 60;                // unanswered this long: nudge the agent
  // Anger shortens the waits above: allowed = wait * (1 - anger_wait_factor * level / 100).
  double anger_wait_factor = 0.5;
  double ack_timeout_s = 60;          // not acknowledged by a supervisor: re-notify, severity +1
  int max_renotify = 3;               // re-notifications per escalation
  double cooldown_s = 300;            // after a resolve, the same reasons at the same or lower
                                      // severity do not open a new escalation for this long
};

params params_from_json(const nlohmann::json& j, std::vector<std::string>& errors);
nlohmann::json to_json(const params& p);

}  // namespace calma::escalation

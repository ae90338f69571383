#include "common/escalation/params.hpp"

#include "common/config/param_reader.hpp"
#include "common/anger/types.hpp"

namespace calma::escalation {

using nlohmann::json;

params params_from_json(const json& j, std::vector<std::string>& errors) {
  params p;
  param_reader r(&j, "escalation", errors);
  r.number("level_high", p.level_high, 0, 100);
  r.number("level_high_release", p.level_high_release, 0, 100);
  r.number("level_warning", p.level_warning, 0, 100);
  r.integer("warning_messages", p.warning_messages, 1, 100);
  r.number("level_warning_release", p.level_warning_release, 0, 100);
  r.number("predict_within_s", p.predict_within_s, 0, 3600);
  r.number("agent_warning_cooldown_s", p.agent_warning_cooldown_s, 0, 86400);
  r.strings("immediate_high", p.immediate_high);
  for (const auto& c : p.immediate_high)
    if (anger::category_from_name(c) == anger::category::count_)
      r.error("immediate_high", "unknown cue category \"" + c + "\"");
  r.number("queue_wait_s", p.queue_wait_s, 1, 86400);
  r.number("unanswered_s", p.unanswered_s, 1, 86400);
  r.number("nudge_s", p.nudge_s, 1, 86400);
  r.number("anger_wait_factor", p.anger_wait_factor, 0, 0.9);
  r.number("ack_timeout_s", p.ack_timeout_s, 1, 86400);
  r.integer("max_renotify", p.max_renotify, 0, 100);
  r.number("cooldown_s", p.cooldown_s, 0, 86400);
  if (p.level_high_release > p.level_high) r.error("level_high_release", "must not exceed level_high");
  if (p.level_warning_release > p.level_warning)
    r.error("level_warning_release", "must not exceed level_warning");
  if (p.level_warning > p.level_high) r.error("level_warning", "must not exceed level_high");
  if (p.nudge_s > p.unanswered_s) r.error("nudge_s", "must not exceed unanswered_s");
  return p;
}

json to_json(const params& p) {
  return json{{"level_high", p.level_high},
              {"level_high_release", p.level_high_release},
              {"level_warning", p.level_warning},
              {"warning_messages", p.warning_messages},
              {"level_warning_release", p.level_warning_release},
              {"predict_within_s", p.predict_within_s},
              {"agent_warning_cooldown_s", p.agent_warning_cooldown_s},
              {"immediate_high", p.immediate_high},
              {"queue_wait_s", p.queue_wait_s},
              {"unanswered_s", p.unanswered_s},
              {"nudge_s", p.nudge_s},
              {"anger_wait_factor", p.anger_wait_factor},
              {"ack_timeout_s", p.ack_timeout_s},
              {"max_renotify", p.max_renotify},
              {"cooldown_s", p.cooldown_s}};
}

}  // namespace calma::escalation

#pragma once
// The escalation rules of one conversation, as a state machine that takes
// events and returns decisions as values. It never reads a clock: every call
// carries its time, and next_deadline() says when the rules must next be
// asked (evaluate()) if nothing else happens, so the server keeps a single
// timer per conversation.
//
// Rules (numbers in params):
//  - level >= level_high -> escalate, high; re-armed only below level_high_release.
//  - level >= level_warning for warning_messages customer messages in a row
//    -> escalate, warning; re-armed only below level_warning_release.
//  - trend (or waiting pressure) predicts level_high within predict_within_s
//    -> warn_agent (the agent first), at most once per agent_warning_cooldown_s.
//  - a cue of an immediate_high category (manager request, legal or
//    chargeback threat) -> escalate, high, at once.
//  - queued with no agent queue_wait_s, or a customer message unanswered
//    unanswered_s -> escalate (warning; high if the level is at level_warning);
//    unanswered nudge_s -> nudge_agent. Anger shortens these waits.
//  - an escalation not acknowledged within ack_timeout_s -> renotify with the
//    severity raised one step (up to critical), at most max_renotify times.
// One escalation is open at a time: a new reason joins it (decision.joined),
// raising its severity if higher. A reason that already fired does not fire
// again while the escalation is open, nor for cooldown_s after it is resolved
// unless its severity is higher.

#include "common/anger/curve.hpp"
#include "common/anger/types.hpp"
#include "common/escalation/params.hpp"

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace calma::escalation {

enum class severity : std::uint8_t { warning, high, critical };
std::string_view severity_name(severity s) noexcept;

enum class decision_kind : std::uint8_t {
  escalate,     // open an escalation or add reasons to the open one
  warn_agent,   // tell the agent first: the curve is heading for the line
  nudge_agent,  // the customer has been waiting for an answer
  renotify,     // re-send the open escalation to every supervisor, severity raised
};
std::string_view decision_name(decision_kind k) noexcept;

struct decision {
  decision_kind kind = decision_kind::escalate;
  std::int64_t ts = 0;
  severity sev = severity::warning;  // escalate / renotify: the escalation's severity now
  std::vector<std::string> reasons;  // human-readable, new ones only
  bool joined = false;               // escalate: added to an escalation already open
  /// The same reasons as keys, for counting (reports): "manager_request", "legal_threat"
  /// (the cue category), "level_high", "level_warning", "queue_wait", "unanswered"...
  std::vector<std::string> keys;
};

struct open_escalation {
  severity sev = severity::warning;
  std::vector<std::string> reasons;
  std::int64_t raised_ts = 0;
  std::int64_t last_notified_ts = 0;
  bool acknowledged = false;
  int renotified = 0;
};

// What the rules need to know about the curve at a moment.
struct curve_view {
  double level = 0;
  double trend = 0;                          // points per minute
  std::optional<std::int64_t> reach_high_ts;  // waiting pressure alone reaches level_high
};
curve_view view_of(const anger::curve& c, const params& p);

class policy {
 public:
  explicit policy(params p = {});
  // The parameters shared (one per config, not a copy per conversation).
  explicit policy(std::shared_ptr<const params> p);

  // A customer message, with its score and the curve just after it.
  // `awaits_answer` false (a mere "thanks"): it does not start the wait.
  std::vector<decision> on_customer_message(std::int64_t ts, const anger::score_result& s,
                                            std::string_view text, const curve_view& v,
                                            bool awaits_answer = true);
  // A staff (agent or supervisor) message: the customer is answered.
  std::vector<decision> on_staff_message(std::int64_t ts, const curve_view& v);
  std::vector<decision> on_queued(std::int64_t ts, const curve_view& v);
  std::vector<decision> on_assigned(std::int64_t ts, const curve_view& v);
  void on_acknowledged(std::int64_t ts);
  void on_resolved(std::int64_t ts);
  void on_closed(std::int64_t ts);
  // The shopper left a queued conversation (routing.abandon_after_s): the
  // time rules (waiting, unanswered, the curve's rise with waiting) are
  // silent until they come back.
  void set_abandoned(bool a) noexcept { abandoned_ = a; }
  bool abandoned() const noexcept { return abandoned_; }
  // Time passed (a deadline, a tick): the time rules.
  std::vector<decision> evaluate(std::int64_t ts, const curve_view& v);

  // When evaluate() must next be called if no event comes; empty if never.
  std::optional<std::int64_t> next_deadline() const;
  const std::optional<open_escalation>& open() const noexcept { return open_; }
  bool closed() const noexcept { return closed_; }
  const params& parameters() const noexcept { return *p_; }

 private:
  struct pending {
    std::string key;
    std::string reason;
    severity sev;
  };
  void check_level(std::int64_t ts, const curve_view& v, std::vector<pending>& out);
  void check_time(std::int64_t ts, const curve_view& v, std::vector<pending>& out,
                  std::vector<decision>& decisions);
  void check_renotify(std::int64_t ts, std::vector<decision>& decisions);
  std::vector<decision> finish(std::int64_t ts, std::vector<pending>& reasons,
                               std::vector<decision> decisions);
  bool suppressed(std::int64_t ts, const std::string& key, severity sev) const;
  double shorten(double seconds, double level) const noexcept;

  std::shared_ptr<const params> p_;  // never null
  std::optional<open_escalation> open_;
  std::vector<std::string> open_keys_;
  // Cool-down memory of the last resolved escalation.
  std::vector<std::string> resolved_keys_;
  std::int64_t resolved_ts_ = 0;
  severity resolved_sev_ = severity::warning;
  bool resolved_any_ = false;

  bool high_armed_ = true;
  bool warning_armed_ = true;
  int streak_ = 0;
  std::optional<std::int64_t> queued_since_;
  std::optional<std::int64_t> unanswered_since_;
  bool nudged_ = false;
  std::optional<std::int64_t> last_agent_warning_;
  curve_view last_view_;
  bool closed_ = false;
  bool abandoned_ = false;
  std::int64_t last_eval_ts_ = std::numeric_limits<std::int64_t>::min();
};

// Coaching for the agent: "calm", "rising", "peak", "cooling" or, once the
// conversation is closed, "closed" (follow up). The text for a stage comes
// from the lexicon of the agent's language (lexicon_set::coaching).
std::string_view coaching_stage(anger::phase ph, bool closed) noexcept;

}  // namespace calma::escalation

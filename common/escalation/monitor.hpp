#pragma once
// One conversation's brain, ready to wire: scorer state + anger curve +
// escalation policy, fed with the conversation's events, returning the
// timeline points to store and send to staff and the decisions to apply.
// The server keeps one monitor per conversation (on its strand) and one
// timer at next_deadline(); when it fires it calls advance(deadline).
// calma-anger --replay and the evaluation drive exactly this class.

#include "common/anger/curve.hpp"
#include "common/anger/scorer.hpp"
#include "common/escalation/policy.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace calma::escalation {

struct output {
  std::vector<anger::point> points;
  std::vector<decision> decisions;
};

class monitor {
 public:
  // `sc` must outlive the monitor (one scorer serves every conversation).
  // `lang`: the session's language, or anger::no_lang to detect per message.
  monitor(const anger::scorer& sc, const anger::curve_params& cp, const params& ep,
          std::int64_t start_ts, anger::lang_id lang = anger::no_lang);
  // The parameters shared rather than copied: the server's monitors all read
  // the same two (~260 bytes less per conversation).
  monitor(const anger::scorer& sc, std::shared_ptr<const anger::curve_params> cp,
          std::shared_ptr<const params> ep, std::int64_t start_ts, anger::lang_id lang = anger::no_lang);

  // `pre`, when given, is the text's analysis prepared elsewhere
  // (scorer::prepare, on another thread): used when it fits this
  // conversation (scorer::fits), else the text is analysed here. Spent either way.
  output on_customer_message(std::int64_t ts, std::string_view text, anger::prepared_text* pre = nullptr);
  output on_staff_message(std::int64_t ts, std::string_view text, anger::prepared_text* pre = nullptr);
  output on_queued(std::int64_t ts);
  output on_assigned(std::int64_t ts);
  void on_acknowledged(std::int64_t ts) { policy_.on_acknowledged(ts); }
  void on_resolved(std::int64_t ts) { policy_.on_resolved(ts); }
  void on_closed(std::int64_t ts) { policy_.on_closed(ts); }
  void set_abandoned(bool a) { policy_.set_abandoned(a); }
  // Time passes: a timer at next_deadline(), or a tick. Returns one point and
  // whatever the rules decide at `ts`.
  output advance(std::int64_t ts);
  // Fires, in order, every deadline due at or before `ts` that a timer has not
  // fired yet (call before an event that arrives after a missed deadline).
  output catch_up(std::int64_t ts);

  std::optional<std::int64_t> next_deadline() const { return policy_.next_deadline(); }
  const anger::curve& curve() const noexcept { return curve_; }
  const escalation::policy& rules() const noexcept { return policy_; }
  // The last customer message's score (cues, language).
  const anger::score_result& last_score() const noexcept { return last_; }
  // "calm", "rising", "peak", "cooling" or "closed" (lexicon_set::coaching).
  std::string_view coaching() const noexcept {
    return coaching_stage(curve_.phase(), policy_.closed());
  }

 private:
  const anger::scorer* scorer_;
  anger::lang_id lang_;
  anger::scorer_state state_;
  anger::curve curve_;
  escalation::policy policy_;
  anger::score_result last_;
  bool answered_once_ = false;
};

}  // namespace calma::escalation

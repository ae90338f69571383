#include "common/escalation/monitor.hpp"

namespace calma::escalation {

monitor::monitor(const anger::scorer& sc, const anger::curve_params& cp, const params& ep,
                 std::int64_t start_ts, anger::lang_id lang)
    : monitor(sc, std::make_shared<const anger::curve_params>(cp), std::make_shared<const params>(ep), start_ts,
              lang) {}

monitor::monitor(const anger::scorer& sc, std::shared_ptr<const anger::curve_params> cp,
                 std::shared_ptr<const params> ep, std::int64_t start_ts, anger::lang_id lang)
    : scorer_(&sc), lang_(lang), curve_(std::move(cp), start_ts), policy_(std::move(ep)) {}

output monitor::on_customer_message(std::int64_t ts, std::string_view text, anger::prepared_text* pre) {
  output out;
  if (pre && scorer_->fits(*pre, lang_, &state_, true)) scorer_->finish(*pre, lang_, ts, &state_, last_);
  else scorer_->score(text, lang_, ts, &state_, last_);
  // Before any answer every message waits (a first "hello" needs one).
  const bool awaits = !answered_once_ || anger::awaits_answer(last_, text);
  out.points.push_back(curve_.on_customer_message(ts, last_, text, awaits));
  out.decisions = policy_.on_customer_message(out.points.back().ts, last_, text,
                                              view_of(curve_, policy_.parameters()), awaits);
  return out;
}

output monitor::on_staff_message(std::int64_t ts, std::string_view text, anger::prepared_text* pre) {
  output out;
  anger::score_result r;
  if (pre && scorer_->fits(*pre, lang_, nullptr, false)) scorer_->finish(*pre, lang_, 0, nullptr, r);
  else r = scorer_->score_staff(text, lang_);
  answered_once_ = true;
  out.points.push_back(curve_.on_staff_message(ts, r, text));
  out.decisions = policy_.on_staff_message(out.points.back().ts, view_of(curve_, policy_.parameters()));
  return out;
}

output monitor::on_queued(std::int64_t ts) {
  output out;
  out.points.push_back(curve_.advance(ts));
  out.decisions = policy_.on_queued(out.points.back().ts, view_of(curve_, policy_.parameters()));
  return out;
}

output monitor::on_assigned(std::int64_t ts) {
  output out;
  out.points.push_back(curve_.advance(ts));
  out.decisions = policy_.on_assigned(out.points.back().ts, view_of(curve_, policy_.parameters()));
  return out;
}

output monitor::advance(std::int64_t ts) {
  output out;
  out.points.push_back(curve_.advance(ts));
  out.decisions = policy_.evaluate(out.points.back().ts, view_of(curve_, policy_.parameters()));
  return out;
}

output monitor::catch_up(std::int64_t ts) {
  output out;
  // Each deadline is strictly later than the previous evaluation, so this
  // ends; the bound is only a guard against a rule that would not progress.
  for (int guard = 0; guard < 10000; ++guard) {
    const auto d = next_deadline();
    if (!d || *d > ts) break;
    output o = advance(*d);
    for (auto& p : o.points) out.points.push_back(std::move(p));
    for (auto& x : o.decisions) out.decisions.push_back(std::move(x));
  }
  return out;
}

}  // namespace calma::escalation

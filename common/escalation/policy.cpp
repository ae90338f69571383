#include "common/escalation/policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace calma::escalation {
namespace {

std::int64_t ms(double seconds) { return static_cast<std::int64_t>(std::llround(seconds * 1000.0)); }

std::string secs(std::int64_t millis) { return std::to_string((millis + 500) / 1000) + " s"; }

std::string num(double v) { return std::to_string(static_cast<long long>(std::llround(v))); }

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::string_view severity_name(severity s) noexcept {
  switch (s) {
    case severity::warning: return "warning";
    case severity::high: return "high";
    case severity::critical: return "critical";
  }
  return "warning";
}

std::string_view decision_name(decision_kind k) noexcept {
  switch (k) {
    case decision_kind::escalate: return "escalate";
    case decision_kind::warn_agent: return "warn_agent";
    case decision_kind::nudge_agent: return "nudge_agent";
    case decision_kind::renotify: return "renotify";
  }
  return "escalate";
}

std::string_view coaching_stage(anger::phase ph, bool closed) noexcept {
  if (closed) return "closed";
  return anger::phase_name(ph);
}

curve_view view_of(const anger::curve& c, const params& p) {
  return curve_view{c.level(), c.trend(), c.time_reaching(p.level_high)};
}

policy::policy(params p) : policy(std::make_shared<const params>(std::move(p))) {}

policy::policy(std::shared_ptr<const params> p) : p_(std::move(p)) {}

double policy::shorten(double seconds, double level) const noexcept {
  return seconds * (1.0 - p_->anger_wait_factor * std::clamp(level, 0.0, 100.0) / 100.0);
}

bool policy::suppressed(std::int64_t ts, const std::string& key, severity sev) const {
  if (open_ && contains(open_keys_, key)) return true;
  return resolved_any_ && ts - resolved_ts_ < ms(p_->cooldown_s) && contains(resolved_keys_, key) &&
         sev <= resolved_sev_;
}

void policy::check_level(std::int64_t ts, const curve_view& v, std::vector<pending>& out) {
  if (!high_armed_ && v.level < p_->level_high_release) high_armed_ = true;
  if (!warning_armed_ && v.level < p_->level_warning_release) warning_armed_ = true;
  if (high_armed_ && v.level >= p_->level_high) {
    high_armed_ = false;
    out.push_back({"level_high", "level " + num(v.level) + " >= " + num(p_->level_high), severity::high});
  }
}

void policy::check_time(std::int64_t ts, const curve_view& v, std::vector<pending>& out,
                        std::vector<decision>& decisions) {
  const severity wait_sev = v.level >= p_->level_warning ? severity::high : severity::warning;
  if (queued_since_) {
    const std::int64_t waited = ts - *queued_since_;
    if (waited >= ms(shorten(p_->queue_wait_s, v.level)))
      out.push_back({"queue_wait", "queued " + secs(waited) + " without an agent", wait_sev});
  } else if (unanswered_since_) {
    const std::int64_t waited = ts - *unanswered_since_;
    if (!nudged_ && waited >= ms(shorten(p_->nudge_s, v.level))) {
      nudged_ = true;
      decisions.push_back({decision_kind::nudge_agent, ts, severity::warning,
                           {"customer unanswered " + secs(waited)}, false, {"unanswered"}});
    }
    if (waited >= ms(shorten(p_->unanswered_s, v.level)))
      out.push_back({"unanswered", "customer unanswered " + secs(waited), wait_sev});
  }
  // The agent first: the curve is heading for the line.
  if (high_armed_ && v.level < p_->level_high &&
      (!last_agent_warning_ || ts - *last_agent_warning_ >= ms(p_->agent_warning_cooldown_s))) {
    double eta_s = std::numeric_limits<double>::infinity();
    std::string why;
    if (v.trend > 0) {
      eta_s = (p_->level_high - v.level) / v.trend * 60.0;
      why = "trend +" + num(v.trend) + "/min";
    }
    if (v.reach_high_ts) {
      const double w = double(*v.reach_high_ts - ts) / 1000.0;
      if (w < eta_s) {
        eta_s = w;
        why = "customer waiting";
      }
    }
    if (eta_s <= p_->predict_within_s) {
      last_agent_warning_ = ts;
      decisions.push_back({decision_kind::warn_agent, ts, severity::warning,
                           {"level " + num(v.level) + " heading for " + num(p_->level_high) + " in ~" +
                            num(std::max(0.0, eta_s)) + " s (" + why + ")"},
                           false, {"predicted"}});
    }
  }
}

void policy::check_renotify(std::int64_t ts, std::vector<decision>& decisions) {
  if (!open_ || open_->acknowledged || open_->renotified >= p_->max_renotify) return;
  if (ts - open_->last_notified_ts < ms(p_->ack_timeout_s)) return;
  if (open_->sev != severity::critical) open_->sev = static_cast<severity>(static_cast<int>(open_->sev) + 1);
  ++open_->renotified;
  const std::int64_t waited = ts - open_->last_notified_ts;
  open_->last_notified_ts = ts;
  decisions.push_back({decision_kind::renotify, ts, open_->sev,
                       {"not acknowledged after " + secs(waited)}, true, {"not_acknowledged"}});
}

std::vector<decision> policy::finish(std::int64_t ts, std::vector<pending>& reasons,
                                     std::vector<decision> decisions) {
  last_eval_ts_ = ts;
  decision esc;
  esc.kind = decision_kind::escalate;
  esc.ts = ts;
  bool any = false;
  severity top = severity::warning;
  for (auto& r : reasons) {
    if (suppressed(ts, r.key, r.sev)) continue;
    if (std::find(open_keys_.begin(), open_keys_.end(), r.key) != open_keys_.end()) continue;
    if (!any || r.sev > top) top = r.sev;
    any = true;
    open_keys_.push_back(r.key);
    esc.reasons.push_back(r.reason);
    esc.keys.push_back(r.key.rfind("cue:", 0) == 0 ? r.key.substr(4) : r.key);
  }
  if (!any) return decisions;
  if (open_) {
    esc.joined = true;
    if (top > open_->sev) {
      open_->sev = top;
      open_->acknowledged = false;  // a worse escalation needs a new acknowledgement
      open_->last_notified_ts = ts;
    }
  } else {
    open_ = open_escalation{};
    open_->sev = top;
    open_->raised_ts = ts;
    open_->last_notified_ts = ts;
  }
  for (const auto& r : esc.reasons) open_->reasons.push_back(r);
  esc.sev = open_->sev;
  decisions.insert(decisions.begin(), std::move(esc));
  return decisions;
}

std::vector<decision> policy::on_customer_message(std::int64_t ts, const anger::score_result& s,
                                                  std::string_view text, const curve_view& v,
                                                  bool awaits_answer) {
  last_view_ = v;
  if (closed_) return {};
  if (!unanswered_since_ && awaits_answer) {
    unanswered_since_ = ts;
    nudged_ = false;
  }
  std::vector<pending> reasons;
  std::vector<decision> decisions;
  streak_ = v.level >= p_->level_warning ? streak_ + 1 : 0;
  if (warning_armed_ && streak_ >= p_->warning_messages) {
    warning_armed_ = false;
    reasons.push_back({"level_warning",
                       "level >= " + num(p_->level_warning) + " for " + std::to_string(streak_) +
                           " customer messages",
                       severity::warning});
  }
  for (const auto& c : s.cues) {
    if (c.kind != anger::cue_kind::lexicon) continue;
    const std::string cat(anger::category_name(c.cat));
    if (!contains(p_->immediate_high, cat)) continue;
    const std::string key = "cue:" + cat;
    bool seen = false;
    for (const auto& r : reasons) seen = seen || r.key == key;
    if (!seen) reasons.push_back({key, anger::describe(c, text), severity::high});
  }
  check_level(ts, v, reasons);
  check_time(ts, v, reasons, decisions);
  check_renotify(ts, decisions);
  return finish(ts, reasons, std::move(decisions));
}

std::vector<decision> policy::on_staff_message(std::int64_t ts, const curve_view& v) {
  last_view_ = v;
  unanswered_since_.reset();
  nudged_ = false;
  std::vector<pending> reasons;
  std::vector<decision> decisions;
  check_level(ts, v, reasons);
  check_renotify(ts, decisions);
  return finish(ts, reasons, std::move(decisions));
}

std::vector<decision> policy::on_queued(std::int64_t ts, const curve_view& v) {
  if (!queued_since_) queued_since_ = ts;
  return evaluate(ts, v);
}

std::vector<decision> policy::on_assigned(std::int64_t ts, const curve_view& v) {
  queued_since_.reset();
  return evaluate(ts, v);
}

void policy::on_acknowledged(std::int64_t ts) {
  if (open_) open_->acknowledged = true;
}

void policy::on_resolved(std::int64_t ts) {
  if (!open_) return;
  resolved_any_ = true;
  resolved_ts_ = ts;
  resolved_sev_ = open_->sev;
  resolved_keys_ = open_keys_;
  open_.reset();
  open_keys_.clear();
  // Start afresh: the level rules wait for their release levels again only if
  // the level is still above them (hysteresis continues), the streak restarts.
  streak_ = 0;
  last_eval_ts_ = std::max(last_eval_ts_, ts);
}

void policy::on_closed(std::int64_t ts) {
  closed_ = true;
  queued_since_.reset();
  unanswered_since_.reset();
  last_eval_ts_ = std::max(last_eval_ts_, ts);
}

std::vector<decision> policy::evaluate(std::int64_t ts, const curve_view& v) {
  last_view_ = v;
  if (abandoned_) {
    last_eval_ts_ = std::max(last_eval_ts_, ts);
    return {};  // nobody is there to be kept waiting
  }
  std::vector<pending> reasons;
  std::vector<decision> decisions;
  if (!closed_) {
    check_level(ts, v, reasons);
    check_time(ts, v, reasons, decisions);
  }
  check_renotify(ts, decisions);
  return finish(ts, reasons, std::move(decisions));
}

std::optional<std::int64_t> policy::next_deadline() const {
  if (abandoned_) return std::nullopt;
  std::optional<std::int64_t> best;
  auto offer = [&](std::int64_t d) {
    if (d <= last_eval_ts_) return;  // already asked at or after that time
    if (!best || d < *best) best = d;
  };
  // A rule whose reason is cooling down after a resolve is asked again when
  // the cool-down ends; one already in the open escalation is not asked.
  auto rule = [&](const std::string& key, std::int64_t d) {
    if (open_ && contains(open_keys_, key)) return;
    if (resolved_any_ && contains(resolved_keys_, key))
      d = std::max(d, resolved_ts_ + ms(p_->cooldown_s));
    offer(d);
  };
  if (open_ && !open_->acknowledged && open_->renotified < p_->max_renotify)
    offer(open_->last_notified_ts + ms(p_->ack_timeout_s));
  if (closed_) return best;
  const double L = last_view_.level;
  if (queued_since_) {
    rule("queue_wait", *queued_since_ + ms(shorten(p_->queue_wait_s, L)));
  } else if (unanswered_since_) {
    if (!nudged_) offer(*unanswered_since_ + ms(shorten(p_->nudge_s, L)));
    rule("unanswered", *unanswered_since_ + ms(shorten(p_->unanswered_s, L)));
  }
  if (high_armed_ && last_view_.reach_high_ts) {
    rule("level_high", *last_view_.reach_high_ts);
    std::int64_t warn = *last_view_.reach_high_ts - ms(p_->predict_within_s);
    if (last_agent_warning_) warn = std::max(warn, *last_agent_warning_ + ms(p_->agent_warning_cooldown_s));
    if (warn < *last_view_.reach_high_ts) offer(warn);
  }
  return best;
}

}  // namespace calma::escalation

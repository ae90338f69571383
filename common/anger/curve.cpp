#include "common/anger/curve.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace calma::anger {

namespace {
constexpr double ln2 = 0.69314718055994530942;

std::string seconds(std::int64_t ms) {
  return std::to_string((ms + 500) / 1000) + " s";
}
}  // namespace

std::string_view phase_name(phase p) noexcept {
  switch (p) {
    case phase::calm: return "calm";
    case phase::rising: return "rising";
    case phase::peak: return "peak";
    case phase::cooling: return "cooling";
  }
  return "calm";
}

curve::curve(curve_params p, std::int64_t start_ts)
    : curve(std::make_shared<const curve_params>(std::move(p)), start_ts) {}

curve::curve(std::shared_ptr<const curve_params> p, std::int64_t start_ts)
    : p_(std::move(p)), level_(p_->baseline), ts_(start_ts), start_ts_(start_ts) {
  // Not reserved: the samples' ring grows as they come (history_points of
  // them reserved up front cost 1 KiB per open conversation, most of which
  // have a few).
}

double curve::evolve_level(const curve_params& p, double L, std::int64_t from, std::int64_t to,
                           std::optional<std::int64_t> waiting_since,
                           std::int64_t soothed_until) noexcept {
  // Piecewise: the dynamics change at the end of the grace period and at the
  // end of the soothed period; each piece has a closed form.
  std::int64_t t = from;
  const std::int64_t grace_end =
      waiting_since ? *waiting_since + static_cast<std::int64_t>(p.wait_grace_s * 1000) : INT64_MAX;
  while (t < to) {
    std::int64_t next = to;
    if (grace_end > t && grace_end < next) next = grace_end;
    if (soothed_until > t && soothed_until < next) next = soothed_until;
    const double dt = double(next - t) / 1000.0;
    if (t >= grace_end) {
      L = 100.0 - (100.0 - L) * std::exp(-ln2 * dt / p.wait_half_life_s);
    } else {
      const double h = t < soothed_until ? p.soothed_half_life_s : p.half_life_s;
      L = p.baseline + (L - p.baseline) * std::exp(-ln2 * dt / h);
    }
    t = next;
  }
  return std::clamp(L, 0.0, 100.0);
}

void curve::evolve(std::int64_t ts) noexcept {
  if (ts <= ts_) return;  // time never runs backward; late events land at ts_
  level_ = evolve_level(*p_, level_, ts_, ts, waiting_since_, soothed_until_);
  ts_ = ts;
}

double curve::level_at(std::int64_t ts) const noexcept {
  if (ts <= ts_) return level_;
  return evolve_level(*p_, level_, ts_, ts, waiting_since_, soothed_until_);
}

std::optional<std::int64_t> curve::time_reaching(double line) const noexcept {
  if (!waiting_since_) return std::nullopt;
  if (level_ >= line) return ts_;
  if (line >= 100.0) return std::nullopt;
  const std::int64_t grace_end =
      std::max(ts_, *waiting_since_ + static_cast<std::int64_t>(p_->wait_grace_s * 1000));
  const double Lg = level_at(grace_end);
  if (Lg >= line) return grace_end;
  const double secs = p_->wait_half_life_s * std::log2((100.0 - Lg) / (100.0 - line));
  return grace_end + static_cast<std::int64_t>(std::ceil(secs * 1000.0));
}

void curve::record(std::int64_t ts, double level) {
  const auto cap = static_cast<std::size_t>(p_->history_points);
  if (history_.size() < cap) {
    history_.push_back({ts, level});
  } else {
    history_[head_] = {ts, level};
    head_ = (head_ + 1) % cap;
  }
}

double curve::level_in_past(std::int64_t ts) const noexcept {
  // Linear interpolation between recorded samples; before the first one the
  // conversation was at its baseline.
  const std::size_t n = history_.size();
  auto at = [&](std::size_t i) -> const sample& { return history_[(head_ + i) % n]; };
  if (n == 0 || ts < at(0).ts) return ts < start_ts_ || n == 0 ? p_->baseline : at(0).level;
  for (std::size_t i = n; i-- > 0;) {
    const sample& a = at(i);
    if (a.ts <= ts) {
      if (i + 1 == n) return level_at(ts);  // after the last sample: the live curve
      const sample& b = at(i + 1);
      if (b.ts == a.ts) return b.level;
      return a.level + (b.level - a.level) * double(ts - a.ts) / double(b.ts - a.ts);
    }
  }
  return p_->baseline;
}

point curve::make_point(std::int64_t ts, std::vector<std::string> cues) {
  record(ts, level_);
  const double window_ms = p_->trend_window_s * 1000.0;
  const double past = level_in_past(ts - static_cast<std::int64_t>(window_ms));
  trend_ = (level_ - past) / (p_->trend_window_s / 60.0);

  anger::phase next;
  if (level_ < p_->calm_below) next = phase::calm;
  else if (trend_ <= p_->cooling_trend) next = phase::cooling;
  else if (level_ >= p_->peak_from) next = phase::peak;
  else if (trend_ >= p_->rising_trend) next = phase::rising;
  else if (phase_ == phase::calm) next = phase::rising;
  else if (phase_ == phase::peak) next = phase::cooling;
  else next = phase_;  // a plateau keeps its direction
  phase_ = next;

  point pt;
  pt.ts = ts;
  pt.level = level_;
  pt.phase = phase_;
  pt.trend = trend_;
  pt.cues = std::move(cues);
  if (trend_ > 0 && level_ < p_->alert_line)
    pt.eta_ms = static_cast<std::int64_t>((p_->alert_line - level_) / trend_ * 60000.0);
  return pt;
}

point curve::on_customer_message(std::int64_t ts, const score_result& s, std::string_view text,
                                 bool awaits_answer) {
  evolve(ts);
  ts = std::max(ts, ts_);
  record(ts, level_);  // the level just before the jump, for the trend
  level_ = std::clamp(level_ + (100.0 - level_) * p_->gain * std::clamp(s.score, 0.0, 1.0), 0.0, 100.0);
  if (!waiting_since_ && awaits_answer) waiting_since_ = ts;
  return make_point(ts, describe_all(s, text));
}

point curve::on_staff_message(std::int64_t ts, const score_result& s, std::string_view text) {
  evolve(ts);
  ts = std::max(ts, ts_);
  waiting_since_.reset();
  std::vector<std::string> cues;
  if (s.apology > 0 || s.empathy > 0) {
    record(ts, level_);
    level_ = p_->baseline + (level_ - p_->baseline) * (1.0 - p_->apology_drop);
    soothed_until_ = ts + static_cast<std::int64_t>(p_->soothed_for_s * 1000);
    for (const auto& c : s.cues)
      if (c.kind == cue_kind::lexicon && (c.cat == category::apology || c.cat == category::empathy))
        cues.push_back(describe(c, text));
  } else {
    cues.emplace_back("answered");
  }
  return make_point(ts, std::move(cues));
}

point curve::advance(std::int64_t ts) {
  evolve(ts);
  ts = std::max(ts, ts_);
  std::vector<std::string> cues;
  const std::int64_t grace_end =
      waiting_since_ ? *waiting_since_ + static_cast<std::int64_t>(p_->wait_grace_s * 1000) : INT64_MAX;
  if (waiting_since_ && ts > grace_end) cues.push_back("waiting " + seconds(ts - *waiting_since_));
  else if (ts < soothed_until_) cues.emplace_back("decay (soothed)");
  else cues.emplace_back("decay");
  return make_point(ts, std::move(cues));
}

}  // namespace calma::anger

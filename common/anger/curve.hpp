#pragma once
// The anger curve of one conversation: a level in [0,100] over time.
//
//  - a customer message pushes it up with saturation: L += (100 - L) * gain * score;
//  - between events it decays toward the baseline with a half-life;
//  - while the customer waits unanswered past a grace period it does not decay
//    but climbs toward 100 (it closes half the gap every wait_half_life_s);
//  - a staff apology or empathy takes a share off at once and makes the decay
//    faster for a while.
// Between events the level follows closed forms, so the result does not depend
// on how often advance() is called. Time is always an argument (ms since the
// epoch); nothing here reads a clock.

#include "common/anger/params.hpp"
#include "common/anger/types.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace calma::anger {

enum class phase : std::uint8_t { calm, rising, peak, cooling };
std::string_view phase_name(phase p) noexcept;

// One timeline point: what the staff see (anger.update) and what is stored.
struct point {
  std::int64_t ts = 0;
  double level = 0;
  anger::phase phase = anger::phase::calm;
  double trend = 0;  // points per minute over the trend window
  std::vector<std::string> cues;  // why it moved
  // Predicted ms until the level crosses curve_params::alert_line at the
  // current trend; empty when not rising toward it.
  std::optional<std::int64_t> eta_ms;
};

class curve {
 public:
  explicit curve(curve_params p = {}, std::int64_t start_ts = 0);
  // The parameters shared (one per config, not a copy per conversation).
  curve(std::shared_ptr<const curve_params> p, std::int64_t start_ts);

  // A scored customer message at `ts`. `text` is the message (for the cue
  // strings). `awaits_answer` false: it does not start the wait (a "thanks").
  point on_customer_message(std::int64_t ts, const score_result& s, std::string_view text,
                            bool awaits_answer = true);
  // A staff message at `ts` (scored with scorer::score_staff): ends the wait;
  // apology or empathy in it soothes.
  point on_staff_message(std::int64_t ts, const score_result& s, std::string_view text);
  // Time passes with no message (a timer, a tick).
  point advance(std::int64_t ts);

  double level() const noexcept { return level_; }
  std::int64_t last_ts() const noexcept { return ts_; }
  anger::phase phase() const noexcept { return phase_; }
  double trend() const noexcept { return trend_; }
  bool waiting() const noexcept { return waiting_since_.has_value(); }
  std::optional<std::int64_t> waiting_since() const noexcept { return waiting_since_; }
  // The level at `ts` >= last_ts() if nothing else happens (no state change).
  double level_at(std::int64_t ts) const noexcept;
  // When waiting pressure alone brings the level to `line`, if the customer is
  // waiting and nothing else happens; ts itself if already there.
  std::optional<std::int64_t> time_reaching(double line) const noexcept;
  const curve_params& params() const noexcept { return *p_; }

 private:
  struct sample {
    std::int64_t ts;
    double level;
  };
  void evolve(std::int64_t ts) noexcept;  // moves level_/ts_ forward
  static double evolve_level(const curve_params& p, double level, std::int64_t from, std::int64_t to,
                             std::optional<std::int64_t> waiting_since,
                             std::int64_t soothed_until) noexcept;
  void record(std::int64_t ts, double level);
  double level_in_past(std::int64_t ts) const noexcept;
  point make_point(std::int64_t ts, std::vector<std::string> cues);

  std::shared_ptr<const curve_params> p_;  // never null
  double level_;
  std::int64_t ts_;
  std::int64_t start_ts_;
  std::optional<std::int64_t> waiting_since_;
  std::int64_t soothed_until_ = 0;
  anger::phase phase_ = anger::phase::calm;
  double trend_ = 0;
  std::vector<sample> history_;  // ring buffer, oldest at head_
  std::size_t head_ = 0;
};

}  // namespace calma::anger

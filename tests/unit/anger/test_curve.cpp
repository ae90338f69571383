#include "common/anger/curve.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace calma::anger;

namespace {
score_result scored(double s) {
  score_result r;
  r.score = s;
  return r;
}
score_result apology() {
  score_result r;
  r.apology = 0.6;
  cue c;
  c.cat = category::apology;
  c.begin = 0;
  c.end = 5;
  r.cues.push_back(c);
  return r;
}
constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t s = 1000;
}  // namespace

TEST_CASE("a customer message rises with saturation") {
  curve_params p;
  curve c(p, t0);
  CHECK(c.level() == doctest::Approx(p.baseline));
  const auto pt = c.on_customer_message(t0, scored(0.5), "");
  const double expected = p.baseline + (100 - p.baseline) * p.gain * 0.5;
  CHECK(pt.level == doctest::Approx(expected));
  const auto pt2 = c.on_customer_message(t0, scored(1.0), "");
  CHECK(pt2.level == doctest::Approx(expected + (100 - expected) * p.gain));
  // Never above 100, whatever comes.
  for (int i = 0; i < 50; ++i) c.on_customer_message(t0, scored(1.0), "");
  CHECK(c.level() <= 100.0);
  // A message with no cue does not move it.
  curve d(p, t0);
  CHECK(d.on_customer_message(t0, scored(0), "").level == doctest::Approx(p.baseline));
}

TEST_CASE("decay toward the baseline with the configured half-life") {
  curve_params p;
  curve c(p, t0);
  c.on_customer_message(t0, scored(1.0), "");
  c.on_staff_message(t0, scored(0), "ok");  // answered: no waiting pressure
  const double above = c.level() - p.baseline;
  const auto h = static_cast<std::int64_t>(p.half_life_s * 1000);
  CHECK(c.advance(t0 + h).level - p.baseline == doctest::Approx(above / 2).epsilon(1e-6));
  CHECK(c.advance(t0 + 2 * h).level - p.baseline == doctest::Approx(above / 4).epsilon(1e-6));
}

TEST_CASE("the result does not depend on how often time is advanced") {
  curve_params p;
  curve a(p, t0), b(p, t0);
  a.on_customer_message(t0, scored(0.8), "");
  b.on_customer_message(t0, scored(0.8), "");
  for (std::int64_t t = t0; t <= t0 + 400 * s; t += s) a.advance(t);
  b.advance(t0 + 400 * s);
  CHECK(a.level() == doctest::Approx(b.level()).epsilon(1e-9));
}

TEST_CASE("an unanswered customer raises the level after the grace period") {
  curve_params p;
  curve c(p, t0);
  c.on_customer_message(t0, scored(0.5), "");
  const double l0 = c.level();
  const auto grace = static_cast<std::int64_t>(p.wait_grace_s * 1000);
  // During the grace it only decays.
  const double at_grace = c.advance(t0 + grace).level;
  CHECK(at_grace < l0);
  // Then it closes half the gap to 100 every wait_half_life_s.
  const auto wh = static_cast<std::int64_t>(p.wait_half_life_s * 1000);
  const auto pt = c.advance(t0 + grace + wh);
  CHECK(100 - pt.level == doctest::Approx((100 - at_grace) / 2).epsilon(1e-6));
  CHECK(pt.cues.front().rfind("waiting ", 0) == 0);
  // An answer stops the pressure: it decays again.
  c.on_staff_message(t0 + grace + wh, scored(0), "");
  CHECK(c.advance(t0 + grace + wh + 60 * s).level < pt.level);
}

TEST_CASE("time_reaching predicts when waiting alone crosses a line") {
  curve_params p;
  curve c(p, t0);
  c.on_customer_message(t0, scored(0.9), "");
  const auto when = c.time_reaching(80);
  REQUIRE(when.has_value());
  CHECK(*when > t0);
  CHECK(c.level_at(*when) >= 80 - 1e-6);
  CHECK(c.level_at(*when - s) < 80);
  c.on_staff_message(t0 + s, scored(0), "");
  CHECK_FALSE(c.time_reaching(80).has_value());
}

TEST_CASE("staff apology drops the level and makes it fall faster") {
  curve_params p;
  curve plain(p, t0), sorry(p, t0);
  plain.on_customer_message(t0, scored(1.0), "");
  sorry.on_customer_message(t0, scored(1.0), "");
  const double before = plain.level();
  plain.on_staff_message(t0 + 10 * s, scored(0), "");
  const auto pt = sorry.on_staff_message(t0 + 10 * s, apology(), "sorry about that");
  CHECK(pt.level < plain.level());
  CHECK(pt.level - p.baseline ==
        doctest::Approx((plain.level() - p.baseline) * (1 - p.apology_drop)).epsilon(1e-6));
  CHECK(pt.cues == std::vector<std::string>{"apology: sorry"});
  // 60 s later the soothed curve has fallen more than the drop alone explains.
  const double plain_later = plain.advance(t0 + 70 * s).level;
  const double sorry_later = sorry.advance(t0 + 70 * s).level;
  CHECK((sorry_later - p.baseline) / (plain_later - p.baseline) < 1 - p.apology_drop - 0.1);
  CHECK(before > plain_later);
}

TEST_CASE("phases: calm - rising - peak - cooling - calm again - trend in points per minute") {
  curve_params p;
  curve c(p, t0);
  CHECK(c.advance(t0).phase == phase::calm);
  auto pt = c.on_customer_message(t0 + 10 * s, scored(0.5), "");
  CHECK(pt.phase == phase::rising);
  // The jump happened inside the trend window: trend = jump / window (min).
  const double jump = pt.level - p.baseline;
  CHECK(pt.trend == doctest::Approx(jump / (p.trend_window_s / 60)).epsilon(0.01));
  REQUIRE(pt.eta_ms.has_value());
  CHECK(*pt.eta_ms == static_cast<std::int64_t>((p.alert_line - pt.level) / pt.trend * 60000));
  pt = c.on_customer_message(t0 + 20 * s, scored(0.9), "");
  CHECK(pt.level >= p.peak_from);
  CHECK(pt.phase == phase::peak);
  pt = c.on_staff_message(t0 + 25 * s, apology(), "sorry");
  pt = c.advance(t0 + 120 * s);
  CHECK(pt.trend < 0);
  CHECK(pt.phase == phase::cooling);
  CHECK_FALSE(pt.eta_ms.has_value());
  pt = c.advance(t0 + 1200 * s);
  CHECK(pt.phase == phase::calm);
  CHECK(pt.level < p.calm_below);
}

TEST_CASE("events arriving out of order never move time backward") {
  curve c(curve_params{}, t0);
  c.on_customer_message(t0 + 10 * s, scored(0.5), "");
  const auto pt = c.on_customer_message(t0 + 5 * s, scored(0.5), "");
  CHECK(pt.ts == t0 + 10 * s);
  CHECK(c.last_ts() == t0 + 10 * s);
}

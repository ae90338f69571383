#include "common/reports/summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace calma::reports {

using nlohmann::json;

std::optional<double> percentile(std::vector<double>& v, double q) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  if (rank < 1) rank = 1;
  return v[std::min(rank, v.size()) - 1];
}

std::string utc_day(timestamp_ms ts) {
  // Days since the epoch to a civil date (H. Hinnant's algorithm).
  long long z = (ts >= 0 ? ts : ts - 86'399'999) / 86'400'000 + 719468;
  const long long era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long long y = static_cast<long long>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  char b[32];
  std::snprintf(b, sizeof b, "%04lld-%02u-%02u", y + (m <= 2), m, d);
  return b;
}

namespace {
json opt(const std::optional<double>& v) {
  if (!v) return nullptr;
  return std::round(*v * 10.0) / 10.0;
}
json mean(double sum, int n) { return n == 0 ? json(nullptr) : opt(sum / n); }
}  // namespace

void summary_accumulator::add(const conversation_record& c) {
  ++conversations_;
  const auto& f = c.figures;
  escalations_ += f.escalations;
  for (const auto& r : f.escalation_reasons) ++by_reason_[r];
  for (const auto& cat : c.categories) ++categories_[cat];
  std::optional<double> fr;
  if (c.first_response_ts > 0 && c.first_response_ts >= c.created_ts) {
    fr = (c.first_response_ts - c.created_ts) / 1000.0;
    first_response_s_.push_back(*fr);
  }
  if (c.csat_score > 0) {
    ++csat_count_;
    csat_sum_ += c.csat_score;
    ++csat_scores_[c.csat_score];
  }
  const bool closed = c.state == conversation_state::closed;
  // Anger only where the curve moved at all (a shopper wrote).
  const bool has_curve = f.peak_level > 0;
  if (has_curve) peak_.push_back(f.peak_level);
  if (has_curve && closed) closing_.push_back(f.closing_level);
  auto& d = days_[utc_day(c.created_ts)];
  ++d.conversations;
  d.escalations += f.escalations;
  if (has_curve) d.peak.push_back(f.peak_level);
  if (has_curve && closed) d.closing.push_back(f.closing_level);
  for (const auto& a : f.agents) {
    auto& acc = agents_[a.id];
    if (!a.name.empty()) acc.name = a.name;
    ++acc.conversations;
    acc.replies += a.replies;
    acc.fall_sum += a.fall_sum;
    if (fr && f.first_response_by == a.id) acc.first_response_s.push_back(*fr);
  }
  // The rating goes to whoever held the conversation at the end.
  if (c.csat_score > 0 && c.agent_id) {
    auto& acc = agents_[*c.agent_id];
    if (acc.name.empty()) acc.name = c.agent_name;
    acc.csat_count += 1;
    acc.csat_sum += c.csat_score;
  }
}

json summary_accumulator::result() const {
  auto fr = first_response_s_;
  auto peak = peak_, closing = closing_;
  json agents = json::array();
  for (const auto& [id, a] : agents_) {
    auto frs = a.first_response_s;
    agents.push_back(json{{"id", id},
                          {"name", a.name},
                          {"conversations", a.conversations},
                          {"first_response_s_median", opt(percentile(frs, 0.5))},
                          {"replies_measured", a.replies},
                          {"deescalation", mean(a.fall_sum, a.replies)},
                          {"csat_count", a.csat_count},
                          {"csat_average", mean(a.csat_sum, a.csat_count)}});
  }
  // Best at calming first; those with no measured reply last.
  std::stable_sort(agents.begin(), agents.end(), [](const json& x, const json& y) {
    if (x["deescalation"].is_null() != y["deescalation"].is_null()) return y["deescalation"].is_null();
    if (x["deescalation"].is_null()) return false;
    return x["deescalation"].get<double>() > y["deescalation"].get<double>();
  });
  json days = json::array();
  for (const auto& [day, d] : days_) {
    auto p = d.peak, c = d.closing;
    days.push_back(json{{"day", day}, {"conversations", d.conversations}, {"escalations", d.escalations},
                        {"peak_median", opt(percentile(p, 0.5))}, {"closing_median", opt(percentile(c, 0.5))}});
  }
  json scores = json::object();
  for (int s = 1; s <= 5; ++s) scores[std::to_string(s)] = csat_scores_.count(s) ? csat_scores_.at(s) : 0;
  return json{{"conversations", conversations_},
              {"escalations", escalations_},
              {"escalations_by_reason", by_reason_},
              {"categories", categories_},
              {"first_response_s", {{"median", opt(percentile(fr, 0.5))}, {"p90", opt(percentile(fr, 0.9))},
                                    {"count", first_response_s_.size()}}},
              {"csat", {{"count", csat_count_}, {"average", mean(csat_sum_, csat_count_)}, {"scores", scores}}},
              {"anger", {{"peak_median", opt(percentile(peak, 0.5))}, {"closing_median", opt(percentile(closing, 0.5))}}},
              {"agents", std::move(agents)},
              {"days", std::move(days)}};
}

}  // namespace calma::reports

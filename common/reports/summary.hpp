// The store report's arithmetic, as pure code: conversations are added one
// at a time (pages read from the store), the figures come out at the end.
// Medians and percentiles are nearest-rank on the values seen; an empty set
// gives null, never 0 (a store with no ratings has no average of 0).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/model/model.hpp"

namespace calma::reports {

/// Nearest-rank percentile (q in [0,1]) of `v` (sorted in place); nullopt when empty.
std::optional<double> percentile(std::vector<double>& v, double q);

/// The UTC day of a timestamp, "YYYY-MM-DD".
std::string utc_day(timestamp_ms ts);

class summary_accumulator {
 public:
  void add(const conversation_record& c);
  std::size_t count() const { return conversations_; }
  /// PROTOCOL v1.1's summary: conversations, escalations, escalations_by_reason,
  /// categories, first_response_s {median,p90}, csat {count,average},
  /// anger {peak_median,closing_median}, agents [...], and `days` for charts.
  nlohmann::json result() const;

 private:
  struct agent_acc {
    std::string name;
    int conversations = 0;
    std::vector<double> first_response_s;
    int replies = 0;
    double fall_sum = 0;
    int csat_count = 0;
    double csat_sum = 0;
  };
  struct day_acc {
    int conversations = 0;
    int escalations = 0;
    std::vector<double> peak, closing;
  };
  std::size_t conversations_ = 0;
  int escalations_ = 0;
  std::map<std::string, int> by_reason_;
  std::map<std::string, int> categories_;
  std::vector<double> first_response_s_;
  int csat_count_ = 0;
  double csat_sum_ = 0;
  std::map<int, int> csat_scores_;
  std::vector<double> peak_, closing_;
  std::map<std::string, agent_acc> agents_;
  std::map<std::string, day_acc> days_;
};

}  // namespace calma::reports

// A store's opening hours, as pure code: weekly ranges in the store's time
// zone, dates it is closed, and the questions the server asks of them (open
// now? when does that change?). Time is passed in.
//
// Local (civil) time decides, so a range means the same wall-clock hours
// across DST changes: "09:00-18:00" is nine hours on an ordinary day, and an
// "01:00-04:00" range is two hours on the spring-forward night (02:00-03:00
// does not exist) and four on the fall-back night (02:00-03:00 happens twice).
// A range whose `to` is not after its `from` runs overnight into the next day
// ("22:00"-"02:00"); "24:00" means midnight at the end of the day. A closed
// date closes the ranges that start on it (an overnight range from the day
// before still ends as usual).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>
#include <nlohmann/json_fwd.hpp>

#include "common/model/model.hpp"

namespace calma::hours {

struct weekly_range {
  std::uint8_t days = 0;  ///< bit (d - 1) for d = 1 (Monday) ... 7 (Sunday)
  int from_min = 0;       ///< minutes after local midnight, 0..1439
  int to_min = 0;         ///< 1..1440; <= from_min: the range ends on the next day
  bool overnight() const { return to_min <= from_min; }
};

class opening_hours {
 public:
  /// Always open (no hours configured).
  opening_hours() = default;

  /// Reads `{"tz":"Europe/Madrid","weekly":[{"days":[1,2],"from":"09:00","to":"18:00"}],
  /// "closed_dates":["2026-12-25"]}`. Every problem goes to `errors`, prefixed by `where`;
  /// nullopt when there was one. The time zone is loaded from the system's tzdata.
  static std::optional<opening_hours> parse(const nlohmann::json& j, const std::string& where,
                                            std::vector<std::string>& errors);
  /// For tests: the same rules with a zone already loaded.
  static opening_hours make(cctz::time_zone tz, std::string tz_name, std::vector<weekly_range> weekly,
                            std::vector<cctz::civil_day> closed_dates = {});

  bool always_open() const { return always_; }
  bool is_open(timestamp_ms ts) const;
  /// The next instant after `ts` when is_open changes, looking up to 8 days
  /// ahead (a closed week with holidays beyond that: nullopt); nullopt when
  /// always open or never open.
  std::optional<timestamp_ms> next_change(timestamp_ms ts) const;
  /// When it next opens (now if open: `ts`), or nullopt within the horizon.
  std::optional<timestamp_ms> next_open(timestamp_ms ts) const;

  const std::string& tz_name() const { return tz_name_; }
  /// As configured ("from"/"to" as HH:MM), for the widget; null when always open.
  nlohmann::json to_json() const;

 private:
  bool open_at(const cctz::civil_second& local) const;
  bool closed_on(const cctz::civil_day& d) const;

  bool always_ = true;
  std::string tz_name_;
  cctz::time_zone tz_;
  std::vector<weekly_range> weekly_;
  std::vector<cctz::civil_day> closed_;
};

/// "HH:MM" (00:00..24:00) to minutes; nullopt when malformed.
std::optional<int> parse_hhmm(std::string_view s);

}  // namespace calma::hours

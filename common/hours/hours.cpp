#include "common/hours/hours.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace calma::hours {

using nlohmann::json;

namespace {

int iso_weekday(const cctz::civil_day& d) {
  switch (cctz::get_weekday(d)) {
    case cctz::weekday::monday: return 1;
    case cctz::weekday::tuesday: return 2;
    case cctz::weekday::wednesday: return 3;
    case cctz::weekday::thursday: return 4;
    case cctz::weekday::friday: return 5;
    case cctz::weekday::saturday: return 6;
    case cctz::weekday::sunday: return 7;
  }
  return 1;
}

bool has_day(const weekly_range& r, int iso_day) { return (r.days >> (iso_day - 1)) & 1u; }

std::string hhmm(int minutes) {
  char b[16];
  std::snprintf(b, sizeof b, "%02d:%02d", minutes / 60 % 100, minutes % 60);
  return b;
}

using sys_seconds = cctz::time_point<cctz::seconds>;

sys_seconds to_tp(timestamp_ms ts) {
  // Floor to the second (timestamps before 1970 do not occur here).
  return sys_seconds(cctz::seconds(ts / 1000));
}

timestamp_ms to_ms(const sys_seconds& tp) {
  return static_cast<timestamp_ms>(tp.time_since_epoch().count()) * 1000;
}

std::optional<cctz::civil_day> parse_date(const std::string& s) {
  int y = 0, m = 0, d = 0;
  char tail = 0;
  if (s.size() != 10 || std::sscanf(s.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return std::nullopt;
  cctz::civil_day day(y, m, d);
  // civil_day normalises (2026-02-30 -> 2026-03-02): a round trip proves it is real.
  if (day.year() != y || day.month() != m || day.day() != d) return std::nullopt;
  return day;
}

}  // namespace

std::optional<int> parse_hhmm(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1; };
  int h1 = digit(0), h2 = digit(1), m1 = digit(3), m2 = digit(4);
  if (h1 < 0 || h2 < 0 || m1 < 0 || m2 < 0) return std::nullopt;
  int h = h1 * 10 + h2, m = m1 * 10 + m2;
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

std::optional<opening_hours> opening_hours::parse(const json& j, const std::string& where,
                                                  std::vector<std::string>& errors) {
  const auto before = errors.size();
  auto err = [&](const std::string& m) { errors.push_back(where + ": " + m); };
  if (!j.is_object()) {
    err("must be an object {\"tz\", \"weekly\"}");
    return std::nullopt;
  }
  for (const auto& [k, v] : j.items())
    if (k != "tz" && k != "weekly" && k != "closed_dates" && k != "comment") err("unknown key '" + k + "'");
  opening_hours h;
  h.always_ = false;
  auto tz = j.find("tz");
  if (tz == j.end() || !tz->is_string() || tz->get<std::string>().empty()) {
    err("tz must be a time zone name such as \"Europe/Madrid\"");
  } else {
    h.tz_name_ = tz->get<std::string>();
    if (!cctz::load_time_zone(h.tz_name_, &h.tz_)) err("unknown time zone '" + h.tz_name_ + "'");
  }
  auto weekly = j.find("weekly");
  if (weekly == j.end() || !weekly->is_array()) {
    err("weekly must be an array of {\"days\":[1..7],\"from\":\"HH:MM\",\"to\":\"HH:MM\"}");
  } else {
    int i = 0;
    for (const auto& r : *weekly) {
      const std::string at = "weekly[" + std::to_string(i++) + "]";
      if (!r.is_object()) {
        err(at + " must be an object");
        continue;
      }
      for (const auto& [k, v] : r.items())
        if (k != "days" && k != "from" && k != "to") err(at + ": unknown key '" + k + "'");
      weekly_range wr;
      auto days = r.find("days");
      if (days == r.end() || !days->is_array() || days->empty()) {
        err(at + ".days must be a non-empty array of 1 (Monday) .. 7 (Sunday)");
      } else {
        for (const auto& d : *days) {
          if (!d.is_number_integer() || d.get<int>() < 1 || d.get<int>() > 7) {
            err(at + ".days must hold integers 1 (Monday) .. 7 (Sunday)");
            break;
          }
          wr.days |= static_cast<std::uint8_t>(1u << (d.get<int>() - 1));
        }
      }
      auto time_of = [&](const char* key, int& out, bool is_to) {
        auto it = r.find(key);
        auto v = it != r.end() && it->is_string() ? parse_hhmm(it->get<std::string>()) : std::nullopt;
        if (!v || (!is_to && *v == 1440)) {
          err(at + "." + key + " must be \"HH:MM\" (00:00-" + (is_to ? "24:00" : "23:59") + ")");
          return;
        }
        out = *v;
      };
      time_of("from", wr.from_min, false);
      time_of("to", wr.to_min, true);
      if (wr.from_min == 0 && wr.to_min == 1440) {
        // all day: fine
      } else if (wr.to_min == wr.from_min) {
        err(at + ": from and to are equal (use \"00:00\" to \"24:00\" for the whole day)");
      }
      h.weekly_.push_back(wr);
    }
  }
  if (auto cd = j.find("closed_dates"); cd != j.end()) {
    if (!cd->is_array()) {
      err("closed_dates must be an array of \"YYYY-MM-DD\"");
    } else {
      for (const auto& d : *cd) {
        auto day = d.is_string() ? parse_date(d.get<std::string>()) : std::nullopt;
        if (!day) {
          err("closed_dates: \"" + (d.is_string() ? d.get<std::string>() : d.dump()) + "\" is not a date YYYY-MM-DD");
          continue;
        }
        h.closed_.push_back(*day);
      }
    }
  }
  if (errors.size() != before) return std::nullopt;
  return h;
}

opening_hours opening_hours::make(cctz::time_zone tz, std::string tz_name, std::vector<weekly_range> weekly,
                                  std::vector<cctz::civil_day> closed_dates) {
  opening_hours h;
  h.always_ = false;
  h.tz_ = tz;
  h.tz_name_ = std::move(tz_name);
  h.weekly_ = std::move(weekly);
  h.closed_ = std::move(closed_dates);
  return h;
}

bool opening_hours::closed_on(const cctz::civil_day& d) const {
  return std::find(closed_.begin(), closed_.end(), d) != closed_.end();
}

bool opening_hours::open_at(const cctz::civil_second& local) const {
  const cctz::civil_day today(local);
  const cctz::civil_day yesterday = today - 1;
  const int minute = local.hour() * 60 + local.minute();
  const int wd = iso_weekday(today), wd_prev = iso_weekday(yesterday);
  for (const auto& r : weekly_) {
    if (has_day(r, wd) && !closed_on(today)) {
      if (!r.overnight() && minute >= r.from_min && minute < r.to_min) return true;
      if (r.overnight() && minute >= r.from_min) return true;
    }
    // The tail of an overnight range that started yesterday.
    if (r.overnight() && has_day(r, wd_prev) && !closed_on(yesterday) && minute < r.to_min) return true;
  }
  return false;
}

bool opening_hours::is_open(timestamp_ms ts) const {
  if (always_) return true;
  return open_at(cctz::convert(to_tp(ts), tz_));
}

std::optional<timestamp_ms> opening_hours::next_change(timestamp_ms ts) const {
  if (always_ || weekly_.empty()) return std::nullopt;
  // Candidates: every range's start and end, as instants, from yesterday to
  // 8 days ahead. A local time that does not exist (spring forward) maps to
  // the instant just after the gap, which open_at judges consistently.
  const cctz::civil_day today(cctz::convert(to_tp(ts), tz_));
  std::vector<timestamp_ms> cand;
  for (int off = -1; off <= 8; ++off) {
    const cctz::civil_day d = today + off;
    for (const auto& r : weekly_) {
      if (!has_day(r, iso_weekday(d))) continue;
      const cctz::civil_day end_day = r.overnight() || r.to_min == 1440 ? d + 1 : d;
      const int end_min = r.to_min == 1440 ? 0 : r.to_min;
      cand.push_back(to_ms(cctz::convert(cctz::civil_second(d.year(), d.month(), d.day(), r.from_min / 60, r.from_min % 60, 0), tz_)));
      cand.push_back(to_ms(cctz::convert(
          cctz::civil_second(end_day.year(), end_day.month(), end_day.day(), end_min / 60, end_min % 60, 0), tz_)));
    }
    // Midnights matter for closed dates.
    cand.push_back(to_ms(cctz::convert(cctz::civil_second(d.year(), d.month(), d.day(), 0, 0, 0), tz_)));
  }
  std::sort(cand.begin(), cand.end());
  const bool now_open = is_open(ts);
  for (auto c : cand)
    if (c > ts && is_open(c) != now_open) return c;
  return std::nullopt;
}

std::optional<timestamp_ms> opening_hours::next_open(timestamp_ms ts) const {
  if (is_open(ts)) return ts;
  return next_change(ts);
}

json opening_hours::to_json() const {
  if (always_) return nullptr;
  json weekly = json::array();
  for (const auto& r : weekly_) {
    json days = json::array();
    for (int d = 1; d <= 7; ++d)
      if (has_day(r, d)) days.push_back(d);
    weekly.push_back(json{{"days", std::move(days)}, {"from", hhmm(r.from_min)}, {"to", hhmm(r.to_min)}});
  }
  json closed = json::array();
  for (const auto& d : closed_) {
    char b[16];
    std::snprintf(b, sizeof b, "%04d-%02d-%02d", static_cast<int>(d.year()), d.month(), d.day());
    closed.push_back(b);
  }
  return json{{"tz", tz_name_}, {"weekly", std::move(weekly)}, {"closed_dates", std::move(closed)}};
}

}  // namespace calma::hours

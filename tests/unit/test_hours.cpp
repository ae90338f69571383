// Opening hours: time zones, DST, overnight ranges and closed dates, with
// timestamps computed from UTC (no clock read).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/hours/hours.hpp"

using namespace calma;
using calma::hours::opening_hours;
using nlohmann::json;

namespace {

// Milliseconds of a UTC wall-clock time.
timestamp_ms utc(int y, int mo, int d, int h, int mi = 0) {
  const auto tp = cctz::convert(cctz::civil_second(y, mo, d, h, mi, 0), cctz::utc_time_zone());
  return static_cast<timestamp_ms>(tp.time_since_epoch().count()) * 1000;
}

opening_hours parse(const json& j) {
  std::vector<std::string> errors;
  auto h = opening_hours::parse(j, "hours", errors);
  INFO((errors.empty() ? "" : errors.front()));
  REQUIRE(h);
  return *h;
}

const json madrid_office = json{{"tz", "Europe/Madrid"},
                                {"weekly", json::array({json{{"days", {1, 2, 3, 4, 5}}, {"from", "09:00"}, {"to", "18:00"}}})}};

}  // namespace

TEST_CASE("weekday office hours in Madrid follow local time in winter and summer") {
  auto h = parse(madrid_office);
  // 2026-01-14 is a Wednesday; Madrid is UTC+1 in winter.
  CHECK_FALSE(h.is_open(utc(2026, 1, 14, 7, 59)));  // 08:59 local
  CHECK(h.is_open(utc(2026, 1, 14, 8, 0)));         // 09:00 local
  CHECK(h.is_open(utc(2026, 1, 14, 16, 59)));       // 17:59 local
  CHECK_FALSE(h.is_open(utc(2026, 1, 14, 17, 0)));  // 18:00 local: closed
  // 2026-07-15 is a Wednesday; UTC+2 in summer: 09:00 local is 07:00 UTC.
  CHECK(h.is_open(utc(2026, 7, 15, 7, 0)));
  CHECK_FALSE(h.is_open(utc(2026, 7, 15, 6, 59)));
  // Saturday 2026-01-17: closed all day.
  CHECK_FALSE(h.is_open(utc(2026, 1, 17, 11, 0)));
}

TEST_CASE("next opening skips the weekend and says when it closes") {
  auto h = parse(madrid_office);
  // Friday 2026-01-16 19:00 local (18:00 UTC): next open Monday 09:00 local = 08:00 UTC.
  CHECK(h.next_change(utc(2026, 1, 16, 18, 0)) == utc(2026, 1, 19, 8, 0));
  CHECK(h.next_open(utc(2026, 1, 16, 18, 0)) == utc(2026, 1, 19, 8, 0));
  // Open now: the next change is today's closing; next_open is now.
  CHECK(h.next_change(utc(2026, 1, 14, 10, 0)) == utc(2026, 1, 14, 17, 0));
  CHECK(h.next_open(utc(2026, 1, 14, 10, 0)) == utc(2026, 1, 14, 10, 0));
}

TEST_CASE("across the DST change the opening is at the same local hour") {
  auto h = parse(madrid_office);
  // Spring forward in 2026 is Sunday 29 March (CET -> CEST). Friday 27 March
  // opens at 08:00 UTC, Monday 30 March at 07:00 UTC.
  CHECK(h.is_open(utc(2026, 3, 27, 8, 0)));
  CHECK_FALSE(h.is_open(utc(2026, 3, 30, 6, 59)));
  CHECK(h.is_open(utc(2026, 3, 30, 7, 0)));
  CHECK(h.next_change(utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 30, 7, 0));
  // Fall back (Sunday 25 October 2026): Monday 26 opens at 08:00 UTC again.
  CHECK(h.next_change(utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 26, 8, 0));
}

TEST_CASE("a night range that crosses the spring-forward gap is shorter by the missing hour") {
  // Every day 01:00-04:00 Madrid. On 29 March 2026 02:00 local jumps to 03:00.
  auto h = parse(json{{"tz", "Europe/Madrid"},
                      {"weekly", json::array({json{{"days", {1, 2, 3, 4, 5, 6, 7}}, {"from", "01:00"}, {"to", "04:00"}}})}});
  // 01:00 CET = 00:00 UTC; 04:00 CEST = 02:00 UTC: two hours open.
  CHECK(h.is_open(utc(2026, 3, 29, 0, 0)));
  CHECK(h.is_open(utc(2026, 3, 29, 1, 30)));
  CHECK_FALSE(h.is_open(utc(2026, 3, 29, 2, 0)));
  CHECK(h.next_change(utc(2026, 3, 29, 0, 30)) == utc(2026, 3, 29, 2, 0));
  // On the fall-back night, 01:00 CEST = 23:00 UTC the day before, 04:00 CET = 03:00 UTC: four hours.
  CHECK(h.is_open(utc(2026, 10, 24, 23, 0)));
  CHECK(h.is_open(utc(2026, 10, 25, 2, 59)));
  CHECK_FALSE(h.is_open(utc(2026, 10, 25, 3, 0)));
}

TEST_CASE("overnight ranges run into the next day and respect their start day") {
  // Friday and Saturday 20:00 to 02:00 in Warsaw (UTC+1 in winter).
  auto h = parse(json{{"tz", "Europe/Warsaw"},
                      {"weekly", json::array({json{{"days", {5, 6}}, {"from", "20:00"}, {"to", "02:00"}}})}});
  CHECK(h.is_open(utc(2026, 1, 16, 19, 0)));        // Fri 20:00 local
  CHECK(h.is_open(utc(2026, 1, 17, 0, 59)));        // Sat 01:59 local, tail of Friday
  CHECK_FALSE(h.is_open(utc(2026, 1, 17, 1, 0)));   // Sat 02:00 local
  CHECK(h.is_open(utc(2026, 1, 18, 0, 30)));        // Sun 01:30 local, tail of Saturday
  CHECK_FALSE(h.is_open(utc(2026, 1, 19, 0, 30)));  // Mon 01:30 local: Sunday has no range
  CHECK_FALSE(h.is_open(utc(2026, 1, 15, 20, 0)));  // Thu 21:00 local
}

TEST_CASE("a whole day with 24:00 and other zones far from Europe") {
  auto h = parse(json{{"tz", "America/Mexico_City"},
                      {"weekly", json::array({json{{"days", {7}}, {"from", "00:00"}, {"to", "24:00"}}})}});
  // Sunday 2026-01-18 in Mexico City (UTC-6): 00:00 local is 06:00 UTC.
  CHECK_FALSE(h.is_open(utc(2026, 1, 18, 5, 59)));
  CHECK(h.is_open(utc(2026, 1, 18, 6, 0)));
  CHECK(h.is_open(utc(2026, 1, 19, 5, 59)));
  CHECK_FALSE(h.is_open(utc(2026, 1, 19, 6, 0)));
}

TEST_CASE("closed dates close the ranges that start on them") {
  auto j = madrid_office;
  j["closed_dates"] = {"2026-12-25"};
  auto h = parse(j);
  CHECK_FALSE(h.is_open(utc(2026, 12, 25, 10, 0)));  // Friday, Christmas
  CHECK(h.is_open(utc(2026, 12, 24, 10, 0)));
  // Thursday evening: next opening skips Christmas and the weekend.
  CHECK(h.next_change(utc(2026, 12, 24, 18, 0)) == utc(2026, 12, 28, 8, 0));
}

TEST_CASE("no ranges: never open and no next opening - absent hours: always open") {
  auto closed = parse(json{{"tz", "Europe/Madrid"}, {"weekly", json::array()}});
  CHECK_FALSE(closed.is_open(utc(2026, 1, 14, 10, 0)));
  CHECK_FALSE(closed.next_open(utc(2026, 1, 14, 10, 0)));
  opening_hours always;
  CHECK(always.always_open());
  CHECK(always.is_open(0));
  CHECK_FALSE(always.next_change(0));
  CHECK(always.to_json().is_null());
}

TEST_CASE("bad hours are reported whole - one line each") {
  std::vector<std::string> errors;
  auto h = opening_hours::parse(
      json{{"tz", "Mars/Olympus"},
           {"weekly", json::array({json{{"days", {0, 8}}, {"from", "9:00"}, {"to", "25:00"}},
                                   json{{"days", {1}}, {"from", "10:00"}, {"to", "10:00"}}})},
           {"closed_dates", {"2026-02-30"}},
           {"holidays", 1}},
      "config.stores[0].hours", errors);
  CHECK_FALSE(h);
  auto has = [&](const char* s) {
    for (const auto& e : errors)
      if (e.find(s) != std::string::npos) return true;
    return false;
  };
  CHECK(has("unknown time zone 'Mars/Olympus'"));
  CHECK(has("weekly[0].days"));
  CHECK(has("weekly[0].from"));
  CHECK(has("weekly[0].to"));
  CHECK(has("weekly[1]: from and to are equal"));
  CHECK(has("2026-02-30"));
  CHECK(has("unknown key 'holidays'"));
  for (const auto& e : errors) CHECK(e.rfind("config.stores[0].hours", 0) == 0);
}

TEST_CASE("HH:MM parsing") {
  CHECK(hours::parse_hhmm("00:00") == 0);
  CHECK(hours::parse_hhmm("23:59") == 1439);
  CHECK(hours::parse_hhmm("24:00") == 1440);
  CHECK_FALSE(hours::parse_hhmm("24:01"));
  CHECK_FALSE(hours::parse_hhmm("9:00"));
  CHECK_FALSE(hours::parse_hhmm("09:60"));
  CHECK_FALSE(hours::parse_hhmm("ab:cd"));
}

TEST_CASE("the hours the widget shows are the hours configured") {
  auto j = madrid_office;
  j["closed_dates"] = {"2026-12-25"};
  auto out = parse(j).to_json();
  CHECK(out["tz"] == "Europe/Madrid");
  CHECK(out["weekly"][0]["days"] == json({1, 2, 3, 4, 5}));
  CHECK(out["weekly"][0]["from"] == "09:00");
  CHECK(out["weekly"][0]["to"] == "18:00");
  CHECK(out["closed_dates"][0] == "2026-12-25");
}

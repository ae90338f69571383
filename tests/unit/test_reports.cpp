// The report's arithmetic and the figures it is built from (no clock, no store).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "common/reports/csv.hpp"
#include "common/reports/figures.hpp"
#include "common/reports/summary.hpp"

using namespace calma;
using namespace calma::reports;
using nlohmann::json;

TEST_CASE("de-escalation: the fall from each reply to the shopper's next message") {
  figures_builder b;
  b.on_customer_message(5);  // the first message: nothing pending
  b.on_level(70);            // its words push the curve to 70
  b.on_reply("ana", "Ana", 70);
  b.on_customer_message(40);  // fell 30 by the time the shopper wrote again
  b.on_level(55);
  b.on_reply("ana", "Ana", 55);
  b.on_reply("piotr", "Piotr", 50);
  b.on_close(45);  // Ana's second reply: 55 -> 45; Piotr's: 50 -> 45
  const auto& f = b.figures();
  REQUIRE(f.agents.size() == 2);
  CHECK(f.agents[0].id == "ana");
  CHECK(f.agents[0].replies == 2);
  CHECK(f.agents[0].fall_sum == doctest::Approx(40));
  CHECK(f.agents[1].replies == 1);
  CHECK(f.agents[1].fall_sum == doctest::Approx(5));
  CHECK(f.peak_level == 70);
  CHECK(f.closing_level == 45);
  CHECK(f.first_response_by == "ana");
}

TEST_CASE("de-escalation: a reply after which anger rises counts as a negative fall") {
  figures_builder b;
  b.on_reply("ana", "Ana", 20);
  b.on_customer_message(35);
  CHECK(b.figures().agents[0].fall_sum == doctest::Approx(-15));
}

TEST_CASE("escalations: counted once each - reasons once per conversation") {
  figures_builder b;
  b.on_escalation({"manager_request"}, true);
  b.on_escalation({"manager_request", "level_high"}, false);  // a reason joining the open one
  b.on_escalation({"queue_wait"}, true);
  CHECK(b.figures().escalations == 2);
  CHECK(b.figures().escalation_reasons == std::vector<std::string>{"manager_request", "level_high", "queue_wait"});
}

TEST_CASE("percentiles are nearest-rank and empty sets give nothing") {
  std::vector<double> v{5, 1, 4, 2, 3};
  CHECK(percentile(v, 0.5) == 3);
  CHECK(percentile(v, 0.9) == 5);
  std::vector<double> ten{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK(percentile(ten, 0.9) == 9);
  CHECK(percentile(ten, 0.5) == 5);
  std::vector<double> none;
  CHECK_FALSE(percentile(none, 0.5));
  CHECK(utc_day(0) == "1970-01-01");
  CHECK(utc_day(1'796'083'200'000) == "2026-12-01");
}

namespace {
conversation_record conv(const std::string& id, timestamp_ms created, timestamp_ms first_response, int csat,
                         const std::string& agent, double peak, double closing, double fall, int replies) {
  conversation_record c;
  c.id = id;
  c.created_ts = created;
  c.first_response_ts = first_response;
  c.csat_score = csat;
  c.state = conversation_state::closed;
  c.agent_id = agent;
  c.agent_name = agent;
  c.figures.peak_level = peak;
  c.figures.closing_level = closing;
  c.figures.first_response_by = agent;
  c.figures.agents.push_back(agent_figures{agent, agent, replies, fall});
  return c;
}
}  // namespace

TEST_CASE("the summary adds up conversations - ratings - first responses - anger - agents") {
  summary_accumulator s;
  const timestamp_ms day = 1'796'083'200'000;  // 2026-12-01
  auto a = conv("a", day, day + 30'000, 5, "ana", 80, 20, 60, 2);
  a.categories = {"delivery", "refund"};
  a.figures.escalations = 1;
  a.figures.escalation_reasons = {"manager_request"};
  s.add(a);
  auto b = conv("b", day + 1000, day + 1000 + 90'000, 3, "ana", 40, 30, 10, 1);
  b.categories = {"delivery"};
  s.add(b);
  auto c = conv("c", day + 86'400'000, day + 86'400'000 + 10'000, 0, "piotr", 60, 50, -5, 1);
  s.add(c);
  auto open = conv("d", day + 86'400'000, 0, 0, "piotr", 0, 0, 0, 0);  // not answered, no curve, still open
  open.state = conversation_state::assigned;
  open.figures.agents.clear();
  s.add(open);
  auto r = s.result();
  CHECK(r["conversations"] == 4);
  CHECK(r["escalations"] == 1);
  CHECK(r["escalations_by_reason"]["manager_request"] == 1);
  CHECK(r["categories"]["delivery"] == 2);
  CHECK(r["categories"]["refund"] == 1);
  CHECK(r["first_response_s"]["median"] == 30.0);
  CHECK(r["first_response_s"]["p90"] == 90.0);
  CHECK(r["csat"]["count"] == 2);
  CHECK(r["csat"]["average"] == 4.0);
  CHECK(r["csat"]["scores"]["5"] == 1);
  CHECK(r["anger"]["peak_median"] == 60.0);
  CHECK(r["anger"]["closing_median"] == 30.0);
  REQUIRE(r["agents"].size() == 2);
  // Sorted by de-escalation: Ana's three replies fell 70 in all; Piotr's one rose 5.
  CHECK(r["agents"][0]["id"] == "ana");
  CHECK(r["agents"][0]["conversations"] == 2);
  CHECK(r["agents"][0]["deescalation"].get<double>() == doctest::Approx(23.3));
  CHECK(r["agents"][0]["csat_average"] == 4.0);
  CHECK(r["agents"][0]["first_response_s_median"] == 30.0);
  CHECK(r["agents"][1]["id"] == "piotr");
  CHECK(r["agents"][1]["deescalation"] == -5.0);
  CHECK(r["agents"][1]["csat_average"].is_null());
  REQUIRE(r["days"].size() == 2);
  CHECK(r["days"][0]["day"] == "2026-12-01");
  CHECK(r["days"][0]["conversations"] == 2);
  CHECK(r["days"][1]["conversations"] == 2);
}

TEST_CASE("an empty window gives nulls - not zeros") {
  summary_accumulator s;
  auto r = s.result();
  CHECK(r["conversations"] == 0);
  CHECK(r["csat"]["average"].is_null());
  CHECK(r["first_response_s"]["median"].is_null());
  CHECK(r["anger"]["peak_median"].is_null());
  CHECK(r["agents"].empty());
}

TEST_CASE("CSV fields are quoted when needed and formulas are defused") {
  CHECK(csv_field("plain") == "plain");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("line\nbreak") == "\"line\nbreak\"");
  CHECK(csv_field("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"");
  CHECK(csv_field("+48 600") == "'+48 600");
  CHECK(csv_field("-1") == "'-1");
  CHECK(csv_field("@SUM(A1)") == "'@SUM(A1)");
  conversation_record c;
  c.id = "c1";
  c.shopper.store = "demo";
  c.created_ts = 1'796'083'200'000 + 3'661'000;  // 2026-12-01 01:01:01 UTC
  c.state = conversation_state::closed;
  c.updated_ts = c.created_ts + 60'000;
  c.first_response_ts = c.created_ts + 12'300;
  c.csat_score = 5;
  c.csat_comment = "=1+1, gracias";
  c.categories = {"delivery", "refund"};
  c.figures.peak_level = 72.25;
  c.figures.closing_level = 10;
  auto row = csv_row(c);
  CHECK(row.rfind("c1,demo,2026-12-01T01:01:01Z,2026-12-01T01:02:01Z,closed,", 0) == 0);
  CHECK(row.find(",12.3,") != std::string::npos);
  CHECK(row.find(",72.3,10.0,") != std::string::npos);
  CHECK(row.find("delivery;refund") != std::string::npos);
  CHECK(row.find(",5,\"'=1+1, gracias\",") != std::string::npos);
  CHECK(row.substr(row.size() - 2) == "\r\n");
  // As many cells as the header has columns (no comma in this row's values outside quotes).
  auto header = csv_header();
  CHECK(std::count(header.begin(), header.end(), ',') == 20);
}

#include "common/reports/csv.hpp"

#include <cmath>
#include <cstdio>

#include "common/reports/summary.hpp"

namespace calma::reports {

namespace {
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ";") + x;
  return s;
}
std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", std::round(v * 10) / 10);
  return b;
}
std::string iso(timestamp_ms ts) {
  if (ts <= 0) return {};
  const auto secs = ts / 1000 % 86'400;
  char b[48];
  std::snprintf(b, sizeof b, "%sT%02lld:%02lld:%02lldZ", utc_day(ts).c_str(), static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return b;
}
}  // namespace

std::string csv_field(std::string_view v) {
  std::string s(v);
  if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r'))
    s.insert(s.begin(), '\'');
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += "\"\"";
    else q += c;
  }
  return q + "\"";
}

std::string csv_header() {
  return "conversation_id,store,created_utc,closed_utc,state,language,agent_id,agent_name,first_response_s,"
         "peak_level,closing_level,escalations,escalation_reasons,categories,csat_score,csat_comment,"
         "follow_up,order_id,order_value,currency,tier\r\n";
}

std::string csv_row(const conversation_record& c) {
  const auto& f = c.figures;
  std::string fr = c.first_response_ts > 0 ? num((c.first_response_ts - c.created_ts) / 1000.0) : "";
  const bool closed = c.state == conversation_state::closed;
  std::string cells[] = {c.id,
                         c.shopper.store,
                         iso(c.created_ts),
                         closed ? iso(c.updated_ts) : "",
                         std::string(to_string(c.state)),
                         c.shopper.language,
                         c.agent_id.value_or(""),
                         c.agent_name,
                         fr,
                         f.peak_level > 0 ? num(f.peak_level) : "",
                         f.peak_level > 0 && closed ? num(f.closing_level) : "",
                         std::to_string(f.escalations),
                         join(f.escalation_reasons),
                         join(c.categories),
                         c.csat_score ? std::to_string(c.csat_score) : "",
                         c.csat_comment,
                         std::string(follow_up_reason(c)),
                         c.shopper.context.order_id,
                         c.shopper.context.order_value ? num(*c.shopper.context.order_value) : "",
                         c.shopper.context.currency,
                         c.shopper.context.tier};
  std::string row;
  for (const auto& cell : cells) row += (row.empty() ? "" : ",") + csv_field(cell);
  return row + "\r\n";
}

}  // namespace calma::reports

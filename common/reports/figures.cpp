#include "common/reports/figures.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace calma::reports {

void figures_builder::on_level(double level) {
  f_.peak_level = std::max(f_.peak_level, level);
  f_.closing_level = level;
}

void figures_builder::on_customer_message(double level_before) {
  on_level(level_before);
  measure(level_before);
}

void figures_builder::on_reply(const std::string& agent_id, const std::string& agent_name, double level) {
  on_level(level);
  if (f_.first_response_by.empty()) f_.first_response_by = agent_id;
  std::size_t index = f_.agents.size();
  for (std::size_t i = 0; i < f_.agents.size(); ++i)
    if (f_.agents[i].id == agent_id) index = i;
  if (index == f_.agents.size()) f_.agents.push_back(agent_figures{agent_id, agent_name, 0, 0});
  else if (!agent_name.empty()) f_.agents[index].name = agent_name;
  pending_.push_back(reply{index, level});
}

void figures_builder::on_escalation(const std::vector<std::string>& reasons, bool new_escalation) {
  if (new_escalation) ++f_.escalations;
  for (const auto& r : reasons)
    if (std::find(f_.escalation_reasons.begin(), f_.escalation_reasons.end(), r) == f_.escalation_reasons.end())
      f_.escalation_reasons.push_back(r);
}

void figures_builder::on_close(double level) {
  on_level(level);
  measure(level);
}

void figures_builder::measure(double level) {
  for (const auto& r : pending_) {
    auto& a = f_.agents[r.agent];
    a.replies += 1;
    a.fall_sum += r.level - level;
  }
  pending_.clear();
}

nlohmann::json to_json(const conversation_figures& f) {
  using nlohmann::json;
  json agents = json::array();
  for (const auto& a : f.agents)
    agents.push_back(json{{"id", a.id}, {"name", a.name}, {"replies", a.replies}, {"fall_sum", a.fall_sum}});
  return json{{"peak_level", f.peak_level},     {"closing_level", f.closing_level},
              {"escalations", f.escalations},   {"escalation_reasons", f.escalation_reasons},
              {"first_response_by", f.first_response_by}, {"agents", std::move(agents)}};
}

conversation_figures figures_from_json(const nlohmann::json& j) {
  conversation_figures f;
  if (!j.is_object()) return f;
  // Stored figures are read back field by field: a field of another type is
  // its default (json::value() would throw), a count out of int's range is
  // clamped (casting it would be undefined).
  auto num = [](const nlohmann::json& o, const char* k, double d) {
    auto it = o.find(k);
    return it != o.end() && it->is_number() ? it->get<double>() : d;
  };
  auto count = [&](const nlohmann::json& o, const char* k) {
    const double x = num(o, k, 0);
    return x >= 0 && x < 2e9 ? static_cast<int>(x) : x >= 2e9 ? 2'000'000'000 : 0;
  };
  auto str = [](const nlohmann::json& o, const char* k) {
    auto it = o.find(k);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  f.peak_level = num(j, "peak_level", 0);
  f.closing_level = num(j, "closing_level", 0);
  f.escalations = count(j, "escalations");
  if (auto it = j.find("escalation_reasons"); it != j.end() && it->is_array())
    for (const auto& r : *it)
      if (r.is_string()) f.escalation_reasons.push_back(r.get<std::string>());
  if (auto it = j.find("first_response_by"); it != j.end() && it->is_string()) f.first_response_by = it->get<std::string>();
  if (auto it = j.find("agents"); it != j.end() && it->is_array())
    for (const auto& a : *it) {
      if (!a.is_object()) continue;
      agent_figures x;
      x.id = str(a, "id");
      x.name = str(a, "name");
      x.replies = count(a, "replies");
      x.fall_sum = num(a, "fall_sum", 0.0);
      if (!x.id.empty()) f.agents.push_back(std::move(x));
    }
  return f;
}

}  // namespace calma::reports

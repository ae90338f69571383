#include "common/reports/figures.hpp"

#include <algorithm>

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

}  // namespace calma::reports

#include "server/hub/anger_engine.hpp"

namespace calma {

std::shared_ptr<anger_engine> load_anger_engine(const nlohmann::json& anger, const nlohmann::json& escalation,
                                                const std::string& lexicon_dir, std::vector<std::string>& errors) {
  auto e = std::make_shared<anger_engine>();
  const auto before = errors.size();
  e->anger = anger::params_from_json(anger, errors);
  e->escalation = escalation::params_from_json(escalation, errors);
  if (errors.size() != before) return nullptr;
  auto set = anger::load_lexicons(lexicon_dir, e->anger.languages, errors);
  if (!set || errors.size() != before) return nullptr;
  e->lexicons = std::make_shared<const anger::lexicon_set>(std::move(*set));
  if (!e->anger.model.empty()) {  // a model that does not load stops the start-up, naming the file
    e->model = anger::load_model(anger::resolve_model_path(e->anger.model, lexicon_dir), errors);
    if (!e->model) return nullptr;
  }
  e->scorer = std::make_unique<anger::scorer>(e->lexicons, e->anger.scorer, e->model);
  return e;
}

bool load_causes(anger_engine& engine, const std::string& dir, std::vector<std::string>& errors) {
  auto set = causes::lexicon_set::load(dir, errors);
  if (!set) return false;
  engine.causes = std::make_shared<const causes::lexicon_set>(std::move(*set));
  return true;
}

}  // namespace calma

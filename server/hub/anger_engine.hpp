// What the server reads from the shopper's words, as it uses it: the anger
// curve and escalation rules (lexicons, parameters, one shared scorer) and the
// complaint causes' lexicons, loaded once at start-up.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/anger/lexicon.hpp"
#include "common/anger/model.hpp"
#include "common/anger/params.hpp"
#include "common/anger/scorer.hpp"
#include "common/causes/causes.hpp"
#include "common/escalation/params.hpp"

namespace calma {

struct anger_engine {
  std::shared_ptr<const anger::lexicon_set> lexicons;
  anger::params anger;
  escalation::params escalation;
  std::shared_ptr<const anger::text_model> model;  ///< anger.model, beside the cues; null = cues only
  std::unique_ptr<anger::scorer> scorer;  ///< thread-safe; one for every conversation
  std::shared_ptr<const causes::lexicon_set> causes;  ///< complaint causes (config/causes)
};

/// Parses the "anger" and "escalation" config sections and loads the lexicons
/// from `lexicon_dir`. Every problem is appended to `errors`.
std::shared_ptr<anger_engine> load_anger_engine(const nlohmann::json& anger, const nlohmann::json& escalation,
                                                const std::string& lexicon_dir, std::vector<std::string>& errors);
/// Loads the complaint causes' lexicons from `dir` into `engine`.
bool load_causes(anger_engine& engine, const std::string& dir, std::vector<std::string>& errors);

}  // namespace calma

#pragma once
// The project's own labelled sets (tests/data/anger/{dev,heldout}): pairwise
// ranking accuracy per language (the angrier message of a pair must score
// strictly higher; ties count as misses), Pearson r of the score with the
// labelled level, and whole conversations: whether the first escalation
// comes at the right message (not before the line labelled "escalate_from",
// not after the line labelled "escalate_by"; unlabelled conversations must
// never escalate). Used by calma_anger_eval and calma_anger_train.

#include "common/anger/lexicon.hpp"
#include "common/anger/model.hpp"
#include "common/anger/params.hpp"
#include "common/anger/scorer.hpp"
#include "common/escalation/params.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace calma::anger::project {

struct set_result {
  std::map<std::string, std::pair<long, long>> pairs;  // lang -> (correct, total)
  std::map<std::string, double> pearson;               // lang -> r(level, score)
  std::map<std::string, std::pair<int, int>> convs;    // lang (file name prefix) -> (right, total)
  int conv_ok = 0, conv_total = 0;
};

// calma.json's anger and escalation sections, the lexicons beside it and,
// when `with_model` and anger.model is set, the model. Errors name the file.
struct loaded_config {
  anger::params ap;
  escalation::params ep;
  std::shared_ptr<const lexicon_set> lexicons;
  std::shared_ptr<const text_model> model;
  std::filesystem::path model_path;
};
bool load_config(const std::filesystem::path& config, bool with_model, loaded_config& out,
                 std::vector<std::string>& errors);

// print: one line per language and conversation (and with verbose every score).
set_result evaluate_set(const std::filesystem::path& dir, const anger::scorer& sc, const anger::params& ap,
                        const escalation::params& ep, bool print, bool verbose);

}  // namespace calma::anger::project

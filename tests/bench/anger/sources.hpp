#pragma once
// The openly licensed anger sources (../shared/data/anger-sources, see its
// README) as labelled examples, their fixed train/dev/test split, the small
// committed sample of their test split (tests/data/anger/sources), and the
// figures the trainer and the evaluation report (ROC-AUC, Pearson r).
//
// Labels, "anger vs the rest":
//   xed (en, es, pl)   label 1 (anger) among the annotated emotions -> 1, else 0;
//                      en adds neu_en.txt (neutral) as 0
//   goemotions (en)    anger or annoyance -> 1, else 0; intensity anger 2,
//                      annoyance 1, anything else 0 (an ordinal proxy)
//   mhc (es, pl)       evaluation only (never trained on): "hostile" = every
//                      hateful case plus abuse aimed at a person, a group or an
//                      object (target_indiv/group/obj_nh); the rest (neutral and
//                      positive identity mentions, counter-speech, negated
//                      hate, profanity that is not hostile) -> 0
// Split: GoEmotions' official train/dev/test files; XED by a hash of the
// folded text (FNV-1a 64 with seed `split_seed`): 80% train, 10% dev, 10%
// test, so repeated lines always fall in the same part; MHC is all "eval".

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace calma::anger::sources {

enum class split : std::uint8_t { train, dev, test, eval_only };
inline constexpr std::uint64_t split_seed = 20240611;

struct example {
  std::string text;
  std::string lang;    // en, es, pl
  std::string source;  // xed, goemotions, mhc
  int label = 0;       // 1 = anger (mhc: hostile)
  double intensity = -1;  // ordinal intensity where the source has one, else -1
  split part = split::train;
};

// Reads every source of `dir` (the shared folder). Problems go to `errors`.
std::vector<example> load_shared(const std::filesystem::path& dir, std::vector<std::string>& errors);
// Reads the committed sample: <dir>/<lang>-<source>.jsonl, {"text","label"[,"intensity"]} a line.
std::vector<example> load_sample(const std::filesystem::path& dir, std::vector<std::string>& errors);
// Writes up to `per_file` test examples of each (lang, source), chosen by a fixed hash.
bool write_sample(const std::vector<example>& all, const std::filesystem::path& dir, std::size_t per_file,
                  std::vector<std::string>& errors);

split split_of(const std::string& text);

// ROC-AUC of `score` for label 1 vs 0 (ties count half); 0.5 if a class is empty.
double roc_auc(const std::vector<double>& score, const std::vector<int>& label);
// Pearson correlation; 0 when either side is constant.
double pearson(const std::vector<double>& x, const std::vector<double>& y);

// "hostile" reading of an MHC functionality (see above).
bool mhc_hostile(const std::string& functionality);

}  // namespace calma::anger::sources

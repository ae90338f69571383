#pragma once
// Shared fixtures of the anger unit tests: the real lexicons of config/.

#include "common/anger/lexicon.hpp"
#include "common/anger/scorer.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace calma::anger::test {

inline std::shared_ptr<const lexicon_set> real_lexicons() {
  static const std::shared_ptr<const lexicon_set> lex = [] {
    std::vector<std::string> errors;
    auto set = load_lexicons(std::filesystem::path(CALMA_SOURCE_DIR) / "config" / "lexicons",
                             {"en", "es", "pl"}, errors);
    for (const auto& e : errors) MESSAGE(e);
    REQUIRE(set.has_value());
    return std::make_shared<const lexicon_set>(std::move(*set));
  }();
  return lex;
}

inline const scorer& real_scorer() {
  static const scorer s(real_lexicons(), scorer_params{});
  return s;
}

inline lang_id lang(const char* code) { return real_lexicons()->find(code); }

inline std::vector<std::string> cues_of(std::string_view text, const char* code = nullptr) {
  const auto r = real_scorer().score(text, code ? lang(code) : no_lang);
  return describe_all(r, text);
}

inline bool has_cue(const std::vector<std::string>& cues, std::string_view prefix) {
  return std::any_of(cues.begin(), cues.end(),
                     [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
}

inline double score_of(std::string_view text, const char* code = nullptr) {
  return real_scorer().score(text, code ? lang(code) : no_lang).score;
}

}  // namespace calma::anger::test

// Prepared answers ("canned responses"): what an agent inserts with `/` in
// the console, per store and language. Parsing and merging are pure; the
// server reads the files (config/canned/<lang>.json, then
// config/canned/<store>/<lang>.json, whose entries replace those of the same id).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace calma::canned {

struct answer {
  std::string id;
  std::string title;
  std::string text;
  std::string lang;
  std::string category;             ///< greeting, apology, delay, replacement, refund, ...
  std::vector<std::string> stages;  ///< coaching stages it fits: calm, rising, peak, cooling, closed
};

/// The categories an answer may have.
const std::vector<std::string>& categories();

/// Reads one file's JSON `{"lang","responses":[{"id","title","text","category","stages"}]}`;
/// every problem goes to `errors` prefixed by `where`. `lang` is the language the
/// file is for (its name): a file saying another one is an error.
std::vector<answer> parse(const nlohmann::json& j, const std::string& lang, const std::string& where,
                          std::vector<std::string>& errors);

/// `base` with `overrides` applied: an override replaces the answer of the same id, others are added.
std::vector<answer> merge(std::vector<answer> base, const std::vector<answer>& overrides);

nlohmann::json to_json(const answer& a);

/// Per store, per language.
using library = std::map<std::string, std::map<std::string, std::vector<answer>>>;

}  // namespace calma::canned

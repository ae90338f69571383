#include "server/canned_files.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

namespace calma {

namespace fs = std::filesystem;

namespace {
// nullopt: no such file; errors get a line when it exists but is not JSON.
std::optional<nlohmann::json> read_json(const fs::path& p, std::vector<std::string>& errors) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) {
    errors.push_back(p.string() + ": not valid JSON");
    return std::nullopt;
  }
  return j;
}
}  // namespace

canned::library load_canned(const std::string& dir, const std::vector<store_config>& stores,
                            std::vector<std::string>& errors) {
  canned::library lib;
  std::map<std::string, std::vector<canned::answer>> shared;  // lang -> answers, read once
  for (const auto& st : stores) {
    const fs::path base = st.canned_dir.empty() ? fs::path(dir) : fs::path(st.canned_dir);
    for (const auto& lang : st.languages) {
      if (!shared.count(lang)) {
        auto p = fs::path(dir) / (lang + ".json");
        auto j = read_json(p, errors);
        shared[lang] = j ? canned::parse(*j, lang, p.string(), errors) : std::vector<canned::answer>{};
      }
      std::vector<canned::answer> answers = shared[lang];
      if (!st.canned_dir.empty()) {
        auto p = base / (lang + ".json");
        if (auto j = read_json(p, errors)) answers = canned::merge(std::move(answers), canned::parse(*j, lang, p.string(), errors));
      }
      auto own = fs::path(dir) / st.id / (lang + ".json");
      if (auto j = read_json(own, errors)) answers = canned::merge(std::move(answers), canned::parse(*j, lang, own.string(), errors));
      lib[st.id][lang] = std::move(answers);
    }
  }
  return lib;
}

}  // namespace calma

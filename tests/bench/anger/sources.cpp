#include "sources.hpp"

#include "common/anger/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

namespace calma::anger::sources {
namespace fs = std::filesystem;
namespace {

std::uint64_t fnv64(std::string_view s, std::uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

bool read_file(const fs::path& p, std::string& out, std::vector<std::string>& errors) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    errors.push_back(p.string() + ": cannot open");
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b < s.size()) {
    std::size_t e = s.find('\n', b);
    if (e == std::string::npos) e = s.size();
    std::string l = s.substr(b, e - b);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    out.push_back(std::move(l));
    b = e + 1;
  }
  return out;
}

std::vector<std::string> split_on(const std::string& s, char d) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == d) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

// Comma-separated integers ("8, 1"); false unless every item is one.
bool int_list(const std::string& s, std::vector<int>& out) {
  out.clear();
  for (auto item : split_on(s, ',')) {
    item.erase(0, item.find_first_not_of(' '));
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos) return false;
    out.push_back(std::stoi(item));
  }
  return !out.empty();
}

// Delimited text with standard double-quote quoting (fields may hold newlines).
std::vector<std::vector<std::string>> dsv(const std::string& s, char delim) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, at_start = true;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < s.size() && s[i + 1] == '"') { field += '"'; ++i; }
        else quoted = false;
      } else field += c;
      continue;
    }
    if (c == '"' && at_start) { quoted = true; at_start = false; continue; }
    if (c == delim) { row.push_back(std::move(field)); field.clear(); at_start = true; continue; }
    if (c == '\r') continue;
    if (c == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      at_start = true;
      continue;
    }
    field += c;
    at_start = false;
  }
  if (!field.empty() || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

void load_xed(const fs::path& file, const std::string& lang, std::vector<example>& out,
              std::vector<std::string>& errors) {
  std::string s;
  if (!read_file(file, s, errors)) return;
  std::vector<int> labels;
  for (const auto& l : lines(s)) {
    const auto f = split_on(l, '\t');
    if (f.size() != 2 || f[0].empty() || !int_list(f[1], labels)) continue;  // the README's malformed lines
    example e{f[0], lang, "xed", std::count(labels.begin(), labels.end(), 1) > 0 ? 1 : 0};
    e.part = split_of(e.text);
    out.push_back(std::move(e));
  }
}

}  // namespace

split split_of(const std::string& text) {
  const auto h = fnv64(fold_phrase(text), fnv64("calma-split", split_seed));
  const auto bucket = (h >> 17) % 10;
  return bucket < 8 ? split::train : bucket == 8 ? split::dev : split::test;
}

bool mhc_hostile(const std::string& f) {
  if (f.size() > 2 && f.compare(f.size() - 2, 2, "_h") == 0) return true;
  return f == "target_indiv_nh" || f == "target_group_nh" || f == "target_obj_nh";
}

std::vector<example> load_shared(const fs::path& dir, std::vector<std::string>& errors) {
  std::vector<example> out;
  load_xed(dir / "xed" / "en-annotated.tsv", "en", out, errors);
  load_xed(dir / "xed" / "es-projections.tsv", "es", out, errors);
  load_xed(dir / "xed" / "pl-projections.tsv", "pl", out, errors);
  {
    std::string s;
    if (read_file(dir / "xed" / "neu_en.txt", s, errors))
      for (const auto& l : lines(s)) {
        const auto f = split_on(l, '\t');
        if (f.size() < 2 || f[0] != "9" || f[1].empty()) continue;
        example e{f[1], "en", "xed", 0};
        e.part = split_of(e.text);
        out.push_back(std::move(e));
      }
  }
  const std::pair<const char*, split> go[] = {{"train.tsv", split::train}, {"dev.tsv", split::dev}, {"test.tsv", split::test}};
  for (const auto& [name, part] : go) {
    std::string s;
    if (!read_file(dir / "goemotions" / name, s, errors)) continue;
    std::vector<int> labels;
    for (const auto& row : dsv(s, '\t')) {
      if (row.size() != 3 || row[0].empty() || !int_list(row[1], labels)) {
        errors.push_back(std::string("goemotions/") + name + ": a row without 3 fields");
        break;
      }
      const bool anger = std::count(labels.begin(), labels.end(), 2) > 0;
      const bool annoyance = std::count(labels.begin(), labels.end(), 3) > 0;
      example e{row[0], "en", "goemotions", anger || annoyance ? 1 : 0, anger ? 2.0 : annoyance ? 1.0 : 0.0, part};
      out.push_back(std::move(e));
    }
  }
  for (const auto& [file, lang] : {std::pair{"hatecheck_cases_final_spanish.csv", "es"},
                                   std::pair{"hatecheck_cases_final_polish.csv", "pl"}}) {
    std::string s;
    if (!read_file(dir / "multilingual-hatecheck" / file, s, errors)) continue;
    const auto rows = dsv(s, ',');
    if (rows.empty() || rows[0].size() < 4 || rows[0][1] != "functionality" || rows[0][2] != "test_case") {
      errors.push_back(std::string(file) + ": unexpected header");
      continue;
    }
    for (std::size_t i = 1; i < rows.size(); ++i) {
      if (rows[i].size() < 4 || rows[i][2].empty()) continue;
      example e{rows[i][2], lang, "mhc", mhc_hostile(rows[i][1]) ? 1 : 0};
      e.part = split::eval_only;
      out.push_back(std::move(e));
    }
  }
  return out;
}

std::vector<example> load_sample(const fs::path& dir, std::vector<std::string>& errors) {
  std::vector<example> out;
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".jsonl") files.push_back(e.path());
  if (ec) errors.push_back(dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const std::string stem = f.stem().string();
    const auto dash = stem.find('-');
    if (dash == std::string::npos) continue;
    std::string s;
    if (!read_file(f, s, errors)) continue;
    for (const auto& l : lines(s)) {
      if (l.empty()) continue;
      const auto j = nlohmann::json::parse(l, nullptr, false);
      if (j.is_discarded() || !j.contains("text") || !j.contains("label")) {
        errors.push_back(f.string() + ": a line without text and label");
        break;
      }
      example e{j["text"].get<std::string>(), stem.substr(0, dash), stem.substr(dash + 1), j["label"].get<int>(),
                j.value("intensity", -1.0), split::test};
      out.push_back(std::move(e));
    }
  }
  return out;
}

bool write_sample(const std::vector<example>& all, const fs::path& dir, std::size_t per_file,
                  std::vector<std::string>& errors) {
  std::map<std::string, std::vector<const example*>> groups;
  for (const auto& e : all)
    if (e.part == split::test || e.part == split::eval_only) groups[e.lang + "-" + e.source].push_back(&e);
  fs::create_directories(dir);
  for (auto& [name, v] : groups) {
    std::sort(v.begin(), v.end(), [](const example* a, const example* b) {
      const auto ha = fnv64(a->text, 77), hb = fnv64(b->text, 77);
      return ha != hb ? ha < hb : a->text < b->text;
    });
    v.erase(std::unique(v.begin(), v.end(), [](const example* a, const example* b) { return a->text == b->text; }),
            v.end());
    if (v.size() > per_file) v.resize(per_file);
    std::ofstream o(dir / (name + ".jsonl"), std::ios::binary);
    if (!o) {
      errors.push_back((dir / (name + ".jsonl")).string() + ": cannot write");
      return false;
    }
    for (const auto* e : v) {
      nlohmann::ordered_json j{{"text", e->text}, {"label", e->label}};
      if (e->intensity >= 0) j["intensity"] = e->intensity;
      o << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
  }
  return true;
}

double roc_auc(const std::vector<double>& score, const std::vector<int>& label) {
  std::vector<std::size_t> idx(score.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return score[a] < score[b]; });
  double pos = 0, neg = 0, rank_sum = 0;
  for (std::size_t i = 0; i < idx.size();) {
    std::size_t j = i;
    while (j < idx.size() && score[idx[j]] == score[idx[i]]) ++j;
    const double avg_rank = (double(i) + double(j - 1)) / 2.0 + 1.0;
    for (std::size_t k = i; k < j; ++k)
      if (label[idx[k]]) { rank_sum += avg_rank; ++pos; } else ++neg;
    i = j;
  }
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = double(x.size());
  if (n < 2) return 0;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0;
}

}  // namespace calma::anger::sources

#include "project.hpp"

#include "sources.hpp"

#include "common/escalation/monitor.hpp"
#include "common/escalation/replay.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

namespace calma::anger::project {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

struct labelled {
  std::string lang, text;
  int level;
  double score = 0;
};

[[noreturn]] void die(const std::string& s) {
  std::cerr << "anger evaluation: " << s << '\n';
  std::exit(2);
}

}  // namespace

set_result evaluate_set(const fs::path& dir, const anger::scorer& sc, const anger::params& ap,
                        const escalation::params& ep, bool print, bool verbose) {
  set_result res;
  const std::string name = dir.filename().string();
  std::ifstream in(dir / "messages.jsonl");
  if (!in) die((dir / "messages.jsonl").string() + ": cannot open");
  std::vector<labelled> msgs;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json j = json::parse(line);
    labelled m{j.at("lang").get<std::string>(), j.at("text").get<std::string>(), j.at("level").get<int>()};
    m.score = sc.score(m.text).score;  // language detected, as with --lang auto
    msgs.push_back(std::move(m));
  }
  std::map<std::string, std::vector<const labelled*>> by_lang;
  for (const auto& m : msgs) by_lang[m.lang].push_back(&m);
  for (const auto& [lang, v] : by_lang) {
    long ok = 0, total = 0;
    std::vector<std::pair<const labelled*, const labelled*>> misses;
    for (std::size_t a = 0; a < v.size(); ++a)
      for (std::size_t b = 0; b < v.size(); ++b) {
        if (v[a]->level <= v[b]->level) continue;  // a is the angrier one
        ++total;
        if (v[a]->score > v[b]->score) ++ok;
        else misses.push_back({v[a], v[b]});
      }
    res.pairs[lang] = {ok, total};
    {
      std::vector<double> lv, sv;
      for (const auto* m : v) { lv.push_back(m->level); sv.push_back(m->score); }
      res.pearson[lang] = sources::pearson(lv, sv);
    }
    if (print) std::printf("%-8s %s  pairwise accuracy %5.1f%%  (%ld/%ld pairs, %zu messages)\n", name.c_str(),
                lang.c_str(), total ? 100.0 * ok / total : 100.0, ok, total, v.size());
    if (print && verbose) {
      for (const auto* m : v) std::printf("    L%d %.3f  %s\n", m->level, m->score, m->text.c_str());
      for (const auto& [hi, lo] : misses)
        std::printf("    MISS L%d %.3f <= L%d %.3f : %s  |  %s\n", hi->level, hi->score, lo->level, lo->score,
                    hi->text.c_str(), lo->text.c_str());
    }
  }

  std::vector<fs::path> convs;
  if (fs::exists(dir / "conversations"))
    for (const auto& e : fs::directory_iterator(dir / "conversations"))
      if (e.path().extension() == ".jsonl") convs.push_back(e.path());
  std::sort(convs.begin(), convs.end());
  for (const auto& p : convs) {
    std::ifstream cin(p);
    std::unique_ptr<escalation::monitor> m;
    std::optional<std::int64_t> from, by, first;
    std::string first_reasons;
    int idx = 0, by_idx = -1, first_idx = -1;
    while (std::getline(cin, line)) {
      if (line.empty()) continue;
      std::string error;
      const auto ev = escalation::parse_replay_line(line, error);
      if (!ev) die(p.string() + ": " + error);
      ++idx;
      if (!m) m = std::make_unique<escalation::monitor>(sc, ap.curve, ep, ev->ts);
      if (ev->label == "escalate_from") from = ev->ts;
      if (ev->label == "escalate_by") {
        by = ev->ts;
        by_idx = idx;
      }
      const auto out = escalation::apply(*m, *ev);
      for (const auto& d : out.decisions)
        if (d.kind == escalation::decision_kind::escalate && !first) {
          first = d.ts;
          first_idx = idx;
          for (const auto& r : d.reasons) first_reasons += (first_reasons.empty() ? "" : "; ") + r;
        }
      if (print && verbose)
        for (const auto& pt : out.points) {
          std::printf("      %d t+%llds L=%.1f %s", idx, (long long)((pt.ts - out.points.front().ts) / 1000), pt.level,
                      std::string(anger::phase_name(pt.phase)).c_str());
          for (const auto& c : pt.cues) std::printf(" | %s", c.c_str());
          std::printf("\n");
        }
    }
    if (by && !from) from = by;
    bool ok;
    std::string what;
    if (by) {
      ok = first && *first >= *from && *first <= *by;
      what = first ? "escalated at line " + std::to_string(first_idx) + " (" + first_reasons + "), wanted by line " +
                         std::to_string(by_idx)
                   : "never escalated, wanted by line " + std::to_string(by_idx);
    } else {
      ok = !first;
      what = first ? "calm conversation escalated at line " + std::to_string(first_idx) + " (" + first_reasons + ")"
                   : "never escalated (calm)";
    }
    ++res.conv_total;
    res.conv_ok += ok;
    const std::string fname = p.filename().string();
    auto& cl = res.convs[fname.substr(0, fname.find('_'))];
    ++cl.second;
    cl.first += ok;
    if (print) std::printf("%-8s %-32s %s  %s\n", name.c_str(), p.filename().string().c_str(), ok ? "OK  " : "FAIL", what.c_str());
  }
  if (print) std::printf("%-8s conversations: %d/%d at the right message\n", name.c_str(), res.conv_ok, res.conv_total);
  return res;
}


bool load_config(const fs::path& config, bool with_model, loaded_config& out, std::vector<std::string>& errors) {
  std::ifstream in(config);
  if (!in) {
    errors.push_back(config.string() + ": cannot open");
    return false;
  }
  const json cfg = json::parse(in, nullptr, false);
  if (cfg.is_discarded() || !cfg.is_object()) {
    errors.push_back(config.string() + ": invalid JSON");
    return false;
  }
  const auto before = errors.size();
  const json empty = json::object();
  out.ap = anger::params_from_json(cfg.contains("anger") ? cfg["anger"] : empty, errors);
  out.ep = escalation::params_from_json(cfg.contains("escalation") ? cfg["escalation"] : empty, errors);
  const fs::path lexdir = config.parent_path() / "lexicons";
  auto lex = anger::load_lexicons(lexdir, out.ap.languages, errors);
  if (lex) out.lexicons = std::make_shared<const lexicon_set>(std::move(*lex));
  if (with_model && !out.ap.model.empty()) {
    out.model_path = resolve_model_path(out.ap.model, lexdir);
    out.model = load_model(out.model_path, errors);
  }
  return errors.size() == before;
}

}  // namespace calma::anger::project

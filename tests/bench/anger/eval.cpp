// Evaluation of the anger scorer and the escalation rules.
//
// 1. The project's own sets, tests/data/anger/{dev,heldout} (project.hpp):
//    pairwise ranking accuracy per language, Pearson r with the labelled level,
//    and the conversations; with the cues only and, when config names a model,
//    with the model on. Exits non-zero when a held-out target is missed: >= 90%
//    pairs per language and every conversation right, cues only and with the
//    model, and with the model no fewer pairs right than with the cues alone.
// 2. With --sources DIR: strangers' text (sources.hpp), per language and per
//    source: ROC-AUC of anger vs the rest and Pearson r where the source has an
//    intensity, for the cues only, the model only and the two combined. DIR is
//    ../shared/data/anger-sources (its test and eval-only parts) or the
//    committed sample tests/data/anger/sources. --require-gain en=0.05,...
//    fails (exit 1) unless combined AUC - cues-only AUC, on the language's
//    held-out parts of the trainable sources (xed, goemotions), reaches the gain.
//
//   calma_anger_eval --data tests/data/anger --config config/calma.json [-v] [--no-model]
//   calma_anger_eval --sources ../shared/data/anger-sources [--markdown] [--require-gain en=0.05,es=0.1,pl=0.1]
//   calma_anger_eval --sources ../shared/data/anger-sources --dev   (the dev parts instead: for choices)
//   calma_anger_eval --dump-train ../shared/data/anger-sources      (the training part as TSV)

#include "project.hpp"
#include "sources.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace calma;

namespace {

[[noreturn]] void die(const std::string& s) {
  std::cerr << "calma_anger_eval: " << s << '\n';
  std::exit(2);
}

struct triple {
  std::vector<double> cues, model, combined, intensity;
  std::vector<int> label;
  void add(const anger::score_result& r, const anger::sources::example& ex) {
    cues.push_back(r.cue_score);
    model.push_back(r.model);
    combined.push_back(r.score);
    label.push_back(ex.label);
    intensity.push_back(ex.intensity);
  }
};

struct row {
  std::string lang, source;
  triple t;
};

// Figures on strangers' text; returns false when a required gain is missed.
bool evaluate_sources(const fs::path& dir, const anger::scorer& sc, bool markdown,
                      const std::map<std::string, double>& gains, bool dev_part) {
  namespace src = anger::sources;
  std::vector<std::string> errors;
  const bool shared = fs::exists(dir / "SHA256SUMS");
  auto all = shared ? src::load_shared(dir, errors) : src::load_sample(dir, errors);
  for (const auto& e : errors) std::cerr << e << '\n';
  if (!errors.empty() || all.empty()) die(dir.string() + ": no examples read");
  std::map<std::pair<std::string, std::string>, triple> by;
  std::map<std::string, triple> pooled;
  std::map<std::string, triple> pooled_trainable;  // without the evaluation-only mhc
  anger::score_result r;
  for (const auto& ex : all) {
    if (dev_part ? ex.part != src::split::dev : ex.part != src::split::test && ex.part != src::split::eval_only) continue;
    const anger::lang_id lang = sc.lexicon().find(ex.lang);
    sc.score(ex.text, lang, 0, nullptr, r);  // the session's language, as the widget gives it
    by[{ex.lang, ex.source}].add(r, ex);
    pooled[ex.lang].add(r, ex);
    if (ex.source != "mhc") pooled_trainable[ex.lang].add(r, ex);
  }
  const bool has_model = sc.model() != nullptr;
  auto auc = [](const std::vector<double>& s, const std::vector<int>& l) { return src::roc_auc(s, l); };
  auto fmt = [&](const triple& t, const char* lang, const char* source) {
    long pos = std::count(t.label.begin(), t.label.end(), 1);
    const double ac = auc(t.cues, t.label), am = has_model ? auc(t.model, t.label) : 0, ab = auc(t.combined, t.label);
    std::vector<double> xi, ci, mi, bi;
    for (std::size_t i = 0; i < t.label.size(); ++i)
      if (t.intensity[i] >= 0) {
        xi.push_back(t.intensity[i]);
        ci.push_back(t.cues[i]);
        mi.push_back(t.model[i]);
        bi.push_back(t.combined[i]);
      }
    char pr[96] = "";
    if (!xi.empty())
      std::snprintf(pr, sizeof pr, markdown ? "%.3f / %.3f / %.3f" : "r %.3f/%.3f/%.3f", src::pearson(xi, ci),
                    has_model ? src::pearson(xi, mi) : 0.0, src::pearson(xi, bi));
    if (markdown)
      std::printf("| %s | %s | %zu | %ld | %.3f | %s | %.3f | %+.3f | %s |\n", lang, source, t.label.size(), pos, ac,
                  has_model ? (std::to_string(am).substr(0, 5)).c_str() : "-", ab, ab - ac, xi.empty() ? "" : pr);
    else
      std::printf("%-3s %-12s n=%-5zu anger=%-5ld AUC cues %.3f  model %s  combined %.3f  (%+.3f)  %s\n", lang, source,
                  t.label.size(), pos, ac, has_model ? (std::to_string(am).substr(0, 5)).c_str() : "-", ab, ab - ac, pr);
    return ab - ac;
  };
  std::printf("strangers' text (%s, %s):\n", dir.string().c_str(),
              dev_part ? "DEV parts (for choosing; not the reported figures)"
              : shared ? "held-out test parts and evaluation-only sets" : "committed sample of the held-out parts");
  if (markdown)
    std::printf("| lang | source | n | anger | AUC cues | AUC model | AUC combined | gain | Pearson r cues / model / combined |\n"
                "|---|---|---|---|---|---|---|---|---|\n");
  bool ok = true;
  for (const auto& [lang, t] : pooled) {
    for (const auto& [k, tt] : by)
      if (k.first == lang) fmt(tt, lang.c_str(), k.second.c_str());
    if (pooled_trainable.count(lang)) fmt(pooled_trainable[lang], lang.c_str(), "held-out");
    fmt(t, lang.c_str(), "all");
    // The gain is measured on the held-out parts of the trainable sources (mhc is reported, not gated).
    const triple& gated = pooled_trainable.count(lang) ? pooled_trainable[lang] : t;
    const double gain = src::roc_auc(gated.combined, gated.label) - src::roc_auc(gated.cues, gated.label);
    if (auto g = gains.find(lang); g != gains.end() && gain + 1e-9 < g->second) {
      std::printf("%s: combined AUC gains %+.3f over the cues, wanted %+.3f\n", lang.c_str(), gain, g->second);
      ok = false;
    }
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path data = "tests/data/anger", config = "config/calma.json", sources_dir, dump_train;
  bool verbose = false, markdown = false, no_model = false, dev_part = false;
  std::vector<std::string> sets = {"dev", "heldout"};
  std::map<std::string, double> gains;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--data" && i + 1 < argc) data = argv[++i];
    else if (a == "--config" && i + 1 < argc) config = argv[++i];
    else if (a == "--set" && i + 1 < argc) sets = {argv[++i]};
    else if (a == "--sources" && i + 1 < argc) sources_dir = argv[++i];
    else if (a == "--require-gain" && i + 1 < argc) {
      std::string s = argv[++i];
      for (std::size_t b = 0; b < s.size();) {
        std::size_t e = s.find(',', b);
        if (e == std::string::npos) e = s.size();
        const std::string item = s.substr(b, e - b);
        const auto eq = item.find('=');
        if (eq == std::string::npos) die("--require-gain: want lang=gain,...");
        gains[item.substr(0, eq)] = std::stod(item.substr(eq + 1));
        b = e + 1;
      }
    } else if (a == "--markdown") markdown = true;
    else if (a == "--dev") dev_part = true;
    else if (a == "--dump-train" && i + 1 < argc) dump_train = argv[++i];
    else if (a == "--no-model") no_model = true;
    else if (a == "-v") verbose = true;
    else
      die("usage: calma_anger_eval [--data DIR] [--config FILE] [--set dev|heldout] [-v] [--no-model]\n"
          "       calma_anger_eval --sources DIR [--config FILE] [--markdown] [--dev] [--require-gain en=0.05,...]");
  }
  std::vector<std::string> errors;
  anger::project::loaded_config cfg;
  if (!anger::project::load_config(config, !no_model, cfg, errors)) {
    for (const auto& e : errors) std::cerr << e << '\n';
    return 2;
  }
  const anger::scorer cues_only(cfg.lexicons, cfg.ap.scorer);
  const anger::scorer with_model(cfg.lexicons, cfg.ap.scorer, cfg.model);
  if (cfg.model) std::printf("model: %s\n", cfg.model_path.string().c_str());
  else std::printf("model: none (cues only)\n");

  if (!dump_train.empty()) {
    // The training part as TSV (lang, source, label, text): for reading what anger looks like there
    // when widening the lexicons, so that no choice is made by looking at the dev or test parts.
    namespace src = anger::sources;
    auto all = src::load_shared(dump_train, errors);
    for (const auto& e : errors) std::cerr << e << '\n';
    for (const auto& ex : all)
      if (ex.part == src::split::train) std::printf("%s\t%s\t%d\t%s\n", ex.lang.c_str(), ex.source.c_str(), ex.label, ex.text.c_str());
    return errors.empty() ? 0 : 2;
  }
  if (!sources_dir.empty()) return evaluate_sources(sources_dir, with_model, markdown, gains, dev_part) ? 0 : 1;

  bool pass = true;
  for (const auto& s : sets) {
    std::printf("-- %s, cues only\n", s.c_str());
    const auto base = anger::project::evaluate_set(data / s, cues_only, cfg.ap, cfg.ep, true, verbose && !cfg.model);
    anger::project::set_result withm = base;
    if (cfg.model) {
      std::printf("-- %s, cues and model\n", s.c_str());
      withm = anger::project::evaluate_set(data / s, with_model, cfg.ap, cfg.ep, true, verbose);
    }
    for (const auto& [lang, p] : withm.pearson)
      std::printf("%-8s %s  Pearson r(level, score): cues %.3f, with the model %.3f\n", s.c_str(), lang.c_str(),
                  base.pearson.at(lang), p);
    if (s != "heldout") continue;
    for (const anger::project::set_result* r : {&base, static_cast<const anger::project::set_result*>(&withm)}) {
      for (const auto& [lang, p] : r->pairs)
        if (p.second == 0 || double(p.first) / p.second < 0.90) pass = false;
      if (r->conv_ok != r->conv_total) pass = false;
    }
    for (const auto& [lang, p] : withm.pairs)
      if (p.first < base.pairs.at(lang).first) {
        std::printf("heldout %s: the model loses pairs (%ld right, %ld with the cues alone)\n", lang.c_str(), p.first,
                    base.pairs.at(lang).first);
        pass = false;
      }
  }
  if (std::find(sets.begin(), sets.end(), "heldout") != sets.end())
    std::printf("held-out targets (>= 90%% pairs per language, every conversation right, the model loses no pair): %s\n",
                pass ? "MET" : "MISSED");
  return pass ? 0 : 1;
}

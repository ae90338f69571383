// calma-anger: the anger scorer and the escalation rules on the command line,
// with the same config and code as the server. Store owners use it to tune
// thresholds on their own transcripts before turning escalation on.
//
//   calma-anger [--lang en|es|pl|auto] [--config FILE]
//       one customer message a line on stdin -> its cue score in [0,1] a line
//   calma-anger --replay FILE [--lang ...] [--config FILE] [--all-decisions]
//       a conversation as JSON lines -> timeline points and escalation decisions
//   --no-model: the cues alone, even when the config names a model (anger.model);
//   --model FILE: that model instead of the config's. A model that does not load
//   is an error naming the file (exit 2), as in the server.
//
// Replay input, one object a line (time in ms since the epoch, non-decreasing):
//   {"ts":..,"role":"shopper"|"agent"|"supervisor","text":".."}
//   {"ts":..,"tick":true}                      let time pass (prints a point)
//   {"ts":..,"event":"queued"|"assigned"|"ack"|"resolve"|"closed"}
// Deadlines of the rules (waits, re-notification) are processed when due, as
// the server's timer would. Output, one object a line:
//   {"ts","level","phase","trend","cues"}                   a timeline point
//   {"ts","escalation":{"severity","reasons"[,"joined"][,"renotify"]}}
//   {"ts","decision":{"kind","reasons"}}   warn_agent / nudge_agent, with --all-decisions

#include "common/anger/lexicon.hpp"
#include "common/anger/model.hpp"
#include "common/anger/params.hpp"
#include "common/anger/scorer.hpp"
#include "common/escalation/monitor.hpp"
#include "common/escalation/params.hpp"
#include "common/escalation/replay.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#ifndef CALMA_SOURCE_DIR
#define CALMA_SOURCE_DIR "."
#endif

namespace {

using nlohmann::json;
namespace fs = std::filesystem;
namespace anger = calma::anger;
namespace esc = calma::escalation;

[[noreturn]] void fail(const std::string& what, int code = 1) {
  std::cerr << "calma-anger: " << what << '\n';
  std::exit(code);
}

struct loaded {
  std::shared_ptr<const anger::lexicon_set> lexicons;
  std::shared_ptr<const anger::text_model> model;
  anger::params anger_params;
  esc::params escalation_params;
};

loaded load(const fs::path& config_path, bool no_model, const std::string& model_file) {
  std::ifstream in(config_path);
  if (!in) fail(config_path.string() + ": cannot open");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    fail(config_path.string() + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) fail(config_path.string() + ": must be a JSON object");
  std::vector<std::string> errors;
  loaded out;
  const json empty = json::object();
  out.anger_params = anger::params_from_json(j.contains("anger") ? j["anger"] : empty, errors);
  out.escalation_params = esc::params_from_json(j.contains("escalation") ? j["escalation"] : empty, errors);
  if (errors.empty()) {
    auto set = anger::load_lexicons(config_path.parent_path() / "lexicons", out.anger_params.languages, errors);
    if (set) out.lexicons = std::make_shared<const anger::lexicon_set>(std::move(*set));
    const std::string m = model_file.empty() ? out.anger_params.model : model_file;
    if (errors.empty() && !no_model && !m.empty())
      out.model = anger::load_model(model_file.empty() ? anger::resolve_model_path(m, config_path.parent_path() / "lexicons")
                                                       : fs::path(m),
                                    errors);
  }
  if (!errors.empty()) {
    std::string line = config_path.string() + ": ";
    for (std::size_t i = 0; i < errors.size(); ++i) line += (i ? "; " : "") + errors[i];
    fail(line, 2);
  }
  return out;
}

double round1(double v) { return std::round(v * 10.0) / 10.0; }

void print_point(const anger::point& p) {
  nlohmann::ordered_json o{{"ts", p.ts},
         {"level", round1(p.level)},
         {"phase", std::string(anger::phase_name(p.phase))},
         {"trend", round1(p.trend)},
         {"cues", p.cues}};
  std::cout << o.dump() << '\n';
}

void print_decisions(const std::vector<esc::decision>& ds, bool all) {
  for (const auto& d : ds) {
    if (d.kind == esc::decision_kind::escalate || d.kind == esc::decision_kind::renotify) {
      nlohmann::ordered_json e{{"severity", std::string(esc::severity_name(d.sev))}, {"reasons", d.reasons}};
      if (d.kind == esc::decision_kind::renotify) e["renotify"] = true;
      else if (d.joined) e["joined"] = true;
      std::cout << nlohmann::ordered_json{{"ts", d.ts}, {"escalation", e}}.dump() << '\n';
    } else if (all) {
      std::cout << nlohmann::ordered_json{
                       {"ts", d.ts},
                       {"decision", {{"kind", std::string(esc::decision_name(d.kind))}, {"reasons", d.reasons}}}}
                       .dump()
                << '\n';
    }
  }
}

void print(const esc::output& o, bool all) {
  for (const auto& p : o.points) print_point(p);
  print_decisions(o.decisions, all);
}

int score_mode(const loaded& cfg, anger::lang_id lang) {
  const anger::scorer sc(cfg.lexicons, cfg.anger_params.scorer, cfg.model);
  std::string line;
  anger::score_result r;
  char buf[32];
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    sc.score(line, lang, 0, nullptr, r);
    std::snprintf(buf, sizeof buf, "%.3f", r.score);
    std::cout << buf << std::endl;
  }
  return 0;
}

int replay_mode(const loaded& cfg, anger::lang_id lang, const std::string& file, bool all) {
  std::ifstream in(file);
  if (!in) fail(file + ": cannot open");
  const anger::scorer sc(cfg.lexicons, cfg.anger_params.scorer, cfg.model);
  std::unique_ptr<esc::monitor> m;
  std::string line;
  std::size_t n = 0;
  std::int64_t last_ts = INT64_MIN;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string error;
    const auto ev = esc::parse_replay_line(line, error);
    if (!ev) fail(file + ":" + std::to_string(n) + ": " + error);
    if (ev->ts < last_ts) fail(file + ":" + std::to_string(n) + ": \"ts\" goes backward");
    last_ts = ev->ts;
    if (!m) m = std::make_unique<esc::monitor>(sc, cfg.anger_params.curve, cfg.escalation_params, ev->ts, lang);
    print(esc::apply(*m, *ev), all);
  }
  std::cout.flush();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Calma anger scorer and escalation rules"};
  std::string lang_name = "auto";
  std::string config;
  std::string replay;
  bool all = false, no_model = false;
  std::string model_file;
  app.add_option("--lang", lang_name, "Language of the messages: a lexicon (en, es, pl) or auto");
  app.add_option("--config", config, "calma.json (lexicons are read from lexicons/ beside it)");
  app.add_option("--replay", replay, "Replay a conversation (JSON lines) instead of scoring stdin");
  app.add_flag("--all-decisions", all, "Replay: also print agent warnings and nudges");
  app.add_flag("--no-model", no_model, "The cues alone, without the learned model the config names");
  app.add_option("--model", model_file, "A learned anger model file instead of the config's anger.model");
  CLI11_PARSE(app, argc, argv);

  fs::path config_path;
  if (!config.empty()) config_path = config;
  else if (fs::exists("config/calma.json")) config_path = "config/calma.json";
  else config_path = fs::path(CALMA_SOURCE_DIR) / "config" / "calma.json";

  const loaded cfg = load(config_path, no_model, model_file);
  anger::lang_id lang = anger::no_lang;
  if (lang_name != "auto") {
    lang = cfg.lexicons->find(lang_name);
    if (lang == anger::no_lang) fail("--lang " + lang_name + ": no such lexicon (or use auto)");
  }
  std::ios::sync_with_stdio(false);
  if (!replay.empty()) return replay_mode(cfg, lang, replay, all);
  return score_mode(cfg, lang);
}

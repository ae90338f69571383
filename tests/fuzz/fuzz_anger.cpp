// libFuzzer target: a shopper's words as the anger engine reads them
// (common/anger: folding, tokens, the cue scorer, the curve; the escalation
// monitor that drives them per conversation; common/causes: complaint causes).
// Besides "no crash, no leak, no UB", it checks:
//  - every token, special character and cue points inside the text, on the
//    folded buffer's bounds;
//  - scores are in [0,1], levels in [0,100], nothing NaN;
//  - for valid UTF-8 input (what the server gets: JSON strings are checked),
//    every text derived from it (cue descriptions, cause hits, timeline cues)
//    is valid UTF-8 too: the hub serializes them with strict json::dump(),
//    which throws on invalid UTF-8.
//  - a conversation fed with texts prepared beforehand (scorer::prepare, as
//    the server does on the connection's thread, then monitor's fits/finish)
//    reads exactly as the one that scores each message on its turn.
// Input: arbitrary bytes. The whole input is scored as one message; then its
// lines are a conversation fed to one escalation monitor: a line starting
// with "A:" is an agent's reply, "T:" a minute of waiting, anything else the
// shopper's message. Seeds: tests/fuzz/seeds/anger (make_seeds.py).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/fuzz/fuzz_common.hpp"

#include "common/anger/lexicon.hpp"
#include "common/anger/params.hpp"
#include "common/anger/scorer.hpp"
#include "common/anger/text.hpp"
#include "common/causes/causes.hpp"
#include "common/escalation/monitor.hpp"
#include "common/escalation/params.hpp"

using namespace calma;
using nlohmann::json;
using calma::fuzz::read_file;
using calma::fuzz::strict_ok;

namespace {

struct engine {
  anger::params ap;
  escalation::params ep;
  std::shared_ptr<const anger::lexicon_set> lex;
  std::unique_ptr<anger::scorer> sc;
  std::shared_ptr<const causes::lexicon_set> causes;
};

engine* eng = nullptr;

[[noreturn]] void fail(const char* what, std::string_view text) {
  std::fprintf(stderr, "fuzz_anger: %s\ntext (%zu bytes): %.*s\n", what, text.size(), static_cast<int>(text.size()),
               text.data());
  std::abort();
}
#define EXPECT(cond, text) \
  do {                     \
    if (!(cond)) fail("expected " #cond, text); \
  } while (0)

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp;
    const std::size_t n = anger::decode_utf8(s, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}


void check_score(const anger::score_result& r, std::string_view text, bool utf8) {
  EXPECT(std::isfinite(r.score) && r.score >= 0 && r.score <= 1, text);
  EXPECT(std::isfinite(r.apology) && std::isfinite(r.empathy), text);
  for (const auto& c : r.cues) {
    EXPECT(c.begin <= c.end && c.end <= text.size(), text);
    EXPECT(std::isfinite(c.value) && std::isfinite(c.contribution), text);
  }
  if (utf8) EXPECT(strict_ok(json(anger::describe_all(r, text))), text);
}

void check_point(const anger::point& p, std::string_view text, bool utf8) {
  EXPECT(std::isfinite(p.level) && p.level >= 0 && p.level <= 100, text);
  EXPECT(std::isfinite(p.trend), text);
  EXPECT(!p.eta_ms || *p.eta_ms >= 0, text);
  if (utf8) EXPECT(strict_ok(json(p.cues)), text);
}

void check_output(const escalation::output& o, std::string_view text, bool utf8) {
  for (const auto& p : o.points) check_point(p, text, utf8);
  for (const auto& d : o.decisions) (void)d;
}


}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string src = CALMA_SOURCE_DIR;
  auto cfg = json::parse(read_file(src + "/config/calma.json"), nullptr, false);
  if (!cfg.is_object()) {
    std::fprintf(stderr, "fuzz_anger: cannot read %s/config/calma.json\n", src.c_str());
    std::exit(1);
  }
  std::vector<std::string> errors;
  eng = new engine;
  eng->ap = anger::params_from_json(cfg.value("anger", json::object()), errors);
  eng->ep = escalation::params_from_json(cfg.value("escalation", json::object()), errors);
  auto lex = anger::load_lexicons(src + "/config/lexicons", eng->ap.languages, errors);
  auto cs = causes::lexicon_set::load(src + "/config/causes", errors);
  if (!lex || !cs || !errors.empty()) {
    for (const auto& e : errors) std::fprintf(stderr, "fuzz_anger: %s\n", e.c_str());
    std::exit(1);
  }
  eng->lex = std::make_shared<const anger::lexicon_set>(std::move(*lex));
  eng->sc = std::make_unique<anger::scorer>(eng->lex, eng->ap.scorer);
  eng->causes = std::make_shared<const causes::lexicon_set>(std::move(*cs));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool utf8 = valid_utf8(text);

  // Folding and tokens.
  anger::folded_message f;
  anger::fold_message(text, f);
  for (const auto& t : f.tokens) {
    EXPECT(t.obegin <= t.oend && t.oend <= text.size(), text);
    EXPECT(std::size_t{t.fbegin} + t.flen <= f.folded.size(), text);
    EXPECT(t.upper <= t.letters, text);
  }
  for (const auto& s : f.specials) EXPECT(s.obegin < s.oend && s.oend <= text.size(), text);
  EXPECT(f.caps_upper <= f.caps_letters, text);
  if (utf8) EXPECT(strict_ok(json(f.folded)), text);
  (void)anger::fold_phrase(text);

  // The scorer: detected language, each language, the staff reading.
  check_score(eng->sc->score(text), text, utf8);
  for (anger::lang_id l = 0; l < eng->lex->language_count(); ++l) check_score(eng->sc->score(text, l), text, utf8);
  const auto staff = eng->sc->score_staff(text);
  check_score(staff, text, utf8);
  (void)anger::awaits_answer(staff, text);

  // Complaint causes: every language, and the shopper's (es).
  for (std::string_view lang : {"", "es", "pl-PL", "xx"}) {
    auto r = eng->causes->classify(text, lang);
    for (const auto& h : r.hits) {
      EXPECT(!h.words.empty() || h.term.empty(), text);
      if (utf8) EXPECT(strict_ok(json(h.words)) && strict_ok(json(causes::explain(h))), text);
    }
  }

  // A conversation: one line an event, on one monitor (scorer state, curve, policy).
  escalation::monitor mon(*eng->sc, eng->ap.curve, eng->ep, 1'000'000);
  escalation::monitor twin(*eng->sc, eng->ap.curve, eng->ep, 1'000'000);  // fed prepared texts
  auto same = [&](const anger::score_result& a, const anger::score_result& b, std::string_view line) {
    EXPECT(a.score == b.score && a.cue_score == b.cue_score && a.lang == b.lang && a.model == b.model, line);
    EXPECT(a.apology == b.apology && a.empathy == b.empathy && a.cues.size() == b.cues.size(), line);
    for (std::size_t i = 0; i < a.cues.size() && i < b.cues.size(); ++i)
      EXPECT(a.cues[i].kind == b.cues[i].kind && a.cues[i].cat == b.cues[i].cat && a.cues[i].value == b.cues[i].value &&
                 a.cues[i].begin == b.cues[i].begin && a.cues[i].end == b.cues[i].end,
             line);
  };
  std::int64_t ts = 1'000'000;
  check_output(mon.on_queued(ts), text, utf8);
  (void)twin.on_queued(ts);
  causes::tagger tags(eng->causes), twin_tags(eng->causes);
  std::size_t start = 0, lines = 0;
  while (start <= text.size() && lines < 32) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    ts += 1000 + static_cast<std::int64_t>(line.size()) * 97;
    if (line.starts_with("A:")) {
      if (lines == 1) {
        check_output(mon.on_assigned(ts), line, utf8);
        (void)twin.on_assigned(ts);
      }
      const auto out = mon.on_staff_message(ts, line.substr(2));
      check_output(out, line, utf8);
      anger::prepared_text p;
      eng->sc->prepare(line.substr(2), anger::no_lang, eng->sc->default_language(), false, p);
      const auto out2 = twin.on_staff_message(ts, line.substr(2), &p);
      EXPECT(out.points.size() == out2.points.size() && out.decisions.size() == out2.decisions.size(), line);
      if (!out.points.empty() && !out2.points.empty())
        EXPECT(out.points.back().level == out2.points.back().level, line);
    } else if (line.starts_with("T:")) {
      ts += 60'000;
      check_output(mon.catch_up(ts), line, utf8);
      check_output(mon.advance(ts), line, utf8);
      (void)twin.catch_up(ts);
      (void)twin.advance(ts);
    } else {
      check_output(mon.on_customer_message(ts, line), line, utf8);
      check_score(mon.last_score(), line, utf8);
      tags.add(line, "");
      anger::prepared_text p;
      eng->sc->prepare(line, anger::no_lang, eng->sc->default_language(), true, p);
      (void)twin.on_customer_message(ts, line, &p);
      same(mon.last_score(), twin.last_score(), line);
      twin_tags.add(eng->causes->classify(line, ""));
    }
    ++lines;
    start = end + 1;
  }
  EXPECT(mon.curve().level() == twin.curve().level() && mon.next_deadline() == twin.next_deadline(), text);
  if (auto d = mon.next_deadline()) check_output(mon.advance(std::max(ts, *d)), text, utf8);
  check_output(mon.advance(ts + 3'600'000), text, utf8);
  EXPECT(tags.causes() == twin_tags.causes() && tags.hits().size() == twin_tags.hits().size(), text);
  return 0;
}

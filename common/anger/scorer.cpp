#include "common/anger/scorer.hpp"

#include "common/anger/text.hpp"

#include <algorithm>
#include <cmath>

namespace calma::anger {
namespace {

struct match {
  std::uint32_t term;
  std::uint32_t first, last;  // token range, inclusive
};

// Reused between calls on the same thread: after warm-up, scoring a message
// allocates nothing but the cues it returns.
struct scratch {
  const folded_message* fm = nullptr;  // fold_message_reused's, for the message being scored
  std::vector<std::int32_t> ids;
  std::vector<std::uint32_t> id_off;
  std::vector<std::uint8_t> used;
  std::vector<match> matches;
};

scratch& local_scratch() {
  thread_local scratch s;
  return s;
}

bool token_has(const scratch& s, std::size_t tok, std::int32_t word) {
  for (std::uint32_t k = s.id_off[tok]; k < s.id_off[tok + 1]; ++k)
    if (s.ids[k] == word) return true;
  return false;
}

// Matches term words [k..] against tokens from `pos`; returns the index one
// past the last token matched, or -1. "~" matches zero or one token. A term
// never spans a clause boundary.
long match_words(const scratch& s, const term& t, std::size_t k, std::size_t pos) {
  if (k == t.words.size()) return static_cast<long>(pos);
  const auto& toks = s.fm->tokens;
  const std::int32_t w = t.words[k];
  if (w == gap_word) {
    long r = match_words(s, t, k + 1, pos);
    if (r >= 0) return r;
    if (pos < toks.size() && !toks[pos].clause_start) return match_words(s, t, k + 1, pos + 1);
    return -1;
  }
  if (pos >= toks.size() || (k > 0 && toks[pos].clause_start) || !token_has(s, pos, w)) return -1;
  return match_words(s, t, k + 1, pos + 1);
}

// Words after an opening "Great," within which a complaint makes it sarcastic.
constexpr std::size_t sarcasm_window = 6;

std::uint32_t fnv1a(std::string_view w) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : w) h = (h ^ c) * 16777619u;
  return h;
}

// A cue that is a measure (caps share, marks, repetition, burst) and what it adds.
void push_measure(score_result& out, double& keep, cue_kind kind, double measure, double contribution) {
  cue c;
  c.kind = kind;
  c.value = static_cast<float>(measure);
  c.contribution = static_cast<float>(contribution);
  keep *= 1.0 - std::min(1.0, contribution);
  out.cues.push_back(c);
}

}  // namespace

bool awaits_answer(const score_result& r, std::string_view text) noexcept {
  if (r.cue_score > 0) return true;  // the cues decide, the model does not start the clock
  if (text.find('?') != std::string_view::npos || text.find("\xC2\xBF") != std::string_view::npos) return true;
  for (const auto& c : r.cues)
    if ((c.kind == cue_kind::lexicon && (c.cat == category::positive || c.cat == category::politeness)) ||
        c.kind == cue_kind::friendly_emoji)
      return false;
  return true;
}

scorer::scorer(std::shared_ptr<const lexicon_set> lex, scorer_params p, std::shared_ptr<const text_model> model)
    : lex_(std::move(lex)), p_(std::move(p)), model_(std::move(model)) {
  const lang_id d = lex_->find(p_.default_language);
  default_lang_ = d == no_lang ? 0 : d;
  model_slot_.fill(-1);
  if (model_)
    for (std::size_t l = 0; l < lex_->language_count() && l < max_languages; ++l)
      model_slot_[l] = model_->find(lex_->code(static_cast<lang_id>(l)));
}

void scorer::score(std::string_view text, lang_id lang, std::int64_t ts, scorer_state* state,
                   score_result& out) const {
  analyse(text, lang, ts, state, true, out);
}

score_result scorer::score_staff(std::string_view text, lang_id lang) const {
  score_result r;
  analyse(text, lang, 0, nullptr, false, r);
  return r;
}

void scorer::analyse(std::string_view text, lang_id lang, std::int64_t ts, scorer_state* state,
                     bool customer, score_result& out) const {
  thread_local prepared_text p;  // its cue vector is reused from message to message
  prepare(text, lang, fallback_for(state), customer, p);
  finish(p, lang, ts, state, out);
}

bool scorer::fits(const prepared_text& p, lang_id lang, const scorer_state* state, bool customer) const noexcept {
  if (p.customer != customer) return false;
  const bool detect = lang >= lex_->language_count();
  if (!detect) return p.partial.lang == lang;  // asked so, or detected so
  return p.asked >= lex_->language_count() && (!p.by_fallback || p.fallback == fallback_for(state));
}

void scorer::prepare(std::string_view text, lang_id lang, lang_id fallback, bool customer,
                     prepared_text& prep) const {
  prep.customer = customer;
  prep.asked = lang;
  prep.fallback = fallback;
  prep.by_fallback = false;
  prep.detected = false;
  prep.model_slot = -1;
  prep.model_p = -1;
  prep.nwords = 0;
  score_result& out = prep.partial;
  out.score = 0;
  out.cue_score = 0;
  out.model = -1;
  out.apology = 0;
  out.empathy = 0;
  out.cues.clear();
  scratch& s = local_scratch();
  const lexicon_set& lex = *lex_;
  s.fm = &fold_message_reused(text);
  const auto& toks = s.fm->tokens;
  const std::size_t ntok = toks.size();

  // 1. Every word looked up once, for all languages.
  s.ids.clear();
  s.id_off.assign(ntok + 1, 0);
  for (std::size_t i = 0; i < ntok; ++i) {
    s.id_off[i] = static_cast<std::uint32_t>(s.ids.size());
    lex.lookup(s.fm->word(toks[i]), s.ids);
  }
  s.id_off[ntok] = static_cast<std::uint32_t>(s.ids.size());

  // 2. Language: given, or the one whose words and letters the message uses most.
  if (lang >= lex.language_count()) {
    std::array<int, max_languages> votes{};
    for (std::size_t i = 0; i < ntok; ++i) {
      std::uint8_t mask = 0;
      for (std::uint32_t k = s.id_off[i]; k < s.id_off[i + 1]; ++k) {
        const word_info& w = lex.info(s.ids[k]);
        mask |= w.function | w.in_terms | w.negator;
      }
      for (std::size_t l = 0; l < max_languages; ++l) votes[l] += (mask >> l) & 1;
    }
    for (const auto& sc : s.fm->specials) {
      const std::uint8_t mask = lex.letter_hint(sc.cp);
      for (std::size_t l = 0; l < max_languages; ++l) votes[l] += 2 * ((mask >> l) & 1);
    }
    // The most votes; on a tie the fallback if it is among the best, else the first.
    lang = fallback;
    int best = 0, tied = 0;
    for (std::size_t l = 0; l < lex.language_count(); ++l) {
      if (votes[l] > best) {
        best = votes[l];
        lang = static_cast<lang_id>(l);
        tied = 1;
      } else if (votes[l] == best && best > 0) {
        ++tied;
        if (l == fallback) lang = static_cast<lang_id>(l);
      }
    }
    prep.by_fallback = best == 0 || tied > 1;
    prep.detected = best > 0;
  }
  out.lang = lang;
  const auto bit = static_cast<std::uint8_t>(1u << lang);

  // 3. Terms: at each word the longest term of the language that matches.
  s.used.assign(ntok, 0);
  s.matches.clear();
  for (std::size_t i = 0; i < ntok;) {
    long best_end = -1;
    std::uint32_t best_term = 0;
    for (std::uint32_t k = s.id_off[i]; k < s.id_off[i + 1]; ++k) {
      auto [b, e] = lex.terms_starting(s.ids[k], lang);
      for (; b != e; ++b) {
        const term& t = lex.get_term(*b);
        const long end = match_words(s, t, 0, i);
        if (end > best_end || (end == best_end && end >= 0 && t.weight > lex.get_term(best_term).weight)) {
          best_end = end;
          best_term = *b;
        }
      }
    }
    if (best_end > static_cast<long>(i)) {
      s.matches.push_back({best_term, static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(best_end - 1)});
      for (long j = static_cast<long>(i); j < best_end; ++j) s.used[static_cast<std::size_t>(j)] = 1;
      i = static_cast<std::size_t>(best_end);
    } else {
      ++i;
    }
  }

  double& keep = prep.keep;  // product of (1 - c) over raising cues
  double& calm = prep.calm;  // product of (1 - r) over soothing cues
  keep = calm = 1.0;
  auto raise = [&](cue c) {
    c.contribution = c.value;
    keep *= 1.0 - std::min(1.0f, c.value);
    out.cues.push_back(c);
  };
  auto soothe = [&](cue c) {
    c.contribution = -c.value;
    calm *= 1.0 - std::min(1.0f, c.value);
    out.cues.push_back(c);
  };

  // 4. Each term with the words before it: negation and intensifiers.
  const int look = std::max(p_.negation_window, p_.intensifier_window);
  // Several words of one category say the same thing louder, not twice:
  // the k-th cue of a category counts same_category_decay^(k-1).
  std::array<int, category_count> seen{};
  auto damp = [&](category cat, float v) {
    const int k = seen[static_cast<std::size_t>(cat)]++;
    return static_cast<float>(v * std::pow(p_.same_category_decay, k));
  };
  // Sarcasm: a positive term that is the whole first clause ("Genial," "Great," "Super,") and a
  // complaint, repetition, bad feeling, insult or swearing in the next few words.
  auto sarcastic = [&](const match& m) {
    if (m.first != 0 || m.last + 1 >= ntok || !toks[m.last + 1].clause_start) return false;
    for (const match& n : s.matches) {
      if (n.first <= m.last) continue;
      if (n.first > m.last + sarcasm_window) break;
      const category k = lex.get_term(n.term).cat;
      if (k == category::complaint || k == category::repetition || k == category::negative_emotion ||
          k == category::insult || k == category::profanity)
        return true;
    }
    return false;
  };
  for (const match& m : s.matches) {
    const term& t = lex.get_term(m.term);
    float intensity = 1.0f;
    long negator = -1, intensifier = -1;
    int dist = 0;
    for (long j = static_cast<long>(m.first); j > 0 && dist < look;) {
      if (toks[static_cast<std::size_t>(j)].clause_start) break;
      --j;
      ++dist;
      const auto ju = static_cast<std::size_t>(j);
      if (s.used[ju]) break;
      bool breaker = false;
      for (std::uint32_t k = s.id_off[ju]; k < s.id_off[ju + 1]; ++k) {
        const word_info& w = lex.info(s.ids[k]);
        if (w.breaker & bit) breaker = true;
        if ((w.negator & bit) && dist <= p_.negation_window && negator < 0) negator = j;
        if (w.intensity[lang] > intensity && dist <= p_.intensifier_window) {
          intensity = w.intensity[lang];
          intensifier = j;
        }
      }
      if (breaker) break;
    }
    cue c;
    c.cat = t.cat;
    c.end = toks[m.last].oend;
    if (negator >= 0) {
      c.begin = toks[static_cast<std::size_t>(negator)].obegin;
      if (t.cat == category::positive && customer) {
        // "not happy", "no estoy contento", "nie jestem zadowolony"
        c.kind = cue_kind::lexicon;
        c.cat = category::complaint;
        c.value = damp(category::complaint, static_cast<float>(p_.negated_positive_weight));
        raise(c);
      } else {
        c.kind = cue_kind::negated;  // explained, adds nothing
        c.value = 0;
        out.cues.push_back(c);
      }
      continue;
    }
    if (t.cat == category::positive && customer && sarcastic(m)) {
      // "genial, otra semana esperando", "great, another week of waiting", "super, dzięki za nic":
      // praise that opens the message and is cut off by a complaint is not praise.
      c.kind = cue_kind::lexicon;
      c.cat = category::complaint;
      c.begin = toks[m.first].obegin;
      c.value = damp(category::complaint, static_cast<float>(p_.negated_positive_weight));
      raise(c);
      continue;
    }
    c.kind = cue_kind::lexicon;
    c.begin = toks[static_cast<std::size_t>(intensifier >= 0 ? intensifier : static_cast<long>(m.first))].obegin;
    c.value = damp(t.cat, std::min(1.0f, t.weight * intensity));
    if (t.cat == category::apology) out.apology = std::max(out.apology, double(c.value));
    if (t.cat == category::empathy) out.empathy = std::max(out.empathy, double(c.value));
    if (customer && (t.cat == category::apology || t.cat == category::empathy))
      c.value = std::min(c.value, static_cast<float>(p_.customer_apology_weight));
    if (is_soothing(t.cat)) soothe(c);
    else raise(c);
  }

  // 5. Surface: shouting, punctuation, emoji.
  const auto& fm = *s.fm;
  auto raise_measure = [&](cue_kind kind, double measure, double contribution) {
    push_measure(out, keep, kind, measure, contribution);
  };
  if (fm.caps_letters > 0 && fm.caps_upper >= static_cast<std::uint32_t>(p_.caps.min_letters)) {
    const double share = double(fm.caps_upper) / fm.caps_letters;
    if (share >= p_.caps.min_share)
      raise_measure(cue_kind::caps, std::round(share * 100) / 100, p_.caps.weight * share);
  }
  if (fm.exclamations > static_cast<std::uint32_t>(p_.exclamation.free))
    raise_measure(cue_kind::exclamation, fm.exclamations,
                  std::min(p_.exclamation.max, p_.exclamation.per_mark * (fm.exclamations - p_.exclamation.free)));
  if (fm.longest_q_run >= static_cast<std::uint32_t>(p_.question_run.min_run))
    raise_measure(cue_kind::question_run, fm.longest_q_run,
                  std::min(p_.question_run.max, p_.question_run.weight +
                                                    p_.question_run.per_extra * (fm.longest_q_run - p_.question_run.min_run)));
  int emoji_cues = 0;
  for (const auto& sc : fm.specials) {
    const symbol_entry* e = lex.symbol(sc.cp);
    if (!e || emoji_cues >= 3) continue;
    ++emoji_cues;
    cue c;
    c.kind = e->kind == symbol_kind::angry ? cue_kind::angry_emoji : cue_kind::friendly_emoji;
    c.value = e->weight;
    c.begin = sc.obegin;
    c.end = sc.oend;
    if (e->kind == symbol_kind::angry) raise(c);
    else soothe(c);
  }

  // 6a. The content words repetition compares (the conversation's part is in finish()).
  if (customer) {
    auto& n = prep.nwords;
    for (std::size_t i = 0; i < ntok && n < scorer_state::max_words; ++i) {
      const std::string_view w = fm.word(toks[i]);
      if (w.size() < 3) continue;
      bool skip = false;
      for (std::uint32_t k = s.id_off[i]; k < s.id_off[i + 1]; ++k) {
        const word_info& wi = lex.info(s.ids[k]);
        skip = skip || ((wi.function | wi.negator) & bit);
      }
      if (skip) continue;
      // Five letters stand in for a stem: "llegado"/"llegó", "arrived"/"arrive".
      const std::uint32_t h = fnv1a(w.substr(0, 5));
      if (std::find(prep.words.begin(), prep.words.begin() + n, h) == prep.words.begin() + n) prep.words[n++] = h;
    }
    std::sort(prep.words.begin(), prep.words.begin() + n);
  }

  // 8a. The learned model's probability (its share is blended in finish()).
  if (customer && model_ && lang < max_languages && model_slot_[lang] >= 0) {
    prep.model_slot = model_slot_[lang];
    prep.model_p = model_->probability(fm, static_cast<std::size_t>(prep.model_slot));
  }
}

void scorer::finish(prepared_text& prep, lang_id lang, std::int64_t ts, scorer_state* state,
                    score_result& out) const {
  out.lang = prep.partial.lang;
  out.apology = prep.partial.apology;
  out.empathy = prep.partial.empathy;
  out.model = -1;
  out.cues.swap(prep.partial.cues);
  // A detected language is the conversation's next fallback (not when asked in one).
  if (state && prep.detected && lang >= lex_->language_count()) state->last_lang = out.lang;
  double keep = prep.keep;
  const double calm = prep.calm;
  auto raise_measure = [&](cue_kind kind, double measure, double contribution) {
    push_measure(out, keep, kind, measure, contribution);
  };

  // 6. The conversation: the same complaint again, many messages at once.
  if (prep.customer && state) {
    const auto history = std::min(scorer_state::ring, static_cast<std::size_t>(std::max(0, p_.repetition.history)));
    double best_sim = 0;
    int in_burst = 1;
    const std::size_t have = std::min(state->count, scorer_state::ring);
    for (std::size_t back = 1; back <= have; ++back) {
      const std::int64_t past_ts = state->times[(state->next + scorer_state::ring - back) % scorer_state::ring];
      const double age_s = double(ts - past_ts) / 1000.0;
      if (age_s <= p_.burst.window_s) ++in_burst;
      if (back <= history && back <= state->words.size() && age_s <= p_.repetition.window_s &&
          prep.nwords >= p_.repetition.min_words) {
        const std::size_t slot = (state->next_words + history - back) % history;
        if (slot >= state->words.size()) continue;
        const auto& past = state->words[slot];
        if (past.n < p_.repetition.min_words) continue;
        std::size_t inter = 0, a = 0, b = 0;
        while (a < prep.nwords && b < past.n) {
          if (prep.words[a] == past.words[b]) { ++inter; ++a; ++b; }
          else if (prep.words[a] < past.words[b]) ++a;
          else ++b;
        }
        const double uni = double(prep.nwords + past.n - inter);
        best_sim = std::max(best_sim, uni > 0 ? inter / uni : 0.0);
      }
    }
    if (best_sim >= p_.repetition.min_similarity && p_.repetition.weight > 0)
      raise_measure(cue_kind::repeated, std::round(best_sim * 100) / 100, p_.repetition.weight * best_sim);
    if (in_burst >= p_.burst.min_messages && p_.burst.weight > 0)
      raise_measure(cue_kind::burst, in_burst,
                    std::min(p_.burst.max, p_.burst.weight + p_.burst.per_extra * (in_burst - p_.burst.min_messages)));
    if (state->times.size() < scorer_state::ring) state->times.push_back(ts);
    else state->times[state->next] = ts;
    state->next = (state->next + 1) % scorer_state::ring;
    state->count = std::min(state->count + 1, scorer_state::ring);
    if (history > 0) {
      scorer_state::past_words now;
      now.n = prep.nwords;
      now.words = prep.words;
      if (state->words.size() < history) state->words.push_back(now);
      else state->words[state->next_words] = now;
      state->next_words = (state->next_words + 1) % history;
    }
  }

  // 7. Noisy-or of the raising cues, then politeness takes off a bounded share.
  const double raised = 1.0 - keep;
  const double soothing = std::min(p_.max_soothing, 1.0 - calm);
  out.score = std::clamp(raised * (1.0 - soothing), 0.0, 1.0);
  out.cue_score = out.score;

  // 8. The learned model, beside the cues (text_model::blend, per language):
  // above its threshold it adds like one more raising cue; when it is sure the
  // message reads calm it takes a bounded share off the cues' score. Either
  // way one cue, "model <p>", carries the change, after politeness (the model
  // has read the polite words itself).
  if (prep.model_slot >= 0) {
    const auto slot = static_cast<std::size_t>(prep.model_slot);
    const double p = prep.model_p;
    out.model = p;
    const double combined = model_->blend(out.score, p, slot);
    if (combined != out.score) {
      cue c;
      c.kind = cue_kind::model;
      c.value = static_cast<float>(std::round(p * 100) / 100);
      c.contribution = static_cast<float>(combined - out.score);
      out.cues.push_back(c);
      out.score = combined;
    }
  }
}

}  // namespace calma::anger

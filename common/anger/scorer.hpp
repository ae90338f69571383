#pragma once
// The cue scorer: one message in, a cue score in [0,1] and the cues that
// fired out. Pure: no clock (the message time is an argument), no I/O, and
// thread-safe (const, scratch buffers are per thread), so one scorer serves
// every conversation. What a conversation remembers between messages
// (earlier complaints, message times, its language) lives in scorer_state.

#include "common/anger/lexicon.hpp"
#include "common/anger/model.hpp"
#include "common/anger/params.hpp"
#include "common/anger/types.hpp"

#include <array>
#include <vector>
#include <cstdint>
#include <memory>
#include <string_view>

namespace calma::anger {

// Per conversation, customer side. Bounded: the times of the last `ring`
// messages (bursts) and the words of the last repetition.history (repetition).
struct scorer_state {
  static constexpr std::size_t ring = 16;  // also the bound of repetition.history
  static constexpr std::size_t max_words = 24;
  struct past_words {
    std::uint8_t n = 0;  // content-word hashes used
    std::array<std::uint32_t, max_words> words{};  // sorted
  };
  std::vector<std::int64_t> times;  // grows to `ring`, then used as a ring
  std::vector<past_words> words;    // grows to repetition.history, then used as a ring
  std::size_t count = 0;  // messages recorded (capped at ring)
  std::size_t next = 0;   // ring slot of `times` for the next one
  std::size_t next_words = 0;  // ring slot of `words` for the next one
  lang_id last_lang = no_lang;  // language of the last detected message
};

// The part of one message's analysis that reads the text alone (and the
// language it is read in): the words, the language's terms, negation,
// intensifiers, sarcasm, the surface (caps, marks, emoji), the content words
// that repetition compares and the learned model's probability. Everything
// but what the conversation adds: the language a tie falls back to,
// repetition and bursts. Made on any thread (the server makes it on the
// connection's thread, before the message's turn on the hub) and completed
// against the conversation by scorer::finish. A plain value.
struct prepared_text {
  bool customer = true;
  lang_id asked = no_lang;     // the language asked for; no_lang: detected
  lang_id fallback = no_lang;  // what a detection fell back to on a tie or without votes
  bool by_fallback = false;    // the detected language depends on that fallback
  bool detected = false;       // detected from the words: the conversation remembers it
  double keep = 1.0;           // product of (1 - c) over the raising cues so far
  double calm = 1.0;           // product of (1 - r) over the soothing cues
  int model_slot = -1;         // the model's language slot; -1: no model share
  double model_p = -1;         // the model's probability, when model_slot >= 0
  std::uint8_t nwords = 0;     // content words (five-letter stems, hashed, sorted): customer only
  std::array<std::uint32_t, scorer_state::max_words> words{};
  score_result partial;        // lang, the text's cues, apology, empathy; score not yet set
};

// Whether a customer message waits for an answer. One that only thanks or
// agrees ("Perfect, thanks!", "ok 👍") and asks nothing does not start the
// unanswered clock; everything else does. Read from the cues alone (the
// model's share does not change it).
bool awaits_answer(const score_result& r, std::string_view text) noexcept;

class scorer {
 public:
  // With a model, customer messages get the model's share as one more cue
  // ("model 0.62"), blended per language (text_model::share); without one the
  // score is the cues' alone.
  scorer(std::shared_ptr<const lexicon_set> lex, scorer_params p,
         std::shared_ptr<const text_model> model = nullptr);

  // Scores a customer message. `lang` is a language of the lexicon set, or
  // no_lang to detect it. With a state, repetition of an earlier complaint and
  // bursts of messages count too, and the message is recorded in it.
  void score(std::string_view text, lang_id lang, std::int64_t ts, scorer_state* state,
             score_result& out) const;
  score_result score(std::string_view text, lang_id lang = no_lang, std::int64_t ts = 0,
                     scorer_state* state = nullptr) const {
    score_result r;
    score(text, lang, ts, state, r);
    return r;
  }
  // A staff message: the same analysis, read for apology and empathy
  // (score_result::apology / ::empathy). Touches no conversation state.
  score_result score_staff(std::string_view text, lang_id lang = no_lang) const;

  // The two halves of score() / score_staff(): prepare() reads the text,
  // finish() adds the conversation (its state may be null: staff, or no
  // memory) and sets the score. prepare(text, lang, fallback_for(state), c)
  // then finish(p, lang, …) is exactly score() (c = true) or score_staff() (c = false).
  void prepare(std::string_view text, lang_id lang, lang_id fallback, bool customer, prepared_text& out) const;
  // The language a detection falls back to in a conversation with `state`.
  lang_id fallback_for(const scorer_state* state) const noexcept {
    return state && state->last_lang != no_lang ? state->last_lang : default_lang_;
  }
  // Whether `p` reads as prepare() would now for a message asked in `lang`
  // of a conversation with `state`: asked the same, or detected as the very
  // language asked (the same words then read the same), and a detection that
  // fell back fell back to what this conversation would.
  bool fits(const prepared_text& p, lang_id lang, const scorer_state* state, bool customer) const noexcept;
  // Completes `p` for a message asked in `lang` (its cues are moved into
  // `out`; `p` is spent).
  void finish(prepared_text& p, lang_id lang, std::int64_t ts, scorer_state* state, score_result& out) const;

  const lexicon_set& lexicon() const noexcept { return *lex_; }
  const scorer_params& params() const noexcept { return p_; }
  lang_id default_language() const noexcept { return default_lang_; }
  const text_model* model() const noexcept { return model_.get(); }

 private:
  void analyse(std::string_view text, lang_id lang, std::int64_t ts, scorer_state* state,
               bool customer, score_result& out) const;

  std::shared_ptr<const lexicon_set> lex_;
  scorer_params p_;
  lang_id default_lang_ = 0;
  std::shared_ptr<const text_model> model_;
  std::array<int, max_languages> model_slot_{};  // lexicon language -> model slot, -1 = none
};

}  // namespace calma::anger

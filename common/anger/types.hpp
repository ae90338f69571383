#pragma once
// Shared vocabulary of the anger scorer: languages, cue categories, cues and
// the result of scoring one message. Plain values, no behaviour.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace calma::anger {

// Index of a language inside a lexicon_set (0..max_languages-1).
using lang_id = std::uint8_t;
inline constexpr lang_id no_lang = 0xff;
inline constexpr std::size_t max_languages = 8;

// Lexicon categories. The names (category_name) are the keys used in
// config/lexicons/<lang>.json and the prefixes of the cue strings.
enum class category : std::uint8_t {
  insult,            // "idiots", "inútiles", "złodzieje"
  profanity,         // swearing not aimed at a person
  complaint,         // "doesn't work", "no ha llegado", "nie działa"
  negative_emotion,  // "furious", "harto", "wściekły"
  churn_threat,      // "never again", "nunca más", "nigdy więcej"
  legal_threat,      // lawyer, court, consumer office, chargeback
  review_threat,     // "1 star review", "reseña", "opinia"
  manager_request,   // "manager", "encargado", "kierownik"
  urgency,           // "asap", "urgente", "natychmiast"
  repetition,        // "third time", "otra vez", "znowu"
  politeness,        // "please", "por favor", "proszę" (lowers the score)
  positive,          // "great", "genial", "super" (lowers; negated: complaint)
  apology,           // staff: "sorry", "lo siento", "przepraszam"
  empathy,           // staff: "I understand", "entiendo", "rozumiem"
  count_
};
inline constexpr std::size_t category_count = static_cast<std::size_t>(category::count_);

std::string_view category_name(category c) noexcept;
// Returns category::count_ when the name is unknown.
category category_from_name(std::string_view name) noexcept;

// Categories that lower the score of a customer message instead of raising it.
constexpr bool is_soothing(category c) noexcept {
  return c == category::politeness || c == category::positive || c == category::apology ||
         c == category::empathy;
}

// What fired. Lexicon cues point at the words of the message by byte offsets,
// so a cue costs no allocation until someone wants to read it (describe()).
enum class cue_kind : std::uint8_t {
  lexicon,       // category + [begin,end) of the original text
  negated,       // a lexicon term cancelled by a negation; [begin,end)
  caps,          // value = share of upper-case letters
  exclamation,   // value = number of '!' (and '¡')
  question_run,  // value = longest run of '?'/'!' containing a '?'
  angry_emoji,   // value = count; [begin,end) = first one
  friendly_emoji,
  repeated,      // value = similarity with an earlier customer message
  burst,         // value = messages inside the burst window
  model,         // value = the learned model's probability of anger; contribution = its share
};

struct cue {
  cue_kind kind = cue_kind::lexicon;
  category cat = category::complaint;  // for lexicon / negated
  float value = 0;                     // contribution in [0,1] (lexicon) or measure
  float contribution = 0;              // what it added to (or removed from) the score
  std::uint32_t begin = 0, end = 0;    // byte range in the scored text
};

struct score_result {
  double score = 0;  // message score in [0,1]: the cues, with the model's share when one is loaded
  double cue_score = 0;  // the cues alone (equal to score without a model)
  double model = -1;     // the model's calibrated probability of anger; -1 when no model ran
  lang_id lang = no_lang;
  std::vector<cue> cues;
  // Strongest staff-side soothing signals found (apology, empathy) in [0,1];
  // used by the curve when the text is a staff message.
  double apology = 0;
  double empathy = 0;

  bool has(category c) const noexcept {
    for (const auto& q : cues)
      if (q.kind == cue_kind::lexicon && q.cat == c) return true;
    return false;
  }
};

// Human-readable cue: "caps 0.8", "churn_threat: nunca más", "negated: enfadado".
// `text` must be the text that was scored.
std::string describe(const cue& c, std::string_view text);
std::vector<std::string> describe_all(const score_result& r, std::string_view text);

}  // namespace calma::anger

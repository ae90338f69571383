#pragma once
// Complaint causes: what a shopper complains about (delivery, damaged goods,
// the wrong item, a refund, a payment, the service itself), found from the
// shopper's own words with per-language lexicons (config/causes/<lang>.json).
//
// Pure code: messages are folded with the anger engine's folding
// (anger::fold_message: case folding, accents stripped, ł -> l), so "ENVÍO",
// "envio" and "Envío" are the same word. The only file access is
// lexicon_set::load(), used once at start-up.
//
// A term is one or more words, folded like messages:
//   "no ha llegado"   the words in a row (within one sentence: . ! ? ; and
//                     line breaks end a phrase, commas do not)
//   "uszkodz*"        a word ending in '*' matches every word starting with
//                     it (uszkodzony, uszkodzona, uszkodzenie)
//   "no ~ ~ lleg*"    '~' matches zero or one word of any kind ("no llegó",
//                     "no me llegó", "no me ha llegado")
// An entry is a string, or {"term": "...", "weak": true}. A weak term (a
// generic word such as "paquete", "package", "paczka") gives its cause only
// if no other cause has a strong term in the same message: "el paquete llegó
// roto" is damaged, not delivery; "¿dónde está mi paquete?" is delivery.
//
// In a message, a match inside a longer match is dropped (the longer phrase
// is the more specific: "dirección incorrecta" is delivery, so its
// "incorrecta" does not also count as wrong_item), and the file's "ignore"
// phrases remove every match they overlap ("informacja zwrotna" is feedback,
// not a return; "gracias por la atención" is not about the service).

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace calma::causes {

// The order is the order in which causes are reported.
enum class cause { delivery, damaged, wrong_item, refund, payment, service, other };

inline constexpr std::size_t cause_count = 7;
inline constexpr std::array<cause, cause_count> all_causes = {
    cause::delivery, cause::damaged, cause::wrong_item, cause::refund,
    cause::payment,  cause::service, cause::other};

// "delivery", "damaged", "wrong_item", "refund", "payment", "service", "other".
std::string_view name(cause c) noexcept;
// The cause of one of those names (exact, lower case); nullopt otherwise.
std::optional<cause> cause_from(std::string_view name) noexcept;

// One piece of evidence: the lexicon term (as written in the file) of
// language `lang` that gave cause `c`, and the words of the message it
// matched (as the shopper wrote them).
struct hit {
  cause c;
  std::string term;
  std::string lang;
  std::string words;
};

struct result {
  std::vector<cause> causes;  // in enum order, each once; empty if nothing matched
  std::vector<hit> hits;      // in message order; one per (cause, term)
};

class lexicon_set {
 public:
  // The languages load() reads: <dir>/en.json, es.json, pl.json.
  static constexpr std::array<std::string_view, 3> default_languages = {"en", "es", "pl"};

  // Reads <dir>/<code>.json for each default language. A missing file,
  // invalid JSON or any problem in a file is an error (prefixed with the
  // file's path); returns nullopt if there is any.
  static std::optional<lexicon_set> load(const std::string& dir, std::vector<std::string>& errors);

  // From {"en": {file body}, "es": {...}, ...}: every problem is appended to
  // `errors` (prefixed with the language code); the set holds what was valid.
  static lexicon_set parse(const nlohmann::json& per_lang_map, std::vector<std::string>& errors);

  // The causes of one message. `lang` is a language code ("es", "es-MX" and
  // "ES" are the same); "" or a language the set does not have tries every
  // language of the set (a message may mix them).
  result classify(std::string_view text, std::string_view lang) const;

  std::vector<std::string> languages() const { return langs_; }
  // Terms of language `lang` for cause `c` (ignore phrases not counted).
  std::size_t term_count(std::string_view lang, cause c) const noexcept;
  // Every term of every language (ignore phrases not counted).
  std::size_t term_count() const noexcept;

 private:
  struct pattern_word {
    std::string text;  // folded
    bool prefix = false;
    bool gap = false;
  };
  struct term {
    std::vector<pattern_word> words;
    cause c = cause::other;
    bool weak = false;
    bool ignore = false;
    std::uint8_t lang = 0;
    std::string text;  // as written in the file
  };
  struct sv_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using word_index = std::unordered_map<std::string, std::vector<std::uint32_t>, sv_hash, std::equal_to<>>;

  void add_language(std::string_view code, const nlohmann::json& body, const std::string& source,
                    std::vector<std::string>& errors);
  // Parses one entry's text; on a problem appends it to `errors` and returns false.
  bool parse_term(std::string_view text, term& out, const std::string& where,
                  std::vector<std::string>& errors) const;
  void index_term(std::uint32_t i);
  // Languages (bit mask) `lang` selects.
  std::uint8_t mask_of(std::string_view lang) const noexcept;

  std::vector<std::string> langs_;
  std::vector<term> terms_;
  word_index exact_first_;  // first word (exact) -> terms
  word_index stem_first_;   // first word (a stem) -> terms
  std::vector<std::size_t> stem_lengths_;  // distinct lengths of first-word stems, ascending
  // A filter before each stem lookup: a bit per (length, first three bytes)
  // hash of every first-word stem. A clear bit: no stem of that length starts
  // so, and the word's prefix is not looked up (most are not).
  static std::uint32_t stem_key(std::string_view w, std::size_t len) noexcept;
  std::vector<std::uint64_t> stem_filter_ = std::vector<std::uint64_t>(1024);  // 65,536 bits
  std::unordered_map<std::string, std::uint32_t> canonical_;  // per-language canonical form -> term
};

// The same as set.classify(text, lang).
result classify(const lexicon_set& set, std::string_view text, std::string_view lang);

// "delivery: \"no ~ ~ lleg*\" (es) <- \"no me llegó\"", for logs and the console.
std::string explain(const hit& h);

// A conversation's causes, accumulated over the shopper's messages as they
// arrive. Each message is classified on its own (weak terms, containment and
// ignore phrases apply within the message); causes and hits are the union.
class tagger {
 public:
  explicit tagger(std::shared_ptr<const lexicon_set> lexicons);

  void add(std::string_view text, std::string_view lang);
  // The same with the message already classified (lexicon_set::classify with
  // these lexicons, on any thread).
  void add(result classified);
  // In enum order. `other` alone when messages were added and none gave a
  // cause; empty before the first message.
  std::vector<cause> causes() const;
  // Every (cause, term) that matched, first occurrence, in arrival order.
  const std::vector<hit>& hits() const noexcept;
  std::size_t messages() const noexcept { return messages_; }

 private:
  std::shared_ptr<const lexicon_set> lex_;
  std::size_t messages_ = 0;
  std::uint8_t found_ = 0;  // bit per cause
  std::vector<hit> hits_;
};

}  // namespace calma::causes

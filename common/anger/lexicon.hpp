#pragma once
// Lexicons compiled for matching: every language's weighted terms, negators,
// intensifiers and function words in one trie of folded words, so that a
// message is folded once and each word is looked up once for all languages.
//
// A term is one or more words. A word ending in '*' matches any word that
// starts with it (inflection: "enfad*" matches enfadado, enfadadísima); a
// lone "~" matches zero or one word of any kind ("no ~ llegado" matches
// "no ha llegado" and "no llegado"). Entries are folded like messages, so
// "nunca más" and "NUNCA MAS" are the same term.

#include "common/anger/types.hpp"

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace calma::anger {

struct term {
  std::vector<std::int32_t> words;  // word ids; gap_word for "~"
  category cat = category::complaint;
  float weight = 0;
  lang_id lang = 0;
  std::string text;  // as written in the lexicon, for tests and debugging
};
inline constexpr std::int32_t gap_word = -1;

// Per folded word: its roles in each language.
struct word_info {
  std::uint8_t negator = 0;   // language bit mask
  std::uint8_t breaker = 0;   // clause breakers: "but", "pero", "ale"
  std::uint8_t function = 0;  // common words used to detect the language
  std::uint8_t in_terms = 0;  // languages where the word is part of a term
  std::array<float, max_languages> intensity{};  // 0 = not an intensifier
};

enum class symbol_kind : std::uint8_t { angry, friendly };
struct symbol_entry {
  char32_t cp;
  symbol_kind kind;
  float weight;
};

class lexicon_set {
 public:
  // Adds a language from its parsed lexicon file. Every problem found is
  // appended to `errors` (prefixed with `source`); returns false if any.
  bool add_language(const nlohmann::json& j, std::vector<std::string>& errors,
                    std::string_view source = "lexicon");
  // Language-independent symbols (emoji), from lexicons/common.json.
  bool add_common(const nlohmann::json& j, std::vector<std::string>& errors,
                  std::string_view source = "common");

  std::size_t language_count() const noexcept { return langs_.size(); }
  // no_lang when the code is unknown.
  lang_id find(std::string_view code) const noexcept;
  std::string_view code(lang_id id) const noexcept;
  // Coaching text for an agent in language `id` at `stage` ("rising", "peak",
  // "cooling", "closed"); empty if the lexicon has none.
  std::string_view coaching(lang_id id, std::string_view stage) const noexcept;

  // --- matching interface used by the scorer ---

  // Appends to `out` the ids of the word patterns that match `word`
  // (exact words and prefixes). Returns how many were appended.
  std::size_t lookup(std::string_view word, std::vector<std::int32_t>& out) const;
  const word_info& info(std::int32_t word_id) const noexcept { return words_[static_cast<std::size_t>(word_id)]; }
  // Terms of language `lang` whose first word is `word_id`.
  std::pair<const std::uint32_t*, const std::uint32_t*> terms_starting(std::int32_t word_id,
                                                                       lang_id lang) const noexcept;
  const term& get_term(std::uint32_t i) const noexcept { return terms_[i]; }
  std::size_t term_count() const noexcept { return terms_.size(); }
  // Languages (bit mask) in which `cp` is a distinctive letter (ñ, ł ...).
  std::uint8_t letter_hint(char32_t cp) const noexcept;
  const symbol_entry* symbol(char32_t cp) const noexcept;

 private:
  struct language {
    std::string code;
    std::vector<std::pair<std::string, std::string>> coaching;
  };
  struct node {
    std::uint32_t first_edge = 0;
    std::uint32_t edge_count = 0;
    std::int32_t exact = -1;   // word id of the exact word ending here
    std::int32_t prefix = -1;  // word id of the prefix pattern ending here
  };
  struct edge {
    unsigned char byte;
    std::uint32_t child;
  };
  struct build_node {
    std::vector<std::pair<unsigned char, std::uint32_t>> edges;
    std::int32_t exact = -1, prefix = -1;
  };

  std::int32_t intern_word(std::string_view folded, bool prefix);
  // Parses a term's text into word ids; false if it has no word.
  bool parse_term(std::string_view text, std::vector<std::int32_t>& words);
  void freeze();

  std::vector<language> langs_;
  std::vector<build_node> build_;  // the trie while languages are added
  std::vector<node> nodes_;        // frozen trie
  std::vector<edge> edges_;
  std::array<std::uint32_t, 256> root_{};  // root children, 0 = none
  std::vector<word_info> words_;
  std::vector<term> terms_;
  // CSR index: (word id, lang) -> term indices
  std::vector<std::uint32_t> index_offsets_;
  std::vector<std::uint32_t> index_;
  std::vector<std::pair<char32_t, std::uint8_t>> letter_hints_;  // sorted
  std::vector<symbol_entry> symbols_;                             // sorted
};

// Reads <dir>/common.json (optional) and <dir>/<code>.json for each code.
// A missing or malformed file is an error. This is the only part of the anger
// library that touches the file system; it is used at start-up.
std::optional<lexicon_set> load_lexicons(const std::filesystem::path& dir,
                                         const std::vector<std::string>& languages,
                                         std::vector<std::string>& errors);

}  // namespace calma::anger

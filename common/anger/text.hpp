#pragma once
// One pass over a UTF-8 message: case folding, accent stripping (utf8proc; ł
// mapped by hand since it has no decomposition), tokenisation into words, and
// the surface measures the scorer needs (upper-case share, '!'/'?' runs,
// symbols such as emoji). The result is reused between calls so that scoring
// a message allocates nothing once the buffers have grown.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace calma::anger {

struct token {
  std::uint32_t fbegin = 0;  // offset of the folded word in folded_message::folded
  std::uint32_t flen = 0;
  std::uint32_t obegin = 0;  // byte range of the word in the original text
  std::uint32_t oend = 0;
  std::uint16_t letters = 0;  // letters in the word
  std::uint16_t upper = 0;    // upper-case letters in the word
  bool has_digit = false;
  bool quoted = false;        // inside "..." / «...» / „...”
  bool clause_start = false;  // a clause boundary (, . ; : ! ? …) precedes it
};

// A non-ASCII letter or a symbol (emoji, dingbat) with its position: used for
// language hints (ą, ñ ...) and emoji cues.
struct special_char {
  char32_t cp = 0;
  std::uint32_t obegin = 0, oend = 0;
};

struct folded_message {
  std::string folded;
  std::vector<token> tokens;
  std::vector<special_char> specials;
  std::uint32_t exclamations = 0;   // '!' and '¡'
  std::uint32_t longest_q_run = 0;  // longest run of ?/! that contains a '?'
  std::uint32_t caps_letters = 0;   // letters in words counted for the caps share
  std::uint32_t caps_upper = 0;

  std::string_view word(const token& t) const noexcept {
    return std::string_view(folded).substr(t.fbegin, t.flen);
  }
  void clear() noexcept;
};

// Fills `out` (cleared first). Invalid UTF-8 bytes act as separators.
// Caps counts only words of two letters or more, without digits and outside
// quotes, so order numbers ("AB1234") and quoted codes do not count as shouting.
void fold_message(std::string_view text, folded_message& out);

// The same, kept per thread: the fold of the last text folded here, given
// again while the text is the same. The scorer and the cause tagger read
// each message one after the other on one thread; this folds it once. The
// reference is valid until this thread's next call with another text.
const folded_message& fold_message_reused(std::string_view text);

// Folds a lexicon entry: the folded words joined by single spaces.
std::string fold_phrase(std::string_view text);

// Decodes one UTF-8 code point at `pos`; returns its length, or 0 if invalid.
std::size_t decode_utf8(std::string_view s, std::size_t pos, char32_t& cp) noexcept;

}  // namespace calma::anger

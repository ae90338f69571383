#include "common/anger/text.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace calma::anger {
namespace {

enum class char_class : std::uint8_t {
  separator,   // space, most symbols: ends a word
  boundary,    // , . ; : … ( ) and similar: ends a word and a clause
  letter,
  digit,
  mark,        // combining mark: stripped, does not end a word
  apostrophe,  // inside a word it is dropped ("don't" -> "dont")
  quote,       // toggles the quoted state
  exclaim,     // ! ¡
  question,    // ? ¿
  symbol,      // emoji and other pictographs: recorded as special chars
};

// Everything the fold needs about one code point, computed once with utf8proc.
struct cp_info {
  char folded[7] = {};
  std::uint8_t len = 0;
  char_class cls = char_class::separator;
  bool upper = false;
};

constexpr char32_t table_size = 0x3000;  // Latin, Greek, Cyrillic, punctuation

std::size_t encode_utf8(char32_t cp, char* out) {
  if (cp < 0x80) { out[0] = static_cast<char>(cp); return 1; }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

// Letters that have no canonical decomposition but read as a base letter with a
// stroke; utf8proc leaves them alone, users type them both ways.
char32_t stroke_letter(char32_t cp) {
  switch (cp) {
    case 0x0141: case 0x0142: return U'l';  // Ł ł
    case 0x0110: case 0x0111: return U'd';  // Đ đ
    case 0x00D8: case 0x00F8: return U'o';  // Ø ø
    case 0x0126: case 0x0127: return U'h';  // Ħ ħ
    default: return 0;
  }
}

cp_info compute_info(char32_t cp) {
  cp_info info;
  const utf8proc_property_t* prop = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  const auto cat = static_cast<utf8proc_category_t>(prop->category);
  switch (cp) {
    case U'\'': case 0x2019: case 0x02BC: case 0x2018: case 0x0060: case 0x00B4:
      info.cls = char_class::apostrophe; return info;
    case U'"': case 0x201C: case 0x201D: case 0x201E: case 0x00AB: case 0x00BB:
      info.cls = char_class::quote; return info;
    case U'!': case 0x00A1: info.cls = char_class::exclaim; return info;
    case U'?': case 0x00BF: info.cls = char_class::question; return info;
    case U',': case U'.': case U';': case U':': case U'(': case U')': case 0x2026:
    case 0x2014: case 0x2013: case U'\n': case U'\r': case U'[': case U']':
      info.cls = char_class::boundary; return info;
    default: break;
  }
  switch (cat) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
      info.cls = char_class::letter;
      info.upper = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT;
      break;
    case UTF8PROC_CATEGORY_ND: info.cls = char_class::digit; break;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
      info.cls = char_class::mark; return info;
    case UTF8PROC_CATEGORY_SO: info.cls = char_class::symbol; return info;
    default: info.cls = char_class::separator; return info;
  }
  if (char32_t s = stroke_letter(cp)) {
    info.folded[0] = static_cast<char>(s);
    info.len = 1;
    return info;
  }
  // Fold: case fold, compatibility decomposition, marks stripped.
  utf8proc_int32_t buf[8];
  int last_bound = 0;
  const auto n = utf8proc_decompose_char(
      static_cast<utf8proc_int32_t>(cp), buf, 8,
      static_cast<utf8proc_option_t>(UTF8PROC_CASEFOLD | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT |
                                     UTF8PROC_STRIPMARK),
      &last_bound);
  if (n <= 0 || n > 8) {
    info.len = static_cast<std::uint8_t>(encode_utf8(cp, info.folded));
    return info;
  }
  std::size_t len = 0;
  for (int i = 0; i < n; ++i) {
    char tmp[4];
    char32_t c = static_cast<char32_t>(buf[i]);
    if (char32_t s = stroke_letter(c)) c = s;
    const std::size_t l = encode_utf8(c, tmp);
    if (len + l > sizeof info.folded) break;
    std::memcpy(info.folded + len, tmp, l);
    len += l;
  }
  info.len = static_cast<std::uint8_t>(len);
  return info;
}

const std::array<cp_info, table_size>& info_table() {
  static const auto table = [] {
    auto t = std::make_unique<std::array<cp_info, table_size>>();
    for (char32_t cp = 0; cp < table_size; ++cp) (*t)[cp] = compute_info(cp);
    return t;
  }();
  return *table;
}

}  // namespace

std::size_t decode_utf8(std::string_view s, std::size_t pos, char32_t& cp) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  const std::size_t avail = s.size() - pos;
  const unsigned char b0 = p[0];
  if (b0 < 0x80) { cp = b0; return 1; }
  auto cont = [&](std::size_t i) { return i < avail && (p[i] & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 < 0xE0) {
    if (!cont(1)) return 0;
    cp = (char32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
    return 2;
  }
  if (b0 >= 0xE0 && b0 < 0xF0) {
    if (!cont(1) || !cont(2)) return 0;
    cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    if (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000)) return 0;
    return 3;
  }
  if (b0 >= 0xF0 && b0 < 0xF5) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    cp = (char32_t(b0 & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) |
         (char32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    if (cp < 0x10000 || cp > 0x10FFFF) return 0;
    return 4;
  }
  return 0;
}

void folded_message::clear() noexcept {
  folded.clear();
  tokens.clear();
  specials.clear();
  exclamations = 0;
  longest_q_run = 0;
  caps_letters = 0;
  caps_upper = 0;
}

const folded_message& fold_message_reused(std::string_view text) {
  struct cache {
    std::string text;
    folded_message fm;
    bool filled = false;
  };
  thread_local cache c;
  if (!c.filled || c.text != text) {
    fold_message(text, c.fm);
    c.text.assign(text);
    c.filled = true;
    // A huge message does not keep its buffers for the rest of the thread's life.
    if (c.text.capacity() > 64 * 1024) c.text.shrink_to_fit();
  }
  return c.fm;
}

void fold_message(std::string_view text, folded_message& out) {
  out.clear();
  const auto& table = info_table();
  bool in_word = false;
  bool quoted = false;
  bool pending_boundary = true;  // the first word starts a clause
  token cur;
  std::uint32_t run = 0;  // current run of ?/!
  bool run_has_q = false;

  auto end_word = [&](std::size_t pos) {
    if (!in_word) return;
    in_word = false;
    cur.oend = static_cast<std::uint32_t>(pos);
    cur.flen = static_cast<std::uint32_t>(out.folded.size()) - cur.fbegin;
    if (cur.letters >= 2 && !cur.has_digit && !cur.quoted) {
      out.caps_letters += cur.letters;
      out.caps_upper += cur.upper;
    }
    out.tokens.push_back(cur);
  };
  auto end_run = [&] {
    if (run_has_q && run > out.longest_q_run) out.longest_q_run = run;
    run = 0;
    run_has_q = false;
  };

  std::size_t i = 0;
  while (i < text.size()) {
    char32_t cp;
    const auto b0 = static_cast<unsigned char>(text[i]);
    std::size_t n = 1;
    if (b0 < 0x80) cp = b0;  // most of every message: no call
    else n = decode_utf8(text, i, cp);
    if (n == 0) {  // invalid byte: acts as a separator
      end_word(i);
      end_run();
      ++i;
      continue;
    }
    cp_info big;
    const cp_info* info;
    if (cp < table_size) {
      info = &table[cp];
    } else {
      big = compute_info(cp);
      info = &big;
    }
    switch (info->cls) {
      case char_class::letter:
      case char_class::digit:
        end_run();
        if (!in_word) {
          in_word = true;
          cur = token{};
          cur.fbegin = static_cast<std::uint32_t>(out.folded.size());
          cur.obegin = static_cast<std::uint32_t>(i);
          cur.quoted = quoted;
          cur.clause_start = pending_boundary;
          pending_boundary = false;
        }
        if (info->len == 1) out.folded.push_back(info->folded[0]);
        else out.folded.append(info->folded, info->len);
        if (info->cls == char_class::digit) {
          cur.has_digit = true;
        } else {
          if (cur.letters < 0xffff) ++cur.letters;
          if (info->upper && cur.upper < 0xffff) ++cur.upper;
          if (cp >= 0x80) out.specials.push_back({cp, static_cast<std::uint32_t>(i),
                                                  static_cast<std::uint32_t>(i + n)});
        }
        // The rest of an ASCII run of letters and digits: measured first, then
        // folded in one append (an ASCII letter or digit folds to one byte),
        // without the decode and the switch per byte (most of every message).
        {
          const std::size_t from = i + n;
          std::size_t to = from;
          std::uint32_t letters = 0, upper = 0;
          while (to < text.size()) {
            const auto b = static_cast<unsigned char>(text[to]);
            if (b >= 0x80) break;
            const cp_info& in = table[b];
            if (in.cls == char_class::letter) {
              ++letters;
              upper += in.upper ? 1 : 0;
            } else if (in.cls == char_class::digit) {
              cur.has_digit = true;
            } else {
              break;
            }
            ++to;
          }
          if (to > from) {
            const std::size_t at = out.folded.size();
            out.folded.resize(at + (to - from));
            char* w = out.folded.data() + at;
            for (std::size_t k = from; k < to; ++k) *w++ = table[static_cast<unsigned char>(text[k])].folded[0];
            cur.letters = static_cast<std::uint16_t>(std::min<std::uint32_t>(0xffff, cur.letters + letters));
            cur.upper = static_cast<std::uint16_t>(std::min<std::uint32_t>(0xffff, cur.upper + upper));
            i = to - 1;
            n = 1;
          }
        }
        break;
      case char_class::mark:
      case char_class::apostrophe:
        if (!in_word) end_run();
        break;  // dropped inside a word, nothing outside
      case char_class::quote:
        end_word(i);
        end_run();
        quoted = !quoted;
        break;
      case char_class::exclaim:
      case char_class::question:
        end_word(i);
        if (info->cls == char_class::exclaim) ++out.exclamations;
        else run_has_q = true;
        ++run;
        pending_boundary = true;
        break;
      case char_class::boundary:
        end_word(i);
        end_run();
        pending_boundary = true;
        break;
      case char_class::symbol:
        end_word(i);
        end_run();
        out.specials.push_back(
            {cp, static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i + n)});
        break;
      case char_class::separator:
        if ((cp == U'*' || cp == U'_') && in_word) {  // censored: "f***ing" -> "f___ing"
          out.folded.push_back('_');
          break;
        }
        end_word(i);
        end_run();
        break;
    }
    i += n;
  }
  end_word(text.size());
  end_run();
}

std::string fold_phrase(std::string_view text) {
  folded_message m;
  fold_message(text, m);
  std::string out;
  for (const auto& t : m.tokens) {
    if (!out.empty()) out += ' ';
    out += m.word(t);
  }
  return out;
}

}  // namespace calma::anger

#include "common/causes/causes.hpp"

#include "common/anger/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

namespace calma::causes {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, cause_count> cause_names = {
    "delivery", "damaged", "wrong_item", "refund", "payment", "service", "other"};

constexpr std::size_t max_languages = 8;   // a bit each in a mask
constexpr std::size_t max_term_words = 8;  // words and gaps
constexpr std::size_t min_stem_bytes = 3;  // "ab*" would match too much

std::uint8_t bit_of(cause c) { return static_cast<std::uint8_t>(1u << static_cast<unsigned>(c)); }

// "es-MX", "ES", "es_AR " -> "es".
std::string base_language(std::string_view lang) {
  std::string out;
  for (char ch : lang) {
    if (ch == '-' || ch == '_') break;
    if (ch == ' ' || ch == '\t') continue;
    out += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  }
  return out;
}

bool valid_code(std::string_view code) {
  if (code.size() < 2 || code.size() > 8) return false;
  return std::all_of(code.begin(), code.end(), [](char ch) { return ch >= 'a' && ch <= 'z'; });
}

// Does a sentence end between two words? The bytes between them hold one of
// . ! ? ; … ¡ ¿ or a line break. Commas do not end a phrase ("nie to, co
// zamawiałem").
bool sentence_break(std::string_view between) {
  for (std::size_t i = 0; i < between.size(); ++i) {
    const char ch = between[i];
    if (ch == '.' || ch == '!' || ch == '?' || ch == ';' || ch == '\n' || ch == '\r') return true;
    if (between.substr(i).starts_with("\xE2\x80\xA6") || between.substr(i).starts_with("\xC2\xA1") ||
        between.substr(i).starts_with("\xC2\xBF"))
      return true;
  }
  return false;
}

struct match {
  std::uint32_t term;
  std::uint32_t begin, end;  // token range [begin, end)
};

}  // namespace

std::string_view name(cause c) noexcept {
  const auto i = static_cast<std::size_t>(c);
  return i < cause_names.size() ? cause_names[i] : std::string_view("other");
}

std::optional<cause> cause_from(std::string_view n) noexcept {
  for (std::size_t i = 0; i < cause_names.size(); ++i)
    if (cause_names[i] == n) return static_cast<cause>(i);
  return std::nullopt;
}

// --- building ---------------------------------------------------------------

bool lexicon_set::parse_term(std::string_view text, term& out, const std::string& where,
                             std::vector<std::string>& errors) const {
  out.words.clear();
  auto fail = [&](std::string_view why) {
    errors.push_back(where + ": \"" + std::string(text) + "\" " + std::string(why));
    return false;
  };
  std::size_t pieces = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\t') ++j;
    std::string_view piece = text.substr(i, j - i);
    i = j;
    if (piece.empty()) continue;
    ++pieces;
    if (piece == "~") {
      out.words.push_back({"", false, true});
      continue;
    }
    bool prefix = false;
    if (piece.back() == '*') {
      prefix = true;
      piece.remove_suffix(1);
      if (piece.empty()) return fail("has a '*' with no stem before it");
    }
    if (piece.find('*') != std::string_view::npos) return fail("has a '*' that does not end a word");
    if (piece.find('~') != std::string_view::npos) return fail("has a '~' that is not a word of its own");
    anger::folded_message m;
    anger::fold_message(piece, m);
    if (m.tokens.empty()) return fail("has a piece with no letters: \"" + std::string(piece) + "\"");
    // A piece may fold into several words ("e-mail"): only the last keeps '*'.
    for (std::size_t k = 0; k < m.tokens.size(); ++k) {
      const bool last = k + 1 == m.tokens.size();
      std::string w(m.word(m.tokens[k]));
      if (prefix && last && w.size() < min_stem_bytes)
        return fail("has a stem shorter than " + std::to_string(min_stem_bytes) + " letters");
      out.words.push_back({std::move(w), prefix && last, false});
    }
  }
  if (out.words.empty()) return fail("has no word");
  if (out.words.front().gap || out.words.back().gap) return fail("starts or ends with '~'");
  if (pieces > max_term_words || out.words.size() > max_term_words)
    return fail("has more than " + std::to_string(max_term_words) + " words");
  return true;
}

std::uint32_t lexicon_set::stem_key(std::string_view w, std::size_t len) noexcept {
  std::uint32_t h = static_cast<std::uint32_t>(len) * 0x9E3779B1u;
  for (std::size_t i = 0; i < 3 && i < len; ++i) h = (h ^ static_cast<unsigned char>(w[i])) * 16777619u;
  return (h ^ (h >> 16)) & 0xFFFFu;
}

void lexicon_set::index_term(std::uint32_t i) {
  const pattern_word& first = terms_[i].words.front();
  if (first.prefix) {
    stem_first_[first.text].push_back(i);
    const auto k = stem_key(first.text, first.text.size());
    stem_filter_[k >> 6] |= std::uint64_t{1} << (k & 63);
    if (std::find(stem_lengths_.begin(), stem_lengths_.end(), first.text.size()) == stem_lengths_.end()) {
      stem_lengths_.push_back(first.text.size());
      std::sort(stem_lengths_.begin(), stem_lengths_.end());
    }
  } else {
    exact_first_[first.text].push_back(i);
  }
}

void lexicon_set::add_language(std::string_view code, const json& body, const std::string& source,
                               std::vector<std::string>& errors) {
  auto at = [&](const std::string& what) { return source + ": " + what; };
  if (!valid_code(code)) {
    errors.push_back(at("\"" + std::string(code) + "\" is not a language code (2-8 letters a-z)"));
    return;
  }
  if (std::find(langs_.begin(), langs_.end(), code) != langs_.end()) {
    errors.push_back(at("language \"" + std::string(code) + "\" given twice"));
    return;
  }
  if (langs_.size() >= max_languages) {
    errors.push_back(at("more than " + std::to_string(max_languages) + " languages"));
    return;
  }
  if (!body.is_object()) {
    errors.push_back(at("must be a JSON object"));
    return;
  }
  for (const auto& [key, value] : body.items()) {
    if (key == "lang" || key == "causes" || key == "ignore" || key.starts_with("_")) continue;
    if (key == "comment") {
      if (!value.is_string()) errors.push_back(at("\"comment\" must be a string"));
      continue;
    }
    errors.push_back(at("unknown key \"" + key + "\""));
  }
  const auto lang_it = body.find("lang");
  if (lang_it == body.end() || !lang_it->is_string()) {
    errors.push_back(at("\"lang\" must be a string (\"" + std::string(code) + "\")"));
    return;
  }
  if (lang_it->get<std::string>() != code) {
    errors.push_back(at("\"lang\" is \"" + lang_it->get<std::string>() + "\", expected \"" +
                        std::string(code) + "\""));
    return;
  }
  const auto lang = static_cast<std::uint8_t>(langs_.size());
  langs_.emplace_back(code);

  // Adds one entry; `c` is ignored for ignore phrases.
  auto add = [&](const json& entry, cause c, bool ignore, const std::string& where) {
    term t;
    t.c = c;
    t.ignore = ignore;
    t.lang = lang;
    if (entry.is_string()) {
      t.text = entry.get<std::string>();
    } else if (entry.is_object() && !ignore) {
      for (const auto& [k, v] : entry.items())
        if (k != "term" && k != "weak") errors.push_back(where + ": unknown key \"" + k + "\" (term, weak)");
      const auto term_it = entry.find("term");
      if (term_it == entry.end() || !term_it->is_string()) {
        errors.push_back(where + ": \"term\" must be a string");
        return;
      }
      t.text = term_it->get<std::string>();
      if (const auto weak_it = entry.find("weak"); weak_it != entry.end()) {
        if (!weak_it->is_boolean()) {
          errors.push_back(where + ": \"weak\" must be true or false");
          return;
        }
        t.weak = weak_it->get<bool>();
      }
    } else {
      errors.push_back(where + (ignore ? ": must be a string" : ": must be a string or {\"term\", \"weak\"}"));
      return;
    }
    if (!parse_term(t.text, t, where, errors)) return;
    std::string canon = std::to_string(lang) + ':';
    for (const auto& w : t.words) canon += (w.gap ? std::string("~") : w.text + (w.prefix ? "*" : "")) + ' ';
    if (const auto dup = canonical_.find(canon); dup != canonical_.end()) {
      const term& other = terms_[dup->second];
      errors.push_back(where + ": \"" + t.text + "\" is the same term as \"" + other.text + "\" (" +
                       (other.ignore ? std::string("ignore") : "causes." + std::string(name(other.c))) + ")");
      return;
    }
    const auto index = static_cast<std::uint32_t>(terms_.size());
    canonical_.emplace(std::move(canon), index);
    terms_.push_back(std::move(t));
    index_term(index);
  };

  const auto causes_it = body.find("causes");
  if (causes_it == body.end() || !causes_it->is_object()) {
    errors.push_back(at("\"causes\" must be an object cause -> [terms]"));
  } else {
    for (const auto& [cname, list] : causes_it->items()) {
      const auto c = cause_from(cname);
      if (!c) {
        errors.push_back(at("unknown cause \"" + cname +
                            "\" (delivery, damaged, wrong_item, refund, payment, service)"));
        continue;
      }
      if (*c == cause::other) {
        errors.push_back(at("causes.other takes no terms: it is what a conversation gets when no term matched"));
        continue;
      }
      if (!list.is_array()) {
        errors.push_back(at("causes." + cname + " must be an array of terms"));
        continue;
      }
      for (std::size_t k = 0; k < list.size(); ++k)
        add(list[k], *c, false, at("causes." + cname + "[" + std::to_string(k) + "]"));
    }
  }
  if (const auto ignore_it = body.find("ignore"); ignore_it != body.end()) {
    if (!ignore_it->is_array()) {
      errors.push_back(at("\"ignore\" must be an array of phrases"));
    } else {
      for (std::size_t k = 0; k < ignore_it->size(); ++k)
        add((*ignore_it)[k], cause::other, true, at("ignore[" + std::to_string(k) + "]"));
    }
  }
}

lexicon_set lexicon_set::parse(const json& per_lang_map, std::vector<std::string>& errors) {
  lexicon_set set;
  if (!per_lang_map.is_object()) {
    errors.push_back("causes: must be an object language -> lexicon");
    return set;
  }
  if (per_lang_map.empty()) errors.push_back("causes: no language");
  for (const auto& [code, body] : per_lang_map.items()) set.add_language(code, body, code, errors);
  return set;
}

std::optional<lexicon_set> lexicon_set::load(const std::string& dir, std::vector<std::string>& errors) {
  const std::size_t before = errors.size();
  lexicon_set set;
  for (const auto code : default_languages) {
    std::string path = dir;
    if (!path.empty() && path.back() != '/') path += '/';
    path += std::string(code) + ".json";
    std::ifstream in(path);
    if (!in) {
      errors.push_back(path + ": cannot open");
      continue;
    }
    json j;
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      errors.push_back(path + ": invalid JSON: " + e.what());
      continue;
    }
    set.add_language(code, j, path, errors);
  }
  if (errors.size() != before) return std::nullopt;
  return set;
}

std::size_t lexicon_set::term_count(std::string_view lang, cause c) const noexcept {
  const auto it = std::find(langs_.begin(), langs_.end(), lang);
  if (it == langs_.end()) return 0;
  const auto id = static_cast<std::uint8_t>(it - langs_.begin());
  return static_cast<std::size_t>(std::count_if(
      terms_.begin(), terms_.end(), [&](const term& t) { return !t.ignore && t.lang == id && t.c == c; }));
}

std::size_t lexicon_set::term_count() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(terms_.begin(), terms_.end(), [](const term& t) { return !t.ignore; }));
}

std::uint8_t lexicon_set::mask_of(std::string_view lang) const noexcept {
  const std::uint8_t all = static_cast<std::uint8_t>((1u << langs_.size()) - 1u);
  if (lang.empty()) return all;
  const std::string base = base_language(lang);
  const auto it = std::find(langs_.begin(), langs_.end(), base);
  if (it == langs_.end()) return all;
  return static_cast<std::uint8_t>(1u << (it - langs_.begin()));
}

// --- matching ---------------------------------------------------------------

result lexicon_set::classify(std::string_view text, std::string_view lang) const {
  result out;
  if (terms_.empty()) return out;
  const std::uint8_t mask = mask_of(lang);

  const anger::folded_message& m = anger::fold_message_reused(text);  // the scorer's fold of it, often
  const auto n = static_cast<std::uint32_t>(m.tokens.size());
  if (n == 0) return out;
  // Scratch kept per thread (the prereader classifies on every I/O thread):
  // no allocation a message once they have grown to the longest seen.
  thread_local std::vector<bool> breaks;
  thread_local std::vector<match> found, kept;
  found.clear();
  kept.clear();
  // breaks[i]: a sentence ends between word i-1 and word i.
  breaks.assign(n, false);
  for (std::uint32_t i = 1; i < n; ++i)
    breaks[i] = sentence_break(text.substr(m.tokens[i - 1].oend, m.tokens[i].obegin - m.tokens[i - 1].oend));

  auto word_matches = [&](const pattern_word& p, std::uint32_t pos) {
    const std::string_view w = m.word(m.tokens[pos]);
    return p.prefix ? w.starts_with(p.text) : w == p.text;
  };
  // End (exclusive) of a match of words[k..] starting at token `pos`, or -1.
  // A gap first tries to match nothing, so the shortest match wins.
  auto match_rest = [&](const auto& self, const term& t, std::size_t k, std::uint32_t pos) -> std::int64_t {
    if (k == t.words.size()) return pos;
    const pattern_word& p = t.words[k];
    if (p.gap) {
      if (const auto r = self(self, t, k + 1, pos); r >= 0) return r;
      if (pos < n && !breaks[pos]) return self(self, t, k + 1, pos + 1);
      return -1;
    }
    if (pos >= n || breaks[pos] || !word_matches(p, pos)) return -1;
    return self(self, t, k + 1, pos + 1);
  };

  auto try_terms = [&](const std::vector<std::uint32_t>& ids, std::uint32_t pos) {
    for (const std::uint32_t id : ids) {
      const term& t = terms_[id];
      if (!(mask & (1u << t.lang))) continue;
      const auto end = match_rest(match_rest, t, 1, pos + 1);
      if (end >= 0) found.push_back({id, pos, static_cast<std::uint32_t>(end)});
    }
  };
  for (std::uint32_t pos = 0; pos < n; ++pos) {
    const std::string_view w = m.word(m.tokens[pos]);
    if (const auto it = exact_first_.find(w); it != exact_first_.end()) try_terms(it->second, pos);
    for (const std::size_t len : stem_lengths_) {
      if (len > w.size()) break;
      if (const auto k = stem_key(w, len); !((stem_filter_[k >> 6] >> (k & 63)) & 1)) continue;
      if (const auto it = stem_first_.find(w.substr(0, len)); it != stem_first_.end()) try_terms(it->second, pos);
    }
  }
  if (found.empty()) return out;

  // Ignore phrases remove every match they overlap; a match inside a longer
  // one is dropped.
  for (const match& a : found) {
    if (terms_[a.term].ignore) continue;
    bool drop = false;
    for (const match& b : found) {
      const bool overlaps = b.begin < a.end && a.begin < b.end;
      if (terms_[b.term].ignore && overlaps) drop = true;
      if (!terms_[b.term].ignore && b.begin <= a.begin && a.end <= b.end &&
          b.end - b.begin > a.end - a.begin)
        drop = true;
      if (drop) break;
    }
    if (!drop) kept.push_back(a);
  }
  // Weak terms give their cause only when no other cause is strongly there.
  std::uint8_t strong = 0;
  for (const match& a : kept)
    if (!terms_[a.term].weak) strong |= bit_of(terms_[a.term].c);
  std::stable_sort(kept.begin(), kept.end(), [&](const match& a, const match& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    return terms_[a.term].c < terms_[b.term].c;
  });
  std::uint8_t causes = 0;
  for (const match& a : kept) {
    const term& t = terms_[a.term];
    if (t.weak && strong != 0 && !(strong & bit_of(t.c))) continue;
    const bool seen = std::any_of(out.hits.begin(), out.hits.end(),
                                  [&](const hit& h) { return h.c == t.c && h.term == t.text; });
    if (seen) continue;  // the same term twice, or in two languages
    causes |= bit_of(t.c);
    const auto ob = m.tokens[a.begin].obegin;
    const auto oe = m.tokens[a.end - 1].oend;
    out.hits.push_back({t.c, t.text, langs_[t.lang], std::string(text.substr(ob, oe - ob))});
  }
  for (const cause c : all_causes)
    if (causes & bit_of(c)) out.causes.push_back(c);
  return out;
}

result classify(const lexicon_set& set, std::string_view text, std::string_view lang) {
  return set.classify(text, lang);
}

std::string explain(const hit& h) {
  return std::string(name(h.c)) + ": \"" + h.term + "\" (" + h.lang + ") <- \"" + h.words + "\"";
}

// --- tagger -----------------------------------------------------------------

tagger::tagger(std::shared_ptr<const lexicon_set> lexicons) : lex_(std::move(lexicons)) {}

void tagger::add(std::string_view text, std::string_view lang) {
  if (!lex_) {
    ++messages_;
    return;
  }
  add(lex_->classify(text, lang));
}

void tagger::add(result r) {
  ++messages_;
  for (const cause c : r.causes) found_ |= bit_of(c);
  for (hit& h : r.hits) {
    const bool seen = std::any_of(hits_.begin(), hits_.end(),
                                  [&](const hit& o) { return o.c == h.c && o.term == h.term; });
    if (!seen) hits_.push_back(std::move(h));
  }
}

std::vector<cause> tagger::causes() const {
  std::vector<cause> out;
  for (const cause c : all_causes)
    if (found_ & bit_of(c)) out.push_back(c);
  if (out.empty() && messages_ > 0) out.push_back(cause::other);
  return out;
}

const std::vector<hit>& tagger::hits() const noexcept { return hits_; }

}  // namespace calma::causes

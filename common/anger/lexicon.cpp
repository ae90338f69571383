#include "common/anger/lexicon.hpp"

#include "common/anger/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

namespace calma::anger {

using nlohmann::json;

namespace {

std::string at(std::string_view source, std::string_view path) {
  std::string s(source);
  s += ": ";
  s += path;
  return s;
}

}  // namespace

std::int32_t lexicon_set::intern_word(std::string_view folded, bool prefix) {
  if (build_.empty()) build_.emplace_back();
  std::uint32_t n = 0;
  for (unsigned char b : folded) {
    auto& edges = build_[n].edges;
    auto it = std::lower_bound(edges.begin(), edges.end(), b,
                               [](const auto& e, unsigned char v) { return e.first < v; });
    if (it != edges.end() && it->first == b) {
      n = it->second;
    } else {
      const auto child = static_cast<std::uint32_t>(build_.size());
      edges.insert(it, {b, child});
      build_.emplace_back();
      n = child;
    }
  }
  std::int32_t& slot = prefix ? build_[n].prefix : build_[n].exact;
  if (slot < 0) {
    slot = static_cast<std::int32_t>(words_.size());
    words_.emplace_back();
  }
  return slot;
}

bool lexicon_set::parse_term(std::string_view text, std::vector<std::int32_t>& words) {
  words.clear();
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    std::size_t j = i;
    while (j < text.size() && text[j] != ' ') ++j;
    std::string_view piece = text.substr(i, j - i);
    i = j;
    if (piece.empty()) continue;
    if (piece == "~") {
      words.push_back(gap_word);
      continue;
    }
    bool prefix = false;
    if (piece.size() > 1 && piece.back() == '*') {
      prefix = true;
      piece.remove_suffix(1);
    }
    // A piece may fold into several words ("e-mail"): only the last keeps '*'.
    folded_message m;
    fold_message(piece, m);
    for (std::size_t k = 0; k < m.tokens.size(); ++k)
      words.push_back(intern_word(m.word(m.tokens[k]), prefix && k + 1 == m.tokens.size()));
  }
  // A term must start and end with a real word.
  return !words.empty() && words.front() != gap_word && words.back() != gap_word;
}

bool lexicon_set::add_language(const json& j, std::vector<std::string>& errors,
                               std::string_view source) {
  const std::size_t errors_before = errors.size();
  if (!j.is_object()) {
    errors.push_back(at(source, "must be a JSON object"));
    return false;
  }
  auto code_it = j.find("language");
  if (code_it == j.end() || !code_it->is_string() || code_it->get<std::string>().empty()) {
    errors.push_back(at(source, "\"language\" must be a non-empty string"));
    return false;
  }
  const std::string code = code_it->get<std::string>();
  if (find(code) != no_lang) {
    errors.push_back(at(source, "language \"" + code + "\" is loaded twice"));
    return false;
  }
  if (langs_.size() >= max_languages) {
    errors.push_back(at(source, "too many languages (at most 8)"));
    return false;
  }
  const auto lang = static_cast<lang_id>(langs_.size());
  const auto bit = static_cast<std::uint8_t>(1u << lang);
  language L;
  L.code = code;

  static const std::vector<std::string> known_keys = {
      "language", "name", "distinctive_letters", "function_words", "negators",
      "clause_breakers", "intensifiers", "categories", "coaching", "comment"};
  for (const auto& [k, v] : j.items())
    if (std::find(known_keys.begin(), known_keys.end(), k) == known_keys.end())
      errors.push_back(at(source, "unknown key \"" + k + "\""));

  auto word_list = [&](const char* key, auto apply) {
    auto it = j.find(key);
    if (it == j.end()) return;
    if (!it->is_array()) {
      errors.push_back(at(source, std::string("\"") + key + "\" must be an array of strings"));
      return;
    }
    for (const auto& w : *it) {
      if (!w.is_string()) {
        errors.push_back(at(source, std::string("\"") + key + "\" has a non-string entry"));
        continue;
      }
      std::vector<std::int32_t> ids;
      if (!parse_term(w.get<std::string>(), ids) || ids.size() != 1) {
        errors.push_back(at(source, std::string("\"") + key + "\": \"" + w.get<std::string>() +
                                        "\" must be a single word"));
        continue;
      }
      apply(words_[static_cast<std::size_t>(ids[0])]);
    }
  };
  word_list("function_words", [&](word_info& w) { w.function |= bit; });
  word_list("negators", [&](word_info& w) { w.negator |= bit; });
  word_list("clause_breakers", [&](word_info& w) { w.breaker |= bit; });

  if (auto it = j.find("intensifiers"); it != j.end()) {
    if (!it->is_object()) {
      errors.push_back(at(source, "\"intensifiers\" must be an object word -> factor"));
    } else {
      for (const auto& [w, f] : it->items()) {
        std::vector<std::int32_t> ids;
        if (!f.is_number() || f.get<double>() < 1.0 || f.get<double>() > 3.0) {
          errors.push_back(at(source, "intensifier \"" + w + "\" must be a number in [1,3]"));
          continue;
        }
        if (!parse_term(w, ids) || ids.size() != 1) {
          errors.push_back(at(source, "intensifier \"" + w + "\" must be a single word"));
          continue;
        }
        words_[static_cast<std::size_t>(ids[0])].intensity[lang] = f.get<float>();
      }
    }
  }

  if (auto it = j.find("distinctive_letters"); it != j.end()) {
    if (!it->is_string()) {
      errors.push_back(at(source, "\"distinctive_letters\" must be a string"));
    } else {
      const std::string s = it->get<std::string>();
      for (std::size_t i = 0; i < s.size();) {
        char32_t cp;
        const std::size_t n = decode_utf8(s, i, cp);
        if (n == 0) {
          errors.push_back(at(source, "\"distinctive_letters\" is not valid UTF-8"));
          break;
        }
        i += n;
        auto hit = std::find_if(letter_hints_.begin(), letter_hints_.end(),
                                [&](const auto& p) { return p.first == cp; });
        if (hit == letter_hints_.end()) letter_hints_.push_back({cp, bit});
        else hit->second |= bit;
      }
      std::sort(letter_hints_.begin(), letter_hints_.end());
    }
  }

  auto cats = j.find("categories");
  if (cats == j.end() || !cats->is_object()) {
    errors.push_back(at(source, "\"categories\" must be an object"));
  } else {
    for (const auto& [name, body] : cats->items()) {
      const category c = category_from_name(name);
      const std::string path = "categories." + name;
      if (c == category::count_) {
        errors.push_back(at(source, "unknown category \"" + name + "\""));
        continue;
      }
      if (!body.is_object() || !body.contains("weight") || !body["weight"].is_number() ||
          !body.contains("terms") || !body["terms"].is_array()) {
        errors.push_back(at(source, path + " must be {\"weight\": number, \"terms\": [...]}"));
        continue;
      }
      const double w = body["weight"].get<double>();
      if (w < 0 || w > 1) {
        errors.push_back(at(source, path + ".weight must be in [0,1]"));
        continue;
      }
      for (const auto& t : body["terms"]) {
        term tm;
        tm.cat = c;
        tm.lang = lang;
        tm.weight = static_cast<float>(w);
        if (t.is_string()) {
          tm.text = t.get<std::string>();
        } else if (t.is_object() && t.contains("term") && t["term"].is_string() &&
                   t.contains("weight") && t["weight"].is_number() &&
                   t["weight"].get<double>() >= 0 && t["weight"].get<double>() <= 1) {
          tm.text = t["term"].get<std::string>();
          tm.weight = t["weight"].get<float>();
        } else {
          errors.push_back(at(source, path + ": a term is a string or {\"term\": string, \"weight\": [0,1]}"));
          continue;
        }
        if (!parse_term(tm.text, tm.words)) {
          errors.push_back(at(source, path + ": \"" + tm.text + "\" has no word or starts/ends with ~"));
          continue;
        }
        for (auto id : tm.words)
          if (id != gap_word) words_[static_cast<std::size_t>(id)].in_terms |= bit;
        terms_.push_back(std::move(tm));
      }
    }
  }

  if (auto it = j.find("coaching"); it != j.end()) {
    if (!it->is_object()) {
      errors.push_back(at(source, "\"coaching\" must be an object stage -> text"));
    } else {
      for (const auto& [stage, text] : it->items()) {
        if (!text.is_string()) {
          errors.push_back(at(source, "coaching." + stage + " must be a string"));
          continue;
        }
        L.coaching.emplace_back(stage, text.get<std::string>());
      }
    }
  }

  langs_.push_back(std::move(L));
  freeze();
  return errors.size() == errors_before;
}

bool lexicon_set::add_common(const json& j, std::vector<std::string>& errors,
                             std::string_view source) {
  const std::size_t errors_before = errors.size();
  if (!j.is_object()) {
    errors.push_back(at(source, "must be a JSON object"));
    return false;
  }
  for (const auto& [k, v] : j.items())
    if (k != "emoji" && k != "comment") errors.push_back(at(source, "unknown key \"" + k + "\""));
  auto emoji = j.find("emoji");
  if (emoji == j.end()) return errors.size() == errors_before;
  if (!emoji->is_object()) {
    errors.push_back(at(source, "\"emoji\" must be an object"));
    return false;
  }
  for (const auto& [name, body] : emoji->items()) {
    symbol_kind kind;
    if (name == "angry") kind = symbol_kind::angry;
    else if (name == "friendly") kind = symbol_kind::friendly;
    else {
      errors.push_back(at(source, "emoji." + name + ": expected \"angry\" or \"friendly\""));
      continue;
    }
    if (!body.is_object() || !body.contains("weight") || !body["weight"].is_number() ||
        body["weight"].get<double>() < 0 || body["weight"].get<double>() > 1 ||
        !body.contains("chars") || !body["chars"].is_string()) {
      errors.push_back(at(source, "emoji." + name + " must be {\"weight\": [0,1], \"chars\": string}"));
      continue;
    }
    const std::string chars = body["chars"].get<std::string>();
    for (std::size_t i = 0; i < chars.size();) {
      char32_t cp;
      const std::size_t n = decode_utf8(chars, i, cp);
      if (n == 0) {
        errors.push_back(at(source, "emoji." + name + ".chars is not valid UTF-8"));
        break;
      }
      i += n;
      if (cp == 0xFE0F || cp == U' ') continue;  // variation selector, spacing
      symbols_.push_back({cp, kind, body["weight"].get<float>()});
    }
  }
  std::sort(symbols_.begin(), symbols_.end(),
            [](const symbol_entry& a, const symbol_entry& b) { return a.cp < b.cp; });
  return errors.size() == errors_before;
}

void lexicon_set::freeze() {
  // Trie: breadth-first into flat arrays, root children in a direct table.
  nodes_.assign(build_.size(), node{});
  edges_.clear();
  for (std::size_t n = 0; n < build_.size(); ++n) {
    nodes_[n].exact = build_[n].exact;
    nodes_[n].prefix = build_[n].prefix;
    nodes_[n].first_edge = static_cast<std::uint32_t>(edges_.size());
    nodes_[n].edge_count = static_cast<std::uint32_t>(build_[n].edges.size());
    for (const auto& [b, child] : build_[n].edges) edges_.push_back({b, child});
  }
  root_.fill(0);
  if (!build_.empty())
    for (const auto& [b, child] : build_[0].edges) root_[b] = child;

  // Term index by (first word, language).
  const std::size_t L = max_languages;
  index_offsets_.assign(words_.size() * L + 1, 0);
  for (const auto& t : terms_) ++index_offsets_[static_cast<std::size_t>(t.words.front()) * L + t.lang + 1];
  for (std::size_t i = 1; i < index_offsets_.size(); ++i) index_offsets_[i] += index_offsets_[i - 1];
  index_.assign(terms_.size(), 0);
  std::vector<std::uint32_t> fill(index_offsets_.begin(), index_offsets_.end() - 1);
  for (std::uint32_t i = 0; i < terms_.size(); ++i) {
    const auto& t = terms_[i];
    index_[fill[static_cast<std::size_t>(t.words.front()) * L + t.lang]++] = i;
  }
}

std::size_t lexicon_set::lookup(std::string_view word, std::vector<std::int32_t>& out) const {
  if (word.empty() || nodes_.empty()) return 0;
  std::size_t added = 0;
  std::uint32_t n = root_[static_cast<unsigned char>(word[0])];
  if (n == 0) return 0;
  for (std::size_t i = 1;; ++i) {
    const node& nd = nodes_[n];
    if (nd.prefix >= 0) {
      out.push_back(nd.prefix);
      ++added;
    }
    if (i == word.size()) {
      if (nd.exact >= 0) {
        out.push_back(nd.exact);
        ++added;
      }
      return added;
    }
    const auto b = static_cast<unsigned char>(word[i]);
    const edge* e = edges_.data() + nd.first_edge;
    const edge* end = e + nd.edge_count;
    while (e != end && e->byte < b) ++e;
    if (e == end || e->byte != b) return added;
    n = e->child;
  }
}

std::pair<const std::uint32_t*, const std::uint32_t*> lexicon_set::terms_starting(
    std::int32_t word_id, lang_id lang) const noexcept {
  const std::size_t k = static_cast<std::size_t>(word_id) * max_languages + lang;
  return {index_.data() + index_offsets_[k], index_.data() + index_offsets_[k + 1]};
}

lang_id lexicon_set::find(std::string_view code) const noexcept {
  for (std::size_t i = 0; i < langs_.size(); ++i)
    if (langs_[i].code == code) return static_cast<lang_id>(i);
  return no_lang;
}

std::string_view lexicon_set::code(lang_id id) const noexcept {
  return id < langs_.size() ? std::string_view(langs_[id].code) : std::string_view();
}

std::string_view lexicon_set::coaching(lang_id id, std::string_view stage) const noexcept {
  if (id >= langs_.size()) return {};
  for (const auto& [s, text] : langs_[id].coaching)
    if (s == stage) return text;
  return {};
}

std::uint8_t lexicon_set::letter_hint(char32_t cp) const noexcept {
  auto it = std::lower_bound(letter_hints_.begin(), letter_hints_.end(), cp,
                             [](const auto& p, char32_t v) { return p.first < v; });
  return it != letter_hints_.end() && it->first == cp ? it->second : 0;
}

const symbol_entry* lexicon_set::symbol(char32_t cp) const noexcept {
  auto it = std::lower_bound(symbols_.begin(), symbols_.end(), cp,
                             [](const symbol_entry& s, char32_t v) { return s.cp < v; });
  return it != symbols_.end() && it->cp == cp ? &*it : nullptr;
}

std::optional<lexicon_set> load_lexicons(const std::filesystem::path& dir,
                                         const std::vector<std::string>& languages,
                                         std::vector<std::string>& errors) {
  const std::size_t errors_before = errors.size();
  auto read = [&](const std::filesystem::path& p, json& out) {
    std::ifstream in(p);
    if (!in) {
      errors.push_back(p.string() + ": cannot open");
      return false;
    }
    try {
      out = json::parse(in);
    } catch (const json::exception& e) {
      errors.push_back(p.string() + ": invalid JSON: " + e.what());
      return false;
    }
    return true;
  };
  lexicon_set set;
  const auto common = dir / "common.json";
  if (std::filesystem::exists(common)) {
    json j;
    if (read(common, j)) set.add_common(j, errors, common.string());
  }
  if (languages.empty()) errors.push_back(dir.string() + ": no language to load");
  for (const auto& code : languages) {
    const auto p = dir / (code + ".json");
    json j;
    if (!read(p, j)) continue;
    if (j.is_object() && j.value("language", "") != code)
      errors.push_back(p.string() + ": \"language\" must be \"" + code + "\"");
    else
      set.add_language(j, errors, p.string());
  }
  if (errors.size() != errors_before) return std::nullopt;
  return set;
}

}  // namespace calma::anger

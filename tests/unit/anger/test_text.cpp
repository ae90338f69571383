#include "common/anger/text.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace calma::anger;

namespace {
std::vector<std::string> words(std::string_view text) {
  folded_message m;
  fold_message(text, m);
  std::vector<std::string> out;
  for (const auto& t : m.tokens) out.emplace_back(m.word(t));
  return out;
}
}  // namespace

TEST_CASE("folding removes case and accents - Polish and Spanish letters included") {
  CHECK(words("ZAŻÓŁĆ GĘŚLĄ JAŹŃ") == std::vector<std::string>{"zazolc", "gesla", "jazn"});
  CHECK(words("¿Qué pasó con el PEDIDO? ¡Niño!") ==
        std::vector<std::string>{"que", "paso", "con", "el", "pedido", "nino"});
  CHECK(words("Ünïcödé straße") == std::vector<std::string>{"unicode", "strasse"});
  CHECK(fold_phrase("Nunca MÁS") == "nunca mas");
  CHECK(fold_phrase("Łódź") == "lodz");
}

TEST_CASE("apostrophes join words - censored swearing stays one word") {
  CHECK(words("I don't know, it isn’t here") ==
        std::vector<std::string>{"i", "dont", "know", "it", "isnt", "here"});
  CHECK(words("f***ing sh*t") == std::vector<std::string>{"f___ing", "sh_t"});
}

TEST_CASE("caps share counts words of two letters or more - not codes or quotes") {
  folded_message m;
  fold_message("WHERE IS MY ORDER", m);
  CHECK(m.caps_letters == 14);
  CHECK(m.caps_upper == 14);

  fold_message("I got order AB12345 and \"XKCD\" A", m);
  // "I" and "A" are one letter, AB12345 has digits, XKCD is quoted.
  CHECK(m.caps_upper == 0);
  CHECK(m.caps_letters == 3 + 5 + 3);  // got, order, and
}

TEST_CASE("runs of ! and ? and clause boundaries") {
  folded_message m;
  fold_message("Why?!?! Now!!! ok?", m);
  CHECK(m.exclamations == 5);
  CHECK(m.longest_q_run == 4);
  REQUIRE(m.tokens.size() == 3);
  CHECK(m.tokens[0].clause_start);
  CHECK(m.tokens[1].clause_start);
  CHECK(m.tokens[2].clause_start);

  fold_message("no, estoy bien", m);
  REQUIRE(m.tokens.size() == 3);
  CHECK(m.tokens[1].clause_start);
  CHECK_FALSE(m.tokens[2].clause_start);
}

TEST_CASE("emoji and non-ASCII letters are kept as special characters") {
  folded_message m;
  fold_message("zły 😡", m);
  REQUIRE(m.specials.size() == 2);
  CHECK(m.specials[0].cp == U'ł');
  CHECK(m.specials[1].cp == 0x1F621);
  CHECK(std::string_view("zły 😡").substr(m.specials[1].obegin, m.specials[1].oend - m.specials[1].obegin) == "😡");
}

TEST_CASE("invalid UTF-8 acts as a separator and never crashes") {
  const std::string bad = std::string("abc") + char(0xC3) + "def" + char(0xFF) + char(0x80) + "g";
  CHECK(words(bad) == std::vector<std::string>{"abc", "def", "g"});
  CHECK(words("").empty());
  CHECK(words(std::string(1, char(0xE2))).empty());
}

TEST_CASE("ASCII runs fold byte for byte - letters and capitals and digits counted as one letter at a time would") {
  folded_message m;
  fold_message("OrDeR42x WHEREisIT, ok", m);
  REQUIRE(m.tokens.size() == 3);
  CHECK(m.word(m.tokens[0]) == "order42x");
  CHECK(m.tokens[0].letters == 6);
  CHECK(m.tokens[0].upper == 3);
  CHECK(m.tokens[0].has_digit);
  CHECK(m.tokens[0].obegin == 0);
  CHECK(m.tokens[0].oend == 8);
  CHECK(m.word(m.tokens[1]) == "whereisit");
  CHECK(m.tokens[1].letters == 9);
  CHECK(m.tokens[1].upper == 7);
  CHECK_FALSE(m.tokens[1].has_digit);
  CHECK(m.tokens[2].obegin == 20);
  // A run that goes on past a non-ASCII letter and back: one word, folded alike.
  fold_message("ZAMÓWIENIE", m);
  REQUIRE(m.tokens.size() == 1);
  CHECK(m.word(m.tokens[0]) == "zamowienie");
  CHECK(m.tokens[0].letters == 10);
  CHECK(m.tokens[0].upper == 10);
  // Counts stop at their bound, whatever the run's length.
  const std::string huge(70000, 'A');
  fold_message(huge, m);
  REQUIRE(m.tokens.size() == 1);
  CHECK(m.tokens[0].flen == 70000);
  CHECK(m.tokens[0].letters == 0xffff);
  CHECK(m.tokens[0].upper == 0xffff);
  CHECK(m.word(m.tokens[0]) == std::string(70000, 'a'));
}

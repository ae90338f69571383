// Complaint causes: hand-written shopper messages in Spanish, Polish and
// English (inflected, without accents, in capitals, mixed languages, with no
// cause) against the real lexicons of config/causes/, the explanation (which
// term gave which cause), the conversation tagger and the loader's errors.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/causes/causes.hpp"

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace calma::causes;
using nlohmann::json;

namespace {

std::string causes_dir() { return (std::filesystem::path(CALMA_SOURCE_DIR) / "config" / "causes").string(); }

std::shared_ptr<const lexicon_set> real() {
  static const std::shared_ptr<const lexicon_set> lex = [] {
    std::vector<std::string> errors;
    auto set = lexicon_set::load(causes_dir(), errors);
    for (const auto& e : errors) MESSAGE(e);
    REQUIRE(set.has_value());
    return std::make_shared<const lexicon_set>(std::move(*set));
  }();
  return lex;
}

// "delivery payment", "" when none.
std::string joined(const std::vector<cause>& cs) {
  std::string out;
  for (const cause c : cs) {
    if (!out.empty()) out += ' ';
    out += name(c);
  }
  return out;
}

std::string explained(const result& r) {
  std::string out;
  for (const hit& h : r.hits) out += explain(h) + "\n";
  return out;
}

struct example {
  const char* text;
  const char* lang;
  const char* expected;  // cause names, space-separated, enum order
};

void check_examples(const std::vector<example>& examples) {
  for (const auto& ex : examples) {
    const result r = real()->classify(ex.text, ex.lang);
    CAPTURE(ex.text);
    CAPTURE(ex.lang);
    INFO(explained(r));
    CHECK(joined(r.causes) == ex.expected);
    // Every reported cause has a hit and every hit's cause is reported.
    for (const hit& h : r.hits)
      CHECK(std::find(r.causes.begin(), r.causes.end(), h.c) != r.causes.end());
    for (const cause c : r.causes)
      CHECK(std::any_of(r.hits.begin(), r.hits.end(), [&](const hit& h) { return h.c == c; }));
  }
}

const hit* find_hit(const result& r, cause c) {
  for (const hit& h : r.hits)
    if (h.c == c) return &h;
  return nullptr;
}

json minimal(const char* lang, json causes) {
  return json{{"lang", lang}, {"comment", "test"}, {"causes", std::move(causes)}};
}

bool has_error(const std::vector<std::string>& errors, std::string_view part) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(part) != std::string::npos; });
}

}  // namespace

TEST_CASE("cause names round-trip and unknown names give nothing") {
  for (const cause c : all_causes) CHECK(cause_from(name(c)) == c);
  CHECK(name(cause::wrong_item) == "wrong_item");
  CHECK_FALSE(cause_from("Delivery").has_value());
  CHECK_FALSE(cause_from("shipping").has_value());
  CHECK_FALSE(cause_from("").has_value());
}

TEST_CASE("the real lexicons load with 25 to 60 terms per cause and language") {
  const auto lex = real();
  CHECK(lex->languages() == std::vector<std::string>{"en", "es", "pl"});
  for (const char* lang : {"en", "es", "pl"}) {
    for (const cause c : all_causes) {
      CAPTURE(lang);
      CAPTURE(name(c));
      const std::size_t n = lex->term_count(lang, c);
      if (c == cause::other) {
        CHECK(n == 0);
      } else {
        CHECK(n >= 25);
        CHECK(n <= 60);
      }
    }
  }
}

TEST_CASE("Spanish messages get their causes") {
  check_examples({
      {"Hola, mi pedido no ha llegado todavía", "es", "delivery"},
      {"NO ME LLEGÓ EL PAQUETE Y YA PASARON DOS SEMANAS", "es", "delivery"},
      {"la paqueteria dice entregado pero yo no tengo nada", "es", "delivery"},
      {"El número de guía de rastreo no funciona", "es-MX", "delivery"},
      {"¿Dónde está mi paquete?", "es", "delivery"},
      {"La caja llegó rota y el vaso está dañado", "es", "damaged"},
      {"el producto vino defectuoso, no prende", "es", "damaged"},
      {"El paquete llegó roto", "es", "damaged"},
      {"Me mandaron otra talla, yo pedí una M", "es", "wrong_item"},
      {"no es lo que pedí, el color es distinto", "es", "wrong_item"},
      {"quiero la devolución de mi dinero", "es", "refund"},
      {"¿Cuándo me hacen el reembolso? Ya devolví el producto", "es", "refund"},
      {"voy a pedir un contracargo a mi banco", "es-AR", "refund"},
      {"me cobraron dos veces con la tarjeta", "es", "payment"},
      {"el pago con mercado pago fue rechazado", "es", "payment"},
      {"nadie me contesta desde hace tres días, pésima atención", "es", "service"},
      {"el envio esta retrasado y encima nadie responde", "es", "delivery service"},
      {"me llegó otro modelo y quiero que me devuelvan el dinero", "es", "wrong_item refund"},
      {"pagué con tarjeta y el pedido no llegó", "es", "delivery payment"},
      {"me equivoqué de dirección: la dirección incorrecta es la mía", "es", "delivery"},
      {"Hola, buenas tardes", "es", ""},
      {"muchas gracias por la atención", "es", ""},
      {"puse la contraseña incorrecta", "es", ""},
  });
}

TEST_CASE("Polish messages get their causes") {
  check_examples({
      {"Moja paczka nie dotarła", "pl", "delivery"},
      {"przesylka nie doszla, kurier jej nie dostarczyl", "pl", "delivery"},
      {"GDZIE JEST MOJA PACZKA???", "pl", "delivery"},
      {"Zamówienie jest opóźnione już tydzień", "pl", "delivery"},
      {"Produkt jest uszkodzony", "pl", "damaged"},
      {"ekran pęknięty, obudowa porysowana", "pl", "damaged"},
      {"paczka przyszła uszkodzona", "pl", "damaged"},
      {"Dostałam zły rozmiar", "pl", "wrong_item"},
      {"to nie to, co zamawiałam", "pl", "wrong_item"},
      {"chcę zwrot pieniędzy", "pl", "refund"},
      {"zwróćcie mi pieniądze", "pl", "refund"},
      {"bank zrobi obciążenie zwrotne", "pl", "refund"},
      {"płatność nie przeszła, ale pieniądze zeszły z konta", "pl", "payment"},
      {"zapłaciłem BLIKIEM i nic", "pl", "payment"},
      {"nikt nie odpowiada na moje maile", "pl", "service"},
      {"konsultant był niemiły i się rozłączył", "pl", "service"},
      {"Złożyłem reklamację tydzień temu i nikt się nie odezwał", "pl", "service"},
      {"Dziękuję za szybką obsługę", "pl", ""},
      {"Zwracam się z prośbą o fakturę", "pl", "payment"},
      {"dzień dobry", "pl", ""},
  });
}

TEST_CASE("English messages get their causes") {
  check_examples({
      {"My order hasn't arrived yet", "en", "delivery"},
      {"WHERE IS MY PACKAGE", "en", "delivery"},
      {"the tracking number doesn't work", "en", "delivery"},
      {"The box arrived damaged and the glass is cracked", "en", "damaged"},
      {"it stopped working after two days", "en", "damaged"},
      {"The package arrived broken", "en", "damaged"},
      {"You sent me the wrong size", "en", "wrong_item"},
      {"this is not what I ordered", "en", "wrong_item"},
      {"I want a refund", "en", "refund"},
      {"I haven't received my refund", "en", "refund"},
      {"I was charged twice on my credit card", "en", "payment"},
      {"payment failed at checkout", "en", "payment"},
      {"your agent was rude and hung up on me", "en", "service"},
      {"I've been waiting for a reply for three days, nobody answers", "en", "service"},
      {"package delayed, and I was charged for express shipping", "en", "delivery payment"},
      {"Hi, I'd like to know your opening hours", "en", ""},
      {"Thanks for the great service!", "en", ""},
      {"no refund needed, thanks", "en", ""},
  });
}

TEST_CASE("mixed languages and an unknown language try every lexicon") {
  check_examples({
      {"mi pedido no ha llegado and the box is damaged", "", "delivery damaged"},
      {"Hello, moja paczka nie dotarła and nobody answers", "", "delivery service"},
      {"quiero un reembolso, the payment was taken twice", "", "refund payment"},
      {"mi pedido no ha llegado", "fr", "delivery"},
      {"Produkt jest USZKODZONY", "", "damaged"},
  });
  // A known language restricts the lexicons: English words in a Spanish call.
  CHECK(real()->classify("my order hasn't arrived", "es").causes.empty());
  CHECK(joined(real()->classify("mi pedido no ha llegado", "ES").causes) == "delivery");
  CHECK(joined(real()->classify("mi pedido no ha llegado", "es_AR").causes) == "delivery");
}

TEST_CASE("folding makes case and accents irrelevant") {
  const auto lex = real();
  for (const char* text : {"el envío está retrasado", "EL ENVIO ESTA RETRASADO", "El Envio Está Retrasado"})
    CHECK(joined(lex->classify(text, "es").causes) == "delivery");
  for (const char* text : {"przesyłka jest uszkodzona", "PRZESYLKA JEST USZKODZONA", "Przesylka jest uszkodzona"})
    CHECK(joined(lex->classify(text, "pl").causes) == "damaged");
}

TEST_CASE("hits name the lexicon term and the words it matched") {
  const auto lex = real();

  auto r = lex->classify("Hola, NO ME LLEGÓ nada", "es");
  REQUIRE(r.hits.size() == 1);
  CHECK(r.hits[0].c == cause::delivery);
  CHECK(r.hits[0].term == "no ~ ~ lleg*");
  CHECK(r.hits[0].lang == "es");
  CHECK(r.hits[0].words == "NO ME LLEGÓ");
  CHECK(explain(r.hits[0]) == "delivery: \"no ~ ~ lleg*\" (es) <- \"NO ME LLEGÓ\"");

  // A stem: the inflected form the shopper wrote is kept.
  r = lex->classify("Telewizor jest USZKODZONY", "pl");
  REQUIRE(r.hits.size() == 1);
  CHECK(r.hits[0].term == "uszkodz*");
  CHECK(r.hits[0].words == "USZKODZONY");

  // Two causes, each with its own evidence, in message order.
  r = lex->classify("me cobraron el envío y el producto llegó roto", "es");
  CHECK(joined(r.causes) == "damaged payment");
  const hit* pay = find_hit(r, cause::payment);
  const hit* dmg = find_hit(r, cause::damaged);
  REQUIRE(pay);
  REQUIRE(dmg);
  CHECK(pay->term == "cobr*");
  CHECK(pay->words == "cobraron");
  CHECK(dmg->term == "roto");
  CHECK(r.hits.front().c == cause::payment);  // "cobraron" comes first
  // The weak "envío" (delivery) gave way to the strong causes.
  CHECK_FALSE(find_hit(r, cause::delivery));

  // The longer phrase wins: "dirección incorrecta" is delivery, not wrong_item.
  r = lex->classify("pusieron una dirección incorrecta", "es");
  REQUIRE(r.hits.size() == 1);
  CHECK(r.hits[0].term == "dirección incorrecta");

  // Same term twice in one message: one hit.
  r = lex->classify("refund, refund, REFUND", "en");
  CHECK(r.hits.size() == 1);
}

TEST_CASE("phrases do not run across sentences but do across commas") {
  const auto lex = real();
  CHECK(lex->classify("Wrong. Size is fine", "en").causes.empty());
  CHECK(joined(lex->classify("wrong size", "en").causes) == "wrong_item");
  CHECK(joined(lex->classify("to nie to, co zamawiałem", "pl").causes) == "wrong_item");
  CHECK(lex->classify("to nie to! co zamawiałem?", "pl").causes.empty());
}

TEST_CASE("the tagger accumulates a conversation and says other when nothing was found") {
  tagger t(real());
  CHECK(t.causes().empty());  // no message yet
  CHECK(t.messages() == 0);

  t.add("Hola, buenas tardes", "es");
  CHECK(t.causes() == std::vector<cause>{cause::other});
  CHECK(t.hits().empty());

  t.add("mi pedido no ha llegado", "es");
  CHECK(t.causes() == std::vector<cause>{cause::delivery});

  t.add("and you charged me twice", "");
  t.add("mi pedido no ha llegado!!!", "es");  // the same evidence again
  CHECK(t.causes() == std::vector<cause>{cause::delivery, cause::payment});
  CHECK(t.messages() == 4);
  const auto hits = t.hits();
  REQUIRE(hits.size() == 2);
  CHECK(hits[0].term == "no ~ ~ lleg*");
  CHECK(hits[1].c == cause::payment);
  CHECK(hits[1].term == "charged");
  CHECK(hits[1].lang == "en");
}

TEST_CASE("the tagger on Polish and English conversations") {
  tagger pl(real());
  pl.add("Dzień dobry", "pl");
  pl.add("paczka przyszła, ale ekran jest pęknięty", "pl");
  pl.add("chcę zwrot", "pl");
  CHECK(joined(pl.causes()) == "damaged refund");

  tagger en(real());
  en.add("hello?", "en");
  en.add("is anyone there", "en");
  CHECK(joined(en.causes()) == "other");
  en.add("nobody answers, this is unprofessional", "en");
  CHECK(joined(en.causes()) == "service");
  CHECK(en.hits().size() == 2);

  tagger none(nullptr);  // no lexicons: every conversation is other
  none.add("refund", "en");
  CHECK(joined(none.causes()) == "other");
}

TEST_CASE("parse builds a small lexicon with stems phrases gaps and weak terms") {
  std::vector<std::string> errors;
  const json j = {
      {"es", minimal("es", {{"delivery", {"no ~ ~ llegad*", {{"term", "paquete"}, {"weak", true}}}},
                            {"damaged", {"roto", "dañad*"}}})},
      {"pl", minimal("pl", {{"refund", {"zwrot*"}}})},
  };
  const lexicon_set set = lexicon_set::parse(j, errors);
  CHECK(errors.empty());
  CHECK(set.term_count() == 5);
  CHECK(set.term_count("es", cause::delivery) == 2);
  CHECK(joined(set.classify("NO me ha LLEGADO", "es").causes) == "delivery");
  CHECK(joined(set.classify("el paquete", "es").causes) == "delivery");
  CHECK(joined(set.classify("el paquete, dañado", "es").causes) == "damaged");
  CHECK(joined(set.classify("zwrotu nie ma", "").causes) == "refund");
  CHECK(set.classify("zwrotu nie ma", "es").causes.empty());
  CHECK(set.classify("", "es").causes.empty());
  CHECK(classify(set, "roto", "es").causes == std::vector<cause>{cause::damaged});
}

TEST_CASE("parse lists every problem of a lexicon") {
  std::vector<std::string> errors;
  const json j = {
      {"es", {{"lang", "es"},
              {"colour", "x"},
              {"causes",
               {{"delivery", {"ENVÍO", "envio", 42, "", "*", "ab*", "a*b", "~ llegado", "llegado ~",
                              {{"term", 1}}, {{"term", "x"}, {"weak", "yes"}}, {{"term", "y"}, {"size", 1}}}},
                {"shipping", {"envio"}},
                {"other", {"cosa"}},
                {"refund", "devol*"}}},
              {"ignore", {7}}}},
      {"pl", {{"lang", "en"}, {"causes", json::object()}}},
      {"en", {{"causes", json::object()}}},
      {"xx1", minimal("xx1", json::object())},
      {"de", json::array()},
      {"fr", {{"lang", "fr"}}},
  };
  const lexicon_set set = lexicon_set::parse(j, errors);
  std::string all;
  for (const auto& e : errors) all += e + "\n";
  INFO(all);
  CHECK(has_error(errors, "es: unknown key \"colour\""));
  CHECK(has_error(errors, "es: causes.delivery[1]: \"envio\" is the same term as \"ENVÍO\""));
  CHECK(has_error(errors, "es: causes.delivery[2]: must be a string"));
  CHECK(has_error(errors, "es: causes.delivery[3]: \"\" has no word"));
  CHECK(has_error(errors, "es: causes.delivery[4]: \"*\" has a '*' with no stem"));
  CHECK(has_error(errors, "es: causes.delivery[5]: \"ab*\" has a stem shorter than 3"));
  CHECK(has_error(errors, "es: causes.delivery[6]: \"a*b\" has a '*' that does not end a word"));
  CHECK(has_error(errors, "es: causes.delivery[7]: \"~ llegado\" starts or ends with '~'"));
  CHECK(has_error(errors, "es: causes.delivery[8]: \"llegado ~\" starts or ends with '~'"));
  CHECK(has_error(errors, "es: causes.delivery[9]: \"term\" must be a string"));
  CHECK(has_error(errors, "es: causes.delivery[10]: \"weak\" must be true or false"));
  CHECK(has_error(errors, "es: causes.delivery[11]: unknown key \"size\""));
  CHECK(has_error(errors, "es: unknown cause \"shipping\""));
  CHECK(has_error(errors, "es: causes.other takes no terms"));
  CHECK(has_error(errors, "es: causes.refund must be an array"));
  CHECK(has_error(errors, "es: ignore[0]: must be a string"));
  CHECK(has_error(errors, "pl: \"lang\" is \"en\", expected \"pl\""));
  CHECK(has_error(errors, "en: \"lang\" must be a string"));
  CHECK(has_error(errors, "xx1: \"xx1\" is not a language code"));
  CHECK(has_error(errors, "de: must be a JSON object"));
  CHECK(has_error(errors, "fr: \"causes\" must be an object"));
  CHECK(errors.size() == 21);
  // What was valid is kept: "ENVÍO" and "y" (its unknown key reported).
  CHECK(joined(set.classify("envio", "es").causes) == "delivery");

  errors.clear();
  lexicon_set::parse(json::array(), errors);
  CHECK(has_error(errors, "must be an object language -> lexicon"));
  errors.clear();
  lexicon_set::parse(json::object(), errors);
  CHECK(has_error(errors, "no language"));
}

TEST_CASE("load reports missing files and invalid JSON with their paths") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("calma_causes_test_" + std::to_string(std::random_device{}()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  std::vector<std::string> errors;
  CHECK_FALSE(lexicon_set::load(dir.string(), errors).has_value());
  CHECK(errors.size() == 3);
  CHECK(has_error(errors, (dir / "en.json").string() + ": cannot open"));
  CHECK(has_error(errors, (dir / "pl.json").string() + ": cannot open"));

  std::ofstream(dir / "en.json") << minimal("en", {{"refund", {"refund*"}}}).dump();
  std::ofstream(dir / "es.json") << "{\"lang\": \"es\", ";
  std::ofstream(dir / "pl.json") << minimal("pl", {{"refund", {"zwrot*", "ZWROT*"}}}).dump();
  errors.clear();
  CHECK_FALSE(lexicon_set::load(dir.string(), errors).has_value());
  CHECK(errors.size() == 2);
  CHECK(has_error(errors, (dir / "es.json").string() + ": invalid JSON"));
  CHECK(has_error(errors, (dir / "pl.json").string() + ": causes.refund[1]: \"ZWROT*\" is the same term"));

  std::ofstream(dir / "es.json") << minimal("es", {{"refund", {"reembols*"}}}).dump();
  std::ofstream(dir / "pl.json") << minimal("pl", {{"refund", {"zwrot*"}}}).dump();
  errors.clear();
  const auto set = lexicon_set::load(dir.string() + "/", errors);
  CHECK(errors.empty());
  REQUIRE(set.has_value());
  CHECK(joined(set->classify("reembolso", "").causes) == "refund");
  std::filesystem::remove_all(dir);
}

#include "support.hpp"

#include <nlohmann/json.hpp>

using namespace calma::anger;
using namespace calma::anger::test;

TEST_CASE("every cue family fires in every language") {
  struct row {
    const char* lang;
    std::string text;
    const char* cue;
  };
  const row rows[] = {
      {"en", "you useless idiots", "insult: "},
      {"en", "this is bullshit", "profanity: bullshit"},
      {"en", "the lid is broken", "complaint: broken"},
      {"en", "I am furious", "negative_emotion: furious"},
      {"en", "never again", "churn_threat: never again"},
      {"en", "I will call my lawyer", "legal_threat: lawyer"},
      {"en", "I'm filing a chargeback", "legal_threat: chargeback"},
      {"en", "expect a 1 star review", "review_threat: "},
      {"en", "get me your manager", "manager_request: manager"},
      {"en", "I need it asap", "urgency: asap"},
      {"en", "this is the third time", "repetition: third time"},
      {"es", "sois unos inútiles", "insult: inútiles"},
      {"es", "qué mierda", "profanity: mierda"},
      {"es", "la lámpara no funciona", "complaint: no funciona"},
      {"es", "estoy enfadadísima", "negative_emotion: enfadadísima"},
      {"es", "nunca más", "churn_threat: nunca más"},
      {"es", "hablaré con mi abogado", "legal_threat: abogado"},
      {"es", "pediré un contracargo", "legal_threat: contracargo"},
      {"es", "pondré una reseña", "review_threat: reseña"},
      {"es", "quiero hablar con el encargado", "manager_request: encargado"},
      {"es", "lo necesito urgentemente", "urgency: urgentemente"},
      {"es", "otra vez lo mismo", "repetition: otra vez"},
      {"pl", "banda złodziei", "insult: "},
      {"pl", "co to kurwa jest", "profanity: kurwa"},
      {"pl", "pralka nie działa", "complaint: nie działa"},
      {"pl", "jestem wściekła", "negative_emotion: wściekła"},
      {"pl", "nigdy więcej", "churn_threat: nigdy więcej"},
      {"pl", "sprawa trafi do prawnika", "legal_threat: prawnika"},
      {"pl", "zgłaszam do UOKiK", "legal_threat: "},
      {"pl", "wystawię negatywną opinię", "review_threat: "},
      {"pl", "proszę z kierownikiem", "manager_request: kierownikiem"},
      {"pl", "to pilne", "urgency: pilne"},
      {"pl", "znowu to samo", "repetition: znowu"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    const auto cues = cues_of(r.text, r.lang);
    CAPTURE(cues);
    CHECK(has_cue(cues, r.cue));
    CHECK(score_of(r.text, r.lang) > 0.1);
  }
}

TEST_CASE("inflected forms match their stems") {
  CHECK(has_cue(cues_of("chcę rozmawiać z przełożonym", "pl"), "manager_request: przełożonym"));
  CHECK(has_cue(cues_of("dajcie mi kierownika", "pl"), "manager_request: kierownika"));
  CHECK(has_cue(cues_of("estamos hartos y cabreadísimos", "es"), "negative_emotion: cabreadísimos"));
  CHECK(has_cue(cues_of("I am so frustrated", "en"), "negative_emotion: so frustrated"));
}

TEST_CASE("negation cancels the cue within a short window - in each language") {
  const char* cases[][3] = {
      {"en", "I'm not angry", "I'm angry"},
      {"es", "no estoy enfadado", "estoy enfadado"},
      {"pl", "nie jestem wściekły", "jestem wściekły"},
  };
  for (const auto& c : cases) {
    CAPTURE(c[1]);
    const auto cues = cues_of(c[1], c[0]);
    CHECK(has_cue(cues, "negated: "));
    CHECK_FALSE(has_cue(cues, "negative_emotion"));
    CHECK(score_of(c[1], c[0]) < score_of(c[2], c[0]));
  }
  // A clause boundary stops the negation: "No, I am angry".
  CHECK(has_cue(cues_of("No, estoy enfadado", "es"), "negative_emotion: enfadado"));
  // Out of the window (3 words back): still counts.
  CHECK(has_cue(cues_of("I did not expect to be this furious", "en"), "negative_emotion"));
}

TEST_CASE("a negated positive word is a complaint") {
  CHECK(has_cue(cues_of("I'm not happy with this", "en"), "complaint: not happy"));
  CHECK(has_cue(cues_of("no estoy contento", "es"), "complaint: no estoy contento"));
  CHECK(has_cue(cues_of("nie jestem zadowolona", "pl"), "complaint: nie jestem zadowolona"));
  CHECK(score_of("I'm not happy", "en") > score_of("I'm happy", "en"));
}

TEST_CASE("praise that opens a message and is cut off by a complaint is sarcasm") {
  CHECK(has_cue(cues_of("genial, otra semana esperando", "es"), "complaint: genial"));
  CHECK(has_cue(cues_of("great, another week of waiting", "en"), "complaint: great"));
  CHECK(score_of("genial, otra vez roto", "es") > score_of("otra vez roto", "es"));
  // Praise alone, praise later in the message, or no complaint after it: still praise.
  CHECK(has_cue(cues_of("genial, muchas gracias", "es"), "positive: genial"));
  CHECK_FALSE(has_cue(cues_of("llegó roto pero genial el trato", "es"), "complaint: genial"));
  CHECK(score_of("Genial, gracias por la ayuda", "es") == 0.0);
}

TEST_CASE("regional Spanish - insults aimed at the agent - anger in subtitles") {
  const char* rows[][2] = {
      {"no sabes hacer tu trabajo", "insult: no sabes hacer tu trabajo"},
      {"cállate ya", "insult: cállate"},
      {"qué poca madre, rateros", "insult: qué poca madre"},
      {"son unos chantas", "insult: chantas"},
      {"conchetumare, otra vez", "insult: conchetumare"},
      {"vete al infierno", "profanity: vete al infierno"},
      {"me tienen podrido con esto", "negative_emotion: me tienen podrido"},
      {"estoy hasta la coronilla", "negative_emotion: estoy hasta la coronilla"},
      {"déjame en paz", "negative_emotion: déjame en paz"},
      {"esta porquería no sirve", "complaint: porquería"},
  };
  for (const auto& r : rows) {
    const std::string text = r[0];
    CAPTURE(text);
    const auto cues = cues_of(text, "es");
    std::string joined;
    for (const auto& c : cues) joined += c + "; ";
    CAPTURE(joined);
    CHECK(has_cue(cues, r[1]));
  }
  // "matar el tiempo" and product words stay calm.
  CHECK(score_of("leo un libro para matar el tiempo mientras llega", "es") < 0.35);
}

TEST_CASE("intensifiers make a cue stronger") {
  CHECK(score_of("I am very angry", "en") > score_of("I am angry", "en"));
  CHECK(score_of("estoy muy enfadado", "es") > score_of("estoy enfadado", "es"));
  CHECK(score_of("jestem bardzo zdenerwowany", "pl") > score_of("jestem zdenerwowany", "pl"));
  CHECK(has_cue(cues_of("estoy muy enfadado", "es"), "negative_emotion: muy enfadado"));
}

TEST_CASE("upper-case share - but not product names or order numbers") {
  CHECK(has_cue(cues_of("WHERE IS MY ORDER", "en"), "caps 1"));
  CHECK_FALSE(has_cue(cues_of("Does the SONY WH1000 come with a case?", "en"), "caps"));
  CHECK_FALSE(has_cue(cues_of("My order ABX99812 and \"PROMOCODE\" please", "en"), "caps"));
  CHECK_FALSE(has_cue(cues_of("OK", "en"), "caps"));
  CHECK(score_of("WHERE IS MY ORDER", "en") > score_of("where is my order", "en"));
}

TEST_CASE("runs of ! and ? raise the score - one friendly ! does not") {
  CHECK_FALSE(has_cue(cues_of("Thanks!", "en"), "exclamations"));
  CHECK(has_cue(cues_of("Where is it!!!", "en"), "exclamations 3"));
  CHECK(has_cue(cues_of("¿¿Dónde está??", "es"), "question_run 2"));
  CHECK(has_cue(cues_of("Where is it?!?!", "en"), "question_run 4"));
  CHECK(score_of("gdzie jest paczka?!?!", "pl") > score_of("gdzie jest paczka?", "pl"));
}

TEST_CASE("angry emoji raise - friendly emoji lower") {
  CHECK(has_cue(cues_of("ok 😡", "en"), "angry_emoji 😡"));
  CHECK(score_of("the box is damaged 😡", "en") > score_of("the box is damaged", "en"));
  CHECK(score_of("the box is damaged 🙂", "en") < score_of("the box is damaged", "en"));
}

TEST_CASE("politeness lowers the score in each language") {
  CHECK(score_of("the parcel is late, please check", "en") < score_of("the parcel is late, check", "en"));
  CHECK(score_of("el paquete llega tarde, por favor revisadlo", "es") <
        score_of("el paquete llega tarde, revisadlo", "es"));
  CHECK(score_of("paczka się spóźnia, proszę sprawdzić", "pl") <
        score_of("paczka się spóźnia, sprawdzić", "pl"));
  CHECK(score_of("Hello, could you tell me the delivery time? Thank you", "en") == 0.0);
}

TEST_CASE("the same complaint repeated and bursts of messages count with a state") {
  const auto& s = real_scorer();
  scorer_state st;
  const auto first = s.score("my order 1234 has not arrived yet", no_lang, 1000, &st);
  const auto again = s.score("order 1234 has still not arrived", no_lang, 60000, &st);
  CHECK_FALSE(first.has(category::repetition));
  bool repeated = false;
  for (const auto& c : again.cues) repeated = repeated || c.kind == cue_kind::repeated;
  CHECK(repeated);

  scorer_state b;
  s.score("hello?", no_lang, 0, &b);
  s.score("anyone?", no_lang, 5000, &b);
  const auto third = s.score("hello??", no_lang, 9000, &b);
  bool burst = false;
  for (const auto& c : third.cues) burst = burst || c.kind == cue_kind::burst;
  CHECK(burst);
  CHECK(describe_all(third, "hello??").back() == "burst 3");

  // Repetition looks back repetition.history customer messages (4), bursts 16;
  // the state keeps words for the first and times for the second.
  const int history = s.params().repetition.history;
  REQUIRE(history == 4);
  auto repeated_after = [&](int others) {
    scorer_state r;
    std::int64_t ts = 0;
    s.score("my order 1234 has not arrived yet", no_lang, ts, &r);
    const char* fillers[] = {"what colours do you have", "is the blue one in stock", "what sizes are there",
                             "do you ship to Madrid", "can I pay by card", "thanks a lot"};
    for (int i = 0; i < others; ++i) s.score(fillers[i % 6], no_lang, ts += 40'000, &r);
    const auto res = s.score("order 1234 has still not arrived", no_lang, ts += 40'000, &r);
    CHECK(r.words.size() <= static_cast<std::size_t>(history));
    CHECK(r.times.size() <= scorer_state::ring);
    for (const auto& c : res.cues)
      if (c.kind == cue_kind::repeated) return true;
    return false;
  };
  CHECK(repeated_after(0));
  CHECK(repeated_after(history - 1));  // the complaint is the history-th message back
  CHECK_FALSE(repeated_after(history));
  CHECK_FALSE(repeated_after(history + 7));  // the rings wrapped

  scorer_state slow;
  s.score("hello?", no_lang, 0, &slow);
  s.score("anyone?", no_lang, 60000, &slow);
  const auto later = s.score("hello?", no_lang, 120000, &slow);
  for (const auto& c : later.cues) CHECK(c.kind != cue_kind::burst);
}

TEST_CASE("language is detected per message - or taken as given") {
  const auto& s = real_scorer();
  CHECK(s.score("Hola, ¿dónde está mi pedido?").lang == lang("es"));
  CHECK(s.score("Dzień dobry, gdzie jest moja paczka?").lang == lang("pl"));
  CHECK(s.score("Hi, where is my parcel?").lang == lang("en"));
  CHECK(s.score("Zażółć gęślą jaźń").lang == lang("pl"));
  CHECK(s.score("Hi, where is my parcel?", lang("es")).lang == lang("es"));
  // No evidence: the conversation's last language, else the default.
  scorer_state st;
  s.score("no me ha llegado el pedido", no_lang, 0, &st);
  CHECK(s.score("???", no_lang, 1000, &st).lang == lang("es"));
  CHECK(s.score("???").lang == lang("en"));
}

TEST_CASE("staff apology and empathy are found in each language") {
  const auto& s = real_scorer();
  CHECK(s.score_staff("I'm so sorry about this").apology > 0);
  CHECK(s.score_staff("I understand, that must be frustrating").empathy > 0);
  CHECK(s.score_staff("Lo siento mucho, disculpe las molestias").apology > 0);
  CHECK(s.score_staff("Entiendo perfectamente").empathy > 0);
  CHECK(s.score_staff("Bardzo przepraszam za opóźnienie").apology > 0);
  CHECK(s.score_staff("Rozumiem, to musi być frustrujące").empathy > 0);
  CHECK(s.score_staff("Your parcel ships tomorrow").apology == 0);
  CHECK(s.score_staff("Your parcel ships tomorrow").empathy == 0);
}

TEST_CASE("scores stay in (0 -1) and the worst messages score high") {
  const char* furious[] = {
      "YOU ARE USELESS IDIOTS!!! I WANT MY MONEY BACK NOW OR I CALL MY LAWYER 😡😡",
      "SOIS UNOS LADRONES, NUNCA MÁS, OS DENUNCIO!!!",
      "BANDA ZŁODZIEI!!! NIGDY WIĘCEJ, SPOTKAMY SIĘ W SĄDZIE",
  };
  for (const char* t : furious) {
    CAPTURE(t);
    const double v = score_of(t);
    CHECK(v > 0.8);
    CHECK(v <= 1.0);
  }
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "idiots scam lawyer never again!!! ";
  const double v = score_of(long_text);
  CHECK(v <= 1.0);
  CHECK(v >= 0.0);
}

TEST_CASE("lexicon loading lists every problem") {
  lexicon_set set;
  std::vector<std::string> errors;
  const auto bad = nlohmann::json::parse(R"({
    "language": "xx",
    "negators": ["two words"],
    "intensifiers": {"very": 9},
    "categories": {"nonsense": {"weight": 0.5, "terms": []},
                   "insult": {"weight": 2, "terms": ["x"]},
                   "complaint": {"weight": 0.3, "terms": ["~ bad", 7]}},
    "typo": 1
  })");
  CHECK_FALSE(set.add_language(bad, errors, "xx.json"));
  CHECK(errors.size() == 7);
  for (const auto& e : errors) CHECK(e.rfind("xx.json: ", 0) == 0);

  std::vector<std::string> errors2;
  CHECK_FALSE(load_lexicons("/nonexistent", {"en"}, errors2).has_value());
  CHECK(errors2.size() == 1);
}

TEST_CASE("params from json: defaults - overrides and every error listed") {
  std::vector<std::string> errors;
  const auto p = params_from_json(nlohmann::json::object(), errors);
  CHECK(errors.empty());
  CHECK(p.curve.gain == doctest::Approx(curve_params{}.gain));

  const auto j = nlohmann::json::parse(R"({"curve": {"gain": 0.3, "half_life_s": -1, "oops": 1},
                                            "scorer": {"caps": {"min_share": "x"}}})");
  const auto q = params_from_json(j, errors);
  CHECK(q.curve.gain == doctest::Approx(0.3));
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].rfind("anger.scorer.caps.min_share: ", 0) == 0);
}

namespace {
void check_same(const score_result& a, const score_result& b, std::string_view text) {
  CHECK(a.score == b.score);
  CHECK(a.cue_score == b.cue_score);
  CHECK(a.model == b.model);
  CHECK(a.lang == b.lang);
  CHECK(a.apology == b.apology);
  CHECK(a.empathy == b.empathy);
  CHECK(describe_all(a, text) == describe_all(b, text));
}
}  // namespace

// The server prepares a message's analysis on the connection's thread and
// finishes it on the hub's turn: the two halves must read exactly as one.
TEST_CASE("a text prepared elsewhere and finished against the conversation reads as score()") {
  const scorer& sc = real_scorer();
  const std::vector<std::string> conversation = {
      "Hola, ¿dónde está mi pedido?",
      "ok",
      "where is my order??? it has not arrived",
      "¿DÓNDE ESTÁ MI PEDIDO? no ha llegado!!!",
      "¿dónde está mi pedido? no ha llegado",
      "Genial, otra semana esperando",
      "gdzie jest moja paczka, nie dotarła",
      "zzz qqq",
      "no estoy contento, quiero hablar con el encargado 😡",
      "¿dónde está mi pedido? no ha llegado",
  };
  for (const lang_id asked : {no_lang, lang("es")}) {
    CAPTURE(int(asked));
    scorer_state one, two;
    std::int64_t ts = 1'000'000;
    for (const auto& text : conversation) {
      CAPTURE(text);
      ts += 4'000;
      const score_result direct = sc.score(text, asked, ts, &one);
      prepared_text p;
      sc.prepare(text, asked, sc.fallback_for(&two), true, p);
      REQUIRE(sc.fits(p, asked, &two, true));
      score_result later;
      sc.finish(p, asked, ts, &two, later);
      check_same(direct, later, text);
      CHECK(one.last_lang == two.last_lang);
      CHECK(one.count == two.count);
      // Staff: no state, the same split.
      prepared_text q;
      sc.prepare(text, asked, sc.fallback_for(nullptr), false, q);
      REQUIRE(sc.fits(q, asked, nullptr, false));
      score_result staff;
      sc.finish(q, asked, 0, nullptr, staff);
      check_same(sc.score_staff(text, asked), staff, text);
    }
  }
}

TEST_CASE("a prepared text that does not fit the conversation is refused") {
  const scorer& sc = real_scorer();
  prepared_text p;
  // No word of any language: the detection is the fallback's.
  sc.prepare("zzz qqq", no_lang, lang("es"), true, p);
  CHECK(p.by_fallback);
  scorer_state polish;
  polish.last_lang = lang("pl");
  CHECK_FALSE(sc.fits(p, no_lang, &polish, true));
  scorer_state spanish;
  spanish.last_lang = lang("es");
  CHECK(sc.fits(p, no_lang, &spanish, true));
  CHECK_FALSE(sc.fits(p, no_lang, &spanish, false));  // prepared as the shopper's, not staff's
  CHECK_FALSE(sc.fits(p, lang("pl"), &spanish, true));  // detected es, asked pl

  // Clearly Polish, whatever the fallback: fits any conversation that detects.
  prepared_text q;
  sc.prepare("gdzie jest moja paczka, nie dotarła", no_lang, lang("es"), true, q);
  CHECK_FALSE(q.by_fallback);
  CHECK(sc.fits(q, no_lang, &spanish, true));
  // And a conversation asked in Polish: the same words read the same.
  CHECK(sc.fits(q, lang("pl"), &spanish, true));
  CHECK_FALSE(sc.fits(q, lang("es"), &spanish, true));
  scorer_state s1, s2;
  score_result direct, later;
  sc.score("gdzie jest moja paczka, nie dotarła", lang("pl"), 5, &s1, direct);
  sc.finish(q, lang("pl"), 5, &s2, later);
  check_same(direct, later, "gdzie jest moja paczka, nie dotarła");
  CHECK(s2.last_lang == no_lang);  // asked in a language: the detection is not remembered
  CHECK(s1.last_lang == s2.last_lang);
}

// The learned anger model: its file (round trip, every way a file can be
// wrong), its blend with the cues, the shipped model on the issue's examples,
// and bad input (arbitrary bytes, 4,000-byte messages, emoji only).

#include "support.hpp"

#include "common/anger/model.hpp"
#include "common/anger/params.hpp"
#include "common/anger/text.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <random>

using namespace calma::anger;
using namespace calma::anger::test;
namespace fs = std::filesystem;

namespace {

fs::path shipped_model_path() { return fs::path(CALMA_SOURCE_DIR) / "config" / "models" / "anger.model"; }

std::shared_ptr<const text_model> shipped_model() {
  static const auto m = [] {
    std::vector<std::string> errors;
    auto model = load_model(shipped_model_path(), errors);
    for (const auto& e : errors) MESSAGE(e);
    REQUIRE(model);
    return model;
  }();
  return m;
}

const scorer& model_scorer() {
  static const scorer s(real_lexicons(), scorer_params{}, shipped_model());
  return s;
}

// A small model whose weights say: the word "grr" is angry.
text_model tiny_model(float share = 0.5f, float threshold = 0.5f) {
  feature_config fc;
  fc.log2_buckets = 10;
  std::vector<float> w(std::size_t{1} << fc.log2_buckets, 0.0f);
  folded_message fm;
  fold_message("grr", fm);
  std::vector<std::uint32_t> feats;
  extract_features(fm, fc, 0, feats);
  for (auto b : feats) w[b] = 3.0f;
  model_language en{"en", -2.0f, 1.0f, 0.0f, share, threshold, 0.0f, 0.0f};
  return text_model(fc, {en}, w, R"({"what":"test"})");
}

fs::path write_temp(const std::string& name, const std::string& bytes) {
  const fs::path p = fs::temp_directory_path() / ("calma_model_test_" + name);
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

std::string load_error(const std::string& name, const std::string& bytes) {
  const fs::path p = write_temp(name, bytes);
  std::vector<std::string> errors;
  const auto m = load_model(p, errors);
  CHECK_FALSE(m);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find(p.string()) == 0);  // the message names the file
  fs::remove(p);
  return errors[0];
}

}  // namespace

TEST_CASE("a model file round-trips: same quantized weights and calibration and blend and metadata") {
  const text_model m = tiny_model(0.4f, 0.3f);
  std::string error;
  const auto back = text_model::parse(m.serialize(), error);
  REQUIRE_MESSAGE(back, error);
  REQUIRE(back->languages().size() == 1);
  CHECK(back->languages()[0].code == "en");
  CHECK(back->languages()[0].share == doctest::Approx(0.4));
  CHECK(back->languages()[0].threshold == doctest::Approx(0.3));
  CHECK(back->meta() == R"({"what":"test"})");
  folded_message fm;
  fold_message("grr grr", fm);
  CHECK(back->logit(fm, 0) == doctest::Approx(m.logit(fm, 0)));
  CHECK(back->serialize() == m.serialize());
}

TEST_CASE("the tiny model reads its angry word and nothing else") {
  const text_model m = tiny_model();
  folded_message angry, calm;
  fold_message("GRR", angry);  // folded like the cues: case does not matter
  fold_message("hello there", calm);
  CHECK(m.probability(angry, 0) > 0.7);
  CHECK(m.probability(calm, 0) < 0.2);
}

TEST_CASE("a missing or foreign or truncated or corrupt model file is one error naming the file") {
  const std::string good = tiny_model().serialize();
  {
    std::vector<std::string> errors;
    const fs::path p = fs::temp_directory_path() / "calma_model_test_missing.model";
    fs::remove(p);
    CHECK_FALSE(load_model(p, errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find(p.string()) == 0);
    CHECK(errors[0].find("cannot open") != std::string::npos);
  }
  CHECK(load_error("empty", "").find("bad magic") != std::string::npos);
  CHECK(load_error("foreign", "{\"this\": \"is json\"}").find("bad magic") != std::string::npos);
  CHECK(load_error("truncated", good.substr(0, good.size() / 2)).find("truncated") != std::string::npos);
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x5a;  // one weight byte changed
  CHECK(load_error("flipped", flipped).find("checksum") != std::string::npos);
  std::string extra = good;
  extra.insert(extra.size() - 8, "xx");
  CHECK_FALSE(load_error("extra", extra).empty());
  std::string version = good;
  version[8] = 9;
  CHECK(load_error("version", version).find("version") != std::string::npos);
}

TEST_CASE("the blend: nothing below the threshold and one more raising cue above it and bounded damping") {
  text_model m = tiny_model(0.5f, 0.4f);
  CHECK(m.blend(0.3, 0.2, 0) == doctest::Approx(0.3));           // below the threshold: the cues alone
  CHECK(m.blend(0.0, 1.0, 0) == doctest::Approx(0.5));           // the full share at p = 1
  CHECK(m.blend(0.5, 0.7, 0) == doctest::Approx(1 - 0.5 * 0.75));  // noisy-or with m = 0.5 * 0.5
  CHECK(m.blend(0.3, 0.5, 7) == doctest::Approx(0.3));           // a language the model does not know
  m.languages()[0].damp = 0.5f;
  m.languages()[0].damp_below = 0.2f;
  CHECK(m.blend(0.6, 0.0, 0) == doctest::Approx(0.3));  // sure it is calm: at most half the cues' score off
  CHECK(m.blend(0.6, 0.2, 0) == doctest::Approx(0.6));
  for (double c = 0; c <= 1; c += 0.1)
    for (double p = 0; p <= 1; p += 0.05) {
      const double b = m.blend(c, p, 0);
      CHECK(b >= 0);
      CHECK(b <= 1);
    }
}

TEST_CASE("the scorer shows the model's share as its own cue and the cues still explain") {
  const std::string text = "Me cagan ustedes, chinguen a su madre con su pinche tienda";
  const auto r = model_scorer().score(text, lang("es"));
  const auto cues = describe_all(r, text);
  CHECK(r.model >= 0);
  CHECK(r.cue_score > 0);
  CHECK(has_cue(cues, "profanity: "));
  if (r.score != r.cue_score) CHECK(has_cue(cues, "model "));
  const auto plain = real_scorer().score(text, lang("es"));
  CHECK(plain.model == -1);              // no model: none ran
  CHECK(plain.score == plain.cue_score);  // and the score is the cues'
  CHECK(plain.score == doctest::Approx(r.cue_score));
}

TEST_CASE("the shipped model ranks strangers' anger above calm text in every language") {
  struct pair {
    const char* lang;
    const char* angry;
    const char* calm;
    bool model_alone;  // the model ranks them by itself; else only the blend does (sarcasm is the lexicon's)
  };
  const pair pairs[] = {
      {"en", "well done, another week of waiting, thanks for nothing", "thanks, the parcel arrived this morning", true},
      {"en", "Get out of here, you lying bastard!", "Could you tell me when the shop opens?", true},
      {"es", "no seas ridículo, bastardo", "gracias, ya me ha llegado el paquete", true},
      {"es", "¡Lárgate de aquí, maldito mentiroso!", "¿Me puede decir cuándo abren la tienda?", true},
      {"pl", "super, dzięki za nic", "dziękuję, paczka już dotarła", false},
      {"pl", "Wynoś się stąd, ty kłamliwy draniu!", "Czy może mi pan powiedzieć, kiedy otwieracie sklep?", true},
  };
  for (const auto& p : pairs) {
    CAPTURE(std::string(p.angry));
    const auto a = model_scorer().score(p.angry, lang(p.lang));
    const auto c = model_scorer().score(p.calm, lang(p.lang));
    if (p.model_alone) CHECK(a.model > c.model);
    CHECK(a.score > c.score);
    CHECK(a.score > 0);
  }
}

TEST_CASE("the model's language follows the scorer's: a mixed message is read once in one language") {
  const std::string text = "esto es una mierda, you idiots, nigdy więcej";
  const auto r = model_scorer().score(text);
  CHECK(r.lang != no_lang);
  CHECK(r.model >= 0);
  CHECK(r.score > 0.5);
}

TEST_CASE("bad input: arbitrary bytes and 4000-byte messages and emoji only do not crash or stall") {
  std::mt19937 rng(7);
  std::vector<std::string> inputs = {"", " ", "😡😡😡😡😡", "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂", std::string(4000, '!'),
                                     std::string(4000, 'a'), std::string("\xff\xfe\xc3", 3), "\xe2\x80"};
  std::string emoji;
  while (emoji.size() < 4000) emoji += "🤬";
  inputs.push_back(emoji);
  std::string words;
  while (words.size() < 4000) words += "KURWA idiotas useless ";
  inputs.push_back(words);
  for (int i = 0; i < 200; ++i) {
    std::string s(static_cast<std::size_t>(rng() % 4001), '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    inputs.push_back(std::move(s));
  }
  const auto t0 = std::chrono::steady_clock::now();
  scorer_state st;
  std::int64_t ts = 0;
  for (const auto& text : inputs) {
    const auto r = model_scorer().score(text, no_lang, ts += 1000, &st);
    CHECK(r.score >= 0);
    CHECK(r.score <= 1);
    CHECK((r.model == -1 || (r.model >= 0 && r.model <= 1)));
    for (const auto& c : describe_all(r, text)) CHECK(!c.empty());
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CHECK(ms < 2000);  // ~210 messages, most of them 2 KB of noise: far under a millisecond each
  const auto e = model_scorer().score("😡😡😡", lang("es"));
  CHECK(e.score > 0);  // angry emoji still count
}

TEST_CASE("anger.model is read from the config and resolved beside the lexicons and loads fast") {
  std::vector<std::string> errors;
  const auto p = params_from_json(nlohmann::json{{"model", "models/x.model"}}, errors);
  CHECK(errors.empty());
  CHECK(p.model == "models/x.model");
  CHECK(resolve_model_path("models/x.model", "/etc/calma/lexicons") == fs::path("/etc/calma/models/x.model"));
  CHECK(resolve_model_path("models/x.model", "/etc/calma/lexicons/") == fs::path("/etc/calma/models/x.model"));
  CHECK(resolve_model_path("/opt/m.model", "/etc/calma/lexicons") == fs::path("/opt/m.model"));
  params_from_json(nlohmann::json{{"model", 3}}, errors);
  CHECK_FALSE(errors.empty());
  // The shipped one: small, and quick to load.
  CHECK(fs::file_size(shipped_model_path()) <= 5u * 1024 * 1024);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> e2;
  CHECK(load_model(shipped_model_path(), e2));
  CHECK(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() < 200);
}

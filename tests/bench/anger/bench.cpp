// Speed of the cue scorer and of the learned model beside it (Google
// Benchmark; a program, not a test):
//   taskset -c 0 build/tests/bench/anger/bench_anger
// items_per_second is messages per second on one core. The *_model variants
// run with config/models/anger.model; model_load is the start-up load.

#include "common/anger/lexicon.hpp"
#include "common/anger/model.hpp"
#include "common/anger/scorer.hpp"
#include "common/escalation/monitor.hpp"

#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace calma;

std::shared_ptr<const anger::lexicon_set> lexicons() {
  static const auto lex = [] {
    std::vector<std::string> errors;
    auto set = anger::load_lexicons(std::filesystem::path(CALMA_SOURCE_DIR) / "config" / "lexicons",
                                    {"en", "es", "pl"}, errors);
    if (!set) std::abort();
    return std::make_shared<const anger::lexicon_set>(std::move(*set));
  }();
  return lex;
}

std::shared_ptr<const anger::text_model> model() {
  static const auto m = [] {
    std::vector<std::string> errors;
    auto p = anger::load_model(std::filesystem::path(CALMA_SOURCE_DIR) / "config" / "models" / "anger.model", errors);
    if (!p) std::abort();
    return p;
  }();
  return m;
}

// Typical chat messages: short, mostly calm, some angry, three languages.
const std::vector<std::string>& messages() {
  static const std::vector<std::string> m = {
      "Hi, where is my order? It was supposed to arrive yesterday.",
      "Thanks, that works for me!",
      "Hola, ¿cuándo llega mi pedido?",
      "Dzień dobry, paczka jeszcze nie dotarła.",
      "This is the third time I'm asking!!! Useless.",
      "Estoy muy enfadado, quiero hablar con el encargado YA",
      "Nie działa, chcę zwrot pieniędzy",
      "ok",
      "Can I change the delivery address to 12 Baker Street please?",
      "WHERE IS MY REFUND??? I'm calling my bank 😡",
      "Perfecto, muchas gracias por la ayuda",
      "Jestem wściekła, nigdy więcej tu nie kupię!",
      "The zipper broke after two days, can I get a replacement?",
      "no me ha llegado todavía el reembolso",
      "Dziękuję, wszystko jasne :)",
      "I'm not angry, just wondering if the blue one is back in stock",
  };
  return m;
}

void score_auto(benchmark::State& state) {
  const anger::scorer sc(lexicons(), anger::scorer_params{}, state.range(0) ? model() : nullptr);
  const auto& m = messages();
  anger::score_result r;
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const auto& text = m[i++ % m.size()];
    sc.score(text, anger::no_lang, 0, nullptr, r);
    benchmark::DoNotOptimize(r.score);
    bytes += text.size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(score_auto)->ArgName("model")->Arg(0)->Arg(1);

void score_with_state(benchmark::State& state) {
  const anger::scorer sc(lexicons(), anger::scorer_params{});
  const auto& m = messages();
  anger::score_result r;
  anger::scorer_state st;
  std::size_t i = 0;
  std::int64_t ts = 0;
  for (auto _ : state) {
    sc.score(m[i++ % m.size()], anger::no_lang, ts += 7000, &st, r);
    benchmark::DoNotOptimize(r.score);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(score_with_state);

// The whole per-message path of the server: score, curve point, rules.
void monitor_message(benchmark::State& state) {
  const anger::scorer sc(lexicons(), anger::scorer_params{}, state.range(0) ? model() : nullptr);
  const auto& m = messages();
  escalation::monitor mon(sc, anger::curve_params{}, escalation::params{}, 0);
  std::size_t i = 0;
  std::int64_t ts = 0;
  for (auto _ : state) {
    auto out = mon.on_customer_message(ts += 7000, m[i++ % m.size()]);
    benchmark::DoNotOptimize(out);
    if (i % 3 == 0) benchmark::DoNotOptimize(mon.on_staff_message(ts += 1000, "Lo siento, lo reviso"));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(monitor_message)->ArgName("model")->Arg(0)->Arg(1);

// Start-up: reading and checking the model file.
void model_load(benchmark::State& state) {
  const auto path = std::filesystem::path(CALMA_SOURCE_DIR) / "config" / "models" / "anger.model";
  for (auto _ : state) {
    std::vector<std::string> errors;
    auto m = anger::load_model(path, errors);
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(model_load)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

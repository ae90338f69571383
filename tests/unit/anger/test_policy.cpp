#include "common/escalation/monitor.hpp"
#include "common/escalation/policy.hpp"
#include "support.hpp"

#include <nlohmann/json.hpp>

#include <fstream>

using namespace calma;
using namespace calma::escalation;

namespace {
constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t s = 1000;

curve_view at(double level, double trend = 0) { return curve_view{level, trend, std::nullopt}; }

anger::score_result no_cues() { return {}; }

anger::score_result with_cue(anger::category c, std::uint32_t b, std::uint32_t e) {
  anger::score_result r;
  anger::cue q;
  q.cat = c;
  q.begin = b;
  q.end = e;
  r.cues.push_back(q);
  return r;
}

const decision* find(const std::vector<decision>& ds, decision_kind k) {
  for (const auto& d : ds)
    if (d.kind == k) return &d;
  return nullptr;
}
}  // namespace

TEST_CASE("level at or above 80 escalates high - with hysteresis") {
  policy p;
  auto d = p.on_customer_message(t0, no_cues(), "", at(50));
  CHECK_FALSE(find(d, decision_kind::escalate));
  d = p.on_customer_message(t0 + 10 * s, no_cues(), "", at(82));
  REQUIRE(find(d, decision_kind::escalate));
  CHECK(find(d, decision_kind::escalate)->sev == severity::high);
  CHECK(find(d, decision_kind::escalate)->reasons == std::vector<std::string>{"level 82 >= 80"});
  CHECK_FALSE(find(d, decision_kind::escalate)->joined);
  p.on_acknowledged(t0 + 11 * s);
  p.on_resolved(t0 + 12 * s);
  // Dipping to 75 and back is the same episode: no new escalation.
  p.on_staff_message(t0 + 13 * s, at(75));
  d = p.on_customer_message(t0 + 400 * s, no_cues(), "", at(85));
  CHECK_FALSE(find(d, decision_kind::escalate));
  // Below the release level it re-arms.
  p.on_staff_message(t0 + 401 * s, at(65));
  d = p.on_customer_message(t0 + 402 * s, no_cues(), "", at(81));
  CHECK(find(d, decision_kind::escalate));
}

TEST_CASE("level at or above 60 for 3 customer messages in a row is a warning") {
  policy p;
  CHECK_FALSE(find(p.on_customer_message(t0, no_cues(), "", at(62)), decision_kind::escalate));
  CHECK_FALSE(find(p.on_customer_message(t0 + s, no_cues(), "", at(64)), decision_kind::escalate));
  const auto d = p.on_customer_message(t0 + 2 * s, no_cues(), "", at(66));
  REQUIRE(find(d, decision_kind::escalate));
  CHECK(find(d, decision_kind::escalate)->sev == severity::warning);

  policy q;  // interrupted streak: nothing
  q.on_customer_message(t0, no_cues(), "", at(62));
  q.on_customer_message(t0 + s, no_cues(), "", at(55));
  CHECK_FALSE(find(q.on_customer_message(t0 + 2 * s, no_cues(), "", at(63)), decision_kind::escalate));
}

TEST_CASE("a trend heading for 80 within 60 s warns the agent first - once per cool-down") {
  policy p;
  auto d = p.on_customer_message(t0, no_cues(), "", at(50, 40));  // 30 points at 40/min: 45 s
  REQUIRE(find(d, decision_kind::warn_agent));
  CHECK_FALSE(find(d, decision_kind::escalate));
  d = p.on_customer_message(t0 + 10 * s, no_cues(), "", at(55, 40));
  CHECK_FALSE(find(d, decision_kind::warn_agent));
  d = p.on_customer_message(t0 + 200 * s, no_cues(), "", at(55, 40));
  CHECK(find(d, decision_kind::warn_agent));
  policy slow;
  CHECK_FALSE(find(slow.on_customer_message(t0, no_cues(), "", at(50, 20)), decision_kind::warn_agent));
}

TEST_CASE("a manager request or a legal threat escalates high at once") {
  policy p;
  const std::string text = "quiero hablar con el encargado";
  const auto d = p.on_customer_message(t0, with_cue(anger::category::manager_request, 21, 30), text, at(20));
  REQUIRE(find(d, decision_kind::escalate));
  CHECK(find(d, decision_kind::escalate)->sev == severity::high);
  CHECK(find(d, decision_kind::escalate)->reasons == std::vector<std::string>{"manager_request: encargado"});

  policy q;
  const std::string t2 = "I'll call my lawyer";
  const auto d2 = q.on_customer_message(t0, with_cue(anger::category::legal_threat, 13, 19), t2, at(30));
  REQUIRE(find(d2, decision_kind::escalate));
  CHECK(find(d2, decision_kind::escalate)->reasons.front() == "legal_threat: lawyer");

  // With the real scorer: a negated request is not a request.
  using namespace calma::anger::test;
  const auto neg = real_scorer().score("I don't need a manager, just the tracking number");
  policy r;
  CHECK_FALSE(find(r.on_customer_message(t0, neg, "", at(10)), decision_kind::escalate));
}

TEST_CASE("queued without an agent for 120 s escalates - anger shortens the wait") {
  policy p;
  p.on_queued(t0, at(5));
  REQUIRE(p.next_deadline().has_value());
  const std::int64_t due = *p.next_deadline();
  CHECK(due == t0 + static_cast<std::int64_t>(120 * (1 - 0.5 * 0.05) * 1000));
  CHECK_FALSE(find(p.evaluate(due - s, at(5)), decision_kind::escalate));
  const auto d = p.evaluate(due, at(5));
  REQUIRE(find(d, decision_kind::escalate));
  CHECK(find(d, decision_kind::escalate)->reasons.front().rfind("queued ", 0) == 0);

  policy angry;
  angry.on_queued(t0, at(70));
  CHECK(*angry.next_deadline() == t0 + static_cast<std::int64_t>(120 * (1 - 0.5 * 0.7) * 1000));
  policy assigned;
  assigned.on_queued(t0, at(5));
  assigned.on_assigned(t0 + 30 * s, at(5));
  CHECK_FALSE(find(assigned.evaluate(t0 + 200 * s, at(5)), decision_kind::escalate));
}

TEST_CASE("an abandoned queued conversation raises no waiting escalation until its shopper returns") {
  policy p;
  p.on_queued(t0, at(5));
  const std::int64_t due = *p.next_deadline();
  p.set_abandoned(true);
  CHECK_FALSE(p.next_deadline().has_value());
  CHECK(p.evaluate(due + 600 * s, at(95)).empty());  // not even the level: nobody is there
  p.set_abandoned(false);
  const auto d = p.evaluate(due + 601 * s, at(5));
  REQUIRE(find(d, decision_kind::escalate));  // back and still waiting: the wait counts again
}

TEST_CASE("unanswered 60 s nudges the agent - 180 s escalates - an answer resets") {
  params prm;
  prm.anger_wait_factor = 0;  // exact waits for this test
  policy p(prm);
  p.on_customer_message(t0, no_cues(), "", at(20));
  CHECK(p.next_deadline() == t0 + 60 * s);
  auto d = p.evaluate(t0 + 60 * s, at(20));
  REQUIRE(find(d, decision_kind::nudge_agent));
  CHECK(find(d, decision_kind::nudge_agent)->reasons.front() == "customer unanswered 60 s");
  CHECK(p.next_deadline() == t0 + 180 * s);
  d = p.evaluate(t0 + 180 * s, at(20));
  REQUIRE(find(d, decision_kind::escalate));
  CHECK(find(d, decision_kind::escalate)->sev == severity::warning);

  policy q(prm);
  q.on_customer_message(t0, no_cues(), "", at(20));
  q.on_staff_message(t0 + 50 * s, at(20));
  CHECK_FALSE(q.next_deadline().has_value());
  CHECK(q.evaluate(t0 + 300 * s, at(20)).empty());
}

TEST_CASE("an unacknowledged escalation is re-notified with severity raised - up to a limit") {
  policy p;
  p.on_customer_message(t0, no_cues(), "", at(85));
  p.on_staff_message(t0 + s, at(85));  // answered: only the re-notify timer is left
  REQUIRE(p.next_deadline() == t0 + 60 * s);
  auto d = p.evaluate(t0 + 60 * s, at(85));
  REQUIRE(find(d, decision_kind::renotify));
  CHECK(find(d, decision_kind::renotify)->sev == severity::critical);
  d = p.evaluate(t0 + 120 * s, at(85));
  CHECK(find(d, decision_kind::renotify));
  d = p.evaluate(t0 + 180 * s, at(85));
  CHECK(find(d, decision_kind::renotify));
  CHECK_FALSE(p.next_deadline().has_value());  // max_renotify = 3 reached
  CHECK(p.evaluate(t0 + 240 * s, at(85)).empty());

  policy q;
  q.on_customer_message(t0, no_cues(), "", at(85));
  q.on_staff_message(t0 + s, at(85));
  q.on_acknowledged(t0 + 30 * s);
  CHECK_FALSE(q.next_deadline().has_value());
}

TEST_CASE("one open escalation: a new reason joins it and may raise it") {
  policy p;
  for (int i = 0; i < 3; ++i) p.on_customer_message(t0 + i * s, no_cues(), "", at(65));
  REQUIRE(p.open().has_value());
  CHECK(p.open()->sev == severity::warning);
  const std::string text = "get me a manager";
  const auto d = p.on_customer_message(t0 + 5 * s, with_cue(anger::category::manager_request, 9, 16), text, at(70));
  REQUIRE(find(d, decision_kind::escalate));
  CHECK(find(d, decision_kind::escalate)->joined);
  CHECK(find(d, decision_kind::escalate)->sev == severity::high);
  CHECK(find(d, decision_kind::escalate)->reasons == std::vector<std::string>{"manager_request: manager"});
  CHECK(p.open()->reasons.size() == 2);
  // The same reason again adds nothing.
  const auto again = p.on_customer_message(t0 + 6 * s, with_cue(anger::category::manager_request, 9, 16), text, at(70));
  CHECK_FALSE(find(again, decision_kind::escalate));
}

TEST_CASE("after a resolve - the same reason waits for the cool-down unless worse") {
  policy p;
  const std::string text = "manager";
  p.on_customer_message(t0, with_cue(anger::category::manager_request, 0, 7), text, at(30));
  p.on_resolved(t0 + 10 * s);
  auto d = p.on_customer_message(t0 + 20 * s, with_cue(anger::category::manager_request, 0, 7), text, at(30));
  CHECK_FALSE(find(d, decision_kind::escalate));
  d = p.on_customer_message(t0 + 400 * s, with_cue(anger::category::manager_request, 0, 7), text, at(30));
  CHECK(find(d, decision_kind::escalate));
}

TEST_CASE("next_deadline covers waiting pressure crossing the high line") {
  anger::curve c(anger::curve_params{}, t0);
  anger::score_result r;
  r.score = 0.9;
  c.on_customer_message(t0, r, "");
  policy p;
  const auto v = view_of(c, p.parameters());
  REQUIRE(v.reach_high_ts.has_value());
  p.on_customer_message(t0, no_cues(), "", v);
  const auto d = p.next_deadline();
  REQUIRE(d.has_value());
  CHECK(*d <= *v.reach_high_ts);
  CHECK(*d > t0);
}

TEST_CASE("monitor: a real conversation rises - escalates and is explained") {
  using namespace calma::anger::test;
  monitor m(real_scorer(), anger::curve_params{}, params{}, t0);
  auto o = m.on_customer_message(t0, "Hola, mi pedido no ha llegado todavía");
  REQUIRE(o.points.size() == 1);
  CHECK(o.points[0].level < 40);
  CHECK(o.decisions.empty());
  o = m.on_staff_message(t0 + 20 * s, "Lo siento mucho, lo reviso ahora mismo");
  CHECK(o.points[0].cues.front().rfind("apology: ", 0) == 0);
  o = m.on_customer_message(t0 + 60 * s, "¡¡Es la tercera vez que escribo!! SOIS UNOS INÚTILES");
  o = m.on_customer_message(t0 + 70 * s, "Quiero hablar con el encargado YA");
  REQUIRE(find(o.decisions, decision_kind::escalate));
  bool manager = false;
  for (const auto& r : find(o.decisions, decision_kind::escalate)->reasons)
    manager = manager || r.rfind("manager_request: encargado", 0) == 0;
  CHECK(manager);
  CHECK(m.coaching() == "peak");
  m.on_closed(t0 + 100 * s);
  CHECK(m.coaching() == "closed");
  CHECK(real_lexicons()->coaching(lang("es"), m.coaching()).find("seguimiento") != std::string_view::npos);
}

TEST_CASE("monitor: shared parameters are read not copied - and decide as a copy would") {
  using namespace calma::anger::test;
  auto cp = std::make_shared<const anger::curve_params>();
  auto ep = std::make_shared<const params>();
  monitor shared(real_scorer(), cp, ep, t0);
  monitor copied(real_scorer(), *cp, *ep, t0);
  CHECK(&shared.curve().params() == cp.get());
  CHECK(&shared.rules().parameters() == ep.get());
  CHECK(&copied.curve().params() != cp.get());
  for (const auto* text : {"Hola, mi pedido no ha llegado", "¡¡SOIS UNOS INÚTILES!!", "Quiero hablar con el encargado YA"}) {
    const auto a = shared.on_customer_message(t0 + 10 * s, text);
    const auto b = copied.on_customer_message(t0 + 10 * s, text);
    CHECK(a.points.back().level == b.points.back().level);
    CHECK(a.decisions.size() == b.decisions.size());
  }
  CHECK(shared.next_deadline() == copied.next_deadline());
}

TEST_CASE("escalation params from json: every error listed") {
  std::vector<std::string> errors;
  const auto p = params_from_json(nlohmann::json::parse(
      R"({"level_high": 120, "immediate_high": ["manager_request", "nope"], "nudge_s": 500, "x": 1})"), errors);
  CHECK(errors.size() == 4);
  CHECK(p.level_high == 80);  // kept the default
  std::vector<std::string> none;
  const auto d = params_from_json(to_json(params{}), none);
  CHECK(none.empty());
  CHECK(d.unanswered_s == 180);
}

TEST_CASE("the built-in defaults are the values of config/calma.json") {
  std::ifstream in(std::string(CALMA_SOURCE_DIR) + "/config/calma.json");
  REQUIRE(in.good());
  const auto cfg = nlohmann::json::parse(in);
  std::vector<std::string> errors;
  const auto a = anger::params_from_json(cfg.at("anger"), errors);
  const auto e = params_from_json(cfg.at("escalation"), errors);
  for (const auto& x : errors) MESSAGE(x);
  CHECK(errors.empty());
  // All but anger.model: the shipped config turns the model on, the built-in
  // default is off so that a config written before the model keeps working.
  CHECK(a.model == "models/anger.model");
  auto shipped = anger::to_json(a);
  shipped["model"] = "";
  CHECK(shipped == anger::to_json(anger::params{}));
  CHECK(to_json(e) == to_json(params{}));
}

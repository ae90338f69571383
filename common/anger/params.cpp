#include "common/anger/params.hpp"

#include "common/config/param_reader.hpp"

namespace calma::anger {

using nlohmann::json;

params params_from_json(const json& j, std::vector<std::string>& errors) {
  params p;
  param_reader r(&j, "anger", errors);
  r.strings("languages", p.languages);
  if (p.languages.empty()) r.error("languages", "must name at least one language");
  r.string("model", p.model);
  {
    auto s = r.child("scorer");
    auto& q = p.scorer;
    s.string("default_language", q.default_language);
    s.integer("negation_window", q.negation_window, 0, 10);
    s.integer("intensifier_window", q.intensifier_window, 0, 5);
    s.number("negated_positive_weight", q.negated_positive_weight, 0, 1);
    s.number("max_soothing", q.max_soothing, 0, 1);
    s.number("customer_apology_weight", q.customer_apology_weight, 0, 1);
    s.number("same_category_decay", q.same_category_decay, 0, 1);
    {
      auto c = s.child("caps");
      c.integer("min_letters", q.caps.min_letters, 1, 1000);
      c.number("min_share", q.caps.min_share, 0, 1);
      c.number("weight", q.caps.weight, 0, 1);
    }
    {
      auto c = s.child("exclamation");
      c.integer("free", q.exclamation.free, 0, 100);
      c.number("per_mark", q.exclamation.per_mark, 0, 1);
      c.number("max", q.exclamation.max, 0, 1);
    }
    {
      auto c = s.child("question_run");
      c.integer("min_run", q.question_run.min_run, 1, 100);
      c.number("weight", q.question_run.weight, 0, 1);
      c.number("per_extra", q.question_run.per_extra, 0, 1);
      c.number("max", q.question_run.max, 0, 1);
    }
    {
      auto c = s.child("repetition");
      c.integer("history", q.repetition.history, 0, 16);
      c.number("window_s", q.repetition.window_s, 0, 86400);
      c.integer("min_words", q.repetition.min_words, 1, 100);
      c.number("min_similarity", q.repetition.min_similarity, 0, 1);
      c.number("weight", q.repetition.weight, 0, 1);
    }
    {
      auto c = s.child("burst");
      c.number("window_s", q.burst.window_s, 0, 3600);
      c.integer("min_messages", q.burst.min_messages, 2, 16);
      c.number("weight", q.burst.weight, 0, 1);
      c.number("per_extra", q.burst.per_extra, 0, 1);
      c.number("max", q.burst.max, 0, 1);
    }
  }
  {
    auto c = r.child("curve");
    auto& q = p.curve;
    c.number("baseline", q.baseline, 0, 100);
    c.number("gain", q.gain, 0, 1);
    c.number("half_life_s", q.half_life_s, 1, 86400);
    c.number("wait_grace_s", q.wait_grace_s, 0, 86400);
    c.number("wait_half_life_s", q.wait_half_life_s, 1, 86400);
    c.number("apology_drop", q.apology_drop, 0, 1);
    c.number("soothed_half_life_s", q.soothed_half_life_s, 1, 86400);
    c.number("soothed_for_s", q.soothed_for_s, 0, 86400);
    c.number("trend_window_s", q.trend_window_s, 1, 3600);
    c.number("calm_below", q.calm_below, 0, 100);
    c.number("peak_from", q.peak_from, 0, 100);
    c.number("rising_trend", q.rising_trend, 0, 1000);
    c.number("cooling_trend", q.cooling_trend, -1000, 0);
    c.number("alert_line", q.alert_line, 0, 100);
    c.integer("history_points", q.history_points, 2, 4096);
    if (q.calm_below > q.peak_from) c.error("calm_below", "must not exceed peak_from");
  }
  return p;
}

json to_json(const params& p) {
  const auto& s = p.scorer;
  const auto& c = p.curve;
  return json{
      {"languages", p.languages},
      {"model", p.model},
      {"scorer",
       {{"default_language", s.default_language},
        {"negation_window", s.negation_window},
        {"intensifier_window", s.intensifier_window},
        {"negated_positive_weight", s.negated_positive_weight},
        {"max_soothing", s.max_soothing},
        {"customer_apology_weight", s.customer_apology_weight},
        {"same_category_decay", s.same_category_decay},
        {"caps", {{"min_letters", s.caps.min_letters}, {"min_share", s.caps.min_share}, {"weight", s.caps.weight}}},
        {"exclamation", {{"free", s.exclamation.free}, {"per_mark", s.exclamation.per_mark}, {"max", s.exclamation.max}}},
        {"question_run", {{"min_run", s.question_run.min_run}, {"weight", s.question_run.weight},
                          {"per_extra", s.question_run.per_extra}, {"max", s.question_run.max}}},
        {"repetition", {{"history", s.repetition.history}, {"window_s", s.repetition.window_s},
                        {"min_words", s.repetition.min_words}, {"min_similarity", s.repetition.min_similarity},
                        {"weight", s.repetition.weight}}},
        {"burst", {{"window_s", s.burst.window_s}, {"min_messages", s.burst.min_messages},
                   {"weight", s.burst.weight}, {"per_extra", s.burst.per_extra}, {"max", s.burst.max}}}}},
      {"curve",
       {{"baseline", c.baseline}, {"gain", c.gain}, {"half_life_s", c.half_life_s},
        {"wait_grace_s", c.wait_grace_s}, {"wait_half_life_s", c.wait_half_life_s},
        {"apology_drop", c.apology_drop}, {"soothed_half_life_s", c.soothed_half_life_s},
        {"soothed_for_s", c.soothed_for_s}, {"trend_window_s", c.trend_window_s},
        {"calm_below", c.calm_below}, {"peak_from", c.peak_from}, {"rising_trend", c.rising_trend},
        {"cooling_trend", c.cooling_trend}, {"alert_line", c.alert_line},
        {"history_points", c.history_points}}}};
}

}  // namespace calma::anger

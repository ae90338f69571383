#pragma once
// Every number of the anger scorer and curve. The defaults here are the values
// of config/calma.json ("anger"); config/README.md documents each one.

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace calma::anger {

struct scorer_params {
  std::string default_language = "en";  // when auto-detection finds no evidence
  int negation_window = 3;              // words looked back for "not", "no", "nie"
  int intensifier_window = 2;           // words looked back for "very", "muy", "bardzo"
  double negated_positive_weight = 0.3; // "not happy" counts as a complaint this strong
  double max_soothing = 0.6;            // politeness removes at most this share of the score
  double customer_apology_weight = 0.15;
  double same_category_decay = 0.5;     // 2nd cue of a category counts x0.5, 3rd x0.25...  // "sorry"/"I understand" from a customer: mere politeness

  struct caps_t {
    int min_letters = 6;      // upper-case letters needed before caps count as shouting
    double min_share = 0.5;   // share of upper-case letters (words of 2+ letters) to fire
    double weight = 0.45;     // contribution at share 1.0 (scaled by the share)
  } caps;
  struct exclamation_t {
    int free = 1;             // this many '!' are friendly ("Thanks!")
    double per_mark = 0.07;   // contribution per '!' beyond the free ones
    double max = 0.35;
  } exclamation;
  struct question_run_t {
    int min_run = 2;          // "??", "?!" and longer runs
    double weight = 0.15;
    double per_extra = 0.05;  // per mark beyond min_run
    double max = 0.3;
  } question_run;
  struct repetition_t {
    int history = 4;            // earlier customer messages compared
    double window_s = 900;      // only messages this recent
    int min_words = 2;          // content words both messages need
    double min_similarity = 0.6;  // Jaccard similarity of content words to fire
    double weight = 0.35;       // contribution at similarity 1.0
  } repetition;
  struct burst_t {
    double window_s = 30;     // customer messages inside this window...
    int min_messages = 3;     // ...at least this many (including this one) is a burst
    double weight = 0.12;
    double per_extra = 0.05;  // per message beyond min_messages
    double max = 0.3;
  } burst;
};

struct curve_params {
  double baseline = 5;         // level a conversation starts at and decays toward
  double gain = 0.6;           // k in L += (100 - L) * k * score
  double half_life_s = 240;    // decay toward the baseline
  double wait_grace_s = 30;    // an unanswered customer adds no pressure before this
  double wait_half_life_s = 300;  // after the grace: time to close half the gap to 100
  double apology_drop = 0.15;  // share of (L - baseline) removed at once by an apology/empathy
  double soothed_half_life_s = 80;  // decay half-life for a while after an apology
  double soothed_for_s = 180;       // how long that faster decay lasts
  double trend_window_s = 60;  // trend = change over this window, in points per minute
  double calm_below = 25;      // phase calm under this level
  double peak_from = 60;       // phase peak from this level unless clearly falling
  double rising_trend = 3;     // points/minute: rising at or above
  double cooling_trend = -1;   // points/minute: cooling at or below
  double alert_line = 80;      // line whose crossing time is predicted (eta)
  int history_points = 64;     // timeline points kept for the trend
};

struct params {
  std::vector<std::string> languages = {"en", "es", "pl"};  // lexicons to load
  // The learned model beside the cues (common/anger/model.hpp): a file path,
  // relative paths from the folder that holds lexicons/ (config/); "" = cues
  // only, the built-in default (config/calma.json names models/anger.model).
  std::string model;
  scorer_params scorer;
  curve_params curve;
};

// Reads the "anger" object of calma.json over the defaults. Every problem is
// appended to `errors` with its path ("anger.curve.gain: ...").
params params_from_json(const nlohmann::json& j, std::vector<std::string>& errors);
nlohmann::json to_json(const params& p);

}  // namespace calma::anger

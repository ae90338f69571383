#include "common/anger/types.hpp"

#include <array>
#include <cstdio>

namespace calma::anger {

namespace {
constexpr std::array<std::string_view, category_count> names = {
    "insult",         "profanity",  "complaint", "negative_emotion", "churn_threat",
    "legal_threat",   "review_threat", "manager_request", "urgency", "repetition",
    "politeness",     "positive",   "apology",   "empathy"};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g", v);
  return buf;
}
}  // namespace

std::string_view category_name(category c) noexcept {
  const auto i = static_cast<std::size_t>(c);
  return i < names.size() ? names[i] : std::string_view("?");
}

category category_from_name(std::string_view name) noexcept {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<category>(i);
  return category::count_;
}

std::string describe(const cue& c, std::string_view text) {
  auto slice = [&] {
    if (c.begin >= c.end || c.end > text.size()) return std::string();
    return std::string(text.substr(c.begin, c.end - c.begin));
  };
  switch (c.kind) {
    case cue_kind::lexicon: return std::string(category_name(c.cat)) + ": " + slice();
    case cue_kind::negated: return "negated: " + slice();
    case cue_kind::caps: return "caps " + number(c.value);
    case cue_kind::exclamation: return "exclamations " + std::to_string(static_cast<int>(c.value));
    case cue_kind::question_run: return "question_run " + std::to_string(static_cast<int>(c.value));
    case cue_kind::angry_emoji: return "angry_emoji " + slice();
    case cue_kind::friendly_emoji: return "friendly_emoji " + slice();
    case cue_kind::repeated: return "repeated " + number(c.value);
    case cue_kind::burst: return "burst " + std::to_string(static_cast<int>(c.value));
    case cue_kind::model: return "model " + number(c.value);
  }
  return "?";
}

std::vector<std::string> describe_all(const score_result& r, std::string_view text) {
  std::vector<std::string> out;
  out.reserve(r.cues.size());
  for (const auto& c : r.cues) out.push_back(describe(c, text));
  return out;
}

}  // namespace calma::anger

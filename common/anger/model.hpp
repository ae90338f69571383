#pragma once
// The learned anger signal: a linear model (logistic regression) over hashed
// features of the folded message — words, word pairs and the character
// n-grams of each word, fastText-style ("<wor", "word", "ord>") — with one
// calibration and one blend per language. It reads the same folded_message
// the cue scorer builds, so the text is folded once for both.
//
// It runs beside the cues, never instead of them: the scorer adds its share
// as one more cue ("model 0.62", the calibrated probability of anger) and the
// cues keep explaining every point. Pure and thread-safe once loaded; the only
// file access is load_model(), used at start-up.
//
// File format (little endian; written by calma_anger_train):
//   "CALMAAM1" | u32 version | u32 log2_buckets | u32 minn | u32 maxn |
//   u32 flags | u32 languages | per language: char code[8], f32 bias,
//   f32 platt_a, f32 platt_b, f32 share, f32 threshold, f32 damp,
//   f32 damp_below | f32 scale |
//   u32 meta_len | meta (JSON text) | i16 weights[1 << log2_buckets] |
//   u64 FNV-1a of every byte before it.

#include "common/anger/text.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace calma::anger {

struct feature_config {
  std::uint32_t log2_buckets = 20;
  std::uint32_t minn = 3, maxn = 5;  // character n-grams of "<word>"
  bool words = true;                 // whole words
  bool bigrams = true;               // pairs of neighbouring words
  bool per_language = true;          // every feature also once per language
};
inline constexpr std::uint32_t feature_flag_words = 1, feature_flag_bigrams = 2, feature_flag_per_language = 4;

// Upper bounds that keep a 4,000-byte message cheap: words beyond these are
// not read by the model (the cues still read them).
inline constexpr std::size_t model_max_tokens = 400;
inline constexpr std::size_t model_max_word_bytes = 40;

// Appends the bucket of every feature of `fm` for language slot `lang_slot`
// (the model's index of the message's language; ignored without per_language).
void extract_features(const folded_message& fm, const feature_config& fc, std::uint32_t lang_slot,
                      std::vector<std::uint32_t>& out);

struct model_language {
  std::string code;       // "en", "es", "pl"
  float bias = 0;         // intercept of the linear model for this language
  float platt_a = 1, platt_b = 0;  // calibration: p = sigmoid(a * z + b)
  // The blend with the cue score c (text_model::blend):
  float share = 0;        // the model adds m = share * (p - threshold) / (1 - threshold) above threshold,
  float threshold = 1;    //   as one more raising cue: 1 - (1 - c)(1 - m)
  float damp = 0;         // and below damp_below takes off at most this share of the cues' score,
  float damp_below = 0;   //   damp * (damp_below - p) / damp_below (the model is sure it reads calm)
};

class text_model {
 public:
  text_model(feature_config fc, std::vector<model_language> langs, std::vector<float> weights,
             std::string meta = {});

  // The raw linear score of `fm` for model language slot `slot`.
  double logit(const folded_message& fm, std::size_t slot) const;
  // Calibrated probability of anger in [0,1].
  double probability(const folded_message& fm, std::size_t slot) const;
  // The model's raising share at probability p (0 below the threshold).
  double share(double p, std::size_t slot) const noexcept;
  // The message score from the cues' score `cue` and the model's probability p.
  double blend(double cue, double p, std::size_t slot) const noexcept;

  // Model slot of a language code, or -1.
  int find(std::string_view code) const noexcept;
  const std::vector<model_language>& languages() const noexcept { return langs_; }
  std::vector<model_language>& languages() noexcept { return langs_; }
  const feature_config& features() const noexcept { return fc_; }
  const std::string& meta() const noexcept { return meta_; }
  float weight(std::uint32_t bucket) const noexcept { return float(q_[bucket]) * scale_; }
  std::size_t buckets() const noexcept { return q_.size(); }

  // The file image (weights quantized to 16 bits).
  std::string serialize() const;
  // Parses a file image; on failure returns null and sets `error` (no file name).
  static std::shared_ptr<const text_model> parse(std::string_view bytes, std::string& error);

 private:
  feature_config fc_;
  std::vector<model_language> langs_;
  std::vector<std::int16_t> q_;
  float scale_ = 0;
  std::string meta_;
};

// Reads a model file. On failure returns null and appends one error that
// names the file ("config/models/anger.model: checksum mismatch (corrupt file)").
std::shared_ptr<const text_model> load_model(const std::filesystem::path& file, std::vector<std::string>& errors);

// Where the configured model ("anger.model") lives: an absolute path as is, a
// relative one from the folder that holds the lexicons' folder (config/).
std::filesystem::path resolve_model_path(std::string_view configured, const std::filesystem::path& lexicon_dir);

}  // namespace calma::anger

#include "common/anger/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace calma::anger {
namespace {

constexpr char magic[8] = {'C', 'A', 'L', 'M', 'A', 'A', 'M', '1'};
constexpr std::uint32_t format_version = 1;

constexpr std::uint32_t fnv_prime = 16777619u;

// murmur3's finaliser: spreads FNV's low-entropy high bits over the bucket index.
constexpr std::uint32_t mix(std::uint32_t h) noexcept {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// Seeds per kind of feature, so "ab" the word and "ab" the n-gram differ.
constexpr std::uint32_t seed_word = 0x9e3779b9u, seed_ngram = 0x7f4a7c15u, seed_pair = 0x94d049bbu,
                        seed_symbol = 0x2545f491u;

struct emitter {
  const feature_config& fc;
  std::uint32_t salt;
  std::uint32_t shift;
  std::vector<std::uint32_t>& out;
  void operator()(std::uint32_t h) const {
    const std::uint32_t m = mix(h);
    out.push_back(m >> shift);
    if (fc.per_language) out.push_back(mix(m ^ salt) >> shift);
  }
};

std::uint64_t fnv64(std::string_view s) noexcept {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

template <typename T>
void put(std::string& s, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  s.append(b, sizeof(T));
}

struct reader {
  std::string_view s;
  std::size_t pos = 0;
  bool ok = true;
  template <typename T>
  T get() {
    T v{};
    if (pos + sizeof(T) > s.size()) {
      ok = false;
      return v;
    }
    std::memcpy(&v, s.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string_view bytes(std::size_t n) {
    if (pos + n > s.size()) {
      ok = false;
      return {};
    }
    auto r = s.substr(pos, n);
    pos += n;
    return r;
  }
};

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

void extract_features(const folded_message& fm, const feature_config& fc, std::uint32_t lang_slot,
                      std::vector<std::uint32_t>& out) {
  const emitter emit{fc, mix(0x51ed270bu + lang_slot * 0x2545f491u), 32 - fc.log2_buckets, out};
  const std::size_t ntok = std::min(fm.tokens.size(), model_max_tokens);
  std::uint32_t prev = 0;
  for (std::size_t t = 0; t < ntok; ++t) {
    std::string_view w = fm.word(fm.tokens[t]);
    if (w.size() > model_max_word_bytes) w = w.substr(0, model_max_word_bytes);
    std::uint32_t wh = seed_word;
    for (unsigned char c : w) wh = (wh ^ c) * fnv_prime;
    if (fc.words) emit(wh);
    if (fc.bigrams) {
      if (t > 0) emit(prev * 31u + wh + seed_pair);
      prev = wh;
    }
    // "<word>": n-grams of minn..maxn bytes, padded with '<' and '>'.
    const std::size_t len = w.size() + 2;
    auto at = [&](std::size_t j) -> unsigned char {
      return j == 0 ? '<' : j == len - 1 ? '>' : static_cast<unsigned char>(w[j - 1]);
    };
    if (len < fc.minn) continue;
    for (std::size_t i = 0; i + fc.minn <= len; ++i) {
      std::uint32_t h = seed_ngram;
      for (std::size_t k = 0; k < fc.maxn && i + k < len; ++k) {
        h = (h ^ at(i + k)) * fnv_prime;
        if (k + 1 >= fc.minn && !(k + 1 == len && i == 0 && fc.words)) emit(h);
      }
    }
  }
  // Emoji and other symbols, at most a few.
  std::size_t symbols = 0;
  for (const auto& sc : fm.specials) {
    if (sc.cp < 0x2000) continue;  // letters such as ñ are inside the words already
    if (++symbols > 8) break;
    emit((seed_symbol ^ static_cast<std::uint32_t>(sc.cp)) * fnv_prime);
  }
}

text_model::text_model(feature_config fc, std::vector<model_language> langs, std::vector<float> weights,
                       std::string meta)
    : fc_(fc), langs_(std::move(langs)), meta_(std::move(meta)) {
  float mx = 0;
  for (float w : weights) mx = std::max(mx, std::fabs(w));
  scale_ = mx > 0 ? mx / 32767.0f : 1.0f;
  q_.resize(weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i)
    q_[i] = static_cast<std::int16_t>(std::lround(std::clamp(weights[i] / scale_, -32767.0f, 32767.0f)));
}

double text_model::logit(const folded_message& fm, std::size_t slot) const {
  thread_local std::vector<std::uint32_t> feats;
  feats.clear();
  extract_features(fm, fc_, static_cast<std::uint32_t>(slot), feats);
  std::int64_t sum = 0;
  for (std::uint32_t b : feats) sum += q_[b];
  const double bias = slot < langs_.size() ? langs_[slot].bias : 0.0;
  if (feats.empty()) return bias;
  return bias + double(sum) * scale_ / std::sqrt(double(feats.size()));
}

double text_model::probability(const folded_message& fm, std::size_t slot) const {
  const double z = logit(fm, slot);
  if (slot >= langs_.size()) return sigmoid(z);
  return sigmoid(langs_[slot].platt_a * z + langs_[slot].platt_b);
}

double text_model::share(double p, std::size_t slot) const noexcept {
  if (slot >= langs_.size()) return 0;
  const auto& l = langs_[slot];
  if (l.share <= 0 || p <= l.threshold || l.threshold >= 1) return 0;
  return std::min(1.0, double(l.share) * (p - l.threshold) / (1.0 - l.threshold));
}

double text_model::blend(double cue, double p, std::size_t slot) const noexcept {
  if (slot >= langs_.size()) return cue;
  const auto& l = langs_[slot];
  double c = cue;
  if (l.damp > 0 && l.damp_below > 0 && p < l.damp_below) c *= 1.0 - l.damp * (l.damp_below - p) / l.damp_below;
  return std::clamp(1.0 - (1.0 - c) * (1.0 - share(p, slot)), 0.0, 1.0);
}

int text_model::find(std::string_view code) const noexcept {
  for (std::size_t i = 0; i < langs_.size(); ++i)
    if (langs_[i].code == code) return static_cast<int>(i);
  return -1;
}

std::string text_model::serialize() const {
  std::string s(magic, sizeof magic);
  put<std::uint32_t>(s, format_version);
  put<std::uint32_t>(s, fc_.log2_buckets);
  put<std::uint32_t>(s, fc_.minn);
  put<std::uint32_t>(s, fc_.maxn);
  put<std::uint32_t>(s, (fc_.words ? feature_flag_words : 0) | (fc_.bigrams ? feature_flag_bigrams : 0) |
                            (fc_.per_language ? feature_flag_per_language : 0));
  put<std::uint32_t>(s, static_cast<std::uint32_t>(langs_.size()));
  for (const auto& l : langs_) {
    char code[8] = {};
    std::memcpy(code, l.code.data(), std::min<std::size_t>(l.code.size(), 7));
    s.append(code, 8);
    put<float>(s, l.bias);
    put<float>(s, l.platt_a);
    put<float>(s, l.platt_b);
    put<float>(s, l.share);
    put<float>(s, l.threshold);
    put<float>(s, l.damp);
    put<float>(s, l.damp_below);
  }
  put<float>(s, scale_);
  put<std::uint32_t>(s, static_cast<std::uint32_t>(meta_.size()));
  s += meta_;
  s.append(reinterpret_cast<const char*>(q_.data()), q_.size() * sizeof(std::int16_t));
  put<std::uint64_t>(s, fnv64(s));
  return s;
}

std::shared_ptr<const text_model> text_model::parse(std::string_view bytes, std::string& error) {
  if (bytes.size() < sizeof magic || std::memcmp(bytes.data(), magic, sizeof magic) != 0) {
    error = "not a Calma anger model (bad magic)";
    return nullptr;
  }
  if (bytes.size() < sizeof magic + 8) {
    error = "truncated";
    return nullptr;
  }
  std::uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  reader r{body, sizeof magic};
  const auto version = r.get<std::uint32_t>();
  if (r.ok && version != format_version) {
    error = "model format version " + std::to_string(version) + ", this build reads " + std::to_string(format_version);
    return nullptr;
  }
  feature_config fc;
  fc.log2_buckets = r.get<std::uint32_t>();
  fc.minn = r.get<std::uint32_t>();
  fc.maxn = r.get<std::uint32_t>();
  const auto flags = r.get<std::uint32_t>();
  fc.words = flags & feature_flag_words;
  fc.bigrams = flags & feature_flag_bigrams;
  fc.per_language = flags & feature_flag_per_language;
  const auto nlang = r.get<std::uint32_t>();
  if (!r.ok) {
    error = "truncated header";
    return nullptr;
  }
  if (fc.log2_buckets < 8 || fc.log2_buckets > 24 || fc.minn < 1 || fc.maxn < fc.minn || fc.maxn > 16 ||
      nlang == 0 || nlang > 16) {
    error = "bad header (buckets, n-gram lengths or languages out of range)";
    return nullptr;
  }
  std::vector<model_language> langs(nlang);
  for (auto& l : langs) {
    const auto code = r.bytes(8);
    l.code = std::string(code.substr(0, code.find('\0')));
    l.bias = r.get<float>();
    l.platt_a = r.get<float>();
    l.platt_b = r.get<float>();
    l.share = r.get<float>();
    l.threshold = r.get<float>();
    l.damp = r.get<float>();
    l.damp_below = r.get<float>();
    if (r.ok && !(std::isfinite(l.bias) && std::isfinite(l.platt_a) && std::isfinite(l.platt_b) &&
                  l.share >= 0 && l.share <= 1 && l.threshold >= 0 && l.threshold <= 1 && l.damp >= 0 &&
                  l.damp <= 1 && l.damp_below >= 0 && l.damp_below <= 1)) {
      error = "bad calibration or blend for language '" + l.code + "'";
      return nullptr;
    }
  }
  const auto scale = r.get<float>();
  const auto meta_len = r.get<std::uint32_t>();
  if (!r.ok || meta_len > (1u << 20)) {
    error = "truncated header";
    return nullptr;
  }
  const auto meta = r.bytes(meta_len);
  const std::size_t n = std::size_t{1} << fc.log2_buckets;
  const auto w = r.bytes(n * sizeof(std::int16_t));
  if (!r.ok || r.pos != body.size()) {
    error = r.ok ? "unexpected bytes after the weights" : "truncated (weights cut short)";
    return nullptr;
  }
  if (fnv64(body) != stored) {
    error = "checksum mismatch (corrupt file)";
    return nullptr;
  }
  if (!(std::isfinite(scale) && scale > 0)) {
    error = "bad weight scale";
    return nullptr;
  }
  auto m = std::make_shared<text_model>(fc, std::move(langs), std::vector<float>{}, std::string(meta));
  m->scale_ = scale;
  m->q_.resize(n);
  std::memcpy(m->q_.data(), w.data(), w.size());
  return m;
}

std::shared_ptr<const text_model> load_model(const std::filesystem::path& file, std::vector<std::string>& errors) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    errors.push_back(file.string() + ": cannot open the anger model");
    return nullptr;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  std::string error;
  auto m = text_model::parse(bytes, error);
  if (!m) errors.push_back(file.string() + ": " + error);
  return m;
}

std::filesystem::path resolve_model_path(std::string_view configured, const std::filesystem::path& lexicon_dir) {
  const std::filesystem::path p(configured);
  if (p.is_absolute()) return p;
  auto dir = lexicon_dir;
  if (!dir.has_filename()) dir = dir.parent_path();  // "config/lexicons/"
  return dir.parent_path() / p;
}

}  // namespace calma::anger

#pragma once
// Used by every config section (server, anger, escalation...).
// Reads a JSON object of parameters into a struct that already holds the
// defaults: a missing key keeps its default, a wrong type, a value out of
// range or an unknown key (a typo) adds one line to `errors` naming the full
// path ("anger.curve.half_life_s: must be a number in [1, 86400]"), so a bad
// config is reported whole, not one problem per restart.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace calma {

class param_reader {
 public:
  param_reader(const nlohmann::json* j, std::string path, std::vector<std::string>& errors)
      : j_(j), path_(std::move(path)), errors_(&errors) {
    if (j_ && !j_->is_object()) {
      error("", "must be an object");
      j_ = nullptr;
    }
  }
  ~param_reader() { finish(); }
  param_reader(const param_reader&) = delete;
  param_reader& operator=(const param_reader&) = delete;

  template <typename T>
  void number(const char* key, T& v, double lo, double hi) {
    const nlohmann::json* x = get(key);
    if (!x) return;
    if (!x->is_number() || x->get<double>() < lo || x->get<double>() > hi) {
      error(key, "must be a number in [" + fmt(lo) + ", " + fmt(hi) + "]");
      return;
    }
    v = static_cast<T>(x->get<double>());
  }
  template <typename T>
  void integer(const char* key, T& v, long long lo, long long hi) {
    const nlohmann::json* x = get(key);
    if (!x) return;
    if (!x->is_number_integer() || x->get<long long>() < lo || x->get<long long>() > hi) {
      error(key, "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      return;
    }
    v = static_cast<T>(x->get<long long>());
  }
  void string(const char* key, std::string& v) {
    const nlohmann::json* x = get(key);
    if (!x) return;
    if (!x->is_string()) return error(key, "must be a string");
    v = x->get<std::string>();
  }
  void strings(const char* key, std::vector<std::string>& v) {
    const nlohmann::json* x = get(key);
    if (!x) return;
    if (!x->is_array()) return error(key, "must be an array of strings");
    std::vector<std::string> out;
    for (const auto& e : *x) {
      if (!e.is_string()) return error(key, "must be an array of strings");
      out.push_back(e.get<std::string>());
    }
    v = std::move(out);
  }
  // A nested object kept as JSON for another part to read (e.g. "anger").
  void raw(const char* key, nlohmann::json& v) {
    const nlohmann::json* x = get(key);
    if (!x) return;
    if (!x->is_object()) return error(key, "must be an object");
    v = *x;
  }
  // Any value at `key`, for a reader of its own (nullptr when absent).
  const nlohmann::json* any(const char* key) { return get(key); }
  // The nested object at `key` (absent: a reader that keeps every default).
  param_reader child(const char* key) { return param_reader(get(key), join(key), *errors_); }
  void error(const std::string& key, const std::string& what) {
    errors_->push_back(join(key) + (key.empty() && path_.empty() ? "" : ": ") + what);
  }
  const std::string& path() const { return path_; }

  param_reader(param_reader&& o) noexcept
      : j_(o.j_), path_(std::move(o.path_)), errors_(o.errors_), seen_(std::move(o.seen_)) {
    o.j_ = nullptr;
  }

 private:
  const nlohmann::json* get(const char* key) {
    seen_.emplace_back(key);
    if (!j_) return nullptr;
    auto it = j_->find(key);
    return it == j_->end() ? nullptr : &*it;
  }
  void finish() {
    if (!j_) return;
    for (const auto& [k, v] : j_->items()) {
      if (k == "comment" || (!k.empty() && k[0] == '_')) continue;  // comments
      bool known = false;
      for (const auto& s : seen_) known = known || s == k;
      if (!known) error(k, "unknown key");
    }
    j_ = nullptr;
  }
  std::string join(const std::string& key) const {
    if (key.empty()) return path_;
    return path_.empty() ? key : path_ + "." + key;
  }
  static std::string fmt(double d) {
    std::string s = std::to_string(d);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  const nlohmann::json* j_;
  std::string path_;
  std::vector<std::string>* errors_;
  std::vector<std::string> seen_;
};

}  // namespace calma

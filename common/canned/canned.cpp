#include "common/canned/canned.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/protocol/messages.hpp"

namespace calma::canned {

using nlohmann::json;

const std::vector<std::string>& categories() {
  static const std::vector<std::string> c{"greeting", "apology",  "delay",     "replacement", "refund",
                                          "partial_refund", "escalation", "callback", "follow_up", "closing"};
  return c;
}

namespace {
const std::vector<std::string> stage_names{"calm", "rising", "peak", "cooling", "closed"};
bool one_of(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

std::vector<answer> parse(const json& j, const std::string& lang, const std::string& where,
                          std::vector<std::string>& errors) {
  std::vector<answer> out;
  auto err = [&](const std::string& m) { errors.push_back(where + ": " + m); };
  if (!j.is_object()) {
    err("must be an object {\"lang\", \"responses\": [...]}");
    return out;
  }
  if (auto l = j.find("lang"); l != j.end() && (!l->is_string() || l->get<std::string>() != lang))
    err("\"lang\" says " + l->dump() + " but the file is for '" + lang + "'");
  auto rs = j.find("responses");
  if (rs == j.end() || !rs->is_array()) {
    err("\"responses\" must be an array");
    return out;
  }
  int i = 0;
  for (const auto& r : *rs) {
    const std::string at = "responses[" + std::to_string(i++) + "]";
    if (!r.is_object()) {
      err(at + " must be an object");
      continue;
    }
    answer a;
    a.lang = lang;
    bool ok = true;
    auto str = [&](const char* k, std::string& v, std::size_t max) {
      auto it = r.find(k);
      if (it == r.end() || !it->is_string() || it->get<std::string>().empty() || it->get<std::string>().size() > max) {
        err(at + "." + k + " must be a non-empty string of at most " + std::to_string(max) + " bytes");
        ok = false;
        return;
      }
      v = it->get<std::string>();
    };
    str("id", a.id, 64);
    str("title", a.title, 120);
    str("text", a.text, 2000);
    str("category", a.category, 32);
    if (ok && !protocol::valid_id(a.id, 64)) {
      err(at + ".id must be 1-64 characters of [A-Za-z0-9._:-]");
      ok = false;
    }
    if (ok && !one_of(categories(), a.category)) {
      err(at + ".category '" + a.category + "' is not one of greeting, apology, delay, replacement, refund, "
                                            "partial_refund, escalation, callback, follow_up, closing");
      ok = false;
    }
    if (auto st = r.find("stages"); st != r.end()) {
      if (!st->is_array()) {
        err(at + ".stages must be an array");
        ok = false;
      } else {
        for (const auto& x : *st) {
          if (!x.is_string() || !one_of(stage_names, x.get<std::string>())) {
            err(at + ".stages: " + x.dump() + " is not one of calm, rising, peak, cooling, closed");
            ok = false;
            break;
          }
          a.stages.push_back(x.get<std::string>());
        }
      }
    }
    for (const auto& [k, v] : r.items())
      if (k != "id" && k != "title" && k != "text" && k != "category" && k != "stages" && k != "comment")
        err(at + ": unknown key '" + k + "'"), ok = false;
    for (const auto& o : out)
      if (o.id == a.id) err(at + ": duplicate id '" + a.id + "'"), ok = false;
    if (ok) out.push_back(std::move(a));
  }
  return out;
}

std::vector<answer> merge(std::vector<answer> base, const std::vector<answer>& overrides) {
  for (const auto& o : overrides) {
    auto it = std::find_if(base.begin(), base.end(), [&](const answer& a) { return a.id == o.id; });
    if (it != base.end()) *it = o;
    else base.push_back(o);
  }
  return base;
}

json to_json(const answer& a) {
  return json{{"id", a.id},     {"title", a.title},       {"text", a.text},
              {"lang", a.lang}, {"category", a.category}, {"stages", a.stages}};
}

}  // namespace calma::canned

#include "common/protocol/merge.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace calma::protocol {

using nlohmann::json;

std::string_view top_level_type(std::string_view f) {
  int depth = 0;
  bool key_next = false;  // at depth 1, the next string is a key
  for (std::size_t i = 0; i < f.size(); ++i) {
    const char ch = f[i];
    if (ch == '"') {
      const std::size_t start = ++i;
      bool plain = true;
      for (; i < f.size() && f[i] != '"'; ++i)
        if (f[i] == '\\') plain = false, ++i;
      if (i >= f.size()) return {};
      if (depth == 1 && key_next) {
        key_next = false;
        if (plain && f.substr(start, i - start) == "type" && i + 2 < f.size() && f[i + 1] == ':' && f[i + 2] == '"') {
          const std::size_t v = i + 3, e = f.find('"', v);
          if (e == std::string_view::npos) return {};
          const auto val = f.substr(v, e - v);
          return val.find('\\') == std::string_view::npos ? val : std::string_view();
        }
      }
    } else if (ch == '{' || ch == '[') {
      ++depth;
      key_next = depth == 1 && ch == '{';
    } else if (ch == '}' || ch == ']') {
      --depth;
    } else if (ch == ',' && depth == 1) {
      key_next = true;
    }
  }
  return {};
}

namespace {

// The hubs' order of agents: online with a free slot, online and full, away, offline; then by name.
int availability(const json& a) {
  const auto status = a.value("status", "");
  if (status == "online") return a.value("load", 0) < a.value("capacity", 0) ? 0 : 1;
  return status == "away" ? 2 : 3;
}

void sort_agents(json& agents) {
  std::stable_sort(agents.begin(), agents.end(), [](const json& x, const json& y) {
    const int ax = availability(x), ay = availability(y);
    if (ax != ay) return ax < ay;
    return std::make_pair(x.value("name", ""), x.value("id", "")) < std::make_pair(y.value("name", ""), y.value("id", ""));
  });
}

}  // namespace

json merge_welcomes(std::vector<json> welcomes) {
  if (welcomes.empty()) return json::object();
  json w = std::move(welcomes.front());
  for (const char* k : {"conversations", "escalations", "stores"})
    if (!w.contains(k) || !w[k].is_array()) w[k] = json::array();
  for (std::size_t i = 1; i < welcomes.size(); ++i) {
    auto& o = welcomes[i];
    for (const char* k : {"conversations", "escalations", "stores"})
      if (o.contains(k) && o[k].is_array())
        for (auto& x : o[k]) w[k].push_back(std::move(x));
    if (!w.contains("presence") && o.contains("presence")) w["presence"] = std::move(o["presence"]);
  }
  return w;
}

json merge_snapshots(const std::vector<const json*>& snapshots, std::size_t max_agents) {
  json queues = json::array(), agents = json::array();
  std::int64_t total = 0, ts = 0;
  json by_status{{"online", 0}, {"away", 0}, {"offline", 0}};
  bool truncated = false;
  for (const json* s : snapshots) {
    if (!s || !s->is_object()) continue;
    for (const auto& q : s->value("queues", json::array())) queues.push_back(q);
    for (const auto& a : s->value("agents", json::array())) agents.push_back(a);
    total += s->value("agents_total", std::int64_t{0});
    ts = std::max(ts, s->value("ts", std::int64_t{0}));
    truncated |= s->value("truncated", false);
    if (auto b = s->find("agents_by_status"); b != s->end() && b->is_object())
      for (const auto& [k, v] : b->items())
        if (v.is_number_integer()) by_status[k] = by_status.value(k, 0) + v.get<int>();
  }
  sort_agents(agents);
  if (agents.size() > max_agents) {
    agents.erase(agents.begin() + static_cast<std::ptrdiff_t>(max_agents), agents.end());
    truncated = true;
  }
  return json{{"type", "queue.snapshot"},   {"ts", ts},
              {"queues", std::move(queues)}, {"agents", std::move(agents)},
              {"agents_total", total},       {"agents_by_status", std::move(by_status)},
              {"truncated", truncated}};
}

agents_list widen_agents_list(const agents_list& m) {
  auto ask = m;
  ask.offset = 0;
  ask.limit = m.offset + m.limit;  // past max_agents_page: a request of the server's own, not a client's
  return ask;
}

std::string agents_list_text(const agents_list& m) {
  json j{{"type", "agents.list"}, {"offset", m.offset}, {"limit", m.limit}};
  if (!m.store.empty()) j["store"] = m.store;
  if (m.status) j["status"] = std::string(to_string(*m.status));
  if (!m.q.empty()) j["q"] = m.q;
  return j.dump();
}

json merge_agents_pages(std::vector<json> pages, int offset, int limit) {
  json agents = json::array();
  std::int64_t total = 0, ts = 0;
  for (auto& p : pages) {
    if (!p.is_object()) continue;
    if (auto a = p.find("agents"); a != p.end() && a->is_array())
      for (auto& x : *a) agents.push_back(std::move(x));
    total += p.value("total", std::int64_t{0});
    ts = std::max(ts, p.value("ts", std::int64_t{0}));
  }
  sort_agents(agents);
  json out = json::array();
  for (auto k = static_cast<std::size_t>(std::max(offset, 0)); k < agents.size() && out.size() < static_cast<std::size_t>(limit); ++k)
    out.push_back(std::move(agents[k]));
  const bool more = offset + static_cast<std::int64_t>(out.size()) < total;
  return json{{"type", "agents.list"}, {"ts", ts}, {"agents", std::move(out)}, {"total", total}, {"offset", offset}, {"more", more}};
}

}  // namespace calma::protocol

#include "server/hub/fan_in.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace calma {

using nlohmann::json;

/// What hub `shards_[i]` sees of the client.
class fan_in::leg final : public connection {
 public:
  leg(std::weak_ptr<fan_in> f, std::size_t i, const connection& client)
      : f_(std::move(f)),
        i_(i),
        id_(client.id()),
        node_(client.node()),
        origin_(client.origin()),
        host_(client.host()),
        address_(client.address()) {}
  std::uint64_t id() const override { return id_; }
  void send(frame_ptr frame) override {
    if (auto f = f_.lock()) f->from_leg(i_, std::move(frame));
  }
  void close(std::uint16_t code, std::string reason) override {
    if (auto f = f_.lock()) f->leg_closed(code, std::move(reason));
  }
  std::string_view node() const override { return node_; }
  std::string_view origin() const override { return origin_; }
  std::string_view host() const override { return host_; }
  std::string_view address() const override { return address_; }
  bool counted() const override { return i_ == 0; }

 private:
  std::weak_ptr<fan_in> f_;
  std::size_t i_;
  std::uint64_t id_;
  std::string node_, origin_, host_, address_;
};

fan_in::fan_in(std::shared_ptr<connection> client, std::vector<std::uint32_t> shards, std::size_t snapshot_max_agents)
    : client_(client),
      id_(client->id()),
      shards_(std::move(shards)),
      max_agents_(snapshot_max_agents),
      welcomes_(shards_.size()),
      waiting_(shards_.size()),
      snapshots_(shards_.size()) {}

std::vector<std::shared_ptr<connection>> fan_in::legs() {
  std::lock_guard lk(mu_);
  if (legs_.empty()) {
    auto client = client_.lock();
    if (!client) return {};
    for (std::size_t i = 0; i < shards_.size(); ++i) legs_.push_back(std::make_shared<leg>(weak_from_this(), i, *client));
  }
  return legs_;
}

namespace {

/// The string value after each `"key":"` in a frame the hub wrote (compact
/// JSON; inside a string a quote is escaped, so the pattern only matches a key).
template <class F>
void each_value(std::string_view text, std::string_view key, F&& f) {
  std::string pat = "\"" + std::string(key) + "\":\"";
  for (auto at = text.find(pat); at != std::string_view::npos; at = text.find(pat, at)) {
    at += pat.size();
    const auto end = text.find('"', at);
    if (end == std::string_view::npos) return;
    f(text.substr(at, end - at));
    at = end;
  }
}

/// The frame's top-level "type" (keys at depth 1 only: a transcript's
/// messages have types of their own), read without parsing the frame.
std::string type_of(std::string_view text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  std::size_t key_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') {
        in_string = false;
        // A key at depth 1 named type, its value a string: that is it.
        if (depth == 1 && text.substr(key_start, i - key_start) == "type" && text.substr(i + 1, 2) == ":\"") {
          const auto end = text.find('"', i + 3);
          return end == std::string_view::npos ? std::string() : std::string(text.substr(i + 3, end - i - 3));
        }
      }
      continue;
    }
    if (ch == '"') {
      in_string = true;
      key_start = i + 1;
    } else if (ch == '{' || ch == '[') {
      ++depth;
    } else if (ch == '}' || ch == ']') {
      --depth;
    }
  }
  return {};
}

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

void fan_in::note_ids(std::size_t i, const std::string& text) {
  if (where_.size() > max_ids_) where_.clear();  // a very long session: forget, the store answers again
  for (const char* key : {"conversation_id", "escalation_id"})
    each_value(text, key, [&](std::string_view id) {
      if (auto it = where_.find(id); it != where_.end()) it->second = shards_[i];
      else where_.emplace(std::string(id), shards_[i]);
    });
}

void fan_in::learn(const std::string& conversation_id, std::uint32_t shard) {
  std::lock_guard lk(mu_);
  where_[conversation_id] = shard;
}

std::string fan_in::conversation_of(const protocol::client_message& m) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, protocol::chat_send>) return x.conversation_id.value_or("");
        else if constexpr (requires { x.conversation_id; }) return x.conversation_id;
        else return {};
      },
      m);
}

fan_in::route fan_in::route_of(const protocol::client_message& m) const {
  if (std::holds_alternative<protocol::agents_list>(m)) return {std::nullopt, true};
  std::string key;
  if (const auto* a = std::get_if<protocol::escalation_ack>(&m)) key = a->escalation_id;
  else if (const auto* r = std::get_if<protocol::escalation_resolve>(&m)) key = r->escalation_id;
  const bool escalation = !key.empty();
  if (!escalation) key = conversation_of(m);
  if (key.empty()) return {shards_.front(), false};  // presence, a new conversation (refused): the first hub answers
  std::lock_guard lk(mu_);
  if (auto it = where_.find(key); it != where_.end()) return {it->second, false};
  // An escalation no leg spoke of is no open one: the first hub says not_found.
  if (escalation) return {shards_.front(), false};
  return {};
}

protocol::agents_list fan_in::expect_agents_list(const protocol::agents_list& m) {
  std::lock_guard lk(mu_);
  list_merge l;
  l.offset = m.offset;
  l.limit = m.limit;
  l.pages.resize(shards_.size());
  lists_.push_back(std::move(l));
  auto ask = m;
  ask.offset = 0;
  ask.limit = std::min(m.offset + m.limit, protocol::max_agents_page);
  return ask;
}

void fan_in::leg_closed(std::uint16_t code, std::string reason) {
  std::lock_guard lk(mu_);
  if (closed_) return;
  closed_ = true;
  if (auto c = client_.lock()) c->close(code, std::move(reason));
}

void fan_in::from_leg(std::size_t i, frame_ptr f) {
  auto client = client_.lock();
  if (!client || !f) return;
  // Sent under the lock: one leg's frames reach the client in the order its hub sent them.
  std::lock_guard lk(mu_);
  if (closed_) return;
  note_ids(i, *f);
  auto type = type_of(*f);
  auto pass = [&](std::size_t k, const frame_ptr& g, const std::string& t) -> frame_ptr {
    if (t == "queue.snapshot") {
      auto j = json::parse(*g, nullptr, false);
      if (!j.is_object()) return nullptr;
      snapshots_[k] = std::move(j);
      // Every hub sends one right after its welcome: the board starts whole, never half.
      if (std::any_of(snapshots_.begin(), snapshots_.end(), [](const auto& x) { return !x; })) return nullptr;
      return merged_snapshot();
    }
    if (t == "agents.list" && !lists_.empty()) {
      auto j = json::parse(*g, nullptr, false);
      if (!j.is_object()) return nullptr;
      return merge_agents_list(k, std::move(j)).value_or(nullptr);
    }
    if (t == "welcome") return nullptr;  // one welcome, already merged
    return g;
  };
  if (!welcomed_) {
    if (type != "welcome" || welcomes_[i]) {
      waiting_[i].push_back(std::move(f));
      return;
    }
    welcomes_[i] = json::parse(*f, nullptr, false);
    if (std::any_of(welcomes_.begin(), welcomes_.end(), [](const auto& w) { return !w; })) return;
    welcomed_ = true;
    client->send(merged_welcome());
    for (std::size_t k = 0; k < waiting_.size(); ++k)
      for (auto& g : waiting_[k])
        if (auto out = pass(k, g, type_of(*g))) client->send(std::move(out));
    waiting_.clear();
    welcomes_.clear();
    return;
  }
  if (auto out = pass(i, f, type)) client->send(std::move(out));
}

frame_ptr fan_in::merged_welcome() {
  json w = std::move(*welcomes_[0]);
  for (const char* k : {"conversations", "escalations", "stores"})
    if (!w[k].is_array()) w[k] = json::array();
  for (std::size_t i = 1; i < welcomes_.size(); ++i) {
    auto& o = *welcomes_[i];
    for (const char* k : {"conversations", "escalations", "stores"})
      if (o.contains(k) && o[k].is_array())
        for (auto& x : o[k]) w[k].push_back(std::move(x));
    if (!w.contains("presence") && o.contains("presence")) w["presence"] = o["presence"];
  }
  return make_frame(w.dump());
}

frame_ptr fan_in::merged_snapshot() const {
  json queues = json::array(), agents = json::array();
  std::int64_t total = 0, ts = 0;
  json by_status{{"online", 0}, {"away", 0}, {"offline", 0}};
  bool truncated = false;
  for (const auto& s : snapshots_) {
    if (!s) continue;
    for (const auto& q : s->value("queues", json::array())) queues.push_back(q);
    for (const auto& a : s->value("agents", json::array())) agents.push_back(a);
    total += s->value("agents_total", std::int64_t{0});
    ts = std::max(ts, s->value("ts", std::int64_t{0}));
    truncated |= s->value("truncated", false);
    if (auto b = s->find("agents_by_status"); b != s->end() && b->is_object())
      for (auto& [k, v] : b->items())
        if (v.is_number_integer()) by_status[k] = by_status.value(k, 0) + v.get<int>();
  }
  sort_agents(agents);
  if (agents.size() > max_agents_) {
    agents.erase(agents.begin() + static_cast<std::ptrdiff_t>(max_agents_), agents.end());
    truncated = true;
  }
  return make_frame(json{{"type", "queue.snapshot"},
                         {"ts", ts},
                         {"queues", std::move(queues)},
                         {"agents", std::move(agents)},
                         {"agents_total", total},
                         {"agents_by_status", std::move(by_status)},
                         {"truncated", truncated}}
                        .dump());
}

std::optional<frame_ptr> fan_in::merge_agents_list(std::size_t i, json page) {
  auto& l = lists_.front();
  if (l.pages[i]) return std::nullopt;  // a leg answering twice: cannot be
  l.pages[i] = std::move(page);
  if (std::any_of(l.pages.begin(), l.pages.end(), [](const auto& p) { return !p; })) return std::nullopt;
  json agents = json::array();
  std::int64_t total = 0, ts = 0;
  for (auto& p : l.pages) {
    for (auto& a : (*p)["agents"]) agents.push_back(std::move(a));
    total += p->value("total", std::int64_t{0});
    ts = std::max(ts, p->value("ts", std::int64_t{0}));
  }
  sort_agents(agents);
  json out = json::array();
  for (std::size_t k = static_cast<std::size_t>(l.offset); k < agents.size() && out.size() < static_cast<std::size_t>(l.limit); ++k)
    out.push_back(std::move(agents[k]));
  const bool more = l.offset + static_cast<std::int64_t>(out.size()) < total;
  json j{{"type", "agents.list"}, {"ts", ts}, {"agents", std::move(out)}, {"total", total}, {"offset", l.offset}, {"more", more}};
  lists_.erase(lists_.begin());
  return make_frame(j.dump());
}

}  // namespace calma

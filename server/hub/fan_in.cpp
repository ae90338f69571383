#include "server/hub/fan_in.hpp"

#include "common/protocol/errors.hpp"
#include "common/protocol/merge.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

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

fan_in::fan_in(std::shared_ptr<connection> client, std::vector<std::uint32_t> shards,
               const std::vector<std::pair<std::string, std::uint32_t>>& stores, std::size_t snapshot_max_agents)
    : client_(client),
      id_(client->id()),
      shards_(std::move(shards)),
      max_agents_(snapshot_max_agents),
      welcomes_(shards_.size()),
      waiting_(shards_.size()),
      snapshots_(shards_.size()) {
  for (const auto& [id, k] : stores) {
    store_shard_.emplace(id, k);
    store_rank_.emplace(id, store_rank_.size());
  }
}

void fan_in::answer(frame_ptr f) {
  std::lock_guard lk(mu_);
  if (closed_) return;
  if (auto c = client_.lock()) c->send(std::move(f));
}

std::vector<std::shared_ptr<connection>> fan_in::legs() {
  std::lock_guard lk(mu_);
  if (legs_.empty()) {
    auto client = client_.lock();
    if (!client) return {};
    for (std::size_t i = 0; i < shards_.size(); ++i) legs_.push_back(std::make_shared<leg>(weak_from_this(), i, *client));
  }
  return legs_;
}


void fan_in::note_ids(std::size_t i, const std::string& text, std::string_view type) {
  // What is over is forgotten (a closed conversation's later actions ask the
  // store again): the map holds what is open. Past max_ids_ anyway, all of it.
  if (type == "conversation.closed" || type == "escalation.resolved") {
    protocol::each_string_value(text, type == "conversation.closed" ? "conversation_id" : "escalation_id",
                                [&](std::string_view id) {
                                  if (auto it = where_.find(id); it != where_.end()) where_.erase(it);
                                });
    return;
  }
  if (where_.size() > max_ids_) where_.clear();
  for (const char* key : {"conversation_id", "escalation_id"})
    protocol::each_string_value(text, key, [&](std::string_view id) {
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
  if (const auto* a = std::get_if<protocol::agents_list>(&m)) {
    if (a->store.empty()) return {std::nullopt, true};  // every leg's colleagues, merged
    // One store's: its hub answers alone (and refuses a store that is not the asker's).
    auto it = store_shard_.find(a->store);
    const auto k = it == store_shard_.end() ? shards_.front() : it->second;
    return {std::find(shards_.begin(), shards_.end(), k) == shards_.end() ? shards_.front() : k, false};
  }
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
  return protocol::widen_agents_list(m);
}

void fan_in::leg_closed(std::uint16_t code, std::string reason) {
  std::lock_guard lk(mu_);
  if (closed_) return;
  closed_ = true;
  if (auto c = client_.lock()) c->close(code, std::move(reason));
}

void fan_in::from_leg(std::size_t i, frame_ptr f) {
  deliver(i, std::move(f));
  std::optional<std::size_t> fresh;
  {
    std::lock_guard lk(mu_);
    fresh = std::exchange(rewelcome_leg_, std::nullopt);
  }
  if (fresh) rewelcome_(*fresh);  // outside the lock: the legs' hellos go out from here
}

// A leg's answer to an agents.list asked of every leg: the page, or its refusal.
static bool answers_agents_list(std::string_view type, const std::string& text) {
  return type == "agents.list" || (type == "error" && text.find("\"ref\":\"agents.list\"") != std::string::npos);
}

void fan_in::deliver(std::size_t i, frame_ptr f) {
  auto client = client_.lock();
  if (!client || !f) return;
  // Sent under the lock: one leg's frames reach the client in the order its hub sent them.
  std::lock_guard lk(mu_);
  if (closed_) return;
  const std::string type(protocol::top_level_type(*f));
  note_ids(i, *f, type);
  auto pass = [&](std::size_t k, const frame_ptr& g, std::string_view t) -> frame_ptr {
    if (t == "queue.snapshot") {
      auto j = json::parse(*g, nullptr, false);
      if (!j.is_object()) return nullptr;
      snapshots_[k] = std::move(j);
      // Every hub sends one right after its welcome: the board starts whole, never half.
      if (std::any_of(snapshots_.begin(), snapshots_.end(), [](const auto& x) { return !x; })) return nullptr;
      return merged_snapshot();
    }
    // A page asked of every leg: its answer, or its refusal (an error about agents.list).
    if (!lists_.empty() && !lists_.front().pages[k] && answers_agents_list(t, *g)) {
      auto j = json::parse(*g, nullptr, false);
      if (!j.is_object()) return nullptr;
      return merge_agents_list(k, std::move(j)).value_or(nullptr);
    }
    if (t == "welcome") return nullptr;  // one welcome, already merged
    return g;
  };
  if (welcomed_ && type == "welcome") {
    // Its shard moved (a new leader welcomed it afresh): every leg's welcome
    // again, merged into one; frames wait behind it as at the start. Pages
    // of colleagues asked before are not waited for any more, and what the
    // other legs' hubs still answer to them before their new welcome is
    // dropped: alone, one leg's page is not the answer the client asked for.
    welcomed_ = false;
    welcomes_.assign(shards_.size(), std::nullopt);
    waiting_.assign(shards_.size(), {});
    waiting_count_ = 0;
    stale_lists_.assign(shards_.size(), 0);
    for (const auto& l : lists_)
      for (std::size_t k = 0; k < l.pages.size(); ++k)
        if (!l.pages[k] && k != i) ++stale_lists_[k];
    lists_.clear();
    welcomes_[i] = json::parse(*f, nullptr, false);
    if (rewelcome_) rewelcome_leg_ = i;
    if (shards_.size() > 1) return;
  }
  if (!welcomed_) {
    if (type == "welcome" && welcomes_[i]) {
      // Welcomed again before the merge (its shard moved meanwhile): the later
      // one holds, and what its first session sent after it is in it already.
      welcomes_[i] = json::parse(*f, nullptr, false);
      waiting_count_ -= std::min(waiting_count_, waiting_[i].size());
      waiting_[i].clear();
      return;
    }
    if (type != "welcome" && !welcomes_[i] && i < stale_lists_.size() && stale_lists_[i] > 0 &&
        answers_agents_list(type, *f)) {
      --stale_lists_[i];  // answers a merge given up at the re-welcome (see above)
      return;
    }
    if (type == "welcome" && i < stale_lists_.size()) stale_lists_[i] = 0;  // what comes now answers what is asked now
    if (type != "welcome" || welcomes_[i]) {
      // Bounded: a leg whose hub never welcomes would otherwise hold the others' frames for ever.
      if (++waiting_count_ > max_waiting_) {
        closed_ = true;
        client->close(static_cast<std::uint16_t>(protocol::close_code::try_later), "not every shard answered; reconnect");
        return;
      }
      waiting_[i].push_back(std::move(f));
      return;
    }
    welcomes_[i] = json::parse(*f, nullptr, false);
    if (std::any_of(welcomes_.begin(), welcomes_.end(), [](const auto& w) { return !w; })) return;
    welcomed_ = true;
    client->send(merged_welcome());
    for (std::size_t k = 0; k < waiting_.size(); ++k)
      for (auto& g : waiting_[k])
        if (auto out = pass(k, g, protocol::top_level_type(*g))) client->send(std::move(out));
    waiting_.clear();
    welcomes_.clear();
    waiting_count_ = 0;
    return;
  }
  if (auto out = pass(i, f, type)) client->send(std::move(out));
}

/// The stores in the configuration's order (each hub lists its own).
void fan_in::in_store_order(json& list) const {
  auto rank = [&](const json& x) {
    const auto id = x.is_object() ? x.value("store", x.value("id", "")) : std::string();
    auto it = store_rank_.find(id);
    return it == store_rank_.end() ? store_rank_.size() : it->second;
  };
  if (list.is_array()) std::stable_sort(list.begin(), list.end(), [&](const json& a, const json& b) { return rank(a) < rank(b); });
}

frame_ptr fan_in::merged_welcome() {
  std::vector<json> all;
  for (auto& w : welcomes_) all.push_back(std::move(*w));
  auto w = protocol::merge_welcomes(std::move(all));
  in_store_order(w["stores"]);
  return make_frame(w.dump());
}

frame_ptr fan_in::merged_snapshot() const {
  std::vector<const json*> all;
  for (const auto& s : snapshots_) all.push_back(s ? &*s : nullptr);
  auto j = protocol::merge_snapshots(all, max_agents_);
  in_store_order(j["queues"]);
  return make_frame(j.dump());
}

std::optional<frame_ptr> fan_in::merge_agents_list(std::size_t i, json page) {
  auto& l = lists_.front();
  l.pages[i] = std::move(page);
  if (std::any_of(l.pages.begin(), l.pages.end(), [](const auto& p) { return !p; })) return std::nullopt;
  std::vector<json> pages;
  std::optional<json> refused;
  for (auto& p : l.pages) {
    if (p->value("type", "") == "error") {
      if (!refused) refused = std::move(*p);
      continue;
    }
    pages.push_back(std::move(*p));
  }
  const auto out = refused ? std::move(*refused) : protocol::merge_agents_pages(std::move(pages), l.offset, l.limit);
  lists_.erase(lists_.begin());
  return make_frame(out.dump());
}

}  // namespace calma

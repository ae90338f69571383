#include "common/routing/router.hpp"

#include <algorithm>
#include <cmath>

namespace calma::routing {

bool is_vip(const shopper_context& ctx, const params& p) {
  if (ctx.order_value && p.vip_order_value > 0 && *ctx.order_value >= p.vip_order_value) return true;
  if (ctx.tier.empty()) return false;
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const auto tier = lower(ctx.tier);
  for (const auto& t : p.vip_tiers)
    if (lower(t) == tier) return true;
  return false;
}

bool agent_view::serves(const std::string& store) const {
  if (stores.empty() || store.empty()) return true;
  return std::find(stores.begin(), stores.end(), store) != stores.end();
}

router::key router::make_key(const queue_entry& e, std::uint64_t arrival) const {
  double head_start_ms = e.priority * p_.priority_s_per_level * 1000.0;
  if (e.vip) head_start_ms += p_.vip_head_start_s * 1000.0;
  return key{static_cast<double>(e.enqueued_ts) - head_start_ms, arrival, e.conversation_id};
}

agent_view* router::find_agent(const std::string& id) {
  auto it = agents_.find(id);
  return it == agents_.end() ? nullptr : &it->second;
}

const agent_view* router::agent(const std::string& id) const {
  auto it = agents_.find(id);
  return it == agents_.end() ? nullptr : &it->second;
}

void router::upsert_agent(const std::string& id, const std::string& name, agent_status st) {
  auto [it, inserted] = agents_.try_emplace(id);
  if (inserted) {
    it->second.id = id;
    it->second.capacity = p_.default_capacity;
  }
  it->second.name = name;
  it->second.status = st;
}

void router::set_status(const std::string& id, agent_status st) {
  if (auto* a = find_agent(id)) a->status = st;
}

void router::set_profile(const std::string& id, std::vector<std::string> stores, bool senior) {
  if (auto* a = find_agent(id)) {
    a->stores = std::move(stores);
    a->senior = senior;
  }
}

int router::online_agents(const std::string& store) const {
  int n = 0;
  for (const auto& [id, a] : agents_)
    if (a.status == agent_status::online && a.serves(store)) ++n;
  return n;
}

void router::set_capacity(const std::string& id, int capacity) {
  if (auto* a = find_agent(id)) a->capacity = std::max(0, capacity);
}

std::vector<agent_view> router::agents() const {
  std::vector<agent_view> out;
  out.reserve(agents_.size());
  for (const auto& [id, a] : agents_) out.push_back(a);
  return out;
}

bool router::can_take(const std::string& agent_id) const {
  const auto* a = agent(agent_id);
  return a && a->status == agent_status::online && a->load < a->capacity;
}

void router::enqueue(const std::string& conversation_id, const std::string& queue, timestamp_ms now,
                     double priority, const std::string& avoid_agent, const std::string& store, bool vip) {
  if (queued_.count(conversation_id) || assigned_.count(conversation_id)) return;
  queue_entry e{conversation_id, queue, now, priority, avoid_agent, store, vip};
  key k = make_key(e, arrivals_++);
  order_.insert(k);
  queued_.emplace(conversation_id, queued_item{k, std::move(e)});
}

void router::set_priority(const std::string& conversation_id, double priority) {
  auto it = queued_.find(conversation_id);
  if (it == queued_.end() || it->second.entry.priority == priority) return;
  order_.erase(it->second.k);
  it->second.entry.priority = priority;
  it->second.k = make_key(it->second.entry, std::get<1>(it->second.k));
  order_.insert(it->second.k);
}

void router::assign(const std::string& conversation_id, const std::string& agent_id,
                    timestamp_ms now) {
  if (auto q = queued_.find(conversation_id); q != queued_.end()) {
    order_.erase(q->second.k);
    queued_.erase(q);
  }
  if (auto a = assigned_.find(conversation_id); a != assigned_.end()) {
    if (a->second.agent_id == agent_id) return;
    if (auto* prev = find_agent(a->second.agent_id)) prev->load = std::max(0, prev->load - 1);
    assigned_.erase(a);
  }
  auto* ag = find_agent(agent_id);
  if (!ag) {
    // An agent we have not seen yet (e.g. restored at start-up): known, offline.
    upsert_agent(agent_id, agent_id, agent_status::offline);
    ag = find_agent(agent_id);
  }
  ag->load += 1;
  ag->last_assigned_ts = now;
  assigned_[conversation_id] = assigned_item{agent_id, now};
}

void router::release(const std::string& conversation_id, timestamp_ms now, bool closed) {
  if (auto q = queued_.find(conversation_id); q != queued_.end()) {
    order_.erase(q->second.k);
    queued_.erase(q);
  }
  auto a = assigned_.find(conversation_id);
  if (a == assigned_.end()) return;
  if (auto* ag = find_agent(a->second.agent_id)) ag->load = std::max(0, ag->load - 1);
  if (closed && now > a->second.since) {
    double d = static_cast<double>(now - a->second.since);
    handle_time_ms_ = (1 - p_.handle_time_weight) * handle_time_ms_ + p_.handle_time_weight * d;
  }
  assigned_.erase(a);
}

std::optional<std::string> router::agent_of(const std::string& conversation_id) const {
  auto a = assigned_.find(conversation_id);
  if (a == assigned_.end()) return std::nullopt;
  return a->second.agent_id;
}

std::vector<std::string> router::conversations_of(const std::string& agent_id) const {
  std::vector<std::string> out;
  for (const auto& [conv, a] : assigned_)
    if (a.agent_id == agent_id) out.push_back(conv);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> router::pick_agent(const queue_entry& e) const {
  // Best of the free agents of the store, preferring the right seniority:
  // seniors for angry and VIP shoppers, the others for the rest.
  const bool want_senior = e.wants_senior(p_);
  const agent_view* best = nullptr;
  auto better = [&](const agent_view& a) {
    if (!best) return true;
    // Angry or VIP: a senior before anyone, then the least loaded. Others: the
    // least loaded, a non-senior on a tie (seniors stay a little freer).
    const bool fits = a.senior == want_senior, best_fits = best->senior == want_senior;
    if (want_senior && fits != best_fits) return fits;
    if (a.load != best->load) return a.load < best->load;
    if (fits != best_fits) return fits;
    return a.last_assigned_ts < best->last_assigned_ts;
  };
  for (const auto& [id, a] : agents_) {
    if (a.status != agent_status::online || a.load >= a.capacity || !a.serves(e.store)) continue;
    if (!e.avoid_agent.empty() && id == e.avoid_agent) continue;
    if (better(a)) best = &a;
  }
  if (!best) {
    if (!e.avoid_agent.empty() && can_take(e.avoid_agent) && agent(e.avoid_agent)->serves(e.store))
      return e.avoid_agent;
    return std::nullopt;
  }
  return best->id;
}

std::vector<assignment> router::assign_waiting(timestamp_ms now) {
  std::vector<assignment> out;
  if (free_slots() == 0) return out;
  // Collect first: assign() edits order_.
  std::vector<queue_entry> waiting;
  for (const auto& k : order_) waiting.push_back(queued_.at(std::get<2>(k)).entry);
  for (const auto& e : waiting) {
    if (free_slots() == 0) break;
    if (e.abandoned) continue;
    auto agent_id = pick_agent(e);
    if (!agent_id) continue;
    assign(e.conversation_id, *agent_id, now);
    out.push_back(assignment{e.conversation_id, *agent_id});
  }
  return out;
}

void router::set_abandoned(const std::string& conversation_id, bool abandoned) {
  if (auto it = queued_.find(conversation_id); it != queued_.end()) it->second.entry.abandoned = abandoned;
}

int router::position(const std::string& conversation_id) const {
  auto it = queued_.find(conversation_id);
  if (it == queued_.end()) return 0;
  const auto& store = it->second.entry.store;
  int pos = 1;
  for (const auto& k : order_) {
    if (k == it->second.k) break;
    const auto& e = queued_.at(std::get<2>(k)).entry;
    if (e.store == store && !e.abandoned) ++pos;
  }
  return pos;
}

int router::free_slots(const std::string& store) const {
  int n = 0;
  for (const auto& [id, a] : agents_)
    if (a.status == agent_status::online && a.serves(store)) n += std::max(0, a.capacity - a.load);
  return n;
}

int router::online_capacity(const std::string& store) const {
  int n = 0;
  for (const auto& [id, a] : agents_)
    if (a.status == agent_status::online && a.serves(store)) n += a.capacity;
  return n;
}

std::unordered_map<std::string, int> router::positions() const {
  std::unordered_map<std::string, int> out;
  std::unordered_map<std::string, int> per_store;
  for (const auto& k : order_) {
    const auto& e = queued_.at(std::get<2>(k)).entry;
    auto& n = per_store[e.store];
    out[e.conversation_id] = e.abandoned ? n + 1 : ++n;
  }
  return out;
}

std::int64_t router::estimated_wait_s(const std::string& conversation_id) const {
  return estimated_wait_s(conversation_id, position(conversation_id));
}

std::int64_t router::estimated_wait_s(const std::string& conversation_id, int pos) const {
  if (pos == 0) return 0;
  const auto& store = queued_.at(conversation_id).entry.store;
  int ahead_of_slot = pos - free_slots(store);
  if (ahead_of_slot <= 0) return 0;
  int cap = std::max(1, online_capacity(store));
  double ms = ahead_of_slot * handle_time_ms_ / cap;
  return static_cast<std::int64_t>(std::ceil(ms / 1000.0));
}

std::vector<queue_entry> router::queue_order() const {
  std::vector<queue_entry> out;
  out.reserve(order_.size());
  for (const auto& k : order_) out.push_back(queued_.at(std::get<2>(k)).entry);
  return out;
}

std::optional<timestamp_ms> router::oldest_enqueued_ts() const {
  std::optional<timestamp_ms> oldest;
  for (const auto& [id, q] : queued_)
    if (!q.entry.abandoned && (!oldest || q.entry.enqueued_ts < *oldest)) oldest = q.entry.enqueued_ts;
  return oldest;
}

}  // namespace calma::routing

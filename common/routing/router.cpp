#include "common/routing/router.hpp"

#include <algorithm>
#include <cmath>

namespace calma::routing {

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
                     double priority, const std::string& avoid_agent) {
  if (queued_.count(conversation_id) || assigned_.count(conversation_id)) return;
  key k{-priority, now, arrivals_++, conversation_id};
  order_.insert(k);
  queued_.emplace(conversation_id,
                  queued_item{k, queue_entry{conversation_id, queue, now, priority, avoid_agent}});
}

void router::set_priority(const std::string& conversation_id, double priority) {
  auto it = queued_.find(conversation_id);
  if (it == queued_.end() || it->second.entry.priority == priority) return;
  order_.erase(it->second.k);
  std::get<0>(it->second.k) = -priority;
  it->second.entry.priority = priority;
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

std::optional<std::string> router::pick_agent(const std::string& avoid) const {
  const agent_view* best = nullptr;
  for (const auto& [id, a] : agents_) {
    if (a.status != agent_status::online || a.load >= a.capacity) continue;
    if (!avoid.empty() && id == avoid) continue;
    if (!best || a.load < best->load ||
        (a.load == best->load && a.last_assigned_ts < best->last_assigned_ts))
      best = &a;
  }
  if (!best) {
    if (!avoid.empty() && can_take(avoid)) return avoid;
    return std::nullopt;
  }
  return best->id;
}

std::vector<assignment> router::assign_waiting(timestamp_ms now) {
  std::vector<assignment> out;
  if (free_slots() == 0) return out;
  // Collect first: assign() edits order_.
  std::vector<std::pair<std::string, std::string>> waiting;
  for (const auto& k : order_) waiting.emplace_back(std::get<3>(k), queued_.at(std::get<3>(k)).entry.avoid_agent);
  for (const auto& [conv, avoid] : waiting) {
    if (free_slots() == 0) break;
    auto agent_id = pick_agent(avoid);
    if (!agent_id) continue;
    assign(conv, *agent_id, now);
    out.push_back(assignment{conv, *agent_id});
  }
  return out;
}

int router::position(const std::string& conversation_id) const {
  auto it = queued_.find(conversation_id);
  if (it == queued_.end()) return 0;
  auto pos = order_.find(it->second.k);
  return static_cast<int>(std::distance(order_.begin(), pos)) + 1;
}

int router::free_slots() const {
  int n = 0;
  for (const auto& [id, a] : agents_)
    if (a.status == agent_status::online) n += std::max(0, a.capacity - a.load);
  return n;
}

int router::online_capacity() const {
  int n = 0;
  for (const auto& [id, a] : agents_)
    if (a.status == agent_status::online) n += a.capacity;
  return n;
}

std::int64_t router::estimated_wait_s(const std::string& conversation_id) const {
  int pos = position(conversation_id);
  if (pos == 0) return 0;
  int ahead_of_slot = pos - free_slots();
  if (ahead_of_slot <= 0) return 0;
  int cap = std::max(1, online_capacity());
  double ms = ahead_of_slot * handle_time_ms_ / cap;
  return static_cast<std::int64_t>(std::ceil(ms / 1000.0));
}

std::vector<queue_entry> router::queue_order() const {
  std::vector<queue_entry> out;
  out.reserve(order_.size());
  for (const auto& k : order_) out.push_back(queued_.at(std::get<3>(k)).entry);
  return out;
}

std::optional<timestamp_ms> router::oldest_enqueued_ts() const {
  std::optional<timestamp_ms> oldest;
  for (const auto& [id, q] : queued_)
    if (!oldest || q.entry.enqueued_ts < *oldest) oldest = q.entry.enqueued_ts;
  return oldest;
}

}  // namespace calma::routing

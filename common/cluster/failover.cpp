#include "common/cluster/failover.hpp"

#include <nlohmann/json.hpp>

namespace calma::cluster {

std::string relay_routes::add(std::uint64_t id, timestamp_ms now, const std::string& leader) {
  route r;
  r.since = now;
  if (!holding() && !leader.empty()) r.leader = leader;
  else if (holding_since_ == 0) holding_since_ = now;  // no leader to relay to: held like the others
  routes_[id] = r;
  return r.leader;
}

bool relay_routes::remove(std::uint64_t id) { return routes_.erase(id) > 0; }

void relay_routes::hold(timestamp_ms now) {
  for (auto& [id, r] : routes_) {
    r.leader.clear();
    if (r.welcomed) r.since = now;
    r.welcomed = false;
  }
  if (holding_since_ == 0) holding_since_ = now;
}

void relay_routes::stepped_down(timestamp_ms now) {
  hold(now);
  eager_ = true;
}

std::vector<std::uint64_t> relay_routes::retarget(timestamp_ms now, const std::string& leader) {
  std::vector<std::uint64_t> ids;
  if (leader.empty()) return ids;
  ids.reserve(routes_.size());
  for (auto& [id, r] : routes_) {
    r.leader = leader;
    if (r.welcomed) r.since = now;
    r.welcomed = false;
    ids.push_back(id);
  }
  holding_since_ = 0;
  eager_ = false;
  return ids;
}

std::vector<std::uint64_t> relay_routes::take_all() {
  std::vector<std::uint64_t> ids;
  ids.reserve(routes_.size());
  for (const auto& [id, r] : routes_) ids.push_back(id);
  routes_.clear();
  holding_since_ = 0;
  eager_ = false;
  return ids;
}

bool relay_routes::missed(std::uint64_t id, const std::string& to, timestamp_ms now) {
  auto it = routes_.find(id);
  if (it == routes_.end() || it->second.leader != to || it->second.welcomed || to.empty()) return false;
  it->second.leader.clear();
  if (holding_since_ == 0) holding_since_ = now;
  return true;
}

bool relay_routes::welcomed(std::uint64_t id) {
  auto it = routes_.find(id);
  if (it == routes_.end() || it->second.welcomed || it->second.leader.empty()) return false;
  it->second.welcomed = true;
  return true;
}

relay_routes::due relay_routes::on_tick(timestamp_ms now, const std::string& redis_leader) const {
  due d;
  if (holding() && !redis_leader.empty() && (eager_ || now - holding_since_ > p_.retarget_after_ms))
    d.retarget_to = redis_leader;
  for (const auto& [id, r] : routes_)
    if (!r.welcomed && now - r.since > p_.welcome_timeout_ms) d.expired.push_back(id);
  return d;
}

const relay_routes::route* relay_routes::find(std::uint64_t id) const {
  auto it = routes_.find(id);
  return it == routes_.end() ? nullptr : &it->second;
}

bool reannounce_limiter::due(const std::string& member, timestamp_ms now) {
  auto [it, fresh] = last_.try_emplace(member, now);
  if (fresh) return true;
  if (now - it->second < every_) return false;
  it->second = now;
  return true;
}

bool is_welcome(std::string_view frame) {
  // Server frames are compact JSON with sorted keys; a cheap look before a parse.
  if (frame.find("\"welcome\"") == std::string_view::npos) return false;
  auto j = nlohmann::json::parse(frame, nullptr, false);
  if (!j.is_object()) return false;
  auto t = j.find("type");
  return t != j.end() && t->is_string() && *t == "welcome";
}

std::optional<std::string> hello_after_welcome(std::string_view hello, std::string_view welcome) {
  auto w = nlohmann::json::parse(welcome, nullptr, false);
  if (!w.is_object() || w.value("type", "") != "welcome") return std::nullopt;
  auto t = w.find("token");
  if (t == w.end() || !t->is_string() || t->get_ref<const std::string&>().empty()) return std::nullopt;
  auto h = nlohmann::json::parse(hello, nullptr, false);
  if (!h.is_object()) return std::nullopt;
  h["token"] = *t;
  return h.dump();
}

std::string hello_to_resume(std::string_view hello, std::string_view welcome) {
  if (!welcome.empty())
    if (auto h = hello_after_welcome(hello, welcome)) return std::move(*h);
  return std::string(hello);
}

}  // namespace calma::cluster

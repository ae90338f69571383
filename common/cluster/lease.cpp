#include "common/cluster/lease.hpp"

#include <algorithm>

namespace calma::cluster {

std::optional<lease_params> lease_params_for(timestamp_ms lease_ms, std::string* err) {
  if (lease_ms < 1000 || lease_ms > 600'000) {
    if (err) *err = "leader_lease_ms must be between 1000 and 600000 (got " + std::to_string(lease_ms) + ")";
    return std::nullopt;
  }
  lease_params p;
  p.lease_ms = lease_ms;
  p.renew_every_ms = std::max<timestamp_ms>(200, lease_ms / 5);
  p.margin_ms = lease_ms * 3 / 10;
  return p;
}

timestamp_ms next_heartbeat_in(const lease_params& p, bool leader, timestamp_ms leader_pttl_ms) {
  // The key is gone this long after Redis answered; the next script reaches
  // Redis a round trip's half later still. A few ms of slack so we do not
  // arrive just before it expires and wait a whole interval more.
  constexpr timestamp_ms slack_ms = 5, floor_ms = 20;
  if (leader || leader_pttl_ms < 0 || leader_pttl_ms + slack_ms >= p.renew_every_ms) return p.renew_every_ms;
  return std::max(floor_ms, leader_pttl_ms + slack_ms);
}

lease_event lease_tracker::on_reply(timestamp_ms sent, const std::string& holder) {
  if (holder == self_) {
    // stale: sent before the step-down, or in its millisecond (its order there unknown)
    if (!leader_ && stepped_down_at_ != 0 && sent <= stepped_down_at_) return lease_event::none;
    confirmed_until_ = sent + p_.lease_ms;
    known_ = self_;
    if (leader_) return lease_event::none;
    leader_ = true;
    return lease_event::became_leader;
  }
  if (leader_) {
    leader_ = false;
    known_ = holder;
    return lease_event::lost_leadership;
  }
  if (holder == known_) return lease_event::none;
  if (sent < announced_at_) return lease_event::none;  // asked before the announcement: stale
  known_ = holder;
  return lease_event::leader_changed;
}

lease_event lease_tracker::on_announce(timestamp_ms now, const std::string& holder) {
  if (leader_ || holder.empty() || holder == self_) return lease_event::none;
  announced_at_ = now;
  if (holder == known_) return lease_event::none;
  known_ = holder;
  return lease_event::leader_changed;
}

bool lease_tracker::released_by(const std::string& holder) const {
  return !leader_ && !holder.empty() && holder != self_ && holder == known_;
}

lease_event lease_tracker::step_down(timestamp_ms now) {
  if (!leader_) return lease_event::none;
  leader_ = false;
  known_.clear();
  stepped_down_at_ = now;
  return lease_event::lost_leadership;
}

void decide_gate::extend(timestamp_ms until) {
  auto cur = until_.load();
  while (cur != closed_mark && !until_.compare_exchange_weak(cur, until)) {
  }
}

int renewals_in_flight(const lease_params& p) {
  const timestamp_ms window = p.lease_ms - p.margin_ms;
  if (window <= 0 || p.renew_every_ms <= 0) return 1;
  return static_cast<int>(std::max<timestamp_ms>(1, (window + p.renew_every_ms - 1) / p.renew_every_ms));
}

bool lease_clock_runs(const lease_params& p, timestamp_ms now, timestamp_ms reachable_since, long long peers) {
  const bool settled_link = reachable_since != 0 && now - reachable_since > 2 * p.renew_every_ms;
  return settled_link || peers > 0;
}

bool decide_gate::may_decide(timestamp_ms now, bool* just_closed) {
  auto cur = until_.load();
  for (;;) {
    if (cur == closed_mark) return false;
    if (now < cur || !lease_clock_runs(p_, now, reachable_since_.load(), peers_.load())) return true;
    if (until_.compare_exchange_weak(cur, closed_mark)) {
      if (just_closed) *just_closed = true;
      return false;
    }
  }
}

lease_event lease_tracker::on_tick(timestamp_ms now) {
  if (!leader_ || now < confirmed_until_ - p_.margin_ms) return lease_event::none;
  leader_ = false;
  known_.clear();
  stepped_down_at_ = now;
  return lease_event::lost_leadership;
}

}  // namespace calma::cluster

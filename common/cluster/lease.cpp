#include "common/cluster/lease.hpp"

namespace calma::cluster {

lease_event lease_tracker::on_reply(timestamp_ms sent, const std::string& holder) {
  if (holder == self_) {
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
  known_ = holder;
  return lease_event::leader_changed;
}

lease_event lease_tracker::on_tick(timestamp_ms now) {
  if (!leader_ || now < confirmed_until_ - p_.margin_ms) return lease_event::none;
  leader_ = false;
  known_.clear();
  return lease_event::lost_leadership;
}

}  // namespace calma::cluster

// Leadership of a cluster of calma-server nodes on one Redis, as pure logic.
//
// One node at a time is the leader: it runs the hub (routing, anger curves,
// escalations, deadlines) for every conversation; the others relay their
// clients' frames to it. Leadership is a lease: a Redis key holding the
// leader's node id with a TTL, renewed every `renew_every_ms` by a script that
// answers who holds it now. This tracker turns those answers (and failures,
// and the passing of time) into the transitions the node acts on. Time is
// passed in; nothing here does I/O.
//
// Safety: the lease is counted from when the renewal was *sent*, so a node's
// view of its own lease never outlives the key in Redis. A leader that reaches
// Redis but whose renewals are not confirmed steps down `margin_ms` before its
// lease could end (on_tick), so it stops before a new leader can start. A
// leader that cannot reach Redis at all is not asked to tick: no other node
// can take the lease from a Redis it cannot reach either, every store
// operation fails meanwhile (clients get `unavailable`), and its first
// heartbeat after Redis returns says whether it still leads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace calma::cluster {

using timestamp_ms = std::int64_t;

struct lease_params {
  timestamp_ms lease_ms = 1500;       ///< TTL of the leader key
  timestamp_ms renew_every_ms = 300;  ///< how often every node asks
  timestamp_ms margin_ms = 450;       ///< a leader steps down this long before its lease could end
};

/// The timings that follow from a lease length: renewed every fifth of it
/// (at least every 200 ms), a leader steps down when 30 % of it is left
/// unconfirmed. Nullopt (and `err` says why) for a lease under 1000 ms or over
/// 600 000 ms, where those rules would not leave a renewal or two of slack.
std::optional<lease_params> lease_params_for(timestamp_ms lease_ms, std::string* err = nullptr);

/// When to run the next heartbeat, from the one that just answered. A leader
/// (or a node whose heartbeat failed: `leader_pttl_ms` < 0) waits
/// `renew_every_ms`. A follower that was told the leader key has
/// `leader_pttl_ms` left waits just past that when it is sooner: if the leader
/// died, the follower asks the moment the key is gone, not up to a renew
/// interval later (a SIGKILLed leader is replaced within its lease, not its
/// lease plus an interval).
timestamp_ms next_heartbeat_in(const lease_params& p, bool leader, timestamp_ms leader_pttl_ms);

enum class lease_event {
  none,
  became_leader,    ///< this node now holds the lease: start the hub
  lost_leadership,  ///< this node no longer holds it (or cannot tell): stop the hub
  leader_changed,   ///< another node leads now (or for the first time known): re-route clients
};

class lease_tracker {
 public:
  lease_tracker(std::string self, lease_params p) : self_(std::move(self)), p_(p) {}

  /// The renewal sent at `sent` answered: `holder` holds the lease now. A
  /// reply naming this node to a renewal sent before on_tick made it step
  /// down is stale (a paused process finds it waiting when it resumes) and
  /// changes nothing: it cannot make the node lead again; a fresh renewal can.
  lease_event on_reply(timestamp_ms sent, const std::string& holder);
  /// Time passed while Redis was reachable (call about every renew_every_ms).
  lease_event on_tick(timestamp_ms now);
  /// `holder` announced at `now` (relay R) that it leads and serves. A
  /// follower takes it as the leader; a reply to a heartbeat sent before this
  /// that names another holder is older news and is ignored (on_reply answers
  /// none), so a late reply cannot send the follower back to a dead leader.
  /// A leader ignores announcements: only Redis says who leads (none).
  lease_event on_announce(timestamp_ms now, const std::string& holder);
  /// `holder` said it gave its lease up (a graceful stop: relay L from the
  /// release script, published after its DEL). True when it is the leader
  /// this follower knows: the key is free now, so the caller asks Redis at
  /// once instead of at its next heartbeat, and holds its relayed clients
  /// (the leader is gone). Nothing changes here: the heartbeat's answer says
  /// who leads next (leader_changed, or became_leader for this node).
  bool released_by(const std::string& holder) const;

  bool is_leader() const { return leader_; }
  /// The leader as last known; empty when unknown.
  const std::string& leader() const { return known_; }
  const std::string& self() const { return self_; }
  const lease_params& params() const { return p_; }

 private:
  std::string self_;
  lease_params p_;
  bool leader_ = false;
  std::string known_;
  timestamp_ms confirmed_until_ = 0;  ///< our lease surely holds before this
  timestamp_ms announced_at_ = 0;     ///< when known_ announced itself (0: never)
  timestamp_ms stepped_down_at_ = 0;  ///< when on_tick last made this node step down (0: never)
};

}  // namespace calma::cluster

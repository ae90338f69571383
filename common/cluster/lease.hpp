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

#include <atomic>
#include <cstdint>
#include <limits>
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

/// How many renewals a leader may have sent and not yet seen answered: one
/// per renew interval of the time a renewal's answer can still keep it
/// leading (`lease_ms - margin_ms`), at least one. More could not help: an
/// answer after that comes too late anyway.
int renewals_in_flight(const lease_params& p);

/// Whether time counts against a leader's lease at `now` (on_tick is applied
/// only then): always when other members were alive at the last check-in
/// (`peers` > 0: one may take the lease from a Redis we cannot reach), and
/// alone once Redis has been reachable (since `reachable_since`, 0 while not)
/// for two renew intervals, so the renewals since had their chance. Alone with
/// Redis out of reach the leader keeps leading: nobody could take over.
bool lease_clock_runs(const lease_params& p, timestamp_ms now, timestamp_ms reachable_since, long long peers);

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
  /// down (or in the same millisecond) is stale (a paused process finds it waiting when it resumes) and
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

  /// This node leads and must stop (its hub let it know it would not decide,
  /// the gate below): lost_leadership as on_tick gives it, whatever the time;
  /// none when it does not lead. A later reply naming it to a renewal sent
  /// from now on makes it lead again (with a new hub).
  lease_event step_down(timestamp_ms now);
  /// Leading: until when the lease is surely ours by on_tick's rule (the last
  /// confirmed renewal's send time plus the lease, less the margin).
  timestamp_ms holds_until() const { return confirmed_until_ - p_.margin_ms; }

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

/// Whether a leader's hub may decide now, asked from the hub's own thread
/// before each step it takes (a timer firing, a store's answer, a frame). The
/// node keeps it told until when its lease surely holds (holds_until) and
/// what lease_clock_runs needs (since when Redis is reachable, the peers at
/// the last check-in), which the gate evaluates at the time of each ask: a
/// node paused right after it started leading finds the clock running when
/// it resumes. The first ask that finds that time passed *closes* the gate for
/// good, and its caller tells the node, which steps down (step_down) even if
/// a late reply would have confirmed the lease: so a hub that held back never
/// has to make up for a decision it skipped; the next hub, loaded from the
/// store, takes them. A paused leader's timers that came due during the pause
/// run, on resuming, before the node's own tick can tell the hub to stop:
/// this is what keeps them from deciding on a lease that is gone.
/// Thread-safe (one atomic); no I/O.
class decide_gate {
 public:
  explicit decide_gate(lease_params p) : p_(p) {}
  /// The node: the lease holds until `until` (may move either way). Nothing once closed.
  void extend(timestamp_ms until);
  /// The node: Redis reachable since `reachable_since` (0: not now), `peers` other live members.
  void set_link(timestamp_ms reachable_since, long long peers) {
    reachable_since_.store(reachable_since);
    peers_.store(peers);
  }
  /// May the hub decide at `now`? False from the first ask at or after the
  /// time given, and for ever; `just_closed` is set by the ask that closed it.
  bool may_decide(timestamp_ms now, bool* just_closed = nullptr);
  /// The node stepped down by itself: closed now.
  void close() { until_.store(closed_mark); }
  bool closed() const { return until_.load() == closed_mark; }

 private:
  static constexpr timestamp_ms closed_mark = std::numeric_limits<timestamp_ms>::min();
  lease_params p_;
  std::atomic<timestamp_ms> until_{0};  // set up by the node before its hub runs
  std::atomic<timestamp_ms> reachable_since_{0};
  std::atomic<long long> peers_{0};
};

}  // namespace calma::cluster

// Which node leads which hub shard, as pure logic (time passed in, no I/O).
//
// Each shard of stores (common/routing/shards.hpp) has a lease of its own in
// Redis (`P:{cluster}:shard:K`), taken and renewed like the leader's
// (lease.hpp, one lease_tracker per shard). Safety comes from the key: one
// holder at a time, and a holder stops deciding before its lease can end. This
// class decides only *who should ask*, so that the shards spread over the
// nodes and move back when a node returns:
//
// - a shard held by a fresh member (one that checked in recently) stays
//   where it is: a node's death moves only its own shards, and nothing else;
// - a shard that is free, or whose holder is not fresh (dead, or cut off: its
//   lease is running out), is *preferred* by the least loaded fresh member,
//   the free shards assigned in index order and ties broken by the members'
//   order turned by the shard's index, so that several free at once spread;
//   every node computes the same from the same view;
// - a free shard is taken by its preferred member at once, by any other after
//   it has been seen free for `vacant_grace_ms` (its preferred one is not
//   taking it: an older node, or stuck, or its view differs);
// - a node holding two shards more than the least loaded fresh member hands
//   its highest shard to that member, once it has been fresh for `settle_ms`
//   (a node that joins or returns gets its share, but not while members come
//   and go): the node steps that shard down first and then gives the key
//   back (ask `give` until Redis names someone else). Each hand-over narrows
//   the spread, so they stop once the loads differ by one at most.
//
// With one shard there is nothing to spread: every node asks to take it when
// free and nobody hands it over (the one leader of the cluster, as always).
//
// A dead node stops checking in: `fresh_ms` after its last check-in it is
// no longer anyone's preferred member, which is before its leases run out
// (fresh_ms < lease), so the survivor preferred next takes its shards the
// moment their keys expire.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/cluster/lease.hpp"

namespace calma::cluster {

struct claim_params {
  timestamp_ms settle_ms = 3000;       ///< a member fresh this long gets its preferred shards handed over
  timestamp_ms vacant_grace_ms = 600;  ///< a shard seen free this long is taken by any node
};

/// What a heartbeat asks Redis for one shard's key.
enum class shard_ask : char {
  take = 't',  ///< take it if free, renew it if ours
  keep = 'k',  ///< renew it if ours, never take it
  give = 'g',  ///< delete it if ours (a hand-over: this node stopped deciding for it)
};

class shard_claims {
 public:
  shard_claims(std::string self, std::size_t shards, claim_params p = {});

  /// A heartbeat's answer at `now`: the members that checked in recently
  /// (any order; this node included) and each shard's holder ("" when free).
  void on_view(timestamp_ms now, std::vector<std::string> fresh, const std::vector<std::string>& holders);
  /// `member` said it is leaving (a graceful stop): it is nobody's preferred
  /// member from now on, so the shards it gave up are asked for at once.
  void member_left(const std::string& member);
  /// The member that should lead shard k: its holder while fresh, else the
  /// least loaded fresh member (this node until a view came).
  std::string preferred(std::size_t k) const;
  /// What to ask for shard k in the next heartbeat; `leading`: this node's shard k leads now.
  shard_ask ask(std::size_t k, timestamp_ms now, bool leading) const;
  /// Leading shard k: the member to hand it over to now ("" : keep it).
  std::string hand_over(std::size_t k, timestamp_ms now, bool leading) const;
  /// The node stepped shard k down at `now` to hand it over: ask `give`
  /// until someone else holds it. The same shard is not handed over again
  /// for two settle times (if its new holder fails to take it and this node
  /// takes it back, it does not hand it over and over).
  void giving(std::size_t k, timestamp_ms now) {
    giving_.at(k) = true;
    handed_at_.at(k) = now;
  }
  bool is_giving(std::size_t k) const { return giving_.at(k); }
  /// This node leads shard k again (a reply confirmed it): the hand-over is off.
  void cancel_giving(std::size_t k) { giving_.at(k) = false; }

  std::size_t shards() const { return holders_.size(); }
  const std::vector<std::string>& fresh() const { return fresh_; }
  /// Canonical text of a shard plan (K and each store's shard), compared by
  /// nodes so that two nodes with different plans never lead one store twice.
  static std::string plan_key(std::size_t shards, const std::vector<std::pair<std::string, int>>& store_shards);

 private:
  std::string self_;
  claim_params p_;
  /// Shards held by each fresh member (holders not fresh do not count).
  std::unordered_map<std::string, int> loads() const;
  std::vector<std::string> fresh_;                       // sorted
  std::unordered_map<std::string, timestamp_ms> since_;  // member -> fresh without a break since
  std::vector<std::string> holders_;
  std::vector<timestamp_ms> vacant_since_;  // 0: held (or never seen)
  std::vector<bool> giving_;
  std::vector<timestamp_ms> handed_at_;  // when each shard was last handed over (0: never)
};

}  // namespace calma::cluster

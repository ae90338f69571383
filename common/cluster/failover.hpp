// What a node does with the clients it relays to the cluster's leader when
// the leader dies or changes, as pure logic (time passed in, no I/O): the
// clients stay open; while no leader serves them they are *held* (their
// frames are answered `unavailable`), and once a new leader announces it
// serves, each one's hello is said to it again (a resumption). The node acts
// on the answers (server/cluster/node.cpp); see server/cluster/README.md,
// "Failover".
//
// Fallbacks, since pub/sub may lose the announcement: clients held longer
// than `retarget_after_ms` while Redis names a leader are re-targeted to it
// anyway (again every `retarget_after_ms` while they are held); a client that
// has gone `welcome_timeout_ms` without a welcoming leader (since its first
// hello, or since the hold that took its leader away, whatever the resumptions
// meanwhile) is due to be closed (1013: it reconnects).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/cluster/lease.hpp"

namespace calma::cluster {

struct failover_params {
  timestamp_ms retarget_after_ms = 1500;    ///< held this long with a leader named by Redis: re-target to it
  timestamp_ms welcome_timeout_ms = 10'000; ///< this long without a welcoming leader: close
};

class relay_routes {
 public:
  struct route {
    std::string leader;     ///< the member it is relayed to; empty while held
    bool welcomed = false;  ///< `leader`'s welcome came through
    timestamp_ms since = 0; ///< not welcomed: since when (its first hello, or the hold that took its welcome away)
  };

  explicit relay_routes(failover_params p = {}) : p_(p) {}

  /// A client said hello at `now`; `leader` is the leader as known. Returns
  /// the member to relay its hello to, or empty: held (the cluster is changing
  /// leader, or `leader` is empty) until retarget(). An id already known is
  /// replaced.
  std::string add(std::uint64_t id, timestamp_ms now, const std::string& leader);
  /// The client is gone. False if unknown (nothing changes).
  bool remove(std::uint64_t id);
  /// The leader died or changed: every client is held from `now`, and new ones too, until retarget().
  void hold(timestamp_ms now);
  /// This node led and lost its lease while alive (it was paused, or cut off
  /// from Redis, and another node took over): its own clients, add()ed after
  /// this, and any relayed ones are held from `now` like hold(), but the next
  /// leader's announcement may already have come and gone (a leader ignores
  /// announcements), so on_tick re-targets them as soon as Redis names a
  /// leader, without waiting `retarget_after_ms`. A resumption that reaches a
  /// leader not ready yet is ignored by it; its announcement re-targets again.
  void stepped_down(timestamp_ms now);
  /// `leader` serves (it announced itself, or a fallback): every client's
  /// hello goes to it, from `now`. Returns their ids. An empty leader changes
  /// nothing and returns none.
  std::vector<std::uint64_t> retarget(timestamp_ms now, const std::string& leader);
  /// This node now serves as the leader: every client is taken (said hello to
  /// its own hub) and forgotten here. Returns their ids.
  std::vector<std::uint64_t> take_all();
  /// The hello sent to `to` reached nobody: the client is held (true), unless
  /// it has moved on meanwhile (another leader, or welcomed: false).
  bool missed(std::uint64_t id, const std::string& to, timestamp_ms now);
  /// Its leader's welcome came through. True the first time (the hello to say
  /// again may now be completed from it), false after or for an unknown id.
  bool welcomed(std::uint64_t id);

  struct due {
    std::string retarget_to;               ///< non-empty: call retarget(now, retarget_to)
    std::vector<std::uint64_t> expired;    ///< close these (no welcome in time); they stay known until removed
  };
  /// Time passed. `redis_leader`: the leader Redis names, empty when unknown
  /// or when it is this node (then nothing is re-targeted).
  due on_tick(timestamp_ms now, const std::string& redis_leader) const;

  const route* find(std::uint64_t id) const;
  bool holding() const { return holding_since_ != 0; }
  std::size_t size() const { return routes_.size(); }

 private:
  failover_params p_;
  std::unordered_map<std::uint64_t, route> routes_;
  timestamp_ms holding_since_ = 0;  ///< 0: not holding
  bool eager_ = false;              ///< stepped_down(): re-target as soon as a leader is named
};

/// The leader's side of a client it does not know: a frame relayed for a
/// client whose hello it never took (the hello came while its hub was still
/// loading, and a resumption is ignored then; or it dropped the node's clients
/// when the node stopped checking in) is answered `unavailable`, and the
/// client's node is asked to say its clients' hello again (relay R, as a new
/// leader announces itself) rather than told to close the client. At most
/// once every `every_ms` per member: one announcement re-targets every client
/// of that node, and the frames of its other unknown clients follow it.
class reannounce_limiter {
 public:
  explicit reannounce_limiter(timestamp_ms every_ms) : every_(every_ms) {}
  /// True when `member` should be asked now (and then not again for `every_ms`).
  bool due(const std::string& member, timestamp_ms now);
  /// The member is gone: its entry is dropped.
  void forget(const std::string& member) { last_.erase(member); }
  std::size_t size() const { return last_.size(); }

 private:
  timestamp_ms every_;
  std::unordered_map<std::string, timestamp_ms> last_;
};

/// The hello to say again for a client, once `welcome` (a server frame, the
/// first its leader sent it) came through: for a shopper, `hello` with the
/// token the welcome gave it (so a new leader resumes that shopper instead of
/// making a new one; its context kept). Nullopt when `welcome` is not a
/// welcome or carries no token (staff: their hello holds their token already)
/// or `hello` is not a JSON object.
std::optional<std::string> hello_after_welcome(std::string_view hello, std::string_view welcome);

/// True when `frame` is a server `welcome` (cheap refusal of anything else).
bool is_welcome(std::string_view frame);

/// The hello to say again for a client of this node's own hub when the node
/// steps down: `hello` as the client sent it, completed with the token of
/// `welcome` (the first welcome the hub sent it; empty if none came) as
/// hello_after_welcome() does for a relayed client. A client never welcomed
/// says its own hello again (a shopper that was never told its id is a new one).
std::string hello_to_resume(std::string_view hello, std::string_view welcome);

}  // namespace calma::cluster

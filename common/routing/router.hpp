// Queue order and agent choice, as pure code.
//
// The router knows agents (status, capacity, load) and waiting conversations
// (queue, enqueue time, priority). It decides; the hub applies the decisions
// and tells the people. Nothing here reads a clock: `now` is passed in.
//
// Invariants: an agent's load is the number of conversations assigned to it;
// `assign_waiting` never puts an agent over capacity and only picks agents
// that are online; a conversation is either queued, assigned, or unknown.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/model/model.hpp"

namespace calma::routing {

struct params {
  int default_capacity = 4;                 ///< concurrent chats per agent unless set
  timestamp_ms initial_handle_time_ms = 300'000;  ///< first guess of a chat's duration
  double handle_time_weight = 0.2;          ///< EWMA weight of each closed chat's duration
  double senior_from_level = 60;            ///< at or above this anger level: a senior agent first
  double vip_order_value = 500;             ///< an order worth this much makes the shopper a VIP
  std::vector<std::string> vip_tiers{"vip"};  ///< context tiers that make the shopper a VIP
  /// Queue order is by "virtual arrival": each point of anger counts as this
  /// many seconds of waiting already done. An angry shopper jumps ahead, but a
  /// calm one that has waited longer than the jump still goes first: nobody
  /// waits forever behind a stream of angrier arrivals.
  double priority_s_per_level = 3;
  int vip_head_start_s = 60;                ///< a VIP counts as having waited this much longer
};

/// A VIP: a tier listed in vip_tiers (any case), or an order worth at least vip_order_value.
bool is_vip(const shopper_context& ctx, const params& p);

struct agent_view {
  std::string id;
  std::string name;
  agent_status status = agent_status::offline;
  int capacity = 0;
  int load = 0;
  timestamp_ms last_assigned_ts = 0;
  std::vector<std::string> stores;  ///< empty: every store
  bool senior = false;
  bool serves(const std::string& store) const;
};

struct queue_entry {
  std::string conversation_id;
  std::string queue;
  timestamp_ms enqueued_ts = 0;
  double priority = 0;  ///< the anger level: higher goes sooner (see params::priority_s_per_level)
  std::string avoid_agent;  ///< sent back to the queue by this agent: others first
  std::string store;        ///< only agents of this store take it ("" : any agent)
  bool vip = false;
  /// The shopper left (routing.abandon_after_s): keeps its place, but is not
  /// assigned and does not count in anyone's position or wait until it returns.
  bool abandoned = false;
  /// Angry (priority >= senior_from_level) or VIP: a free senior agent first.
  bool wants_senior(const params& p) const { return vip || priority >= p.senior_from_level; }
};

struct assignment {
  std::string conversation_id;
  std::string agent_id;
};

class router {
 public:
  explicit router(params p = {}) : p_(p), handle_time_ms_(static_cast<double>(p.initial_handle_time_ms)) {}

  // ---- agents
  /// Creates the agent if unknown (capacity defaults from params), else updates status/name.
  void upsert_agent(const std::string& id, const std::string& name, agent_status st);
  void set_status(const std::string& id, agent_status st);
  /// Which stores the agent serves (empty: all) and whether it is senior.
  void set_profile(const std::string& id, std::vector<std::string> stores, bool senior);
  /// Capacity 0 means "takes no new chats" (like away) without changing status.
  void set_capacity(const std::string& id, int capacity);
  const agent_view* agent(const std::string& id) const;
  std::vector<agent_view> agents() const;
  bool can_take(const std::string& agent_id) const;

  // ---- conversations
  /// Puts a conversation in a queue; no-op if it is already queued or assigned.
  /// `avoid_agent`: the agent who handed it back; it gets it again only if no one else can.
  void enqueue(const std::string& conversation_id, const std::string& queue, timestamp_ms now,
               double priority = 0, const std::string& avoid_agent = {}, const std::string& store = {},
               bool vip = false);
  void set_priority(const std::string& conversation_id, double priority);
  /// See queue_entry::abandoned. No-op if not queued.
  void set_abandoned(const std::string& conversation_id, bool abandoned);
  bool is_queued(const std::string& conversation_id) const { return queued_.count(conversation_id) > 0; }
  /// Records an assignment decided elsewhere (transfer, takeover, restore at start-up).
  /// Removes it from the queue. Capacity is not checked: supervisors may override.
  void assign(const std::string& conversation_id, const std::string& agent_id, timestamp_ms now);
  /// Forgets a conversation (closed, or about to be requeued). If it was assigned and
  /// `closed` is true, its duration feeds the handle-time estimate.
  void release(const std::string& conversation_id, timestamp_ms now, bool closed);
  std::optional<std::string> agent_of(const std::string& conversation_id) const;
  std::vector<std::string> conversations_of(const std::string& agent_id) const;

  /// Assigns waiting conversations to online agents of their store with room,
  /// in queue order (virtual arrival: see params). For each: angry or VIP ones
  /// go to a free senior agent first (the least loaded), else to anyone; the
  /// others to the least-loaded agent, a non-senior on a tie; then the one
  /// idle longest; an entry's avoid_agent only as a last resort. Returns what it decided (already applied to the router).
  std::vector<assignment> assign_waiting(timestamp_ms now);

  /// 1-based position among the waiting conversations of its store (abandoned
  /// ones not counted); 0 if not queued.
  int position(const std::string& conversation_id) const;
  /// Every waiting conversation's position, in one pass (position() for all would be quadratic).
  std::unordered_map<std::string, int> positions() const;
  /// An honest estimate: 0 if a slot of its store is free for it; otherwise
  /// the slots that must free up before it, times the average chat duration,
  /// over the store's online capacity (one slot if nobody is online).
  std::int64_t estimated_wait_s(const std::string& conversation_id) const;
  /// The same for a position already known.
  std::int64_t estimated_wait_s(const std::string& conversation_id, int position) const;
  std::vector<queue_entry> queue_order() const;
  /// The longest wait of a conversation not abandoned.
  std::optional<timestamp_ms> oldest_enqueued_ts() const;
  std::size_t queued_count() const { return queued_.size(); }
  /// Agents online (status online) that serve `store`.
  int online_agents(const std::string& store) const;
  double handle_time_ms() const { return handle_time_ms_; }

 private:
  // Queue key: virtual arrival (enqueue time minus the head start its anger
  // and VIP status give it), then arrival order.
  using key = std::tuple<double, std::uint64_t, std::string>;
  key make_key(const queue_entry& e, std::uint64_t arrival) const;
  struct queued_item {
    key k;
    queue_entry entry;
  };

  agent_view* find_agent(const std::string& id);
  std::optional<std::string> pick_agent(const queue_entry& e) const;
  int free_slots(const std::string& store = {}) const;
  int online_capacity(const std::string& store = {}) const;

  params p_;
  double handle_time_ms_;
  std::uint64_t arrivals_ = 0;
  std::map<std::string, agent_view> agents_;
  std::set<key> order_;
  std::unordered_map<std::string, queued_item> queued_;
  struct assigned_item {
    std::string agent_id;
    timestamp_ms since = 0;
  };
  std::unordered_map<std::string, assigned_item> assigned_;
};

}  // namespace calma::routing

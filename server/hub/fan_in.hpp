// A supervisor whose stores are on several hub shards (one of every store,
// say): one client connection, a *leg* in each of those hubs.
//
// Each hub sees its leg as a connection of its own and serves it as it serves
// any supervisor, for the stores it owns. The fan-in puts the legs' frames
// back into one stream for the client:
// - the welcome: it waits for every leg's and sends one, their conversations,
//   escalations and stores together (a leg's frames that come meanwhile wait
//   behind it, in order);
// - queue.snapshot: each leg's latest, merged (queues side by side, agents
//   merged in the hubs' order and capped, the counts added up);
// - agents.list without a store: asked of every leg, the answers merged into
//   the page asked for (one leg's refusal is the answer); with a store, that
//   store's hub alone;
// - a leg welcomed again later (its shard moved to another node): every
//   other leg says its hello again, and the welcomes are merged afresh; an
//   agents.list asked of every leg before it gets no answer (a console asks
//   again when its transfer list is next opened), and the pages the other
//   legs still send for it are dropped rather than passed on alone;
// - everything else as it comes (each conversation lives in one hub, so the
//   frames of one conversation keep their order).
// It learns from the legs' frames which shard holds which conversation and
// escalation, to route the client's messages back (shard_set routes them).
// A leg closed by its hub (token expired, signed out, shutting down) closes
// the client with that code.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/protocol/messages.hpp"
#include "server/hub/connection.hpp"

namespace calma {

class fan_in : public std::enable_shared_from_this<fan_in> {
 public:
  /// connection::shard() of a client served by a fan-in.
  static constexpr std::uint32_t marker = 0xFFFFFFFFu;

  /// `shards`: the shards of its stores, at least two; `stores`: every
  /// configured store (in order) and its shard; `snapshot_max_agents` caps the merged board.
  fan_in(std::shared_ptr<connection> client, std::vector<std::uint32_t> shards,
         const std::vector<std::pair<std::string, std::uint32_t>>& stores, std::size_t snapshot_max_agents);
  /// The legs, one per shard (same order as shards()); made once.
  std::vector<std::shared_ptr<connection>> legs();
  const std::vector<std::uint32_t>& shards() const { return shards_; }
  std::uint64_t id() const { return id_; }

  /// The shard a message of the client goes to; nullopt when it names a
  /// conversation no leg has spoken of (`conversation_of` it: ask the store).
  /// agents.list without a store is for every leg: `all_legs`.
  struct route {
    std::optional<std::uint32_t> shard;
    bool all_legs = false;
  };
  route route_of(const protocol::client_message& m) const;
  /// The conversation a message names ("" when none).
  static std::string conversation_of(const protocol::client_message& m);
  /// The store said where a conversation lives.
  void learn(const std::string& conversation_id, std::uint32_t shard);
  /// A leg was welcomed again after the merged welcome (its shard moved to
  /// another node, which welcomed it afresh): `f(leg)` should have every other
  /// leg say its hello again; their welcomes are merged into a fresh one, and
  /// the legs' frames meanwhile wait behind it as at the start.
  void on_rewelcome(std::function<void(std::size_t)> f) { rewelcome_ = std::move(f); }
  /// A frame for the client from the shard set itself (an error).
  void answer(frame_ptr f);
  /// An agents.list asked of every leg: the legs are asked for the first
  /// `offset + limit` (returned, capped at max_agents_page) and their answers merged.
  protocol::agents_list expect_agents_list(const protocol::agents_list& m);

  /// Messages held while a conversation is looked up in the store, in order
  /// (shard_set's: see shard_set::handle_fanned).
  std::mutex queue_mu;
  std::vector<std::pair<protocol::client_message, std::string>> held;  // with their text
  bool looking_up = false;

 private:
  class leg;
  void from_leg(std::size_t i, frame_ptr f);
  void deliver(std::size_t i, frame_ptr f);  // from_leg's work, under mu_
  void leg_closed(std::uint16_t code, std::string reason);
  /// Under mu_: remembers the conversations and escalations a leg's frame names.
  void note_ids(std::size_t i, const std::string& text, std::string_view type);
  void in_store_order(nlohmann::json& list) const;
  frame_ptr merged_welcome();
  frame_ptr merged_snapshot() const;
  std::optional<frame_ptr> merge_agents_list(std::size_t i, nlohmann::json page);

  std::weak_ptr<connection> client_;
  const std::uint64_t id_;
  const std::vector<std::uint32_t> shards_;
  const std::size_t max_agents_;
  std::unordered_map<std::string, std::uint32_t> store_shard_;  // configured store -> its shard
  std::unordered_map<std::string, std::size_t> store_rank_;     // configured store -> its place in the config
  std::vector<std::shared_ptr<connection>> legs_;
  std::function<void(std::size_t)> rewelcome_;

  mutable std::mutex mu_;
  std::vector<std::optional<nlohmann::json>> welcomes_;  // until merged
  std::vector<std::vector<frame_ptr>> waiting_;          // a leg's frames after its welcome, until merged
  bool welcomed_ = false;
  std::optional<std::size_t> rewelcome_leg_;  // a leg welcomed again: the others say hello again (outside mu_)
  std::size_t waiting_count_ = 0;              // frames in waiting_
  static constexpr std::size_t max_waiting_ = 10'000;
  bool closed_ = false;
  std::vector<std::optional<nlohmann::json>> snapshots_;  // each leg's latest queue.snapshot
  struct list_merge {
    int offset = 0, limit = 0;
    std::vector<std::optional<nlohmann::json>> pages;
  };
  std::vector<list_merge> lists_;  // agents.list asked of every leg, oldest first
  std::vector<std::size_t> stale_lists_;  // per leg, while merging again: its pages still owed to merges given up
  struct id_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // conversation or escalation id -> shard (forgotten past max_ids_: the store answers again)
  std::unordered_map<std::string, std::uint32_t, id_hash, std::equal_to<>> where_;
  static constexpr std::size_t max_ids_ = 20'000;
};

}  // namespace calma

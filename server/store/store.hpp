// The store: where conversations and messages live.
//
// Asynchronous by contract so that a networked store (Redis) fits without
// changing callers: every operation takes a completion handler that may run
// later, on any thread, and may report a failure (`result::error` non-empty,
// meaning "not done, safe to retry"). Callers must not assume it runs inline
// or not inline; the hub re-posts every completion to its own strand.
//
// Ordering: operations issued by one caller are applied in the order issued
// (the memory store applies them at once; the Redis store pipelines them on
// one connection), so "create conversation, then append" needs no waiting.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/model/model.hpp"

namespace calma {

template <class T>
struct result {
  T value{};
  std::string error;  ///< empty on success
  bool ok() const { return error.empty(); }
};
struct none {};

struct append_request {
  chat_message message;  ///< seq is allocated by the store; ts, from, text, ids set by caller
  /// False: only look for an earlier copy (a resend to a conversation closed
  /// since); if there is none, nothing is stored and the result has seq 0.
  bool allow_new = true;
};
struct append_result {
  chat_message message;   ///< as stored, with its seq
  bool duplicate = false; ///< (sender, client_msg_id) was already stored: this is the first copy
};

struct conversation_filter {
  std::optional<std::string> shopper_id;
  std::optional<std::string> agent_id;
  bool open_only = true;
  /// Only conversations on their store's follow-up list (needs_follow_up).
  bool follow_up_only = false;
  /// Only conversations of these stores (empty: every store).
  std::vector<std::string> stores;
  std::size_t limit = 200;
};

/// A page of the conversations created in [from, to), for the reports.
struct window_query {
  timestamp_ms from = 0;
  timestamp_ms to = 0;                 ///< exclusive
  std::vector<std::string> stores;     ///< empty: every store
  std::uint64_t cursor = 0;            ///< 0 first; then the page's `next`
  std::size_t limit = 500;
};
struct window_page {
  std::vector<conversation_record> records;  ///< oldest first (may be fewer than limit: other stores)
  std::optional<std::uint64_t> next;         ///< none: that was the last page
};

/// An agent's chosen status and capacity.
struct presence_record {
  std::string agent_id;
  agent_status status = agent_status::online;
  int capacity = 0;
  timestamp_ms updated_ts = 0;
};

template <class T>
using callback = std::function<void(result<T>)>;

class store {
 public:
  virtual ~store() = default;
  virtual std::string_view kind() const = 0;

  virtual void create_conversation(const conversation_record& c, callback<none> cb) = 0;
  /// Replaces state, agent, queue, close fields and updated_ts; keeps last_seq.
  virtual void update_conversation(const conversation_record& c, callback<none> cb) = 0;
  virtual void get_conversation(const std::string& id,
                                callback<std::optional<conversation_record>> cb) = 0;
  virtual void list_conversations(const conversation_filter& f,
                                  callback<std::vector<conversation_record>> cb) = 0;

  /// Stores a message once per (conversation, sender id, client_msg_id): a
  /// repeat returns the first copy with duplicate=true and changes nothing.
  virtual void append_message(const append_request& r, callback<append_result> cb) = 0;
  /// Messages with seq > after_seq, in seq order, at most `limit`.
  virtual void read_messages(const std::string& conversation_id, std::int64_t after_seq,
                             std::size_t limit, callback<std::vector<chat_message>> cb) = 0;

  /// Remembers an agent's chosen status and capacity for `ttl_s` seconds
  /// (the hub puts it again on every change and connection), so that after a
  /// restart, or under a new cluster leader, agents get back what they chose.
  virtual void put_presence(const presence_record& p, std::int64_t ttl_s, callback<none> cb) = 0;
  /// Every remembered presence not yet expired, in no particular order.
  virtual void list_presence(callback<std::vector<presence_record>> cb) = 0;

  /// One page of the conversations created in a window (reports read them page by page).
  virtual void list_window(const window_query& q, callback<window_page> cb) = 0;

  /// Most audit entries kept per conversation (the oldest fall off).
  static constexpr std::size_t max_audit_entries = 2000;
  /// Appends to a conversation's audit trail (kept as long as the conversation).
  virtual void append_audit(const std::string& conversation_id, audit_entry e, callback<none> cb) = 0;
  /// The whole trail, oldest first.
  virtual void read_audit(const std::string& conversation_id, callback<std::vector<audit_entry>> cb) = 0;

  /// How many agents of a store are online, as the deciding hub last counted
  /// them; forgotten after `ttl_s` (a hub that stopped saying is not trusted).
  virtual void put_online_agents(const std::string& store_id, int count, std::int64_t ttl_s, callback<none> cb) = 0;
  /// 0 when unknown or expired.
  virtual void get_online_agents(const std::string& store_id, callback<int> cb) = 0;

  /// Housekeeping, run about once a minute by the node that leads: the Redis
  /// store trims the list indexes of conversations expired under retention.
  /// Answers how many entries were cleaned.
  virtual void maintain(callback<std::size_t> cb) { cb({0, {}}); }

  /// Answers when the store is reachable (health checks).
  virtual void ping(callback<none> cb) = 0;

  /// Cross-node wake-ups for stored messages, (conversation id, seq), from
  /// every node; `on_resubscribed` after each (re)subscription, when wake-ups
  /// may have been missed and readers recover by seq. A single-node store has
  /// none: the default does nothing.
  virtual void subscribe(std::function<void(std::string conversation_id, std::int64_t seq)> on_wakeup,
                         std::function<void()> on_resubscribed) {}
};

}  // namespace calma

// The Redis store: conversations, messages and list indexes in Redis, through
// hiredis 0.14 on the server's io_context (see server/store/redis/README.md for
// the data model, the scripts and the durability trade-offs).
//
// Same behaviour as memory_store (one test suite runs against both). Every
// completion runs on a Redis connection's strand, never inline. A failure
// (`result::error` non-empty) means Redis was unreachable, did not answer in
// time, or refused: the operation may or may not have been applied, and every
// operation is safe to retry (appends are idempotent by client_msg_id).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "server/store/store.hpp"

namespace calma {

namespace redis {
class connection;
struct connection_options;
}

struct redis_options {
  std::string url = "redis://127.0.0.1:6379";  ///< redis://[[user]:password@]HOST[:PORT][/DB]
  std::string username;  ///< overrides the URL's when non-empty
  std::string password;  ///< overrides the URL's when non-empty
  bool tls = false;      ///< refused by the factory: hiredis 0.14 has no TLS
  int connect_timeout_ms = 2000;
  int command_timeout_ms = 2000;
  /// Closed conversations expire this long after closing; 0 keeps them forever.
  std::int64_t retention_s = 0;
  std::string key_prefix = "calma";
  /// Publish a wake-up per stored message (for subscribe()). A cluster does
  /// not need them (its leader sees every message), so calma-server turns them off.
  bool wakeups = true;
  /// Redis Sentinel (see redis::connection_options): ask these where the master is.
  std::vector<std::string> sentinels;
  std::string sentinel_master = "mymaster";
  std::string sentinel_password;
  /// Fencing (a cluster's leader writes): when set, a conversation is created
  /// or updated only while the key `fence_key` holds `fence_value`, so a
  /// deposed leader that has not noticed yet cannot change one.
  std::string fence_key;
  std::string fence_value;
  /// When set, the fence key of a conversation of that store (a cluster
  /// whose hub shards are leased one by one: the lease of the store's shard);
  /// fence_key otherwise.
  std::function<std::string(const std::string& store_id)> fence_key_of;
};

class redis_store final : public store {
 public:
  /// Starts connecting at once (and keeps reconnecting with backoff). Returns
  /// null with `error` set when the options are unusable (bad URL, TLS).
  static std::unique_ptr<redis_store> create(boost::asio::io_context& ioc, const redis_options& o,
                                             std::string& error);
  ~redis_store() override;

  std::string_view kind() const override { return "redis"; }
  void create_conversation(const conversation_record& c, callback<none> cb) override;
  void update_conversation(const conversation_record& c, callback<none> cb) override;
  void get_conversation(const std::string& id,
                        callback<std::optional<conversation_record>> cb) override;
  void list_conversations(const conversation_filter& f,
                          callback<std::vector<conversation_record>> cb) override;
  void append_message(const append_request& r, callback<append_result> cb) override;
  void read_messages(const std::string& conversation_id, std::int64_t after_seq, std::size_t limit,
                     callback<std::vector<chat_message>> cb) override;
  void put_presence(const presence_record& p, std::int64_t ttl_s, callback<none> cb) override;
  void list_presence(callback<std::vector<presence_record>> cb) override;
  void maintain(callback<std::size_t> cb) override;
  void ping(callback<none> cb) override;
  void put_online_agents(const std::string& store_id, int count, std::int64_t ttl_s, callback<none> cb) override;
  void list_window(const window_query& q, callback<window_page> cb) override;
  void append_audit(const std::string& conversation_id, audit_entry e, callback<none> cb) override;
  void read_audit(const std::string& conversation_id, callback<std::vector<audit_entry>> cb) override;
  void get_online_agents(const std::string& store_id, callback<int> cb) override;

  /// Cross-node wake-ups: every stored message is published as
  /// {"conversation_id","seq"}; `on_wakeup` gets them (from every node,
  /// including this one). `on_resubscribed` runs after every successful
  /// subscription, the first one included: anything published while this
  /// node was not subscribed is lost, so the caller recovers by seq from the
  /// streams then. Both run on the subscriber connection's strand. A second
  /// call replaces the first subscription.
  void subscribe(std::function<void(std::string conversation_id, std::int64_t seq)> on_wakeup,
                 std::function<void()> on_resubscribed) override;

  /// `cb("")` once the command connection is up, or, after `timeout`,
  /// `cb("cannot reach Redis at HOST:PORT: <last error>")`. Exactly once, on an
  /// io_context thread (or inline when already connected).
  void when_ready(std::chrono::milliseconds timeout, std::function<void(std::string error)> cb);

  /// For main(), before the I/O threads start (never on an I/O thread: it
  /// blocks): runs the io_context on the calling thread until when_ready()
  /// answers; returns its error ("" when connected). Leaves the io_context
  /// ready to be run again. Runs whatever else is queued on it meanwhile.
  std::string wait_ready(std::chrono::milliseconds timeout);

  /// For main(), before the I/O threads start (it blocks, like wait_ready):
  /// the token secret every node on this Redis shares. Stores `candidate`
  /// under `P:{cluster}:token_secret` unless a secret is there already, and
  /// returns the stored one; empty with `error` set when Redis did not answer.
  std::string shared_token_secret(const std::string& candidate, std::string& error);

  bool connected() const;
  std::string endpoint() const;

 private:
  struct ready_state;
  redis_store(boost::asio::io_context& ioc, redis_options o);

  std::string conv_key(const std::string& id) const;
  std::string msgs_key(const std::string& id) const;
  std::string idem_key(const std::string& id) const;
  std::string audit_key(const std::string& id) const;
  void put_conversation(const char* mode, const conversation_record& c, callback<none> cb);

  boost::asio::io_context& ioc_;
  redis_options opts_;
  std::string channel_;
  std::shared_ptr<redis::connection> cmd_;
  std::mutex sub_mu_;
  std::shared_ptr<redis::connection> sub_;
  std::shared_ptr<ready_state> ready_;
};

/// The connection settings (address, credentials, timeouts) of `o`, for other
/// connections to the same Redis (the cluster's). `o` must have passed create().
redis::connection_options connection_options_from(const redis_options& o);

/// The factory main() uses: a redis_store as a `store`, or null with `error`.
std::unique_ptr<store> make_redis_store(boost::asio::io_context& ioc, const redis_options& o,
                                        std::string& error);

}  // namespace calma

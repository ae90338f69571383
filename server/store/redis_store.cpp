#include "server/store/redis_store.hpp"

#include <openssl/evp.h>

#include <atomic>
#include <limits>

#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/protocol/messages.hpp"
#include "common/reports/figures.hpp"
#include "server/store/redis/connection.hpp"
#include "server/store/redis/decode.hpp"
#include "server/store/redis/lua_scripts.hpp"

namespace calma {

using redis::redis_value;
using redis::reply_or_error;
using redis::to_i64;

namespace {

struct script {
  std::string_view body;
  std::string sha;
};

std::string sha1_hex(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha1(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

const script& append_script() {
  static const script s{redis::lua::append, sha1_hex(redis::lua::append)};
  return s;
}
const script& put_script() {
  static const script s{redis::lua::put_conversation, sha1_hex(redis::lua::put_conversation)};
  return s;
}
const script& trim_script() {
  static const script s{redis::lua::trim_indexes, sha1_hex(redis::lua::trim_indexes)};
  return s;
}
const script& audit_script() {
  static const script s{redis::lua::append_audit, sha1_hex(redis::lua::append_audit)};
  return s;
}
const script& window_script() {
  static const script s{redis::lua::list_window, sha1_hex(redis::lua::list_window)};
  return s;
}
const script& list_script() {
  static const script s{redis::lua::list_conversations, sha1_hex(redis::lua::list_conversations)};
  return s;
}

/// A Redis error reply as the store reports it (Lua error_reply texts are the
/// memory store's texts; Redis may prefix "ERR ").
std::string error_text(const redis_value& v) {
  std::string s = v.str;
  if (s.rfind("ERR ", 0) == 0) s.erase(0, 4);
  return s.empty() ? "Redis error" : s;
}

/// The transport error, the Redis error, or "" for a usable reply.
std::string failure(const reply_or_error& r) {
  if (!r.ok()) return r.error;
  if (r.value.is_error()) return error_text(r.value);
  return {};
}

/// EVALSHA, and EVAL when Redis lost the script (SCRIPT FLUSH). Every
/// (re)connection loads the scripts first, so the fallback is for the rare
/// flush and does not reorder the common path.
void eval(const std::shared_ptr<redis::connection>& conn, const script& s, std::vector<std::string> keys,
          std::vector<std::string> args, redis::connection::reply_handler cb) {
  std::vector<std::string> v;
  v.reserve(3 + keys.size() + args.size());
  v.push_back("EVALSHA");
  v.push_back(s.sha);
  v.push_back(std::to_string(keys.size()));
  for (auto& k : keys) v.push_back(std::move(k));
  for (auto& a : args) v.push_back(std::move(a));
  // Kept for the rare retry; the script body is only added if it happens.
  auto again = std::make_shared<std::vector<std::string>>(v);
  conn->command(std::move(v), [conn, again, body = s.body, cb = std::move(cb)](reply_or_error r) mutable {
    if (r.ok() && r.value.is_error() && r.value.str.rfind("NOSCRIPT", 0) == 0) {
      (*again)[0] = "EVAL";
      (*again)[1] = std::string(body);
      conn->command(std::move(*again), std::move(cb));
      return;
    }
    cb(std::move(r));
  });
}

}  // namespace

// Start-up waiters, shared with the connection's on_ready callback (which may
// outlive the store until the connection's stop() has run).
struct redis_store::ready_state {
  std::mutex mu;
  std::vector<std::function<void()>> waiters;
};

std::unique_ptr<redis_store> redis_store::create(boost::asio::io_context& ioc, const redis_options& o,
                                                 std::string& error) {
  if (o.tls) {
    error = "Redis TLS is not supported (hiredis 0.14 has no TLS); use a TLS tunnel or a private network";
    return nullptr;
  }
  if (o.connect_timeout_ms <= 0 || o.command_timeout_ms <= 0 || o.retention_s < 0) {
    error = "Redis timeouts must be positive and retention_s not negative";
    return nullptr;
  }
  redis::connection_options probe;
  if (!redis::parse_redis_url(o.url, probe, error)) return nullptr;
  return std::unique_ptr<redis_store>(new redis_store(ioc, o));
}

std::unique_ptr<store> make_redis_store(boost::asio::io_context& ioc, const redis_options& o,
                                        std::string& error) {
  return redis_store::create(ioc, o, error);
}

redis::connection_options connection_options_from(const redis_options& o) {
  redis::connection_options c;
  std::string ignored;
  redis::parse_redis_url(o.url, c, ignored);  // validated by create()
  if (!o.username.empty()) c.username = o.username;
  if (!o.password.empty()) c.password = o.password;
  c.connect_timeout_ms = o.connect_timeout_ms;
  c.command_timeout_ms = o.command_timeout_ms;
  c.sentinels = o.sentinels;
  c.sentinel_master = o.sentinel_master;
  c.sentinel_password = o.sentinel_password;
  return c;
}

redis_store::redis_store(boost::asio::io_context& ioc, redis_options o)
    : ioc_(ioc), opts_(std::move(o)), channel_(opts_.key_prefix + ":wakeup"),
      ready_(std::make_shared<ready_state>()) {
  auto co = connection_options_from(opts_);
  for (const script* s : {&append_script(), &put_script(), &list_script(), &trim_script(), &audit_script(), &window_script()})
    co.on_connect.push_back({"SCRIPT", "LOAD", std::string(s->body)});
  cmd_ = redis::connection::create(ioc, std::move(co));
  cmd_->set_on_ready([st = ready_] {
    std::vector<std::function<void()>> w;
    {
      std::lock_guard lk(st->mu);
      w.swap(st->waiters);
    }
    for (auto& f : w) f();
  });
  cmd_->start();
}

redis_store::~redis_store() {
  cmd_->stop();
  std::lock_guard lk(sub_mu_);
  if (sub_) sub_->stop();
}

bool redis_store::connected() const { return cmd_->connected(); }
std::string redis_store::endpoint() const { return cmd_->endpoint(); }

std::string redis_store::conv_key(const std::string& id) const {
  return opts_.key_prefix + ":{c:" + id + "}:conv";
}
std::string redis_store::msgs_key(const std::string& id) const {
  return opts_.key_prefix + ":{c:" + id + "}:msgs";
}
std::string redis_store::idem_key(const std::string& id) const {
  return opts_.key_prefix + ":{c:" + id + "}:idem";
}
std::string redis_store::audit_key(const std::string& id) const {
  return opts_.key_prefix + ":{c:" + id + "}:audit";
}

void redis_store::when_ready(std::chrono::milliseconds timeout, std::function<void(std::string)> cb) {
  struct once {
    std::atomic<bool> fired{false};
    std::function<void(std::string)> cb;
    boost::asio::steady_timer timer;
    explicit once(boost::asio::io_context& ioc) : timer(ioc) {}
  };
  auto o = std::make_shared<once>(ioc_);
  o->cb = std::move(cb);
  {
    std::lock_guard lk(ready_->mu);
    if (!cmd_->connected()) {
      ready_->waiters.push_back([o] {
        if (o->fired.exchange(true)) return;
        o->timer.cancel();
        o->cb("");
      });
      o->timer.expires_after(timeout);
      o->timer.async_wait([o, conn = cmd_](boost::system::error_code ec) {
        if (ec || o->fired.exchange(true)) return;
        o->cb("cannot reach Redis at " + conn->endpoint() + ": " + conn->last_error());
      });
      return;
    }
  }
  o->fired = true;
  o->cb("");
}

std::string redis_store::shared_token_secret(const std::string& candidate, std::string& error) {
  const std::string key = opts_.key_prefix + ":{cluster}:token_secret";
  auto got = std::make_shared<std::optional<reply_or_error>>();
  cmd_->command({"SET", key, candidate, "NX"}, [](reply_or_error) {});
  cmd_->command({"GET", key}, [got](reply_or_error r) { *got = std::move(r); });
  if (ioc_.stopped()) ioc_.restart();
  // The command timeout bounds the wait: every command is answered or failed.
  while (!got->has_value()) {
    ioc_.run_one_for(std::chrono::milliseconds(50));
    if (ioc_.stopped() && !got->has_value()) ioc_.restart();
  }
  if (ioc_.stopped()) ioc_.restart();
  const auto& r = **got;
  if (auto e = failure(r); !e.empty()) {
    error = e;
    return {};
  }
  if (!r.value.is_string() || r.value.str.empty()) {
    error = "no token secret stored";
    return {};
  }
  return r.value.str;
}

std::string redis_store::wait_ready(std::chrono::milliseconds timeout) {
  struct outcome {
    std::mutex mu;
    std::string error;
    std::atomic<bool> done{false};
  };
  auto out = std::make_shared<outcome>();
  when_ready(timeout, [out](std::string e) {
    {
      std::lock_guard lk(out->mu);
      out->error = std::move(e);
    }
    out->done = true;
  });
  if (ioc_.stopped()) ioc_.restart();
  while (!out->done) {
    // Bounded waits: correct even if other threads also run ioc_ and take
    // the completion (it is meant for main() before they start, though).
    ioc_.run_one_for(std::chrono::milliseconds(50));
    if (ioc_.stopped() && !out->done) ioc_.restart();
  }
  if (ioc_.stopped()) ioc_.restart();
  std::lock_guard lk(out->mu);
  return out->error;
}

void redis_store::create_conversation(const conversation_record& c, callback<none> cb) {
  put_conversation("create", c, std::move(cb));
}

void redis_store::update_conversation(const conversation_record& c, callback<none> cb) {
  put_conversation("update", c, std::move(cb));
}

void redis_store::put_conversation(const char* mode, const conversation_record& c, callback<none> cb) {
  std::vector<std::string> args = {
      mode,
      opts_.key_prefix,
      std::to_string(opts_.retention_s),
      c.agent_id ? "1" : "0",
      c.agent_id.value_or(""),
      opts_.fence_value,
      "id", c.id,
      "shopper_id", c.shopper.id,
      "shopper_name", c.shopper.name,
      "shopper_language", c.shopper.language,
      "shopper_store", c.shopper.store,
      "state", std::string(to_string(c.state)),
      "agent_name", c.agent_name,
      "queue", c.queue,
      "created_ts", std::to_string(c.created_ts),
      "updated_ts", std::to_string(c.updated_ts),
      "closed_by", c.closed_by,
      "close_reason", c.close_reason,
      "escalation_acked_ts", std::to_string(c.escalation_acked_ts),
      "escalation_acked_by", c.escalation_acked_by,
      "context", protocol::to_json(c.shopper.context).dump(),
      "contact", protocol::to_json(c.contact).dump(),
      "first_response_ts", std::to_string(c.first_response_ts),
      "contact_answered_ts", std::to_string(c.contact_answered_ts),
      "follow_up", c.follow_up ? "1" : "0",
      "follow_up_done_ts", std::to_string(c.follow_up_done_ts),
      "follow_up_done_by", c.follow_up_done_by,
      "csat_score", std::to_string(c.csat_score),
      "csat_comment", c.csat_comment,
      "csat_ts", std::to_string(c.csat_ts),
      "categories", nlohmann::json(c.categories).dump(),
      "categories_corrected", c.categories_corrected ? "1" : "0",
      "figures", reports::to_json(c.figures).dump(),
      // Derived, for the follow-up index (put_conversation.lua).
      "followup", needs_follow_up(c) ? "1" : "0",
  };
  // Create takes the record as given (like memory_store); update keeps the stored last_seq.
  if (std::string_view(mode) == "create") {
    args.push_back("last_seq");
    args.push_back(std::to_string(c.last_seq));
  }
  std::vector<std::string> keys{conv_key(c.id), msgs_key(c.id), idem_key(c.id), audit_key(c.id)};
  if (opts_.fence_key_of) keys.push_back(opts_.fence_key_of(c.shopper.store));
  else if (!opts_.fence_key.empty()) keys.push_back(opts_.fence_key);
  eval(cmd_, put_script(), std::move(keys), std::move(args),
       [cb = std::move(cb)](reply_or_error r) {
         cb({{}, failure(r)});
       });
}

void redis_store::put_online_agents(const std::string& store_id, int count, std::int64_t ttl_s, callback<none> cb) {
  cmd_->command({"SET", opts_.key_prefix + ":store:" + store_id + ":online", std::to_string(count), "EX",
                 std::to_string(std::max<std::int64_t>(1, ttl_s))},
                [cb = std::move(cb)](reply_or_error r) { cb({{}, failure(r)}); });
}

void redis_store::get_online_agents(const std::string& store_id, callback<int> cb) {
  cmd_->command({"GET", opts_.key_prefix + ":store:" + store_id + ":online"}, [cb = std::move(cb)](reply_or_error r) {
    if (auto e = failure(r); !e.empty()) return cb({0, std::move(e)});
    cb({static_cast<int>(to_i64(r.value.str)), {}});
  });
}

void redis_store::list_window(const window_query& q, callback<window_page> cb) {
  std::string stores;
  for (const auto& st : q.stores) stores += (stores.empty() ? "" : ",") + st;
  eval(cmd_, window_script(), {opts_.key_prefix + ":idx:all"},
       {std::to_string(q.from), std::to_string(q.to), std::to_string(q.cursor), std::to_string(std::max<std::size_t>(1, q.limit)),
        opts_.key_prefix, stores},
       [cb = std::move(cb)](reply_or_error r) {
         if (auto e = failure(r); !e.empty()) return cb({{}, std::move(e)});
         auto page = redis::window_page_from(r.value);
         if (!page) return cb({{}, "unexpected reply from list_window"});
         cb({std::move(*page), {}});
       });
}

void redis_store::append_audit(const std::string& conversation_id, audit_entry e, callback<none> cb) {
  eval(cmd_, audit_script(), {audit_key(conversation_id), conv_key(conversation_id)},
       {std::move(e), std::to_string(max_audit_entries)}, [cb = std::move(cb)](reply_or_error r) { cb({{}, failure(r)}); });
}

void redis_store::read_audit(const std::string& conversation_id, callback<std::vector<audit_entry>> cb) {
  cmd_->command({"LRANGE", audit_key(conversation_id), "0", "-1"}, [cb = std::move(cb)](reply_or_error r) {
    if (auto e = failure(r); !e.empty()) return cb({{}, std::move(e)});
    std::vector<audit_entry> out;
    for (const auto& x : r.value.elements) out.push_back(x.str);
    cb({std::move(out), {}});
  });
}

void redis_store::get_conversation(const std::string& id,
                                   callback<std::optional<conversation_record>> cb) {
  cmd_->command({"HGETALL", conv_key(id)}, [cb = std::move(cb)](reply_or_error r) {
    if (auto e = failure(r); !e.empty()) return cb({{}, std::move(e)});
    cb({redis::record_from(r.value), {}});
  });
}

void redis_store::list_conversations(const conversation_filter& f,
                                     callback<std::vector<conversation_record>> cb) {
  if (f.limit == 0) {
    // Still through the connection, so the completion is never inline and
    // failures show as for any other call.
    cmd_->command({"PING"}, [cb = std::move(cb)](reply_or_error r) { cb({{}, failure(r)}); });
    return;
  }
  // Walk the most selective index; the script re-checks every filter.
  std::string index = opts_.key_prefix + ":idx:";
  if (f.follow_up_only)
    index += "followup";
  else if (f.shopper_id)
    index += "shopper:" + *f.shopper_id;
  else if (f.agent_id)
    index += "agent:" + *f.agent_id;
  else
    index += f.open_only ? "open" : "all";
  const auto limit = std::min<std::size_t>(f.limit, std::numeric_limits<std::int32_t>::max());
  std::string stores;  // store ids cannot hold ','
  for (const auto& st : f.stores) stores += (stores.empty() ? "" : ",") + st;
  eval(cmd_, list_script(), {index},
       {std::to_string(limit), f.open_only ? "1" : "0", f.shopper_id.value_or(""),
        f.agent_id.value_or(""), opts_.key_prefix, f.follow_up_only ? "1" : "0", stores},
       [cb = std::move(cb)](reply_or_error r) {
         if (auto e = failure(r); !e.empty()) return cb({{}, std::move(e)});
         cb({redis::records_from(r.value), {}});
       });
}

void redis_store::append_message(const append_request& req, callback<append_result> cb) {
  const chat_message& m = req.message;
  std::vector<std::string> args = {
      m.from.id + '\x1f' + m.client_msg_id,
      req.allow_new ? "1" : "0",
      std::to_string(m.ts),
      std::string(to_string(m.from.role)),
      m.from.id,
      m.from.name,
      m.text,
      m.client_msg_id,
      std::string(to_string(m.visibility)),
      opts_.wakeups ? channel_ : std::string(),
      m.conversation_id,
  };
  eval(cmd_, append_script(), {conv_key(m.conversation_id), msgs_key(m.conversation_id), idem_key(m.conversation_id)},
       std::move(args), [cb = std::move(cb), m](reply_or_error r) {
         if (auto e = failure(r); !e.empty()) return cb({{}, std::move(e)});
         auto res = redis::append_result_from(r.value, m);
         if (!res) return cb({{}, "unexpected reply from append script"});
         cb({std::move(*res), {}});
       });
}

void redis_store::read_messages(const std::string& conversation_id, std::int64_t after_seq,
                                std::size_t limit, callback<std::vector<chat_message>> cb) {
  const std::int64_t from = std::max<std::int64_t>(after_seq, 0) + 1;
  const auto count = std::min<std::size_t>(limit, std::numeric_limits<std::int32_t>::max());
  std::vector<std::string> args = {"XRANGE", msgs_key(conversation_id), std::to_string(from) + "-0", "+"};
  if (count == 0) {
    cmd_->command({"PING"}, [cb = std::move(cb)](reply_or_error r) { cb({{}, failure(r)}); });
    return;
  }
  args.push_back("COUNT");
  args.push_back(std::to_string(count));
  cmd_->command(std::move(args), [cb = std::move(cb), conversation_id](reply_or_error r) {
    if (auto e = failure(r); !e.empty()) return cb({{}, std::move(e)});
    cb({redis::messages_from(conversation_id, r.value), {}});
  });
}

// Presence: one key per agent with the TTL, and a set naming them (both in
// the {cluster} slot); readers drop names whose key expired.
void redis_store::put_presence(const presence_record& p, std::int64_t ttl_s, callback<none> cb) {
  const std::string base = opts_.key_prefix + ":{cluster}:presence";
  nlohmann::json v{{"status", to_string(p.status)}, {"capacity", p.capacity}, {"ts", p.updated_ts}};
  cmd_->command({"SET", base + ":" + p.agent_id, v.dump(), "EX", std::to_string(std::max<std::int64_t>(1, ttl_s))},
                [](reply_or_error) {});
  cmd_->command({"SADD", base, p.agent_id}, [cb = std::move(cb)](reply_or_error r) { cb({{}, failure(r)}); });
}

void redis_store::list_presence(callback<std::vector<presence_record>> cb) {
  const std::string base = opts_.key_prefix + ":{cluster}:presence";
  cmd_->command({"SMEMBERS", base}, [conn = cmd_, base, cb = std::move(cb)](reply_or_error r) mutable {
    if (auto e = failure(r); !e.empty()) return cb({{}, std::move(e)});
    std::vector<std::string> ids;
    for (const auto& el : r.value.elements) ids.push_back(el.str);
    if (ids.empty()) return cb({});
    std::vector<std::string> args{"MGET"};
    for (const auto& id : ids) args.push_back(base + ":" + id);
    conn->command(std::move(args), [conn, base, ids, cb = std::move(cb)](reply_or_error r) {
      if (auto e = failure(r); !e.empty()) return cb({{}, std::move(e)});
      std::vector<std::string> gone{"SREM", base};
      auto out = redis::presence_from(ids, r.value, gone);
      if (gone.size() > 2) conn->command(std::move(gone), [](reply_or_error) {});
      cb({std::move(out), {}});
    });
  });
}

void redis_store::maintain(callback<std::size_t> cb) {
  eval(cmd_, trim_script(), {}, {opts_.key_prefix, "1000"}, [cb = std::move(cb)](reply_or_error r) {
    if (auto e = failure(r); !e.empty()) return cb({0, std::move(e)});
    cb({static_cast<std::size_t>(std::max<std::int64_t>(0, r.value.integer)), {}});
  });
}

void redis_store::ping(callback<none> cb) {
  cmd_->command({"PING"}, [cb = std::move(cb)](reply_or_error r) { cb({{}, failure(r)}); });
}

void redis_store::subscribe(std::function<void(std::string, std::int64_t)> on_wakeup,
                            std::function<void()> on_resubscribed) {
  auto conn = redis::connection::create(ioc_, connection_options_from(opts_));
  conn->set_subscription(channel_, [on_wakeup = std::move(on_wakeup)](std::string payload) {
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return;
    auto id = j.find("conversation_id");
    auto seq = j.find("seq");
    if (id == j.end() || !id->is_string() || seq == j.end() || !seq->is_number()) return;
    if (on_wakeup) on_wakeup(id->get<std::string>(), seq->get<std::int64_t>());
  });
  conn->set_on_ready([on_resubscribed = std::move(on_resubscribed)] {
    if (on_resubscribed) on_resubscribed();
  });
  conn->start();
  std::lock_guard lk(sub_mu_);
  if (sub_) sub_->stop();
  sub_ = std::move(conn);
}

}  // namespace calma

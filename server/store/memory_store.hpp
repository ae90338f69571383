// The embedded store: everything in this process's memory, behind one mutex.
// Completions run inline, before the call returns. Data lives as long as the
// process; a single node with nothing else installed.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "server/store/packed.hpp"
#include "server/store/store.hpp"

namespace calma {

class memory_store final : public store {
 public:
  std::string_view kind() const override { return "memory"; }
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
  void ping(callback<none> cb) override;
  void put_online_agents(const std::string& store_id, int count, std::int64_t ttl_s, callback<none> cb) override;
  void list_window(const window_query& q, callback<window_page> cb) override;
  void append_audit(const std::string& conversation_id, audit_entry e, callback<none> cb) override;
  void read_audit(const std::string& conversation_id, callback<std::vector<audit_entry>> cb) override;
  void get_online_agents(const std::string& store_id, callback<int> cb) override;

 private:
  // A conversation, compact: the record packed (server/store/packed.hpp),
  // with what the filters look at beside it (hashes: a match is checked on
  // the unpacked record), the messages packed, their (sender, client_msg_id)
  // index as hashes sorted (a match is checked on the message), the messages
  // and the audit entries each in one buffer.
  struct conv {
    std::string rec;  // packed; its updated_ts and last_seq are the fields below
    timestamp_ms created_ts = 0;
    timestamp_ms updated_ts = 0;
    std::int64_t last_seq = 0;
    std::uint64_t shopper_h = 0, agent_h = 0, store_h = 0;
    conversation_state state = conversation_state::queued;
    bool has_agent = false;
    bool follow_up = false;  // needs_follow_up
    packed::byte_log messages;  // packed; index = seq - 1
    std::vector<std::pair<std::uint64_t, std::int64_t>> by_client_id;  // hash(sender, client_msg_id) -> seq, by hash
    packed::byte_log audit;

    void set(const conversation_record& r);  // all but last_seq
    conversation_record record() const;
  };
  std::mutex mu_;
  std::map<std::string, conv> convs_;
  struct remembered {
    presence_record p;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, remembered> presence_;
  std::map<std::string, std::pair<int, std::chrono::steady_clock::time_point>> online_;  // store -> (count, expires)
};

}  // namespace calma

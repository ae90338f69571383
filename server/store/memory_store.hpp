// The embedded store: everything in this process's memory, behind one mutex.
// Completions run inline, before the call returns. Data lives as long as the
// process; a single node with nothing else installed.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

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
  struct conv {
    conversation_record rec;
    std::vector<chat_message> messages;  // index = seq - 1
    std::unordered_map<std::string, std::int64_t> by_client_id;  // sender \x1f client_msg_id -> seq
    std::deque<audit_entry> audit;
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

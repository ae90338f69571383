// The memory store's compact forms: a conversation record or a chat message
// as one string of bytes (lengths and integers as varints, doubles as their 8
// bytes). A record held as `conversation_record` is 864 bytes of mostly empty
// strings before its contents; packed, a new conversation's is ~120 bytes.
// The memory store keeps every conversation it was given (open and closed)
// this way and unpacks on reading.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/model/model.hpp"

namespace calma::packed {

/// (The string's capacity is what packing needed: shrink_to_fit it to keep it.)
std::string pack(const conversation_record& r);
conversation_record unpack_record(std::string_view bytes);

/// A message without its conversation id (the store knows it) nor its seq
/// (its place): sender id and client_msg_id first, so that a duplicate check
/// reads only those (message_key).
std::string pack(const chat_message& m);
chat_message unpack_message(std::string_view bytes, const std::string& conversation_id, std::int64_t seq);
/// The sender id and client_msg_id of a packed message, without copying them.
struct message_key {
  std::string_view from_id;
  std::string_view client_msg_id;
};
message_key key_of(std::string_view bytes);

/// Entries of bytes one after the other in one buffer, for what a conversation
/// keeps many of (its packed messages, its audit entries): 8 bytes an entry
/// (where it ends) instead of a std::string each (32 bytes and a heap block).
/// Grows by a quarter at a time, not by doubling.
class byte_log {
 public:
  std::size_t size() const noexcept { return ends_.size(); }
  bool empty() const noexcept { return ends_.empty(); }
  std::string_view operator[](std::size_t i) const {
    const std::size_t from = i ? ends_[i - 1] : 0;
    return {bytes_.data() + from, ends_[i] - from};
  }
  void push_back(std::string_view e) {
    grow(bytes_, e.size());
    grow(ends_, 1);
    bytes_.insert(bytes_.end(), e.begin(), e.end());
    ends_.push_back(bytes_.size());
  }
  /// Forgets the first `n` entries.
  void drop_front(std::size_t n) {
    n = std::min(n, ends_.size());
    if (n == 0) return;
    const std::size_t cut = ends_[n - 1];
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(cut));
    ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(n));
    for (auto& e : ends_) e -= cut;
  }

 private:
  template <class V>
  static void grow(V& v, std::size_t add) {
    if (v.size() + add > v.capacity()) v.reserve(v.size() + std::max(add, v.size() / 4));
  }
  std::vector<char> bytes_;
  std::vector<std::size_t> ends_;
};

}  // namespace calma::packed

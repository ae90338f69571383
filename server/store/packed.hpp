// The memory store's compact forms: a conversation record or a chat message
// as one string of bytes (lengths and integers as varints, doubles as their 8
// bytes). A record held as `conversation_record` is 864 bytes of mostly empty
// strings before its contents; packed, a new conversation's is ~120 bytes.
// The memory store keeps every conversation it was given (open and closed)
// this way and unpacks on reading.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/model/model.hpp"

namespace calma::packed {

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

}  // namespace calma::packed

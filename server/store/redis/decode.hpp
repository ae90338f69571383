// Reading Redis replies into Calma's records: what the Redis store does with
// every reply (HGETALL of a conversation, XRANGE of its messages, the Lua
// scripts' answers, MGET of presence keys). Pure code, no I/O: the replies
// come from Redis, but a reply that is not what the store wrote (another
// version, a stray key) gives empty or default fields, never a crash
// (tests/fuzz/fuzz_redis_reply.cpp feeds it arbitrary RESP).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/store/redis/value.hpp"
#include "server/store/store.hpp"

struct redisReply;

namespace calma::redis {

/// An owned copy of a hiredis reply.
redis_value copy_reply(const redisReply* r);

/// A decimal integer's value; 0 when it is not one.
std::int64_t to_i64(std::string_view s);

/// A conversation hash (HGETALL, a flat array of field, value); none when empty.
std::optional<conversation_record> record_from(const redis_value& v);
/// A stream entry's fields (flat array) into a message.
chat_message message_from(const std::string& conversation_id, std::int64_t seq, const redis_value& fields);

/// list_conversations.lua: an array of conversation hashes.
std::vector<conversation_record> records_from(const redis_value& v);
/// list_window.lua: [next cursor (-1: last page), hash...]; none when it is not that shape.
std::optional<window_page> window_page_from(const redis_value& v);
/// append.lua: [2, seq] stored now; [1, seq, fields?] the first copy; [0, ...] nothing stored.
/// `sent` is the message asked to be appended. None when it is not that shape.
std::optional<append_result> append_result_from(const redis_value& v, const chat_message& sent);
/// XRANGE: [[id, fields]...].
std::vector<chat_message> messages_from(const std::string& conversation_id, const redis_value& v);
/// MGET of the presence keys of `ids` (in that order): the live records; the
/// ids whose key expired or does not hold a record are added to `gone`.
std::vector<presence_record> presence_from(const std::vector<std::string>& ids, const redis_value& v,
                                           std::vector<std::string>& gone);

}  // namespace calma::redis

// A Redis reply as Calma holds it: an owned copy of a hiredis reply (RESP2),
// free of hiredis and Asio (server/store/redis/decode.hpp reads them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace calma::redis {

/// An owned copy of a hiredis reply (RESP2).
struct redis_value {
  enum class type { nil, integer, string, status, error, array };
  type kind = type::nil;
  std::int64_t integer = 0;
  std::string str;  ///< string, status and error
  std::vector<redis_value> elements;

  bool is_nil() const { return kind == type::nil; }
  bool is_error() const { return kind == type::error; }
  bool is_array() const { return kind == type::array; }
  bool is_string() const { return kind == type::string || kind == type::status; }
};

/// A reply, or `error` non-empty when there is none (not connected, connection
/// lost, timeout). A Redis error reply is a reply: value.kind == error.
struct reply_or_error {
  redis_value value;
  std::string error;
  bool ok() const { return error.empty(); }
};

}  // namespace calma::redis

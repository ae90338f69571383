// Error and close codes of PROTOCOL.md, mirrored by the web client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace calma::protocol {

/// Codes carried by `error{code}` frames and by HTTP error bodies.
enum class error_code {
  bad_request,   ///< malformed JSON, unknown type, missing or wrong-typed field
  unauthorized,  ///< no or bad credentials
  forbidden,     ///< authenticated, but not allowed to act on that object
  not_found,     ///< the object does not exist (or is not visible to the caller)
  rate_limited,  ///< too many frames; the frame was dropped
  too_large,     ///< frame or field over the configured size limit
  unavailable,   ///< the store did not answer: NOT stored, safe to retry
  count_         ///< number of codes (for metrics arrays); not a code
};
std::string_view to_string(error_code c);
std::optional<error_code> error_code_from_string(std::string_view s);

/// WebSocket close codes (application range 4000-4999).
enum class close_code : std::uint16_t {
  going_away = 1001,          ///< server shutting down (standard code)
  restart = 1012,             ///< service restart: reconnect (a leader change; a staff member's stores moved between hub shards)
  try_later = 1013,           ///< try again later (no cluster leader reachable)
  protocol_violation = 4400,  ///< e.g. hello sent twice, garbage after warnings
  auth = 4401,                ///< no hello in time, bad or expired token
  idle = 4408,                ///< nothing received for the idle timeout
  flood = 4429,               ///< kept flooding after rate_limited errors
  // A client that does not read its frames (send queue over its bound) gets
  // no close code: it could not read a close frame either; its TCP
  // connection is cut and calma_slow_consumer_disconnects_total counts it.
};

/// An error answered to one frame. `ref` is the client_msg_id or the type it answers.
struct error {
  error_code code = error_code::bad_request;
  std::string message;
  std::string ref;
};

}  // namespace calma::protocol

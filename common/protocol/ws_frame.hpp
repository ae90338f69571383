// The header of a WebSocket text frame as a server sends it (RFC 6455,
// section 5.2): FIN set, opcode 1 (text), no mask, and the payload length in
// 7 bits, or 126 and 16 bits, or 127 and 64 bits, in network byte order.
// The session writes its data frames with it (server/net/write_coalescer.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace calma::protocol {

inline void append_text_frame_header(std::string& out, std::size_t n) {
  out += static_cast<char>(0x81);
  if (n < 126) {
    out += static_cast<char>(n);
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(126);
    out += static_cast<char>((n >> 8) & 0xFF);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8)
      out += static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xFF);
  }
}

}  // namespace calma::protocol

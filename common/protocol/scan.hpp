// Byte scans for the frame writers and readers: 16 bytes at a time with SSE2
// (every x86-64), a byte at a time elsewhere and for the tail.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace calma::protocol::scan {

/// The first index at or after `i` whose byte is '"', '\\' or below 0x20
/// (what a JSON string escapes, or ends at); `n` if none. `high` is set when
/// a byte >= 0x80 is passed over.
inline std::size_t to_special(const char* p, std::size_t i, std::size_t n, bool* high = nullptr) noexcept {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
  while (i + 16 <= n) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i below = _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl);  // v <= 0x1f, unsigned
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), below);
    const auto h = static_cast<unsigned>(_mm_movemask_epi8(v));
    if (const auto m = static_cast<unsigned>(_mm_movemask_epi8(hit))) {
      const auto k = static_cast<unsigned>(__builtin_ctz(m));
      if (high && (h & ((1u << k) - 1))) *high = true;  // only the bytes passed over
      return i + k;
    }
    if (high && h) *high = true;
    i += 16;
  }
#endif
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == '"' || c == '\\') return i;
    if (c >= 0x80 && high) *high = true;
  }
  return n;
}

/// The first index at or after `i` whose byte is >= 0x80; `n` if none.
inline std::size_t to_non_ascii(const char* p, std::size_t i, std::size_t n) noexcept {
#if defined(__SSE2__)
  while (i + 16 <= n) {
    const int m = _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
    if (m) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(m)));
    i += 16;
  }
#endif
  while (i < n && static_cast<unsigned char>(p[i]) < 0x80) ++i;
  return i;
}

}  // namespace calma::protocol::scan

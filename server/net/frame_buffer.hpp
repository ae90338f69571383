// The read buffer of a WebSocket session: a DynamicBuffer (v1) for Beast's
// websocket::stream::async_read that holds nothing on the heap between
// messages.
//
// Beast's async_read prepares its buffer as the read starts, before a byte
// has arrived: a flat_buffer sized by Beast's hint (1536 bytes) sat allocated
// for every connection waiting for its next frame (all of an idle shopper's
// life). Here, while the buffer is empty, max_size() is the small inline
// array, so Beast's first prepare() of a message is that array; a message that
// does not fit continues on the heap in a string of the message's exact size
// (Beast asks for the rest of the frame it has read the header of), and
// take() hands that string over without a copy.
#pragma once

#include <cstddef>
#include <cstring>
#include <limits>
#include <string>

#include <boost/asio/buffer.hpp>

namespace calma {

template <std::size_t InlineBytes>
class frame_buffer {
 public:
  using const_buffers_type = boost::asio::const_buffer;
  using mutable_buffers_type = boost::asio::mutable_buffer;
  static constexpr std::size_t inline_bytes = InlineBytes;

  std::size_t size() const noexcept { return big_ ? big_n_ : small_n_; }
  /// While empty, only the inline bytes: Beast's first prepare() of a message stays inline.
  std::size_t max_size() const noexcept {
    return (!big_ && small_n_ == 0) ? InlineBytes : std::numeric_limits<std::size_t>::max() / 2;
  }
  std::size_t capacity() const noexcept { return big_ ? s_.capacity() : InlineBytes; }

  const_buffers_type data() const noexcept { return {big_ ? s_.data() : small_, size()}; }

  mutable_buffers_type prepare(std::size_t n) {
    if (!big_ && small_n_ + n <= InlineBytes) {
      prepared_ = n;
      return {small_ + small_n_, n};
    }
    if (!big_) {
      s_.resize(small_n_ + n);
      std::memcpy(s_.data(), small_, small_n_);
      big_n_ = small_n_;
      small_n_ = 0;
      big_ = true;
    } else {
      s_.resize(big_n_ + n);
    }
    prepared_ = n;
    return {s_.data() + big_n_, n};
  }

  void commit(std::size_t n) noexcept {
    if (n > prepared_) n = prepared_;
    prepared_ = 0;
    (big_ ? big_n_ : small_n_) += n;
  }

  void consume(std::size_t n) {
    if (n >= size()) return clear();
    if (big_) {
      s_.erase(0, n);
      big_n_ -= n;
    } else {
      std::memmove(small_, small_ + n, small_n_ - n);
      small_n_ -= n;
    }
  }

  /// The bytes read, as a string (moved out when on the heap); the buffer is left empty.
  std::string take() {
    std::string out;
    if (big_) {
      s_.resize(big_n_);
      out = std::move(s_);
      s_ = std::string();
    } else {
      out.assign(small_, small_n_);
    }
    clear();
    return out;
  }

  /// Empty, holding nothing on the heap.
  void clear() noexcept {
    std::string().swap(s_);
    big_ = false;
    big_n_ = small_n_ = prepared_ = 0;
  }

 private:
  std::string s_;  // the message, when it outgrew the inline bytes
  std::size_t big_n_ = 0;
  std::size_t small_n_ = 0;
  std::size_t prepared_ = 0;
  bool big_ = false;
  char small_[InlineBytes];
};

}  // namespace calma

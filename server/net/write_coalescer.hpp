// A stream layer under the WebSocket stream that gathers its writes: the
// frames a session writes in one turn of the event loop leave in one `write`
// (one system call, one TCP segment on loopback) instead of one each.
//
// Beast's WebSocket stream keeps doing everything it does (framing, control
// frames, the close handshake, its one-write-at-a-time rule); this layer only
// changes when its bytes reach the socket. A write is taken into `pending_`
// and completes at once (posted, never inline) while fewer than `cap` bytes
// wait; beyond that it completes only when the socket has taken the earlier
// bytes, so a client that does not read backs the session's own queue up as
// before (and is cut there as a slow consumer). The first write of a turn
// posts the flush, so everything written in the same turn goes out together;
// an owner with more frames queued holds the flush until it has written them.
// Reads pass straight through.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace calma {

template <class NextLayer>
class write_coalescer {
 public:
  using executor_type = typename NextLayer::executor_type;
  using next_layer_type = NextLayer;
  static constexpr std::size_t cap = 16 * 1024;

  template <class... Args>
  explicit write_coalescer(Args&&... args) : next_(std::forward<Args>(args)...) {}

  executor_type get_executor() noexcept { return next_.get_executor(); }
  NextLayer& next_layer() noexcept { return next_; }
  const NextLayer& next_layer() const noexcept { return next_; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& b, Token&& token) {
    return next_.async_read_some(b, std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& bufs) { initiate_write(std::move(handler), bufs); }, token, b);
  }

  /// Bytes taken and not yet handed to the socket, and those being written.
  std::size_t buffered() const { return pending_.size() + inflight_.size(); }

  /// While held, the turn's flush waits: the owner has more frames to write
  /// and calls release() when it has none (over `cap`, bytes go out anyway).
  void hold() { held_by_owner_ = true; }
  void release() {
    held_by_owner_ = false;
    flush();
  }

  /// What owns this stream: kept alive while a socket write is in flight.
  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  /// Completes once every byte taken has reached the socket (or it failed):
  /// the close handshake's teardown shuts the socket down only after that.
  template <class Handler>
  void async_drain(Handler&& h) {
    if (failed_ || (!flushing_ && pending_.empty())) {
      return boost::asio::post(get_executor(), boost::beast::bind_front_handler(std::move(h), failed_));
    }
    drained_.emplace(std::move(h));
    if (!flushing_) flush();
  }
  /// The same, blocking (the synchronous teardown).
  void drain(boost::beast::error_code& ec) {
    if (!flushing_ && !pending_.empty() && !failed_) boost::asio::write(next_, boost::asio::buffer(pending_), failed_);
    pending_.clear();
    ec = failed_;
  }

 private:
  using handler_type = boost::asio::any_completion_handler<void(boost::beast::error_code, std::size_t)>;

  template <class Handler, class ConstBuffers>
  void initiate_write(Handler&& h, const ConstBuffers& bufs) {
    if (failed_) {
      return boost::asio::post(get_executor(), boost::beast::bind_front_handler(std::move(h), failed_, std::size_t{0}));
    }
    std::size_t n = 0;
    for (auto it = boost::asio::buffer_sequence_begin(bufs); it != boost::asio::buffer_sequence_end(bufs); ++it) {
      boost::asio::const_buffer cb(*it);
      pending_.append(static_cast<const char*>(cb.data()), cb.size());
      n += cb.size();
    }
    if (buffered() <= cap) {
      boost::asio::post(get_executor(), boost::beast::bind_front_handler(std::move(h), boost::beast::error_code{}, n));
    } else {
      // Over the cap: the write completes once the socket has taken the bytes before it.
      held_.emplace(std::move(h));
      held_n_ = n;
    }
    if (buffered() > cap) {
      flush();
    } else if (!flushing_ && !flush_posted_) {
      flush_posted_ = true;
      boost::asio::post(get_executor(), [this, keep = owner_.lock()] {
        flush_posted_ = false;
        if (!held_by_owner_) flush();
      });
    }
  }

  void flush() {
    if (flushing_ || pending_.empty()) return;
    flushing_ = true;
    inflight_.swap(pending_);
    pending_.clear();
    boost::asio::async_write(next_, boost::asio::buffer(inflight_), [this, keep = owner_.lock()](boost::beast::error_code ec, std::size_t) {
      flushing_ = false;
      // Nothing kept: a connection that goes quiet (an idle shopper after its
      // welcome) holds no write buffer; the next write allocates one again.
      std::string().swap(inflight_);
      if (ec) {
        failed_ = ec;
        pending_.clear();
      }
      if (held_ && (failed_ || buffered() <= cap)) {
        auto h = std::move(*held_);
        held_.reset();
        boost::asio::post(get_executor(), boost::beast::bind_front_handler(std::move(h), failed_, failed_ ? 0 : held_n_));
      }
      if (!failed_) flush();
      if (!flushing_ && pending_.empty()) std::string().swap(pending_);
      if (drained_ && (failed_ || (!flushing_ && pending_.empty()))) {
        auto d = std::move(*drained_);
        drained_.reset();
        boost::asio::post(get_executor(), boost::beast::bind_front_handler(std::move(d), failed_));
      }
    });
  }

  NextLayer next_;
  std::string pending_;   // taken, not yet handed to the socket
  std::string inflight_;  // being written
  std::optional<handler_type> held_;
  std::optional<boost::asio::any_completion_handler<void(boost::beast::error_code)>> drained_;
  std::weak_ptr<void> owner_;
  std::size_t held_n_ = 0;
  boost::beast::error_code failed_;
  bool flushing_ = false;
  bool flush_posted_ = false;
  bool held_by_owner_ = false;
};

// The close handshake's teardown goes to the layer below.
// (What is still buffered, the close frame itself maybe, is written first.)
template <class NextLayer>
void teardown(boost::beast::role_type role, write_coalescer<NextLayer>& s, boost::beast::error_code& ec) {
  using boost::beast::websocket::teardown;
  s.drain(ec);
  teardown(role, s.next_layer(), ec);
}

template <class NextLayer, class TeardownHandler>
void async_teardown(boost::beast::role_type role, write_coalescer<NextLayer>& s, TeardownHandler&& handler) {
  s.async_drain([role, &s, h = std::forward<TeardownHandler>(handler)](boost::beast::error_code) mutable {
    using boost::beast::websocket::async_teardown;
    async_teardown(role, s.next_layer(), std::move(h));
  });
}

}  // namespace calma

// The stream layer under a session's WebSocket stream that owns its
// outgoing bytes: every frame for the client is appended to one buffer, and
// what gathers while a socket write is in flight leaves in the next single
// `write` (one system call, one TCP segment on loopback).
//
// Two ways in:
//  - `send_text(payload)`, from any thread: the hub's data frames. The frame
//    (header and payload, server frames are not masked) is appended under a
//    small mutex and a flush is posted to the session's strand if none is
//    pending. No per-frame handler, no per-frame hop between threads: the
//    hub's turn writes straight into each session's buffer.
//  - `async_write_some`, from the WebSocket stream on the session's strand:
//    everything Beast writes itself (the handshake's answer, pings, pongs,
//    the close frame). Taken whole into the same buffer, so frames never
//    interleave; the write completes at once (posted, never inline) while
//    fewer than `cap` bytes wait, else once the socket has taken the bytes
//    before it.
// A client that does not read backs the buffer up: `send_text` refuses when
// the bytes or frames waiting pass the session's limits, and the session
// cuts the connection (slow consumer). Once `stop_text()` is called (the
// close handshake began, or the connection was cut) data frames are dropped
// and only Beast's own writes (the close frame) go out. Reads pass straight
// through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <sys/socket.h>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "common/protocol/ws_frame.hpp"

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

  /// What owns this stream: kept alive while a socket write or flush is pending.
  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  /// Limits of what may wait for the client (see send_text).
  void set_limits(std::size_t max_bytes, std::size_t max_frames) {
    std::lock_guard lk(mu_);
    max_bytes_ = max_bytes;
    max_frames_ = max_frames;
  }

  enum class sent { queued, dropped, over_limit };
  /// A text frame for the client; callable from any thread. `dropped` while
  /// text is stopped; `over_limit` (nothing queued) when the bytes or frames
  /// waiting would pass the limits: the caller cuts the connection.
  sent send_text(std::string_view payload) {
    std::lock_guard lk(mu_);
    if (!text_open_ || failed_) return sent::dropped;
    if (pending_.size() + inflight_bytes_ + payload.size() > max_bytes_ || frames_ + 1 > max_frames_) {
      text_open_ = false;
      return sent::over_limit;
    }
    protocol::append_text_frame_header(pending_, payload.size());
    pending_.append(payload);
    ++frames_;
    schedule_flush_locked();
    return sent::queued;
  }
  /// Data frames are taken from now on (the handshake is done).
  void start_text() {
    std::lock_guard lk(mu_);
    text_open_ = !failed_;
  }
  /// No more data frames (closing, or cut); what is queued still goes out.
  void stop_text() {
    std::lock_guard lk(mu_);
    text_open_ = false;
  }
  /// Bytes and frames waiting for the client (queued or being written).
  std::pair<std::size_t, std::size_t> waiting() const {
    std::lock_guard lk(mu_);
    return {pending_.size() + inflight_bytes_, frames_};
  }

  /// Completes once every byte taken has reached the socket (or it failed):
  /// the close handshake's teardown shuts the socket down only after that.
  template <class Handler>
  void async_drain(Handler&& h) {
    std::unique_lock lk(mu_);
    if (failed_ || (!flushing_ && pending_.empty()))
      return boost::asio::post(get_executor(), boost::beast::bind_front_handler(std::move(h), failed_));
    drained_.emplace(std::move(h));
    const bool start = !flushing_;
    lk.unlock();
    if (start) flush();
  }
  /// The same, blocking (the synchronous teardown).
  void drain(boost::beast::error_code& ec) {
    std::string rest;
    {
      std::lock_guard lk(mu_);
      if (!flushing_ && !failed_) rest.swap(pending_);
      pending_.clear();
      text_open_ = false;
    }
    boost::beast::error_code wec;
    if (!rest.empty()) boost::asio::write(next_, boost::asio::buffer(rest), wec);
    std::lock_guard lk(mu_);
    if (wec && !failed_) failed_ = wec;
    ec = failed_;
  }

 private:
  using handler_type = boost::asio::any_completion_handler<void(boost::beast::error_code, std::size_t)>;

  // Under mu_: a flush on the strand, unless one is pending or a write is in flight
  // (its completion flushes what gathered meanwhile).
  void schedule_flush_locked() {
    if (flushing_ || flush_posted_) return;
    flush_posted_ = true;
    boost::asio::post(get_executor(), [this, keep = owner_.lock()] {
      {
        std::lock_guard lk(mu_);
        flush_posted_ = false;
      }
      flush();
    });
  }

  template <class Handler, class ConstBuffers>
  void initiate_write(Handler&& h, const ConstBuffers& bufs) {
    // Posting under the lock is safe: a posted handler never runs inside post().
    std::unique_lock lk(mu_);
    if (failed_)
      return boost::asio::post(get_executor(), boost::beast::bind_front_handler(std::move(h), failed_, std::size_t{0}));
    std::size_t n = 0;
    for (auto it = boost::asio::buffer_sequence_begin(bufs); it != boost::asio::buffer_sequence_end(bufs); ++it) {
      boost::asio::const_buffer cb(*it);
      pending_.append(static_cast<const char*>(cb.data()), cb.size());
      n += cb.size();
    }
    if (pending_.size() + inflight_bytes_ <= cap) {
      boost::asio::post(get_executor(), boost::beast::bind_front_handler(std::move(h), boost::beast::error_code{}, n));
      return schedule_flush_locked();
    }
    // Over the cap: the write completes once the socket has taken the bytes before it.
    held_.emplace(std::move(h));
    held_n_ = n;
    lk.unlock();
    flush();
  }

  // On the strand. The bytes go to the kernel at once when its buffer takes
  // them (nearly always: the socket is idle between bursts): one `send`, no
  // completion handler through the scheduler. What it does not take is left
  // to an async_write, whose completion carries on the same way.
  void flush() {
    {
      std::lock_guard lk(mu_);
      if (flushing_ || pending_.empty() || failed_) return;
      flushing_ = true;
      inflight_.swap(pending_);
      pending_.clear();
      inflight_bytes_ = inflight_.size();
      inflight_frames_ = frames_;
    }
    std::size_t done = 0;
    if constexpr (requires { next_.native_handle(); }) {
      for (;;) {
        const auto n = ::send(next_.native_handle(), inflight_.data() + done, inflight_.size() - done,
                              MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
          done += static_cast<std::size_t>(n);
          if (done == inflight_.size()) return written({});
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
          return written(boost::beast::error_code(errno, boost::system::system_category()));
        break;  // the kernel's buffer is full: wait for room
      }
    }
    boost::asio::async_write(next_, boost::asio::buffer(inflight_.data() + done, inflight_.size() - done),
                             [this, keep = owner_.lock()](boost::beast::error_code ec, std::size_t) { written(ec); });
  }

  // On the strand: the flight ended (`ec`: how).
  void written(boost::beast::error_code ec) {
    std::optional<handler_type> held;
    std::optional<boost::asio::any_completion_handler<void(boost::beast::error_code)>> drained;
    boost::beast::error_code failed;
    std::size_t held_n = 0;
    bool again = false;
    {
      std::lock_guard lk(mu_);
      flushing_ = false;
      // Nothing kept: a connection that goes quiet (an idle shopper after its
      // welcome) holds no write buffer; the next write allocates one again.
      std::string().swap(inflight_);
      inflight_bytes_ = 0;
      frames_ -= inflight_frames_;
      inflight_frames_ = 0;
      if (ec) {
        failed_ = ec;
        pending_.clear();
        frames_ = 0;
        text_open_ = false;
      }
      failed = failed_;
      if (held_ && (failed_ || pending_.size() <= cap)) {
        held = std::move(held_);
        held_.reset();
        held_n = held_n_;
      }
      again = !failed_ && !pending_.empty();
      if (pending_.empty()) std::string().swap(pending_);
      if (drained_ && (failed_ || pending_.empty())) {
        drained = std::move(drained_);
        drained_.reset();
      }
    }
    if (held) boost::asio::post(get_executor(), boost::beast::bind_front_handler(std::move(*held), failed, failed ? 0 : held_n));
    if (again) flush();
    if (drained) boost::asio::post(get_executor(), boost::beast::bind_front_handler(std::move(*drained), failed));
  }

  NextLayer next_;
  mutable std::mutex mu_;
  std::string pending_;   // taken, not yet handed to the socket
  std::string inflight_;  // being written (touched only by the strand while flushing_)
  std::size_t inflight_bytes_ = 0;
  std::size_t frames_ = 0;           // data frames pending or in flight
  std::size_t inflight_frames_ = 0;  // of which in flight
  std::size_t max_bytes_ = SIZE_MAX;
  std::size_t max_frames_ = SIZE_MAX;
  std::optional<handler_type> held_;
  std::optional<boost::asio::any_completion_handler<void(boost::beast::error_code)>> drained_;
  std::weak_ptr<void> owner_;
  std::size_t held_n_ = 0;
  boost::beast::error_code failed_;
  bool flushing_ = false;
  bool flush_posted_ = false;
  bool text_open_ = false;
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

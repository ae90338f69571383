#include "server/net/ws_session.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "common/protocol/messages.hpp"
#include "common/protocol/rate_limiter.hpp"
#include "server/hub/connection.hpp"
#include "server/net/exact_allocator.hpp"
#include "server/net/frame_buffer.hpp"
#include "server/net/write_coalescer.hpp"

namespace calma {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using protocol::close_code;
using protocol::error_code;

namespace {

// A WebSocket session: reads frames, parses them at the boundary, keeps the
// per-connection rules (hello deadline, frame size, flood, idle) and hands
// what is valid to the hub. Frames for the client are appended, from any
// thread, to the buffer of the stream layer below (write_coalescer.hpp),
// bounded; a client over the bound is cut as a slow consumer (it is not
// reading, so a close frame could not reach it either: the TCP connection
// is cut). With one I/O thread the session runs on the io_context's
// executor, else on a strand of its own.
class ws_session final : public connection, public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(tcp::socket&& socket, std::shared_ptr<net_context> ctx, door_pass pass, std::string client)
      : ws_(std::move(socket)),
        ctx_(std::move(ctx)),
        id_(ctx_->next_id++),
        timer_(ws_.get_executor()),
        limiter_(ctx_->cfg.rate_limit),
        control_(limits::rate{ctx_->cfg.doors.control_frames_per_s, ctx_->cfg.doors.control_frames_burst}),
        pass_(std::move(pass)),
        client_(std::move(client)) {
    ++ctx_->stats.connections_total;
    ++ctx_->stats.connections_unauthenticated;
    ++ctx_->stats.websocket_sessions;
  }

  void run(http::request<http::string_body> req, std::string early) {
    const auto& wc = ctx_->cfg.websocket;
    ws_.next_layer().set_owner(shared_from_this());
    ws_.next_layer().set_limits(wc.send_queue_bytes, wc.send_queue_messages);
    // Before hello only a small frame is read (a hello is small); frames up
    // to hard_frame_bytes after it, answered `too_large` if over
    // max_frame_bytes; beyond the limit in force Beast closes with 1009.
    ws_.read_message_max(ctx_->cfg.doors.pre_hello_frame_bytes);
    // The handshakes (opening, closing) have Beast's time limit. Dead peers are
    // found by the keep-alive pings of the session's own timer (on_timer):
    // Beast's idle timeout would keep a second timer waiting per connection.
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "calma"); }));
    // Pings and pongs cost a write or a wake-up each: a bucket per connection.
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      heard();  // a pong (or a ping, a close) shows the peer is there
      if (kind == websocket::frame_type::close || closing_ || pending_close_) return;
      if (control_.take(ctx_->clock()).ok) return;
      ctx_->stats.refused(refusal::control_frames);
      ++ctx_->stats.flood_disconnects;
      // Not from inside the read: after it, on the strand.
      asio::post(ws_.get_executor(), [self = shared_from_this()] {
        self->begin_close(static_cast<std::uint16_t>(close_code::flood), "too many control frames");
      });
    });
    origin_ = std::string(req[http::field::origin]);
    host_ = std::string(req[http::field::host]);
    if (early.empty()) {
      auto r = std::make_shared<http::request<http::string_body>>(std::move(req));
      ws_.async_accept(*r, [self = shared_from_this(), r](beast::error_code ec) { self->on_accept(ec); });
      return;
    }
    // Frames arrived with the request: Beast takes them only as the bytes
    // that follow a request it parses itself, in a buffer of its own
    // (~1.5 KB). Give it the handshake's own fields and then those bytes.
    auto raw = std::make_shared<std::string>(handshake_of(req) + early);
    ws_.async_accept(asio::buffer(*raw), [self = shared_from_this(), raw](beast::error_code ec) { self->on_accept(ec); });
  }

  /// The request line and the fields a WebSocket handshake reads, nothing else.
  static std::string handshake_of(const http::request<http::string_body>& req) {
    std::string out = std::string(req.method_string()) + " " + std::string(req.target()) + " HTTP/1.1\r\n";
    for (auto f : {http::field::host, http::field::upgrade, http::field::connection, http::field::sec_websocket_key,
                   http::field::sec_websocket_version, http::field::sec_websocket_protocol,
                   http::field::sec_websocket_extensions})
      if (auto v = req[f]; !v.empty())
        out += std::string(http::to_string(f)) + ": " + std::string(v) + "\r\n";
    return out + "\r\n";
  }

  std::uint64_t id() const override { return id_; }
  std::string_view origin() const override { return origin_; }
  std::string_view host() const override { return host_; }
  std::string_view address() const override { return client_; }

  // Any thread: straight into the stream's buffer (no hop to our strand).
  void send(frame_ptr frame) override {
    switch (ws_.next_layer().send_text(*frame)) {
      case write_coalescer<tcp::socket>::sent::queued:
        ++ctx_->stats.frames_out;
        ctx_->stats.bytes_out += frame->size();
        return;
      case write_coalescer<tcp::socket>::sent::dropped: return;  // closing, or not yet accepted
      case write_coalescer<tcp::socket>::sent::over_limit: {
        ++ctx_->stats.slow_disconnects;
        const auto [bytes, frames] = ws_.next_layer().waiting();
        spdlog::warn("connection {} cut: slow consumer ({} frames, {} bytes queued)", id_, frames, bytes);
        asio::post(ws_.get_executor(), [self = shared_from_this()] { self->abort(); });
        return;
      }
    }
  }

  void close(std::uint16_t code, std::string reason) override {
    asio::dispatch(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
      self->begin_close(code, std::move(reason));
    });
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return finish();
    accepted_ = true;
    ws_.next_layer().start_text();
    if (ctx_->draining) {
      begin_close(static_cast<std::uint16_t>(close_code::going_away), "server shutting down");
      return do_read();  // the read completes the close handshake and finishes the session
    }
    last_frame_ = last_heard_ = std::chrono::steady_clock::now();
    hello_by_ = last_frame_ + std::chrono::milliseconds(ctx_->cfg.websocket.hello_timeout_ms);
    arm_timer();
    do_read();
  }

  // One timer for every deadline: the hello's (until it comes), the idle
  // check (no frame for idle_timeout_s: 4408) and the keep-alive (nothing
  // heard for half of ping_interval_s: a ping; for all of it: the peer is
  // dead and the connection is cut, as Beast's idle timeout did). Frames and
  // pongs push the times forward without touching the timer: it looks when it
  // fires, and waits again.
  // (A frame still arriving counts when it is whole: a frame of up to
  // hard_frame_bytes that takes longer than ping_interval_s is cut.)
  std::chrono::steady_clock::duration ping_interval() const {
    return std::chrono::seconds(ctx_->cfg.websocket.ping_interval_s);
  }

  void heard() {
    last_heard_ = std::chrono::steady_clock::now();
    pinged_ = false;
  }

  void arm_timer() {
    auto at = last_frame_ + std::chrono::seconds(ctx_->cfg.websocket.idle_timeout_s);
    if (!hello_seen_) at = std::min(at, hello_by_);
    at = std::min(at, last_heard_ + (pinged_ ? ping_interval() : ping_interval() / 2));
    timer_.expires_at(at);
    // Its own block of handler memory, not a recycled one (exact_allocator.hpp).
    timer_.async_wait(asio::bind_allocator(exact_allocator<>(), [self = shared_from_this()](beast::error_code e) {
      if (!e) self->on_timer();
    }));
  }

  void on_timer() {
    if (closing_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!hello_seen_ && now >= hello_by_) {
      ++ctx_->stats.auth_failures;
      return begin_close(static_cast<std::uint16_t>(close_code::auth), "no hello in time");
    }
    if (now - last_frame_ >= std::chrono::seconds(ctx_->cfg.websocket.idle_timeout_s))
      return begin_close(static_cast<std::uint16_t>(close_code::idle), "idle");
    if (now - last_heard_ >= ping_interval()) return abort();  // no pong: the peer is gone
    if (!pinged_ && now - last_heard_ >= ping_interval() / 2) ping();
    arm_timer();
  }

  void ping() {
    pinged_ = true;
    if (pinging_ || pending_close_ || closing_) return;
    pinging_ = true;
    ws_.async_ping({}, [self = shared_from_this()](beast::error_code) {
      self->pinging_ = false;
      // A close waits for the ping (Beast allows one ping or close at a time).
      if (self->pending_close_) self->do_close();
    });
  }

  void do_read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(beast::error_code ec, std::size_t bytes) {
    if (ec) {
      if (ec == websocket::error::message_too_big && !hello_seen_) ctx_->stats.refused(refusal::pre_hello_frame);
      return finish();
    }
    ++ctx_->stats.frames_in;
    heard();
    last_frame_ = last_heard_;
    const bool text = ws_.got_text();
    std::string frame = buffer_.take();  // the buffer keeps nothing on the heap until the next frame
    if (!closing_ && !pending_close_) on_frame(text, std::move(frame));
    do_read();  // also while closing: the read completes the close handshake
  }

  void on_frame(bool text, std::string frame) {
    const auto now = ctx_->clock();
    if (hello_seen_) {
      switch (limiter_.on_frame(now)) {
        case protocol::rate_limiter::verdict::pass: break;
        case protocol::rate_limiter::verdict::refuse:
          // Name the refused message so the client can resend exactly that one.
          return answer_error(error_code::rate_limited, "too many frames; slow down", protocol::guess_ref(frame));
        case protocol::rate_limiter::verdict::close:
          ++ctx_->stats.flood_disconnects;
          spdlog::warn("connection {} closed for flooding (4429)", id_);
          return begin_close(static_cast<std::uint16_t>(close_code::flood), "flood");
      }
    }
    if (!text) return answer_error(error_code::bad_request, "binary frames are not supported; send JSON text");
    if (frame.size() > ctx_->cfg.websocket.max_frame_bytes)
      return answer_error(error_code::too_large, "frame over " + std::to_string(ctx_->cfg.websocket.max_frame_bytes) + " bytes",
                          protocol::guess_ref(frame));
    auto parsed = protocol::parse_client_message(frame, ctx_->cfg.limits);
    if (!hello_seen_) {
      if (!parsed.message || !std::holds_alternative<protocol::hello>(*parsed.message)) {
        ++ctx_->stats.auth_failures;
        // A hello that did not validate (a bad context, say) is told why before the close.
        if (parsed.err && parsed.err->ref == "hello") answer_error(parsed.err->code, parsed.err->message, "hello");
        return begin_close(static_cast<std::uint16_t>(close_code::auth), "the first frame must be a valid hello");
      }
      hello_seen_ = true;
      ws_.read_message_max(ctx_->cfg.websocket.hard_frame_bytes);
      ctx_->the_front->hello(shared_from_this(), std::get<protocol::hello>(std::move(*parsed.message)), std::move(frame));
      return;
    }
    if (parsed.err) return answer_error(parsed.err->code, parsed.err->message, parsed.err->ref);
    if (std::holds_alternative<protocol::ping>(*parsed.message))
      return send(make_frame(protocol::make_pong()));
    ctx_->the_front->handle(*this, std::move(*parsed.message), std::move(frame));
  }

  void answer_error(error_code code, std::string message, std::string ref = {}) {
    ctx_->stats.error(code);
    send(make_frame(protocol::make_error({code, std::move(message), std::move(ref)})));
  }

  // Close after what is already queued (an error frame before a 4429, say):
  // the close frame goes into the same buffer, after them.
  void begin_close(std::uint16_t code, std::string reason) {
    if (closing_ || pending_close_) return;
    if (!accepted_) return abort();
    ws_.next_layer().stop_text();
    pending_close_.emplace(code, std::move(reason));
    if (!pinging_) do_close();
  }

  void do_close() {
    if (closing_) return;
    closing_ = true;
    timer_.cancel();
    websocket::close_reason cr(static_cast<websocket::close_code>(pending_close_->first), pending_close_->second);
    ws_.async_close(cr, [self = shared_from_this()](beast::error_code) {
      // The pending read completes with `closed` and finishes the session.
    });
  }

  void abort() {
    closing_ = true;
    ws_.next_layer().stop_text();
    timer_.cancel();
    beast::error_code ignored;
    auto& socket = beast::get_lowest_layer(ws_);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    closing_ = true;
    ws_.next_layer().stop_text();
    timer_.cancel();
    --ctx_->stats.websocket_sessions;
    ctx_->the_front->detach(*this);
  }

  // Frames gathered while a write is in flight leave in one system call (write_coalescer.hpp).
  // Under it the bare socket: Beast's handshake timeout and the session's own
  // timer are the time limits in force, and a beast::tcp_stream would add an
  // allocation with three timers of its own per connection.
  websocket::stream<write_coalescer<tcp::socket>> ws_;
  // Between frames (all of an idle shopper's life) the read that waits holds
  // only these inline bytes; small frames (typing, read, ping) fit in them.
  frame_buffer<128> buffer_;
  std::shared_ptr<net_context> ctx_;
  std::uint64_t id_;
  asio::steady_timer timer_;  // the hello deadline, the idle check, the keep-alive (arm_timer)
  protocol::rate_limiter limiter_;
  limits::token_bucket control_;  // pings and pongs
  door_pass pass_;                // counted at the doors while we live
  std::string client_;            // the client's address
  bool accepted_ = false;
  bool hello_seen_ = false;
  std::string origin_, host_;  // set before the session is shared; read-only after
  bool closing_ = false;   // close started or connection cut: nothing more is queued
  bool finished_ = false;  // the hub has been told we are gone
  std::optional<std::pair<std::uint16_t, std::string>> pending_close_;  // begun; waits for a ping being written
  std::chrono::steady_clock::time_point last_frame_;
  std::chrono::steady_clock::time_point hello_by_;
  std::chrono::steady_clock::time_point last_heard_;  // the last frame of any kind from the peer
  bool pinged_ = false;   // a keep-alive ping went out since then
  bool pinging_ = false;  // and is being written
};

}  // namespace

void start_websocket(tcp::socket&& socket, http::request<http::string_body>&& req, std::string early,
                     std::shared_ptr<net_context> ctx, door_pass pass, std::string client) {
  std::make_shared<ws_session>(std::move(socket), std::move(ctx), std::move(pass), std::move(client))
      ->run(std::move(req), std::move(early));
}

}  // namespace calma

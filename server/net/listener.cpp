// Listener and HTTP session (Beast), in the shape of Beast's chat-multi
// example: the listener accepts on its own strand and gives each connection a
// strand of its own (with one I/O thread, the io_context's executor: one
// thread already runs every handler one at a time); the HTTP session reads requests with a body limit and a
// timeout, hands them to http_api, and passes /ws upgrades to ws_session.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <array>
#include <atomic>

#include "server/net/net.hpp"
#include "server/net/ws_session.hpp"

namespace calma {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Refused connections answered and then drained for a moment (so the client
// reads the 429/503 instead of a reset); beyond this many at once they are
// simply closed.
std::atomic<int> lingering{0};
constexpr int max_lingering = 256;

std::string refusal_body(const door_refusal& r) {
  const char* code = r.status == 503 ? "unavailable" : "rate_limited";
  return std::string(R"({"error":{"code":")") + code + R"(","message":")" + r.message + R"(","retry_after_s":)" +
         std::to_string(r.retry_after_s) + "}}";
}

// Headers on every answer: no sniffing, no referrer leaks, no framing by
// other sites. Pages also get a Content-Security-Policy: Calma's own pages
// load only Calma's scripts and talk only to Calma (the widget on a store's
// page runs under that page's policy, not this one).
void security_headers(http::response<http::string_body>& res, std::string_view content_type) {
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  if (content_type.rfind("text/html", 0) == 0)
    res.set("Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; media-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'");
}

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket&& socket, std::shared_ptr<net_context> ctx, door_pass pass, std::string peer)
      : stream_(std::move(socket)), ctx_(std::move(ctx)), pass_(std::move(pass)), peer_(std::move(peer)) {
    proxied_ = ctx_->gate.trusted_proxy(peer_);
    client_ = peer_;
  }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

  /// Refused at the door: answer and go.
  void run_refused(door_refusal r) {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this(), r = std::move(r)]() mutable {
      self->refused_ = true;
      self->reply_refusal(r);
    });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(ctx_->cfg.server.http_body_limit);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(ctx_->cfg.doors.request_timeout_s));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return do_shutdown();
    if (ec == http::error::body_limit) return reply_simple(413, R"({"error":{"code":"too_large","message":"body too large"}})", false);
    if (ec == http::error::header_limit) {
      ctx_->stats.refused(refusal::request_header);
      return reply_simple(431, R"({"error":{"code":"too_large","message":"request header fields too large"}})", false);
    }
    if (ec) return;  // timeout or reset: nothing to answer
    auto& req = parser_->get();
    if (proxied_) {
      client_ = ctx_->gate.client_of(peer_, req["X-Forwarded-For"]);
      if (auto r = ctx_->gate.admit_client(client_, pass_)) return reply_refusal(*r);
    }
    if (beast::websocket::is_upgrade(req)) {
      if (req.target() != "/ws") return reply_simple(404, R"({"error":{"code":"not_found","message":"WebSocket endpoint is /ws"}})", false);
      if (!origin_allowed(ctx_->cfg, nullptr, req[http::field::origin], req[http::field::host]))
        return reply_simple(403, R"({"error":{"code":"forbidden","message":"origin not allowed"}})", false);
      stream_.expires_never();
      // Frames the client sent right behind its request are in buffer_: they go along.
      std::string early = beast::buffers_to_string(buffer_.data());
      start_websocket(stream_.release_socket(), parser_->release(), std::move(early), ctx_, std::move(pass_),
                      std::move(client_));
      return;
    }
    http_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.authorization = std::string(req[http::field::authorization]);
    r.origin = std::string(req[http::field::origin]);
    r.host = std::string(req[http::field::host]);
    r.content_type = std::string(req[http::field::content_type]);
    r.accept_encoding = std::string(req[http::field::accept_encoding]);
    r.if_none_match = std::string(req[http::field::if_none_match]);
    r.client = client_;
    r.body = std::move(req.body());
    keep_alive_ = req.keep_alive();
    head_ = req.method() == http::verb::head;
    version_ = req.version();
    ctx_->api.handle(std::move(r), [self = shared_from_this()](http_response res) {
      asio::dispatch(self->stream_.get_executor(), [self, res = std::move(res)]() mutable {
        self->reply(std::move(res));
      });
    });
  }

  void reply_refusal(const door_refusal& r) {
    keep_alive_ = false;
    version_ = 11;
    head_ = false;
    reply(http_response{r.status, "application/json", refusal_body(r), {{"Retry-After", std::to_string(r.retry_after_s)}}});
  }

  void reply_simple(unsigned status, std::string body, bool keep_alive) {
    keep_alive_ = keep_alive;
    version_ = 11;
    head_ = false;
    reply(http_response{status, "application/json", std::move(body), {}});
  }

  void reply(http_response r) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "calma");
    res->set(http::field::content_type, r.content_type);
    security_headers(*res, r.content_type);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_);
    if (head_) {
      res->content_length(r.body.size());
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    stream_.expires_after(std::chrono::seconds(ctx_->cfg.server.http_timeout_s));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) return;
      if (!res->keep_alive()) return self->do_shutdown();
      self->do_read();
    });
  }

  // Half-close, then read what the client still sends for a moment before the
  // socket closes: closing with unread data would reset the connection and
  // could take the answer with it.
  void do_shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec || !refused_) return;
    if (lingering.fetch_add(1) >= max_lingering) {
      --lingering;
      return;
    }
    counted_linger_ = true;
    drain();
  }

  void drain() {
    stream_.expires_after(std::chrono::seconds(1));
    stream_.async_read_some(asio::buffer(drain_buf_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) return self->drain();
    });
  }

 public:
  ~http_session() {
    if (counted_linger_) --lingering;
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<net_context> ctx_;
  door_pass pass_;
  std::string peer_, client_;
  bool proxied_ = false;
  bool refused_ = false;
  bool counted_linger_ = false;
  std::array<char, 512> drain_buf_{};
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
};

}  // namespace

class listener_impl : public std::enable_shared_from_this<listener_impl> {
 public:
  listener_impl(asio::io_context& ioc, std::shared_ptr<net_context> ctx)
      : ioc_(ioc), acceptor_(asio::make_strand(ioc)), retry_(acceptor_.get_executor()), ctx_(std::move(ctx)) {}

  std::string open(const std::string& address, std::uint16_t port) {
    beast::error_code ec;
    auto addr = asio::ip::make_address(address, ec);
    if (ec) return "bad bind address '" + address + "'";
    tcp::endpoint ep{addr, port};
    auto where = address + ":" + std::to_string(port);
    acceptor_.open(ep.protocol(), ec);
    if (ec) return "cannot open a socket for " + where + ": " + ec.message();
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    acceptor_.bind(ep, ec);
    if (ec) return "cannot listen on " + where + ": " + ec.message();
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return "cannot listen on " + where + ": " + ec.message();
    return {};
  }

  std::uint16_t port() const {
    beast::error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }

  void start() { do_accept(); }

  void stop() {
    asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
      self->retry_.cancel();
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(connection_executor(), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
      if (ec) {
        // Out of file descriptors or similar: pause instead of spinning on the error.
        self->retry_.expires_after(std::chrono::milliseconds(100));
        self->retry_.async_wait([self](beast::error_code e) {
          if (!e) self->do_accept();
        });
        return;
      }
      beast::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      auto ep = s.remote_endpoint(ignored);
      std::string peer = ignored ? std::string() : ep.address().to_string();
      // Counted before anything is read: a proxy's connections by the client
      // its request names (admit_client), everyone else's by their address.
      auto& gate = self->ctx_->gate;
      door_pass pass;
      auto refused = gate.admit(peer, pass, !gate.trusted_proxy(peer));
      auto session = std::make_shared<http_session>(std::move(s), self->ctx_, std::move(pass), std::move(peer));
      if (refused) session->run_refused(std::move(*refused));
      else session->run();
      self->do_accept();
    });
  }

  asio::any_io_executor connection_executor() {
    if (ctx_->one_thread) return ioc_.get_executor();
    return asio::make_strand(ioc_);
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  std::shared_ptr<net_context> ctx_;
};

listener::listener(asio::io_context& ioc, std::shared_ptr<net_context> ctx)
    : impl_(std::make_shared<listener_impl>(ioc, std::move(ctx))) {}
listener::~listener() = default;
std::string listener::open(const std::string& address, std::uint16_t port) { return impl_->open(address, port); }
std::uint16_t listener::port() const { return impl_->port(); }
void listener::start() { impl_->start(); }
void listener::stop() { impl_->stop(); }

}  // namespace calma

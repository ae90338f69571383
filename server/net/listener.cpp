// Listener and HTTP session (Beast), in the shape of Beast's chat-multi
// example: the listener accepts on its own strand and gives each connection a
// strand of its own; the HTTP session reads requests with a body limit and a
// timeout, hands them to http_api, and passes /ws upgrades to ws_session.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "server/net/net.hpp"
#include "server/net/ws_session.hpp"

namespace calma {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket&& socket, std::shared_ptr<net_context> ctx)
      : stream_(std::move(socket)), ctx_(std::move(ctx)) {}

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(ctx_->cfg.server.http_body_limit);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(ctx_->cfg.server.http_timeout_s));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return do_shutdown();
    if (ec == http::error::body_limit) return reply_simple(413, R"({"error":{"code":"too_large","message":"body too large"}})", false);
    if (ec) return;  // timeout or reset: nothing to answer
    auto& req = parser_->get();
    if (beast::websocket::is_upgrade(req)) {
      if (req.target() != "/ws") return reply_simple(404, R"({"error":{"code":"not_found","message":"WebSocket endpoint is /ws"}})", false);
      if (!origin_allowed(ctx_->cfg, nullptr, req[http::field::origin], req[http::field::host]))
        return reply_simple(403, R"({"error":{"code":"forbidden","message":"origin not allowed"}})", false);
      stream_.expires_never();
      start_websocket(stream_.release_socket(), parser_->release(), ctx_);
      return;
    }
    http_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.authorization = std::string(req[http::field::authorization]);
    r.origin = std::string(req[http::field::origin]);
    r.host = std::string(req[http::field::host]);
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

  void do_shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<net_context> ctx_;
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
    acceptor_.async_accept(asio::make_strand(ioc_), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
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
      std::make_shared<http_session>(std::move(s), self->ctx_)->run();
      self->do_accept();
    });
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

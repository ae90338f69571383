#include "server/store/redis/connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include "server/store/redis/asio_adapter.hpp"
#include "server/store/redis/decode.hpp"

namespace calma::redis {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

// A command in flight. hiredis holds it as privdata; it holds the connection,
// so the connection outlives every context callback that refers to it.
struct connection::pending {
  std::shared_ptr<connection> owner;
  reply_handler cb;
  clock::time_point deadline;
};

namespace {

bool parse_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace

bool parse_redis_url(std::string_view url, connection_options& out, std::string& error) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, 9) == "rediss://") {
    error = "TLS (rediss://) is not supported with hiredis 0.14";
    return false;
  }
  if (url.substr(0, scheme.size()) != scheme) {
    error = "Redis URL must start with redis://: " + std::string(url);
    return false;
  }
  std::string_view rest = url.substr(scheme.size());
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (auto colon = cred.find(':'); colon != std::string_view::npos) {
      out.username = std::string(cred.substr(0, colon));
      out.password = std::string(cred.substr(colon + 1));
    } else {
      out.password = std::string(cred);
    }
  }
  std::string_view hostport = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!parse_int(db, out.db) || out.db < 0)) {
      error = "bad database number in Redis URL: " + std::string(db);
      return false;
    }
  }
  std::string_view host = hostport, port;
  if (!hostport.empty() && hostport.front() == '[') {  // [v6]:port
    auto close = hostport.find(']');
    if (close == std::string_view::npos) {
      error = "bad IPv6 host in Redis URL";
      return false;
    }
    host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') {
        error = "bad Redis URL: " + std::string(url);
        return false;
      }
      port = hostport.substr(close + 2);
    }
  } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (host.empty()) {
    error = "no host in Redis URL: " + std::string(url);
    return false;
  }
  out.host = std::string(host);
  if (!port.empty() && (!parse_int(port, out.port) || out.port <= 0 || out.port > 65535)) {
    error = "bad port in Redis URL: " + std::string(port);
    return false;
  }
  return true;
}

std::shared_ptr<connection> connection::create(asio::io_context& ioc, connection_options o) {
  return std::shared_ptr<connection>(new connection(ioc, std::move(o)));
}

connection::connection(asio::io_context& ioc, connection_options o)
    : opts_(std::move(o)),
      strand_(asio::make_strand(ioc)),
      resolver_(strand_),
      connect_timer_(strand_),
      command_timer_(strand_),
      backoff_timer_(strand_),
      rng_(std::random_device{}()),
      host_(opts_.host),
      port_(opts_.port),
      target_(opts_.sentinels.empty() ? opts_.host + ":" + std::to_string(opts_.port)
                                      : "master '" + opts_.sentinel_master + "' via Sentinel") {}

std::string connection::endpoint() const {
  std::lock_guard lk(err_mu_);
  return target_;
}

connection::~connection() {
  // Normally stop() ran on the strand and ac_ is null. If the io_context never
  // ran it (shut down first), free the context without calling back into us.
  if (ac_) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    redisAsyncFree(ac);
  }
}

void connection::set_subscription(std::string channel, std::function<void(std::string)> on_message) {
  sub_channel_ = std::move(channel);
  on_message_ = std::move(on_message);
}

void connection::start() {
  asio::post(strand_, [self = shared_from_this()] { self->do_connect(); });
}

void connection::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopping_ = true;
    self->on_ready_ = nullptr;
    self->on_down_ = nullptr;
    self->on_message_ = nullptr;
    self->resolver_.cancel();
    self->connect_timer_.cancel();
    self->backoff_timer_.cancel();
    if (self->asking_) self->asking_->stop();
    self->asking_.reset();
    self->command_timer_.cancel();
    self->teardown("connection stopped");
  });
}

std::string connection::last_error() const {
  std::lock_guard lk(err_mu_);
  return last_error_;
}

void connection::set_error(std::string e) {
  std::lock_guard lk(err_mu_);
  last_error_ = std::move(e);
}

void connection::do_connect() {
  if (stopping_ || ac_) return;
  const std::uint64_t gen = ++generation_;
  teardown_reason_.clear();
  // Asking the Sentinels is bounded by their connections' own timeouts, one
  // by one; the connect timer starts once there is an address to connect to.
  if (!opts_.sentinels.empty()) return ask_sentinel(gen, 0, {});
  connect_to_target(gen);
}

void connection::arm_connect_timer(std::uint64_t gen) {
  connect_timer_.expires_after(std::chrono::milliseconds(opts_.connect_timeout_ms));
  connect_timer_.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
    if (ec || gen != self->generation_ || self->stopping_ || self->ready_) return;
    std::string why = "connect timeout after " + std::to_string(self->opts_.connect_timeout_ms) + " ms";
    if (self->ac_) {
      self->teardown(why);
    } else {  // still resolving: make the resolve handler stale
      ++self->generation_;
      self->resolver_.cancel();
      self->link_lost(why);
    }
  });
}

// Asks sentinel `index` (then the next ones) where the master is; connects there.
void connection::ask_sentinel(std::uint64_t gen, std::size_t index, std::string errors) {
  if (gen != generation_ || stopping_) return;
  if (index >= opts_.sentinels.size()) {
    ++generation_;  // the connect timer of this attempt is now stale
    link_lost("no Sentinel told where master '" + opts_.sentinel_master + "' is: " + errors);
    return;
  }
  const std::string& addr = opts_.sentinels[index];
  connection_options so;
  const auto colon = addr.rfind(':');
  so.host = addr.substr(0, colon);
  so.port = colon == std::string::npos ? 26379 : std::atoi(addr.c_str() + colon + 1);
  so.password = opts_.sentinel_password;
  so.connect_timeout_ms = opts_.connect_timeout_ms;
  so.command_timeout_ms = opts_.command_timeout_ms;
  so.backoff_min_ms = so.backoff_max_ms = 60'000;  // one try: stopped on the first answer or failure
  auto s = connection::create(static_cast<asio::io_context&>(strand_.context()), so);
  asking_ = s;
  std::weak_ptr<connection> w = shared_from_this();
  std::weak_ptr<connection> sw = s;
  auto answered = std::make_shared<bool>(false);
  // Runs once, on our strand: the sentinel's answer (host, port) or why not.
  auto finish = [w, sw, gen, index, errors, answered, addr](std::string host, int port, std::string why) {
    auto self = w.lock();
    if (!self) return;
    asio::post(self->strand_, [self, sw, gen, index, errors, answered, addr, host, port, why] {
      if (*answered) return;
      *answered = true;
      if (auto s = sw.lock()) s->stop();
      if (self->asking_ == sw.lock()) self->asking_.reset();
      if (gen != self->generation_ || self->stopping_) return;
      if (host.empty()) return self->ask_sentinel(gen, index + 1, errors + (errors.empty() ? "" : "; ") + addr + ": " + why);
      self->host_ = host;
      self->port_ = port;
      {
        std::lock_guard lk(self->err_mu_);
        self->target_ = host + ":" + std::to_string(port) + " (master '" + self->opts_.sentinel_master + "' via Sentinel)";
      }
      self->connect_to_target(gen);
    });
  };
  s->set_on_down([finish](const std::string& why) { finish({}, 0, why); });
  s->set_on_ready([finish, sw, name = opts_.sentinel_master] {
    auto s = sw.lock();
    if (!s) return;
    s->command({"SENTINEL", "get-master-addr-by-name", name}, [finish](reply_or_error r) {
      if (!r.ok()) return finish({}, 0, r.error);
      if (r.value.is_error()) return finish({}, 0, r.value.str);
      if (!r.value.is_array() || r.value.elements.size() != 2) return finish({}, 0, "does not know that master");
      finish(r.value.elements[0].str, std::atoi(r.value.elements[1].str.c_str()), {});
    });
  });
  s->start();
}

void connection::connect_to_target(std::uint64_t gen) {
  if (gen != generation_ || stopping_) return;
  arm_connect_timer(gen);
  // hiredis resolves names with a blocking getaddrinfo(); give it an address.
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host_, ec);
  if (!ec) {
    start_hiredis(addr.to_string());
    return;
  }
  resolver_.async_resolve(
      host_, std::to_string(port_),
      [self = shared_from_this(), gen](const boost::system::error_code& ec,
                                       const asio::ip::tcp::resolver::results_type& results) {
        if (gen != self->generation_ || self->stopping_) return;
        self->on_resolved(ec, results);
      });
}

void connection::on_resolved(const boost::system::error_code& ec,
                             const asio::ip::tcp::resolver::results_type& results) {
  if (ec || results.empty()) {
    link_lost("cannot resolve " + host_ + ": " + (ec ? ec.message() : "no address"));
    return;
  }
  // Prefer IPv4: "localhost" may list ::1 first while Redis binds 127.0.0.1 only.
  auto pick = results.begin();
  for (auto it = results.begin(); it != results.end(); ++it)
    if (it->endpoint().address().is_v4()) {
      pick = it;
      break;
    }
  start_hiredis(pick->endpoint().address().to_string());
}

void connection::start_hiredis(const std::string& ip) {
  redisAsyncContext* ac = redisAsyncConnect(ip.c_str(), port_);
  if (!ac) {
    link_lost("out of memory");
    return;
  }
  if (ac->err) {
    std::string why = ac->errstr;
    redisAsyncFree(ac);
    link_lost(why);
    return;
  }
  ac->data = this;
  if (asio_attach(ac, strand_) != REDIS_OK) {
    redisAsyncFree(ac);
    link_lost("cannot attach the Redis socket to the io_context");
    return;
  }
  ac_ = ac;
  redisAsyncSetConnectCallback(ac, &connection::connect_trampoline);  // after attach
  redisAsyncSetDisconnectCallback(ac, &connection::disconnect_trampoline);
}

void connection::connect_trampoline(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<connection*>(ac->data);
  if (!self || self->ac_ != ac) return;
  if (status != REDIS_OK) {
    // hiredis frees the context right after this returns.
    std::string why = ac->errstr[0] ? ac->errstr : "connect failed";
    self->ac_ = nullptr;
    self->link_lost(why);
    return;
  }
  self->on_tcp_connected(status);
}

void connection::disconnect_trampoline(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<connection*>(ac->data);
  if (!self || self->ac_ != ac) return;  // we dropped it ourselves: already handled
  std::string why = ac->err && ac->errstr[0] ? ac->errstr : "connection closed by Redis";
  self->ac_ = nullptr;
  self->link_lost(why);
}

void connection::on_tcp_connected(int) {
  tcp_up_ = true;
  std::vector<std::vector<std::string>> hs;
  if (!opts_.password.empty()) {
    if (opts_.username.empty())
      hs.push_back({"AUTH", opts_.password});
    else
      hs.push_back({"AUTH", opts_.username, opts_.password});
  }
  if (opts_.db != 0) hs.push_back({"SELECT", std::to_string(opts_.db)});
  for (const auto& c : opts_.on_connect) hs.push_back(c);
  const bool check_role = !opts_.sentinels.empty();
  handshake_left_ = hs.size() + (sub_channel_.empty() ? 0 : 1) + (check_role ? 1 : 0);
  if (handshake_left_ == 0) {
    become_ready();
    return;
  }
  for (auto& c : hs) {
    reply_handler h = [this](reply_or_error r) { handshake_reply(r); };
    do_command(c, h);
  }
  if (check_role) {  // after AUTH
    // What Sentinel said may be stale (a failover under way): only the master will do.
    std::vector<std::string> role{"ROLE"};
    reply_handler h = [this](reply_or_error r) {
      if (r.ok() && !r.value.is_error() &&
          !(r.value.is_array() && !r.value.elements.empty() && r.value.elements[0].str == "master")) {
        teardown(endpoint() + " is not the master (ROLE " +
                 (r.value.is_array() && !r.value.elements.empty() ? r.value.elements[0].str : "?") +
                 "); asking Sentinel again");
        return;
      }
      handshake_reply(r);
    };
    do_command(role, h);
  }
  if (!sub_channel_.empty()) {
    const char* argv[2] = {"SUBSCRIBE", sub_channel_.c_str()};
    const size_t lens[2] = {9, sub_channel_.size()};
    redisAsyncCommandArgv(ac_, &connection::sub_trampoline, this, 2, argv, lens);
  }
}

void connection::handshake_reply(const reply_or_error& r) {
  if (!r.ok() || handshake_left_ == 0) return;  // link already gone
  if (r.value.is_error()) {
    teardown("Redis refused the connection set-up: " + r.value.str);
    return;
  }
  if (--handshake_left_ == 0) become_ready();
}

void connection::become_ready() {
  connect_timer_.cancel();
  attempt_ = 0;
  ready_ = true;
  set_error("");
  if (on_ready_) on_ready_();
}

void connection::sub_trampoline(redisAsyncContext* ac, void* r, void* privdata) {
  auto* self = static_cast<connection*>(privdata);
  auto* reply = static_cast<redisReply*>(r);
  if (!reply || !self || self->ac_ != ac) return;  // disconnect: handled by the disconnect path
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
      reply->element[0]->type != REDIS_REPLY_STRING)
    return;
  std::string_view kind(reply->element[0]->str, reply->element[0]->len);
  if (kind == "subscribe") {
    reply_or_error ok;
    ok.value.kind = redis_value::type::status;
    self->handshake_reply(ok);
  } else if (kind == "message" && reply->element[2]->type == REDIS_REPLY_STRING) {
    if (self->on_message_)
      self->on_message_(std::string(reply->element[2]->str, reply->element[2]->len));
  }
}

void connection::command(std::vector<std::string> args, reply_handler cb) {
  asio::post(strand_, [self = shared_from_this(), args = std::move(args), cb = std::move(cb)]() mutable {
    if (!self->ready_ || !self->ac_) {
      std::string why = self->last_error();
      cb({{}, "Redis not connected" + (why.empty() ? std::string() : ": " + why)});
      return;
    }
    if (self->inflight_.size() >= self->opts_.max_inflight) {
      cb({{}, "Redis overloaded: " + std::to_string(self->inflight_.size()) + " commands in flight"});
      return;
    }
    self->do_command(args, cb);
  });
}

void connection::do_command(std::vector<std::string>& args, reply_handler& cb) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* p = new pending{shared_from_this(), std::move(cb),
                        clock::now() + std::chrono::milliseconds(opts_.command_timeout_ms)};
  if (!ac_ || redisAsyncCommandArgv(ac_, &connection::reply_trampoline, p, static_cast<int>(argv.size()),
                                    argv.data(), lens.data()) != REDIS_OK) {
    std::unique_ptr<pending> own(p);
    own->cb({{}, "Redis connection is closing"});
    return;
  }
  inflight_.push_back(p);
  arm_command_timer();
}

void connection::reply_trampoline(redisAsyncContext* ac, void* r, void* privdata) {
  std::unique_ptr<pending> p(static_cast<pending*>(privdata));
  std::shared_ptr<connection> self = p->owner;  // alive until we return
  if (auto it = std::find(self->inflight_.begin(), self->inflight_.end(), p.get());
      it != self->inflight_.end())
    self->inflight_.erase(it);
  reply_or_error out;
  if (r) {
    out.value = copy_reply(static_cast<redisReply*>(r));
  } else {
    // The context is going away with this command unanswered.
    if (self->ac_ != ac && !self->teardown_reason_.empty())
      out.error = self->teardown_reason_;
    else if (ac->err && ac->errstr[0])
      out.error = ac->errstr;
    else
      out.error = "Redis connection lost";
  }
  if (p->cb) p->cb(std::move(out));
}

void connection::arm_command_timer() {
  if (command_timer_armed_ || inflight_.empty() || stopping_) return;
  command_timer_armed_ = true;
  command_timer_.expires_at(inflight_.front()->deadline);
  command_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    self->command_timer_armed_ = false;
    if (ec || self->stopping_) return;
    if (!self->inflight_.empty() && self->inflight_.front()->deadline <= clock::now()) {
      // Replies are ordered: everything behind the late one is stuck too.
      self->teardown("Redis command timed out after " +
                     std::to_string(self->opts_.command_timeout_ms) + " ms");
      return;
    }
    self->arm_command_timer();
  });
}

void connection::teardown(const std::string& reason) {
  if (!ac_) return;
  redisAsyncContext* ac = ac_;
  ac_ = nullptr;  // disconnect_trampoline now ignores this context
  teardown_reason_ = reason;
  ready_ = false;
  // Fails every command in flight (with teardown_reason_), releases the fd
  // from the adapter, closes it. Deferred by hiredis when inside a callback.
  redisAsyncFree(ac);
  link_lost(reason);
}

void connection::link_lost(const std::string& reason) {
  ready_ = false;
  tcp_up_ = false;
  handshake_left_ = 0;
  set_error(reason);
  connect_timer_.cancel();
  if (stopping_) return;
  if (on_down_) on_down_(reason);
  schedule_reconnect();
}

void connection::schedule_reconnect() {
  if (stopping_) return;
  // Full jitter: uniform in [min, min(max, min * 2^attempt)].
  const int shift = std::min(attempt_, 16);
  const long long cap =
      std::min<long long>(opts_.backoff_max_ms, static_cast<long long>(opts_.backoff_min_ms) << shift);
  std::uniform_int_distribution<long long> dist(opts_.backoff_min_ms,
                                                std::max<long long>(cap, opts_.backoff_min_ms));
  ++attempt_;
  backoff_timer_.expires_after(std::chrono::milliseconds(dist(rng_)));
  backoff_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stopping_) return;
    self->do_connect();
  });
}

}  // namespace calma::redis

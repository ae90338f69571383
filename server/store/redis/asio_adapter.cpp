#include "server/store/redis/asio_adapter.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <memory>

namespace calma::redis {
namespace {

// One per attached context. hiredis holds a raw pointer to it (ev.data) and
// the object keeps itself alive through `self_` until the cleanup hook; each
// outstanding async_wait holds another reference, so a wait that completes
// (with operation_aborted) after cleanup still finds a live object whose
// `ctx_` is null and does nothing.
class asio_events : public std::enable_shared_from_this<asio_events> {
 public:
  asio_events(redisAsyncContext* ac, const strand_type& strand)
      : ctx_(ac), strand_(strand), sd_(strand) {}

  bool assign(int fd) {
    boost::system::error_code ec;
    sd_.assign(fd, ec);
    return !ec;
  }
  void keep_alive() { self_ = shared_from_this(); }

  static void add_read(void* p) { static_cast<asio_events*>(p)->set(reading_, true); }
  static void del_read(void* p) { static_cast<asio_events*>(p)->set(reading_, false); }
  static void add_write(void* p) { static_cast<asio_events*>(p)->set(writing_, true); }
  static void del_write(void* p) { static_cast<asio_events*>(p)->set(writing_, false); }
  static void cleanup(void* p) { static_cast<asio_events*>(p)->do_cleanup(); }

 private:
  enum dir { reading_, writing_ };

  // Idempotent: turning a direction on starts at most one wait for it; turning
  // it off lets an outstanding wait complete and be ignored.
  void set(dir d, bool on) {
    wanted_[d] = on;
    if (on) arm(d);
  }

  void arm(dir d) {
    if (!ctx_ || !wanted_[d] || waiting_[d]) return;
    waiting_[d] = true;
    auto w = d == reading_ ? boost::asio::posix::descriptor_base::wait_read
                           : boost::asio::posix::descriptor_base::wait_write;
    sd_.async_wait(w, boost::asio::bind_executor(
                          strand_, [self = shared_from_this(), d](boost::system::error_code ec) {
                            self->on_ready(d, ec);
                          }));
  }

  void on_ready(dir d, boost::system::error_code ec) {
    waiting_[d] = false;
    if (ec == boost::asio::error::operation_aborted || !ctx_) return;
    // Any other error (EPOLLERR/HUP) is reported as readiness: hiredis's own
    // read or write then sees the socket error and disconnects cleanly.
    if (wanted_[d]) {
      if (d == reading_)
        redisAsyncHandleRead(ctx_);
      else
        redisAsyncHandleWrite(ctx_);
    }
    // The call above may have freed the context (cleanup sets ctx_ = null).
    arm(d);
  }

  void do_cleanup() {
    ctx_ = nullptr;
    wanted_[0] = wanted_[1] = false;
    // hiredis closes the fd itself right after this hook; give it back first.
    // release() also aborts outstanding waits (their handlers see ctx_ null).
    if (sd_.is_open()) sd_.release();
    self_.reset();  // may destroy *this unless a wait is still outstanding
  }

  redisAsyncContext* ctx_;
  strand_type strand_;
  boost::asio::posix::stream_descriptor sd_;
  bool wanted_[2] = {false, false};
  bool waiting_[2] = {false, false};
  std::shared_ptr<asio_events> self_;
};

}  // namespace

int asio_attach(redisAsyncContext* ac, const strand_type& strand) {
  if (ac->ev.data != nullptr) return REDIS_ERR;
  auto ev = std::make_shared<asio_events>(ac, strand);
  if (!ev->assign(ac->c.fd)) return REDIS_ERR;
  ev->keep_alive();
  ac->ev.addRead = &asio_events::add_read;
  ac->ev.delRead = &asio_events::del_read;
  ac->ev.addWrite = &asio_events::add_write;
  ac->ev.delWrite = &asio_events::del_write;
  ac->ev.cleanup = &asio_events::cleanup;
  ac->ev.data = ev.get();
  return REDIS_OK;
}

}  // namespace calma::redis

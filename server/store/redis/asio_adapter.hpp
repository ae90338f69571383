// Drives a hiredis 0.14 `redisAsyncContext` from a Boost.Asio io_context, in
// the shape of hiredis's own adapters (adapters/libuv.h, adapters/ae.h): an
// events object, five idempotent hooks, one attach().
//
// The socket stays hiredis's: the adapter wraps its fd in a
// posix::stream_descriptor only to wait for readiness (async_wait), and
// release()s it in the cleanup hook, before hiredis closes the fd.
//
// Threading: every readiness handler runs on `strand`, and hiredis must only
// ever be called on that same strand (the hooks are called synchronously from
// inside hiredis calls). The owner of the context guarantees that.
//
// Order matters: attach before redisAsyncSetConnectCallback, which calls the
// addWrite hook to learn when the non-blocking connect completes.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

struct redisAsyncContext;

namespace calma::redis {

using strand_type = boost::asio::strand<boost::asio::io_context::executor_type>;

/// REDIS_OK, or REDIS_ERR when the context already has an event library or
/// its fd cannot be registered with the reactor.
int asio_attach(redisAsyncContext* ac, const strand_type& strand);

}  // namespace calma::redis

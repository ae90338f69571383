#include <doctest/doctest.h>

#include "common/protocol/rate_limiter.hpp"

using calma::protocol::rate_limit_params;
using calma::protocol::rate_limiter;
using v = rate_limiter::verdict;

TEST_CASE("a burst passes - then frames are refused until tokens refill") {
  rate_limiter r(rate_limit_params{2, 5, 3, 10'000});
  for (int i = 0; i < 5; ++i) CHECK(r.on_frame(1000) == v::pass);
  CHECK(r.on_frame(1000) == v::refuse);
  CHECK(r.on_frame(1500) == v::pass);   // 0.5 s at 2/s = one token
  CHECK(r.on_frame(1500) == v::refuse);
}

TEST_CASE("a client that keeps flooding is closed - one that stops is forgiven") {
  rate_limiter r(rate_limit_params{1, 1, 3, 10'000});
  CHECK(r.on_frame(1000) == v::pass);
  CHECK(r.on_frame(1000) == v::refuse);
  CHECK(r.on_frame(1000) == v::refuse);
  CHECK(r.on_frame(1000) == v::refuse);
  CHECK(r.on_frame(1000) == v::close);

  rate_limiter calm(rate_limit_params{1, 1, 3, 10'000});
  CHECK(calm.on_frame(1000) == v::pass);
  CHECK(calm.on_frame(1000) == v::refuse);
  CHECK(calm.on_frame(1000) == v::refuse);
  // A quiet spell longer than the strike window clears the strikes.
  CHECK(calm.on_frame(20'000) == v::pass);
  CHECK(calm.on_frame(20'000) == v::refuse);
  CHECK(calm.on_frame(20'000) == v::refuse);
  CHECK(calm.on_frame(20'000) == v::refuse);
}

TEST_CASE("time going backwards does not mint tokens") {
  rate_limiter r(rate_limit_params{1, 1, 100, 10'000});
  CHECK(r.on_frame(5000) == v::pass);
  CHECK(r.on_frame(1000) == v::refuse);
}

// Per-connection flood control: a token bucket, plus a count of how often the
// client went over it. Over the bucket a frame is refused (`rate_limited`);
// a client that keeps going after `max_strikes` refusals within the window is
// closed (4429). Pure: the caller passes the time.
#pragma once

#include "common/model/model.hpp"

namespace calma::protocol {

struct rate_limit_params {
  double frames_per_s = 10;  ///< sustained rate
  double burst = 30;         ///< bucket size
  int max_strikes = 20;      ///< refusals tolerated within strike_window_ms before closing
  timestamp_ms strike_window_ms = 10'000;
};

class rate_limiter {
 public:
  enum class verdict { pass, refuse, close };

  explicit rate_limiter(rate_limit_params p = {}) : p_(p), tokens_(p.burst) {}

  verdict on_frame(timestamp_ms now) {
    if (last_ != 0 && now > last_) {
      tokens_ += (now - last_) / 1000.0 * p_.frames_per_s;
      if (tokens_ > p_.burst) tokens_ = p_.burst;
    }
    if (now > last_) last_ = now;
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return verdict::pass;
    }
    if (now - strike_start_ > p_.strike_window_ms) {
      strike_start_ = now;
      strikes_ = 0;
    }
    return ++strikes_ > p_.max_strikes ? verdict::close : verdict::refuse;
  }

 private:
  rate_limit_params p_;
  double tokens_;
  timestamp_ms last_ = 0;
  timestamp_ms strike_start_ = 0;
  int strikes_ = 0;
};

}  // namespace calma::protocol

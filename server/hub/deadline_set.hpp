// The open conversations' next deadlines in one ordered set, for one hub-wide
// timer armed at the earliest (instead of a steady_timer and a pending wait
// per conversation: ~300 bytes each). An entry costs one set node (~80 bytes).
//
// The set holds (time, conversation id); the owner keeps, per conversation,
// the time it is armed for (0: not armed) and passes it back to re-arm or
// cancel, so each conversation is in the set at most once and is taken out
// exactly once: by take_due, or by cancel.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace calma {

class deadline_set {
 public:
  using time = std::int64_t;

  /// Arms `id` for `at` (> 0); `armed` is the time it is armed for (0: not
  /// armed) and becomes `at`.
  void arm(const std::string& id, time& armed, time at) {
    if (armed == at) return;
    cancel(id, armed);
    set_.emplace(at, id);
    armed = at;
  }
  /// Takes `id` out (nothing if `armed` is 0); `armed` becomes 0.
  void cancel(const std::string& id, time& armed) {
    if (armed == 0) return;
    set_.erase({armed, id});
    armed = 0;
  }
  /// The earliest armed time.
  std::optional<time> earliest() const {
    if (set_.empty()) return std::nullopt;
    return set_.begin()->first;
  }
  /// Takes out every entry due at or before `now`, earliest first. The owner
  /// sets each one's armed time to 0 (it was taken out).
  std::vector<std::pair<time, std::string>> take_due(time now) {
    std::vector<std::pair<time, std::string>> due;
    while (!set_.empty() && set_.begin()->first <= now)
      due.push_back(std::move(set_.extract(set_.begin()).value()));
    return due;
  }
  std::size_t size() const noexcept { return set_.size(); }
  bool empty() const noexcept { return set_.empty(); }
  void clear() noexcept { set_.clear(); }

 private:
  std::set<std::pair<time, std::string>> set_;
};

}  // namespace calma

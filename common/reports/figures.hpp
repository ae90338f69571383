// A conversation's figures for the reports, built as it goes (or replayed
// from its history), as pure code: peak and closing anger, escalations and
// their reasons, who answered first, and each agent's de-escalation — how far
// the curve falls after their replies, the figure no other chat product can
// show, because it needs the curve.
//
// A reply is measured from the level when it was sent to the level just
// before the shopper's next message (its words not yet counted) or at the
// close. A fall is positive (the customer calmed down); a rise is a negative
// fall. Several replies before the shopper writes again are each measured
// from their own level to the same end.
#pragma once

#include <string>
#include <vector>

#include "common/model/model.hpp"

namespace calma::reports {

class figures_builder {
 public:
  figures_builder() = default;
  /// Continues from figures already stored (a conversation reloaded after a restart is replayed instead).
  explicit figures_builder(conversation_figures f) : f_(std::move(f)) {}

  /// Every level the curve takes.
  void on_level(double level);
  /// The shopper writes: `level_before` is the curve just before its words count.
  void on_customer_message(double level_before);
  /// A staff message to the shopper (not a whisper), the level when it was sent.
  void on_reply(const std::string& agent_id, const std::string& agent_name, double level);
  /// An escalation raised (or a reason joining the open one).
  void on_escalation(const std::vector<std::string>& reasons, bool new_escalation);
  void on_close(double level);

  const conversation_figures& figures() const { return f_; }

 private:
  struct reply {
    std::size_t agent;
    double level;
  };
  void measure(double level);
  conversation_figures f_;
  std::vector<reply> pending_;
};

}  // namespace calma::reports

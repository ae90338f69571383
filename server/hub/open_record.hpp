// What the hub keeps of an open conversation's record: the fields it reads
// and decides on as plain members (named as in conversation_record), the rest
// — set on few open conversations: the shopper's page context, a contact
// left, a close's reason, a follow-up, a rating — in one box allocated only
// when one of them is set. The figures are not kept here: the conversation's
// figures_builder holds them, and full() takes them from it.
//
// conversation_record is 864 bytes, most of it empty strings; this is ~350
// bytes with an empty box. full() gives the whole record back (to save it,
// to answer with it); a record and its open_record round-trip exactly
// (tests/unit/test_buffers.cpp). Move-only, as the hub's conv_entry is.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/model/model.hpp"

namespace calma {

class open_record {
 public:
  /// shopper_info without its context (see context()).
  struct shopper_part {
    std::string id;
    std::string name;
    std::string language;
    std::string store;
  };
  /// The fields of conversation_record not kept as members.
  struct rest_fields {
    shopper_context context;
    std::string closed_by;
    std::string close_reason;
    std::string escalation_acked_by;
    contact_info contact;
    bool follow_up = false;
    timestamp_ms follow_up_done_ts = 0;
    std::string follow_up_done_by;
    int csat_score = 0;
    std::string csat_comment;
    timestamp_ms csat_ts = 0;
    bool operator==(const rest_fields&) const = default;
  };

  open_record() = default;
  explicit open_record(const conversation_record& r) { assign(r); }

  std::string id;
  shopper_part shopper;
  conversation_state state = conversation_state::queued;
  bool categories_corrected = false;
  std::optional<std::string> agent_id;
  std::string agent_name;
  std::string queue = "default";
  timestamp_ms created_ts = 0;
  timestamp_ms updated_ts = 0;
  std::int64_t last_seq = 0;
  timestamp_ms escalation_acked_ts = 0;
  timestamp_ms first_response_ts = 0;
  timestamp_ms contact_answered_ts = 0;
  std::vector<std::string> categories;

  /// The rest, read (all empty when none was ever set).
  const rest_fields& rest() const {
    static const rest_fields none;
    return rest_ ? *rest_ : none;
  }
  /// The rest, to change: the box is allocated on the first write.
  rest_fields& rest_for_write() {
    if (!rest_) rest_ = std::make_unique<rest_fields>();
    return *rest_;
  }
  const shopper_context& context() const { return rest().context; }
  const contact_info& contact() const { return rest().contact; }

  shopper_info whole_shopper() const {
    return shopper_info{shopper.id, shopper.name, shopper.language, shopper.store, context()};
  }

  void assign(const conversation_record& r) {
    id = r.id;
    shopper = shopper_part{r.shopper.id, r.shopper.name, r.shopper.language, r.shopper.store};
    state = r.state;
    categories_corrected = r.categories_corrected;
    agent_id = r.agent_id;
    agent_name = r.agent_name;
    queue = r.queue;
    created_ts = r.created_ts;
    updated_ts = r.updated_ts;
    last_seq = r.last_seq;
    escalation_acked_ts = r.escalation_acked_ts;
    first_response_ts = r.first_response_ts;
    contact_answered_ts = r.contact_answered_ts;
    categories = r.categories;
    rest_fields rest{r.shopper.context, r.closed_by,         r.close_reason,      r.escalation_acked_by,
                     r.contact,         r.follow_up,         r.follow_up_done_ts, r.follow_up_done_by,
                     r.csat_score,      r.csat_comment,      r.csat_ts};
    if (rest == rest_fields{}) rest_.reset();
    else rest_ = std::make_unique<rest_fields>(std::move(rest));
  }

  /// The whole record, with `figures` (the figures_builder's).
  conversation_record full(const conversation_figures& figures) const {
    conversation_record r;
    r.id = id;
    r.shopper = whole_shopper();
    r.state = state;
    r.agent_id = agent_id;
    r.agent_name = agent_name;
    r.queue = queue;
    r.created_ts = created_ts;
    r.updated_ts = updated_ts;
    r.last_seq = last_seq;
    r.escalation_acked_ts = escalation_acked_ts;
    r.first_response_ts = first_response_ts;
    r.contact_answered_ts = contact_answered_ts;
    r.categories = categories;
    r.categories_corrected = categories_corrected;
    const auto& x = rest();
    r.closed_by = x.closed_by;
    r.close_reason = x.close_reason;
    r.escalation_acked_by = x.escalation_acked_by;
    r.contact = x.contact;
    r.follow_up = x.follow_up;
    r.follow_up_done_ts = x.follow_up_done_ts;
    r.follow_up_done_by = x.follow_up_done_by;
    r.csat_score = x.csat_score;
    r.csat_comment = x.csat_comment;
    r.csat_ts = x.csat_ts;
    r.figures = figures;
    return r;
  }

 private:
  std::unique_ptr<rest_fields> rest_;
};

}  // namespace calma

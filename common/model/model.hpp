// The domain model shared by the rules (common/) and the I/O (server/):
// who speaks, what a conversation is, what a stored message is.
// Plain values; no I/O, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace calma {

/// Milliseconds since the Unix epoch. Every "now" in common/ is passed in as one.
using timestamp_ms = std::int64_t;

enum class role { shopper, agent, supervisor };
std::string_view to_string(role r);
std::optional<role> role_from_string(std::string_view s);
inline bool is_staff(role r) { return r != role::shopper; }

/// Who is acting: the authenticated identity behind a connection.
struct participant {
  calma::role role = role::shopper;
  std::string id;
  std::string name;
};

enum class conversation_state { queued, assigned, closed };
std::string_view to_string(conversation_state s);
std::optional<conversation_state> conversation_state_from_string(std::string_view s);

enum class agent_status { online, away, offline };
std::string_view to_string(agent_status s);
std::optional<agent_status> agent_status_from_string(std::string_view s);

/// `all`: everyone in the conversation; `staff`: a whisper, never sent to the shopper.
enum class visibility { all, staff };
std::string_view to_string(visibility v);

/// What the store's page tells about the shopper (the widget's data-context).
struct shopper_context {
  std::string order_id;
  std::optional<double> order_value;
  std::string currency;
  std::string tier;
  bool empty() const { return order_id.empty() && !order_value && currency.empty() && tier.empty(); }
  bool operator==(const shopper_context&) const = default;
};

struct shopper_info {
  std::string id;
  std::string name;
  std::string language;
  std::string store;
  shopper_context context;
  bool operator==(const shopper_info&) const = default;
};

/// A way to reach the shopper, left when nobody could answer.
struct contact_info {
  std::string email;
  std::string phone;
  std::string note;
  timestamp_ms ts = 0;  ///< 0: none left
  bool empty() const { return ts == 0; }
  bool operator==(const contact_info&) const = default;
};

/// What one agent did in a conversation, for the reports.
struct agent_figures {
  std::string id;
  std::string name;
  int replies = 0;           ///< messages to the shopper whose effect on the curve was measured
  double fall_sum = 0;       ///< sum over those replies of (level at the reply - level after it)
  bool operator==(const agent_figures&) const = default;
};

/// A conversation's figures for the reports, kept up to date by the hub.
struct conversation_figures {
  double peak_level = 0;
  double closing_level = 0;  ///< the level when it closed (the last level while open)
  int escalations = 0;
  std::vector<std::string> escalation_reasons;  ///< every reason raised, each once
  std::string first_response_by;                ///< who sent the first staff message
  std::vector<agent_figures> agents;
  bool operator==(const conversation_figures&) const = default;
};

/// An entry of a conversation's audit trail, as stored: its JSON text
/// `{"ts","action","by":{"role","id","name"},...}`.
using audit_entry = std::string;

/// A conversation as the store keeps it. `last_seq` is maintained by the store.
struct conversation_record {
  std::string id;
  shopper_info shopper;
  conversation_state state = conversation_state::queued;
  std::optional<std::string> agent_id;
  std::string agent_name;
  std::string queue = "default";
  timestamp_ms created_ts = 0;
  timestamp_ms updated_ts = 0;
  std::int64_t last_seq = 0;
  std::string closed_by;
  std::string close_reason;
  /// The open escalation's acknowledgement (0/empty: none), so a restart keeps it.
  timestamp_ms escalation_acked_ts = 0;
  std::string escalation_acked_by;
  /// The first message staff sent the shopper (0: none yet).
  timestamp_ms first_response_ts = 0;
  contact_info contact;
  /// The first staff message to the shopper after the contact was left (0: none).
  timestamp_ms contact_answered_ts = 0;
  /// Closed with a request to call the shopper back.
  bool follow_up = false;
  /// The follow-up was done (0: not yet), by whom.
  timestamp_ms follow_up_done_ts = 0;
  std::string follow_up_done_by;
  /// The shopper's rating after the close (0: none), its comment and time.
  int csat_score = 0;
  std::string csat_comment;
  timestamp_ms csat_ts = 0;
  /// Complaint causes (common/causes names); `corrected`: set by staff, no longer tagged from the words.
  std::vector<std::string> categories;
  bool categories_corrected = false;
  conversation_figures figures;
  bool operator==(const conversation_record&) const = default;
};

/// On the store's follow-up list: a contact left that no staff answer followed
/// (the shopper wrote to nobody), or closed asking for a follow-up; not done yet.
bool needs_follow_up(const conversation_record& c);
/// Why it is on the list: "follow_up" or "contact" ("" when it is not).
std::string_view follow_up_reason(const conversation_record& c);

/// One stored chat message. `seq` is per conversation: 1, 2, 3... without gaps.
struct chat_message {
  std::string conversation_id;
  std::int64_t seq = 0;
  timestamp_ms ts = 0;
  participant from;
  std::string text;
  std::string client_msg_id;
  calma::visibility visibility = visibility::all;
};

}  // namespace calma

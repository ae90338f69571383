// PROTOCOL.md messages <-> C++ values.
//
// Client frames are parsed once, at the boundary, into a `client_message`
// variant; every problem (bad JSON, unknown type, missing or wrong-typed
// field, field too long) becomes a protocol::error and never travels further.
// Server frames are built by the `make_*` functions as compact JSON text,
// serialized once and shared between the sessions they go to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/model/model.hpp"
#include "common/protocol/errors.hpp"

namespace calma::protocol {

/// Size limits applied while parsing (from config).
struct limits {
  std::size_t max_text_bytes = 4000;  ///< chat text, UTF-8 bytes
  std::size_t max_id_bytes = 128;     ///< client_msg_id, conversation_id, tokens' subjects
  std::size_t max_token_bytes = 2048;
  std::size_t max_name_bytes = 80;    ///< shopper display name
  std::size_t max_reason_bytes = 500; ///< close reason, resolve note
};

struct hello {
  std::optional<std::string> token;
  std::optional<calma::role> role;  // only "shopper" is meaningful without a token
  std::string store;
  std::string name;
  std::string language;
  shopper_context context;  ///< from the store's page; bounded (see parse_context)
};
struct chat_send {
  std::string client_msg_id;
  std::string text;
  std::optional<std::string> conversation_id;
};
struct typing {
  std::string conversation_id;
  bool state = false;
};
struct read {
  std::string conversation_id;
  std::int64_t seq = 0;
};
struct history {
  std::string conversation_id;
  std::int64_t after_seq = 0;
};
struct conversation_close {
  std::string conversation_id;
  std::string reason;
  bool follow_up = false;  ///< staff: put it on the store's follow-up list
};
/// A shopper leaves a way to be reached (at least one of email, phone).
struct contact {
  std::string conversation_id;
  std::string email;
  std::string phone;
  std::string note;
};
/// The shopper rates a closed conversation.
struct csat {
  std::string conversation_id;
  int score = 0;  ///< 1..5
  std::string comment;
};
/// Staff correct the complaint causes of a conversation.
struct causes_set {
  std::string conversation_id;
  std::vector<std::string> causes;
};
/// Staff: a follow-up was done; it leaves the store's list.
struct followup_done {
  std::string conversation_id;
  std::string note;
};
struct presence_set {
  agent_status status = agent_status::online;
  std::optional<int> capacity;
};
struct conversation_transfer {
  std::string conversation_id;
  std::optional<std::string> to_agent_id;
  std::optional<std::string> to_queue;
};
struct escalation_ack {
  std::string escalation_id;
};
struct escalation_resolve {
  std::string escalation_id;
  std::string note;
};
enum class join_mode { monitor, whisper, barge };
std::string_view to_string(join_mode m);
struct conversation_join {
  std::string conversation_id;
  join_mode mode = join_mode::monitor;
};
struct conversation_takeover {
  std::string conversation_id;
};
struct ping {};
/// Staff: a page of the agents of their stores (colleagues to transfer to),
/// available ones first. Agents get no queue.snapshot: they ask this.
struct agents_list {
  std::string store;                   ///< "" : every store the user serves
  std::optional<agent_status> status;  ///< only agents with this status
  std::string q;                       ///< substring of the name or id, any case ("" : all)
  int offset = 0;
  int limit = 100;                     ///< 1..max_agents_page
};
constexpr int max_agents_page = 500;

using client_message =
    std::variant<hello, chat_send, typing, read, history, conversation_close, presence_set,
                 conversation_transfer, escalation_ack, escalation_resolve, conversation_join,
                 conversation_takeover, ping, contact, followup_done, csat, causes_set, agents_list>;

/// The wire name of a parsed message ("chat.send", ...).
std::string_view type_name(const client_message& m);

/// Either a message or the error to answer with (never both).
struct parse_result {
  std::optional<client_message> message;
  std::optional<error> err;
};

/// Parses one text frame. Never throws.
parse_result parse_client_message(std::string_view frame, const limits& lim);
/// The two paths parse_client_message takes, for the tests and the fuzzer:
/// a plain chat.send read without a json tree (nullopt: not one, or not
/// acceptable), and the general path every other frame takes.
std::optional<chat_send> fast_chat_send(std::string_view frame, const limits& lim);
parse_result parse_client_message_general(std::string_view frame, const limits& lim);

/// For a frame refused before parsing (rate_limited, too_large): the
/// client_msg_id it carries, else its type, else "". Never throws.
std::string guess_ref(std::string_view frame);

/// True for ids we accept from clients: 1..max bytes of [A-Za-z0-9._:-].
bool valid_id(std::string_view s, std::size_t max_bytes);

/// Bounds of a shopper's context (documented in the README).
constexpr std::size_t max_order_id_bytes = 64;
constexpr std::size_t max_tier_bytes = 32;
/// Reads `hello.context`: {order_id (string|integer), order_value (number >= 0
/// or a numeric string), currency (3 letters), tier (string)}; every key
/// optional, any other key an error. On a problem returns the message.
std::optional<std::string> parse_context(const nlohmann::json& j, shopper_context& out);
/// A plausible e-mail address: local@domain.tld, no spaces or control characters, <= 254 bytes.
bool valid_email(std::string_view s);
/// A phone number as people write it: 6-32 characters of digits, spaces, + - ( ) .,
/// with at least 6 digits.
bool valid_phone(std::string_view s);

// ---- server -> client ------------------------------------------------------

nlohmann::json to_json(const participant& p);
nlohmann::json to_json(const chat_message& m);
nlohmann::json to_json(const shopper_context& c);
nlohmann::json to_json(const contact_info& c);
/// The shopper as staff see it: {id, name, language, store, context}.
nlohmann::json shopper_json(const shopper_info& s);
/// Conversation summary of PROTOCOL.md plus `shopper` for staff.
nlohmann::json summary_json(const conversation_record& c, bool for_staff);

/// An escalation.raised frame's fields but its curve and transcript
/// (PROTOCOL.md), as the hub has them; views into the caller's data.
struct escalation_fields {
  std::string_view escalation_id, conversation_id, severity, store;
  const std::vector<std::string>* reasons = nullptr;
  const std::vector<std::string>* reason_keys = nullptr;
  const std::vector<std::string>* handled_by = nullptr;
  shopper_info shopper;  // a copy: the hub keeps its own in pieces
  double level = 0;  // rounded to tenths
  std::int64_t raised_ts = 0;
  std::int64_t conversation_s = 0;
  std::optional<std::int64_t> queued_s, unanswered_s;
  bool has_agent = false;
  std::string_view agent_id, agent_name;
  std::string_view acked_by;  // "" while not acknowledged
  int renotified = 0;
  bool update = false;  // "update": true (a new reason for an open one)
};
nlohmann::json to_json(const escalation_fields& e);
/// to_json(e).dump() without its closing brace, written without a tree (one
/// per escalation raised or updated, to every supervisor of the store); false,
/// with `out` as it was, if a string is not valid UTF-8 or a number is one
/// dump() writes otherwise (the caller then dumps the tree).
bool append_escalation_fields(std::string& out, const escalation_fields& e);

std::string make_error(const error& e);
std::string make_ack(std::string_view client_msg_id, std::string_view conversation_id,
                     std::int64_t seq);
/// `text_json`: m.text already checked and written by append_json_string (on
/// another thread, before the hub's turn), or empty to write it here.
std::string make_chat_message(const chat_message& m, std::string_view text_json = {});
/// Pieces of frames written without a json tree, exactly as json::dump() writes them:
/// a string (quoted, escaped; the caller checks valid_utf8 first, dump() throws on bad bytes).
void append_json_string(std::string& out, std::string_view s);
/// a number already rounded to one decimal (std::round(v * 10) / 10, |v| < 1e15):
/// "12.3", "100.0", "-0.5", "-0.0", as dump() writes such a double.
void append_json_tenths(std::string& out, double v);
bool valid_utf8(std::string_view s);
std::string make_pong();

}  // namespace calma::protocol

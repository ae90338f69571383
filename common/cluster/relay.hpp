// The frames nodes exchange over Redis pub/sub (one channel per node,
// `<prefix>:node:<node id>`): a follower relays its clients' hello, frames and
// disconnections to the leader; the leader sends frames and closes back.
// Either way, what piles up for one member goes as one batch.
//
// Wire form, one pub/sub message each, binary safe because the payload is last:
//   <kind> US <node> US <conn> US <code> US <payload>       (US = \x1f)
// `node` is the node the client is connected to, `conn` its connection id
// there. Pure code: no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace calma::cluster {

enum class relay_kind : char {
  hello = 'H',   ///< follower → leader: a client's first frame (payload: address RS origin RS host RS raw hello, RS = \x1e)
  frame = 'F',   ///< follower → leader: a client's frame, already validated (payload: raw JSON)
  detach = 'D',  ///< follower → leader: the client is gone
  send = 'S',    ///< leader → follower: send payload to the client
  close = 'C',   ///< leader → follower: close the client with `code`, reason in payload
  reset = 'R',   ///< new leader → every node: reconnect every client relayed elsewhere
  left = 'L',    ///< a node stopping → leader: drop all its clients (sent by a Lua script)
  batch = 'B',   ///< several messages in one, either way: a leader's for a member's clients, a follower's for a leader (payload: see encode_batch)
  revoked = 'T', ///< a node → every node: a token was signed out (payload: "<expiry ms> <token id>")
  quota = 'Q',   ///< a node → every node: new conversations it let pass per client address (payload: encode_quota)
};

struct relay_message {
  relay_kind kind = relay_kind::frame;
  std::string node;
  std::uint64_t conn = 0;
  std::uint16_t code = 0;
  std::string payload;
};

std::string encode(const relay_message& m);
/// Nullopt for anything malformed (unknown kind, missing fields, bad numbers).
std::optional<relay_message> decode(std::string_view wire);

/// Several encoded messages as one: a `batch` message to `node` whose payload
/// is each wire as `<length>:<wire>`, in order.
std::string encode_batch(const std::string& node, const std::vector<std::string>& wires);
/// The wires of a batch payload, in order; nullopt if malformed.
std::optional<std::vector<std::string>> decode_batch(std::string_view payload);

/// A message queued for a member, with what to do with the answer of the
/// PUBLISH that carries it (receivers, or -1 if Redis did not take it).
struct outgoing {
  std::string member;
  std::string wire;
  std::function<void(long long)> done;
};
/// One PUBLISH: a wire (one message, or a batch of several) and the receipts
/// of the messages it carries, in order.
struct grouped_publish {
  std::string member;
  std::string wire;
  std::vector<std::function<void(long long)>> receipts;
  std::size_t messages = 0;
};
/// What was queued between two flushes as PUBLISHes: members in the order each
/// was first queued for, each member's messages in order, as batches of at most
/// `max_bytes` of wires (a message alone is sent as itself, whatever its size).
std::vector<grouped_publish> group_for_publish(std::vector<outgoing> queued, std::size_t max_bytes = 256 * 1024);

/// What one node let pass since it last said: a count per client address key
/// (common/limits address_key), so that the others charge their buckets with it.
using quota_counts = std::vector<std::pair<std::string, int>>;
/// `<count> SP <key>` per entry, one per line. Keys with a line break or an
/// empty key are left out (address keys have neither).
std::string encode_quota(const quota_counts& q);
/// Nullopt if malformed: a count that is not a positive number, a missing key.
std::optional<quota_counts> decode_quota(std::string_view payload);

}  // namespace calma::cluster

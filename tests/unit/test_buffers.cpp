// The per-connection buffers that cost nothing while idle: the WebSocket
// session's read buffer (server/net/frame_buffer.hpp), the conversation
// timeline's ring (server/hub/small_ring.hpp), its small maps
// (server/hub/flat_map.hpp) and the hub's record of an open conversation
// (server/hub/open_record.hpp).
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "server/hub/flat_map.hpp"
#include "server/hub/open_record.hpp"
#include "server/hub/small_ring.hpp"
#include "server/net/frame_buffer.hpp"

using calma::flat_map;
using calma::flat_set;
using calma::frame_buffer;
using calma::small_ring;

namespace {
// What Beast's read does: prepare, fill, commit.
template <class B>
void put(B& b, std::string_view bytes, std::size_t ask) {
  auto mb = b.prepare(ask);
  REQUIRE(mb.size() == ask);
  REQUIRE(bytes.size() <= ask);
  std::memcpy(mb.data(), bytes.data(), bytes.size());
  b.commit(bytes.size());
}
}  // namespace

TEST_CASE("frame_buffer - while empty only the inline bytes are offered") {
  frame_buffer<16> b;
  CHECK(b.size() == 0);
  CHECK(b.max_size() == 16);
  CHECK(b.capacity() == 16);
  put(b, "hello", 16);
  CHECK(b.size() == 5);
  CHECK(b.max_size() > 1'000'000);  // once a message started it may grow
  CHECK(b.take() == "hello");
  CHECK(b.size() == 0);
  CHECK(b.max_size() == 16);
}

TEST_CASE("frame_buffer - a message longer than the inline bytes moves to the heap in one piece") {
  frame_buffer<16> b;
  const std::string msg = "0123456789abcdefghijklmnopqrstuvwxyz-0123456789";
  put(b, msg.substr(0, 16), 16);
  put(b, msg.substr(16), msg.size() - 16);  // Beast asks for the rest of the frame
  CHECK(b.size() == msg.size());
  CHECK(std::string(static_cast<const char*>(b.data().data()), b.data().size()) == msg);
  CHECK(b.take() == msg);
  CHECK(b.size() == 0);
  CHECK(b.capacity() == 16);
  // and again after: nothing left over
  put(b, "ab", 16);
  CHECK(b.take() == "ab");
}

TEST_CASE("frame_buffer - a commit of less than was prepared and a consume") {
  frame_buffer<8> b;
  put(b, "abc", 8);
  put(b, "defghijk", 20);
  CHECK(b.size() == 11);
  b.consume(3);
  CHECK(b.size() == 8);
  CHECK(b.take() == "defghijk");
  put(b, "xyz", 8);
  b.consume(1);
  CHECK(b.take() == "yz");
  put(b, "xyz", 8);
  b.consume(10);
  CHECK(b.size() == 0);
}

TEST_CASE("small_ring - a FIFO that keeps its bound without growing") {
  small_ring<std::string> r;
  CHECK(r.empty());
  CHECK(r.begin() == r.end());
  const std::size_t bound = 10;
  for (int i = 0; i < 100; ++i) {
    r.push_back(std::to_string(i));
    while (r.size() > bound) r.pop_front();
    CHECK(r.back() == std::to_string(i));
    const int first = i >= 10 ? i - 9 : 0;
    CHECK(r.front() == std::to_string(first));
    std::vector<std::string> seen(r.begin(), r.end());
    REQUIRE(seen.size() == r.size());
    for (std::size_t k = 0; k < seen.size(); ++k) CHECK(seen[k] == std::to_string(first + static_cast<int>(k)));
  }
  CHECK(r.size() == bound);
  r.clear();
  CHECK(r.empty());
  r.push_back("again");
  CHECK(r.front() == "again");
  CHECK(r.back() == "again");
}

TEST_CASE("small_ring - popped to empty and filled again") {
  small_ring<int> r;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5; ++i) r.push_back(i);
    r.pop_front();
    r.push_back(5);
    int want = 1;
    for (int v : r) CHECK(v == want++);
    while (!r.empty()) r.pop_front();
  }
}

TEST_CASE("flat_map - find - count - at - operator[] as std::map - iterated in key order") {
  flat_map<std::string, int> m;
  CHECK(m.empty());
  CHECK(m.find("a") == m.end());
  CHECK(m.count("a") == 0);
  CHECK_THROWS_AS(m.at("a"), std::out_of_range);
  m["sup2"] = 2;
  m["sup1"] = 1;
  m["sup3"] = 3;
  m["sup1"] = 10;  // the same key: replaced, not added
  CHECK(m.size() == 3);
  CHECK(m.at("sup1") == 10);
  CHECK(m.count("sup2") == 1);
  auto it = m.find("sup3");
  REQUIRE(it != m.end());
  CHECK(it->second == 3);
  int& fresh = m["sup0"];
  CHECK(fresh == 0);  // a new key starts at V{}
  std::vector<std::string> keys;
  for (const auto& [k, v] : m) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"sup0", "sup1", "sup2", "sup3"});
  const auto& cm = m;
  CHECK(cm.find("nope") == cm.end());
  CHECK(cm.at("sup2") == 2);
}

namespace {
calma::conversation_record every_field_set() {
  calma::conversation_record r;
  r.id = "conv-0123456789abcdef";
  r.shopper = {"shopper-1", "Ana Lopez", "es", "store-a", {"order-42", 99.5, "EUR", "gold"}};
  r.state = calma::conversation_state::assigned;
  r.agent_id = "agent-7";
  r.agent_name = "Bea";
  r.queue = "billing";
  r.created_ts = 1;
  r.updated_ts = 2;
  r.last_seq = 3;
  r.closed_by = "agent-7";
  r.close_reason = "solved";
  r.escalation_acked_ts = 4;
  r.escalation_acked_by = "sup-1";
  r.first_response_ts = 5;
  r.contact = {"ana@example.com", "+34 600", "after 5", 6};
  r.contact_answered_ts = 7;
  r.follow_up = true;
  r.follow_up_done_ts = 8;
  r.follow_up_done_by = "agent-8";
  r.csat_score = 4;
  r.csat_comment = "ok";
  r.csat_ts = 9;
  r.categories = {"delivery", "refund"};
  r.categories_corrected = true;
  r.figures.peak_level = 70;
  r.figures.agents.push_back({"agent-7", "Bea", 2, 10.5});
  return r;
}
}  // namespace

TEST_CASE("open_record - a record round-trips with every field - the figures given back by full()") {
  // A field added to conversation_record must be added to open_record too
  // (a member or rest_fields, and assign()/full()): this size is the reminder.
  static_assert(sizeof(calma::conversation_record) == 864 || sizeof(std::string) != 32);
  const auto r = every_field_set();
  calma::open_record o(r);
  CHECK(o.full(r.figures) == r);
  CHECK(o.context().tier == "gold");
  CHECK(o.contact().email == "ana@example.com");
  CHECK(o.whole_shopper() == r.shopper);

  calma::conversation_record fresh;  // nothing of the rest set: no box
  fresh.id = "c";
  calma::open_record f(fresh);
  CHECK(f.full({}) == fresh);
  CHECK(f.rest() == calma::open_record::rest_fields{});
  f.rest_for_write().close_reason = "spam";
  CHECK(f.full({}).close_reason == "spam");
  f.assign(fresh);
  CHECK(f.rest().close_reason.empty());
}

TEST_CASE("flat_set - insert - erase - count as std::set - iterated in order") {
  flat_set<std::uint64_t> s;
  CHECK(s.empty());
  s.insert(7);
  s.insert(3);
  s.insert(7);
  s.insert(9);
  CHECK(s.size() == 3);
  CHECK(std::vector<std::uint64_t>(s.begin(), s.end()) == std::vector<std::uint64_t>{3, 7, 9});
  CHECK(s.count(7) == 1);
  CHECK(s.count(8) == 0);
  CHECK(s.erase(8) == 0);
  CHECK(s.erase(7) == 1);
  CHECK(std::vector<std::uint64_t>(s.begin(), s.end()) == std::vector<std::uint64_t>{3, 9});
  s.erase(3);
  s.erase(9);
  CHECK(s.empty());
}

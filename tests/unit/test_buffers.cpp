// The per-connection buffers that cost nothing while idle: the WebSocket
// session's read buffer (server/net/frame_buffer.hpp), the conversation
// timeline's ring (server/hub/small_ring.hpp) and its small maps
// (server/hub/flat_map.hpp).
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "server/hub/flat_map.hpp"
#include "server/hub/small_ring.hpp"
#include "server/net/frame_buffer.hpp"

using calma::flat_map;
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

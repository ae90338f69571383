// The public doors' rules (common/limits): buckets per key, connection
// counts, addresses behind proxies, log-safe text. Time is a plain number.
#include <doctest/doctest.h>

#include "common/limits/doors.hpp"
#include "common/protocol/messages.hpp"

#include <nlohmann/json.hpp>

using namespace calma::limits;

TEST_CASE("doors: a bucket lets the burst through then refuses with the wait until the next token") {
  keyed_buckets b(rate{2, 3});  // 2 a second, 3 at once
  for (int i = 0; i < 3; ++i) CHECK(b.take("1.2.3.4", 1000).ok);
  auto v = b.take("1.2.3.4", 1000);
  CHECK_FALSE(v.ok);
  CHECK(v.retry_after_ms > 0);
  CHECK(v.retry_after_ms <= 501);
  CHECK(v.retry_after_s() == 1);
  // Another key is untouched by the first one's flood.
  CHECK(b.take("5.6.7.8", 1000).ok);
  // Half a second later one token is back, and only one.
  CHECK(b.take("1.2.3.4", 1500).ok);
  CHECK_FALSE(b.take("1.2.3.4", 1500).ok);
}

TEST_CASE("doors: per-minute rates and a clock that goes backwards") {
  keyed_buckets b(rate::per_minute(6, 1));  // one every 10 s
  CHECK(b.take("k", 100'000).ok);
  auto v = b.take("k", 100'000);
  CHECK_FALSE(v.ok);
  CHECK(v.retry_after_s() == 10);
  CHECK_FALSE(b.take("k", 90'000).ok);  // earlier time: no refill, no crash
  CHECK(b.take("k", 110'001).ok);
}

TEST_CASE("doors: the table stays bounded under a flood of distinct keys and forgets full buckets first") {
  keyed_buckets b(rate{1, 2}, 1000);
  // An address that is being refused must stay refused while others flood the table.
  CHECK(b.take("flooder", 0).ok);
  CHECK(b.take("flooder", 0).ok);
  CHECK_FALSE(b.take("flooder", 0).ok);
  for (int i = 0; i < 5000; ++i) {
    b.take("k" + std::to_string(i), 0);
    CHECK(b.size() <= 1000);
  }
  // Keys that refill are dropped before anything is lost.
  keyed_buckets c(rate{1000, 1}, 10);
  c.take("hot", 0);
  CHECK_FALSE(c.take("hot", 0).ok);
  for (int i = 0; i < 9; ++i) c.take("idle" + std::to_string(i), 0);
  c.take("new", 10);  // 10 ms later every idle bucket is full again
  CHECK(c.size() <= 3);
}

TEST_CASE("doors: a charge takes what another node let pass - into debt down to one burst - never refusing") {
  keyed_buckets b(rate{1, 3});  // 1 a second, 3 at once
  b.charge("a", 1000, 2);          // another node opened two for this address
  CHECK(b.level("a", 1000) == doctest::Approx(1));
  CHECK(b.take("a", 1000).ok);      // the one left
  CHECK_FALSE(b.take("a", 1000).ok);
  b.charge("a", 1000, 10);         // far more than a burst at once elsewhere
  CHECK(b.level("a", 1000) == doctest::Approx(-3));  // the debt is bounded
  // The debt is refilled first: no token until 4 s later, one then.
  CHECK_FALSE(b.take("a", 4999).ok);
  CHECK(b.take("a", 5000).ok);
  // Nothing, or a negative cost, changes nothing; an unknown key starts full.
  b.charge("b", 1000, 0);
  b.charge("b", 1000, -5);
  CHECK(b.level("b", 1000) == doctest::Approx(3));
  b.charge("c", 1000, 1);
  CHECK(b.level("c", 1000) == doctest::Approx(2));
  // A charge dated earlier than the bucket's last change refills nothing.
  b.charge("c", 500, 1);
  CHECK(b.level("c", 1000) == doctest::Approx(1));
}

TEST_CASE("doors: connection counts per address and in total") {
  connection_counts cc(2, 3);
  CHECK(cc.acquire("a") == connection_counts::refusal::none);
  CHECK(cc.acquire("a") == connection_counts::refusal::none);
  CHECK(cc.acquire("a") == connection_counts::refusal::per_address);
  CHECK(cc.acquire("b") == connection_counts::refusal::none);
  CHECK(cc.acquire("c") == connection_counts::refusal::total);
  CHECK(cc.total() == 3);
  cc.release("a");
  CHECK(cc.of("a") == 1);
  CHECK(cc.acquire("c") == connection_counts::refusal::none);
  cc.release("nobody");  // unknown: ignored
  CHECK(cc.total() == 3);
  connection_counts unlimited(0, 0);
  for (int i = 0; i < 100; ++i) CHECK(unlimited.acquire("x") == connection_counts::refusal::none);
}

TEST_CASE("doors: address keys group IPv6 by /64 and unwrap IPv4-mapped addresses") {
  CHECK(address_key("127.0.0.2") == "127.0.0.2");
  CHECK(address_key("::ffff:10.1.2.3") == "10.1.2.3");
  CHECK(address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64");
  CHECK(address_key("2001:db8:1:2:bbbb::9") == address_key("2001:db8:1:2:aaaa::1"));
  CHECK(address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1"));
  CHECK(address_key("not an address") == "not an address");
  CHECK(is_loopback("127.0.0.1"));
  CHECK(is_loopback("127.9.9.9"));
  CHECK(is_loopback("::1"));
  CHECK(is_loopback("::ffff:127.0.0.1"));
  CHECK_FALSE(is_loopback("10.0.0.1"));
  CHECK_FALSE(is_loopback("junk"));
}

TEST_CASE("doors: networks parse and contain") {
  network n;
  REQUIRE(network::parse("10.0.0.0/8", n));
  CHECK(n.contains("10.200.1.1"));
  CHECK_FALSE(n.contains("11.0.0.1"));
  CHECK_FALSE(n.contains("::1"));
  REQUIRE(network::parse("192.168.1.7", n));
  CHECK(n.contains("192.168.1.7"));
  CHECK_FALSE(n.contains("192.168.1.8"));
  REQUIRE(network::parse("fd00::/8", n));
  CHECK(n.contains("fd12::1"));
  REQUIRE(network::parse("10.1.0.0/12", n));
  CHECK(n.contains("10.15.255.255"));
  CHECK_FALSE(n.contains("10.16.0.0"));
  CHECK_FALSE(network::parse("10.0.0.0/33", n));
  CHECK_FALSE(network::parse("10.0.0.0/", n));
  CHECK_FALSE(network::parse("10.0.0.0/8x", n));
  CHECK_FALSE(network::parse("example.com", n));
}

TEST_CASE("doors: the client behind a trusted proxy is the right-most untrusted X-Forwarded-For hop") {
  std::vector<network> trusted(2);
  REQUIRE(network::parse("10.0.0.1", trusted[0]));
  REQUIRE(network::parse("10.0.1.0/24", trusted[1]));
  // Not from a proxy: the header is the client's own say, ignored.
  CHECK(client_address("203.0.113.5", "1.1.1.1", trusted) == "203.0.113.5");
  // From the proxy: its last hop.
  CHECK(client_address("10.0.0.1", "198.51.100.7", trusted) == "198.51.100.7");
  // A forged left part does not help: the right-most untrusted one counts.
  CHECK(client_address("10.0.0.1", "6.6.6.6, 198.51.100.7", trusted) == "198.51.100.7");
  // Through two proxies we trust.
  CHECK(client_address("10.0.0.1", "198.51.100.7, 10.0.1.9", trusted) == "198.51.100.7");
  // Junk in the header ends the walk at the last hop we could trust.
  CHECK(client_address("10.0.0.1", "198.51.100.7, garbage", trusted) == "10.0.0.1");
  CHECK(client_address("10.0.0.1", "", trusted) == "10.0.0.1");
  CHECK(client_address("10.0.0.1", " 2001:db8::5 ", trusted) == "2001:db8::5");
}

TEST_CASE("doors: log-safe text cannot forge a line") {
  CHECK(log_safe("ana") == "ana");
  CHECK(log_safe("ana\n2026-12-01 info login: admin") == "ana\\n2026-12-01 info login: admin");
  CHECK(log_safe("a\rb\tc\x1b[31m") == "a\\rb\\tc\\x1b[31m");
  CHECK(log_safe("quote\"and\\") == "quote\\\"and\\\\");
  CHECK(log_safe("ł\u2028x") == "ł\\u2028x");           // a Unicode line separator
  CHECK(log_safe("zero\u200bwidth") == "zero\\u200bwidth");
  CHECK(log_safe(std::string("bad\xff\xfe", 5)) == "bad\\xff\\xfe");
  CHECK(log_safe("Zażółć gęślą jaźń") == "Zażółć gęślą jaźń");
  auto long_one = log_safe(std::string(1000, 'x'), 50);
  CHECK(long_one.size() < 60);
  CHECK(long_one.substr(long_one.size() - 3) == "\xe2\x80\xa6");
}

TEST_CASE("doors: a message of only invisible characters is refused and a visible one is not") {
  calma::protocol::limits lim;
  auto send = [&](const std::string& text) {
    nlohmann::json j{{"type", "chat.send"}, {"client_msg_id", "m1"}, {"text", text}};
    return calma::protocol::parse_client_message(j.dump(), lim);
  };
  for (const char* blank : {" ", "\u00a0", "\u200b", "\u00a0\u200b\u2060\ufeff", "\u3000\u2003", "\u3164", "\u2800",
                            " \t\n\u00a0 ", "\u0301", "\u200d\u200c"}) {
    auto r = send(blank);
    CHECK_MESSAGE(r.err.has_value(), "blank text accepted: ", nlohmann::json(blank).dump());
    if (r.err) CHECK(r.err->ref == "m1");
  }
  for (const char* fine : {"ok", "\u00a0hola", "😀", "\u200b.", "e\u0301", "?"}) {
    auto r = send(fine);
    CHECK_MESSAGE(!r.err.has_value(), "visible text refused: ", fine);
  }
}

TEST_CASE("doors: the fair queue serves keys in turn so a flooder's backlog does not delay a newcomer") {
  fair_queue<int> q;
  for (int i = 0; i < 100; ++i) q.push("flooder", i);
  q.push("bystander", 1000);
  CHECK(q.size() == 101);
  CHECK(*q.pop() == 0);     // the flooder's first
  CHECK(*q.pop() == 1000);  // then the bystander's, not after 99 more
  CHECK(*q.pop() == 1);
  q.push("late", 7);
  CHECK(*q.pop() == 2);  // the flooder's turn
  CHECK(*q.pop() == 7);  // then the newcomer's, not after 97 more
  int n = 0;
  while (q.pop()) ++n;
  CHECK(n == 97);
  CHECK(q.size() == 0);
  CHECK_FALSE(q.pop().has_value());
}

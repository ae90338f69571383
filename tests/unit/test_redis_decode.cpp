// The Redis store's reply decoding (server/store/redis/decode.hpp) on replies
// that are not what the store wrote. Found by tests/fuzz/fuzz_redis_reply:
// such a field used to throw from json::value() inside a reply handler (which
// ends calma-server), or cast a huge number to int (undefined behaviour).
#include <doctest/doctest.h>

#include "common/reports/figures.hpp"
#include "server/store/redis/decode.hpp"

#include <nlohmann/json.hpp>

using namespace calma;
using calma::redis::redis_value;

namespace {
redis_value str(std::string s) {
  redis_value v;
  v.kind = redis_value::type::string;
  v.str = std::move(s);
  return v;
}
redis_value nil() { return redis_value{}; }
redis_value array(std::vector<redis_value> el) {
  redis_value v;
  v.kind = redis_value::type::array;
  v.elements = std::move(el);
  return v;
}
}  // namespace

TEST_CASE("presence records of another shape are dropped or defaulted - not thrown") {
  const std::vector<std::string> ids{"a", "b", "c", "d", "e"};
  std::vector<std::string> gone;
  auto out = redis::presence_from(ids,
                                  array({str(R"({"status":7,"capacity":3})"), str(R"({"status":"online","capacity":"3","ts":"x"})"),
                                         str(R"({"status":"away","capacity":1e300})"), nil(), str("not json")}),
                                  gone);
  REQUIRE(out.size() == 2);
  CHECK(out[0].agent_id == "b");
  CHECK(out[0].capacity == 0);
  CHECK(out[0].updated_ts == 0);
  CHECK(out[1].agent_id == "c");
  CHECK(out[1].status == agent_status::away);
  CHECK(out[1].capacity == 0);
  CHECK(gone == std::vector<std::string>{"a", "d", "e"});
}

TEST_CASE("a conversation hash with a contact of another shape keeps the rest") {
  auto rec = redis::record_from(array({str("id"), str("c1"), str("state"), str("closed"), str("contact"),
                                       str(R"({"email":5,"phone":["x"],"note":null,"ts":"soon"})")}));
  REQUIRE(rec);
  CHECK(rec->id == "c1");
  CHECK(rec->state == conversation_state::closed);
  CHECK(rec->contact.email.empty());
  CHECK(rec->contact.ts == 0);
}

TEST_CASE("stored figures of another shape read as defaults") {
  auto f = reports::figures_from_json(nlohmann::json::parse(
      R"({"peak_level":"high","escalations":1e300,"agents":[{"id":"agent","name":3,"replies":-1e300,"fall_sum":"x"},{"id":1}]})"));
  CHECK(f.peak_level == 0);
  CHECK(f.escalations == 2'000'000'000);
  REQUIRE(f.agents.size() == 1);
  CHECK(f.agents[0].id == "agent");
  CHECK(f.agents[0].name.empty());
  CHECK(f.agents[0].replies == 0);
  CHECK(f.agents[0].fall_sum == 0);
  CHECK(reports::figures_from_json(nlohmann::json::parse(R"({"escalations":3.7})")).escalations == 3);
}

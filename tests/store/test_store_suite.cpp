// One store suite, written once against `calma::store` and run against both
// implementations: the memory store and the Redis store (on its own
// redis-server). They must behave the same.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "server/store/memory_store.hpp"
#include "server/store/redis_store.hpp"
#include "tests/store/support.hpp"

using namespace calma;
using calma::test::await;

// Outside the anonymous namespace so the test names read "<memory_fixture>".
struct memory_fixture {
  boost::asio::io_context ioc;
  std::unique_ptr<store> s = std::make_unique<memory_store>();
};

struct redis_fixture {
  boost::asio::io_context ioc;
  test::redis_server redis;
  std::unique_ptr<store> s;
  redis_fixture() {
    redis_options o;
    o.url = redis.url();
    std::string error;
    auto rs = redis_store::create(ioc, o, error);
    REQUIRE_MESSAGE(rs, error);
    const std::string ready = rs->wait_ready(std::chrono::seconds(10));
    REQUIRE_MESSAGE(ready.empty(), ready);
    s = std::move(rs);
  }
  ~redis_fixture() {
    s.reset();   // posts the connections' stop()
    ioc.run();   // lets them finish: no timer or socket outlives the test
  }
};
TYPE_TO_STRING(memory_fixture);
TYPE_TO_STRING(redis_fixture);

namespace {

conversation_record conv(const std::string& id, const std::string& shopper, timestamp_ms created) {
  conversation_record c;
  c.id = id;
  c.shopper = {shopper, "Name " + shopper, "es", "store-1", {}};
  c.created_ts = created;
  c.updated_ts = created;
  return c;
}

chat_message msg(const std::string& conv_id, const std::string& from, const std::string& cmid,
                 const std::string& text, timestamp_ms ts = 1000) {
  chat_message m;
  m.conversation_id = conv_id;
  m.from = {role::shopper, from, "Name " + from};
  m.client_msg_id = cmid;
  m.text = text;
  m.ts = ts;
  return m;
}

template <class F>
void must_create(F& f, const conversation_record& c) {
  auto r = await<none>(f.ioc, [&](auto cb) { f.s->create_conversation(c, cb); });
  REQUIRE_MESSAGE(r.ok(), r.error);
}

template <class F>
append_result must_append(F& f, const chat_message& m, bool allow_new = true) {
  auto r = await<append_result>(f.ioc, [&](auto cb) { f.s->append_message({m, allow_new}, cb); });
  REQUIRE_MESSAGE(r.ok(), r.error);
  return r.value;
}

template <class F>
std::vector<chat_message> must_read(F& f, const std::string& id, std::int64_t after, std::size_t limit) {
  auto r = await<std::vector<chat_message>>(f.ioc, [&](auto cb) { f.s->read_messages(id, after, limit, cb); });
  REQUIRE_MESSAGE(r.ok(), r.error);
  return r.value;
}

template <class F>
std::optional<conversation_record> must_get(F& f, const std::string& id) {
  auto r = await<std::optional<conversation_record>>(f.ioc, [&](auto cb) { f.s->get_conversation(id, cb); });
  REQUIRE_MESSAGE(r.ok(), r.error);
  return r.value;
}

template <class F>
std::vector<std::string> list_ids(F& f, conversation_filter filter) {
  auto r = await<std::vector<conversation_record>>(f.ioc, [&](auto cb) { f.s->list_conversations(filter, cb); });
  REQUIRE_MESSAGE(r.ok(), r.error);
  std::vector<std::string> ids;
  for (auto& c : r.value) ids.push_back(c.id);
  return ids;
}

}  // namespace

TEST_CASE_TEMPLATE("create/get/update a conversation - update keeps last_seq", F, memory_fixture,
                   redis_fixture) {
  F f;
  CHECK_FALSE(must_get(f, "nope").has_value());

  auto c = conv("c1", "s1", 100);
  c.queue = "vip";
  must_create(f, c);
  auto again = await<none>(f.ioc, [&](auto cb) { f.s->create_conversation(c, cb); });
  CHECK_FALSE(again.ok());

  auto got = must_get(f, "c1");
  REQUIRE(got.has_value());
  CHECK(got->id == "c1");
  CHECK(got->shopper.id == "s1");
  CHECK(got->shopper.name == "Name s1");
  CHECK(got->shopper.language == "es");
  CHECK(got->shopper.store == "store-1");
  CHECK(got->state == conversation_state::queued);
  CHECK_FALSE(got->agent_id.has_value());
  CHECK(got->queue == "vip");
  CHECK(got->created_ts == 100);
  CHECK(got->last_seq == 0);

  must_append(f, msg("c1", "s1", "m1", "hola"));
  must_append(f, msg("c1", "s1", "m2", "¿hay alguien?"));

  auto u = c;
  u.state = conversation_state::assigned;
  u.agent_id = "a1";
  u.agent_name = "Ana";
  u.updated_ts = 500;
  u.last_seq = 0;  // the caller's value is ignored: the store owns last_seq
  auto ur = await<none>(f.ioc, [&](auto cb) { f.s->update_conversation(u, cb); });
  REQUIRE_MESSAGE(ur.ok(), ur.error);
  got = must_get(f, "c1");
  REQUIRE(got.has_value());
  CHECK(got->state == conversation_state::assigned);
  CHECK(got->agent_id == std::optional<std::string>("a1"));
  CHECK(got->agent_name == "Ana");
  CHECK(got->updated_ts == 500);
  CHECK(got->last_seq == 2);

  u.state = conversation_state::closed;
  u.agent_id.reset();
  u.closed_by = "a1";
  u.close_reason = "resolved";
  u.escalation_acked_ts = 1234;
  u.escalation_acked_by = "sup1";
  ur = await<none>(f.ioc, [&](auto cb) { f.s->update_conversation(u, cb); });
  REQUIRE_MESSAGE(ur.ok(), ur.error);
  got = must_get(f, "c1");
  CHECK(got->state == conversation_state::closed);
  CHECK_FALSE(got->agent_id.has_value());
  CHECK(got->closed_by == "a1");
  CHECK(got->close_reason == "resolved");
  CHECK(got->escalation_acked_ts == 1234);
  CHECK(got->escalation_acked_by == "sup1");
  CHECK(got->last_seq == 2);

  auto missing = await<none>(f.ioc, [&](auto cb) { f.s->update_conversation(conv("zz", "s", 1), cb); });
  CHECK_FALSE(missing.ok());
}

TEST_CASE_TEMPLATE("append allocates seq 1..N without gaps and keeps every field", F, memory_fixture,
                   redis_fixture) {
  F f;
  must_create(f, conv("c1", "s1", 100));
  for (int i = 1; i <= 20; ++i) {
    auto m = msg("c1", "s1", "m" + std::to_string(i), "text " + std::to_string(i), 1000 + i);
    auto r = must_append(f, m);
    CHECK(r.message.seq == i);
    CHECK_FALSE(r.duplicate);
    CHECK(r.message.text == m.text);
  }
  auto got = must_get(f, "c1");
  CHECK(got->last_seq == 20);
  CHECK(got->updated_ts == 1020);

  chat_message staff = msg("c1", "a1", "w1", "whisper \x1f with\nnewline, ünïcödé ✓", 2000);
  staff.from = {role::agent, "a1", "Ana"};
  staff.visibility = visibility::staff;
  must_append(f, staff);
  auto all = must_read(f, "c1", 0, 1000);
  REQUIRE(all.size() == 21);
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].seq == static_cast<std::int64_t>(i + 1));
  const auto& w = all.back();
  CHECK(w.conversation_id == "c1");
  CHECK(w.ts == 2000);
  CHECK(w.from.role == role::agent);
  CHECK(w.from.id == "a1");
  CHECK(w.from.name == "Ana");
  CHECK(w.text == staff.text);
  CHECK(w.client_msg_id == "w1");
  CHECK(w.visibility == visibility::staff);
  CHECK(all[0].visibility == visibility::all);

  auto none_conv = await<append_result>(f.ioc, [&](auto cb) { f.s->append_message({msg("nope", "s1", "x", "t")}, cb); });
  CHECK_FALSE(none_conv.ok());
}

TEST_CASE_TEMPLATE("a repeated sender + client_msg_id returns the first copy", F, memory_fixture, redis_fixture) {
  F f;
  must_create(f, conv("c1", "s1", 100));
  auto first = must_append(f, msg("c1", "s1", "m1", "first", 1000));
  must_append(f, msg("c1", "s1", "m2", "second", 1001));
  auto again = must_append(f, msg("c1", "s1", "m1", "changed text", 5000));
  CHECK(again.duplicate);
  CHECK(again.message.seq == first.message.seq);
  CHECK(again.message.text == "first");
  CHECK(again.message.ts == 1000);
  CHECK(again.message.client_msg_id == "m1");
  CHECK(must_get(f, "c1")->last_seq == 2);
  CHECK(must_read(f, "c1", 0, 100).size() == 2);

  // Another sender may use the same client id.
  auto other = must_append(f, msg("c1", "a1", "m1", "agent"));
  CHECK_FALSE(other.duplicate);
  CHECK(other.message.seq == 3);
}

TEST_CASE_TEMPLATE("allow_new false only finds an earlier copy", F, memory_fixture, redis_fixture) {
  F f;
  must_create(f, conv("c1", "s1", 100));
  must_append(f, msg("c1", "s1", "m1", "before close"));
  auto closed = conv("c1", "s1", 100);
  closed.state = conversation_state::closed;
  auto ur = await<none>(f.ioc, [&](auto cb) { f.s->update_conversation(closed, cb); });
  REQUIRE(ur.ok());

  auto fresh = must_append(f, msg("c1", "s1", "m2", "after close"), false);
  CHECK(fresh.message.seq == 0);
  CHECK_FALSE(fresh.duplicate);
  CHECK(must_read(f, "c1", 0, 100).size() == 1);
  CHECK(must_get(f, "c1")->last_seq == 1);

  auto resend = must_append(f, msg("c1", "s1", "m1", "before close"), false);
  CHECK(resend.duplicate);
  CHECK(resend.message.seq == 1);
}

TEST_CASE_TEMPLATE("read_messages honours after_seq and limit", F, memory_fixture, redis_fixture) {
  F f;
  must_create(f, conv("c1", "s1", 100));
  for (int i = 1; i <= 10; ++i) must_append(f, msg("c1", "s1", "m" + std::to_string(i), "t"));
  auto page = must_read(f, "c1", 3, 4);
  REQUIRE(page.size() == 4);
  CHECK(page.front().seq == 4);
  CHECK(page.back().seq == 7);
  CHECK(must_read(f, "c1", 10, 5).empty());
  CHECK(must_read(f, "c1", 8, 100).size() == 2);
  CHECK(must_read(f, "c1", -5, 2).front().seq == 1);
  CHECK(must_read(f, "c1", 0, 0).empty());
  CHECK(must_read(f, "unknown", 0, 10).empty());
}

TEST_CASE_TEMPLATE("list_conversations filters by shopper/agent/open - newest first - up to the limit", F,
                   memory_fixture, redis_fixture) {
  F f;
  must_create(f, conv("c1", "s1", 100));
  must_create(f, conv("c2", "s2", 200));
  must_create(f, conv("c3", "s1", 300));
  must_create(f, conv("c4", "s3", 400));
  auto assign = [&](const std::string& id, const std::string& shopper, timestamp_ms created,
                    std::optional<std::string> agent, conversation_state st) {
    auto c = conv(id, shopper, created);
    c.agent_id = std::move(agent);
    c.state = st;
    auto r = await<none>(f.ioc, [&](auto cb) { f.s->update_conversation(c, cb); });
    REQUIRE_MESSAGE(r.ok(), r.error);
  };
  assign("c2", "s2", 200, "a1", conversation_state::assigned);
  assign("c3", "s1", 300, "a1", conversation_state::assigned);
  assign("c4", "s3", 400, "a2", conversation_state::closed);

  using ids = std::vector<std::string>;
  conversation_filter all_open;
  CHECK(list_ids(f, all_open) == ids{"c3", "c2", "c1"});
  conversation_filter everything;
  everything.open_only = false;
  CHECK(list_ids(f, everything) == ids{"c4", "c3", "c2", "c1"});
  everything.limit = 2;
  CHECK(list_ids(f, everything) == ids{"c4", "c3"});

  conversation_filter by_shopper;
  by_shopper.shopper_id = "s1";
  CHECK(list_ids(f, by_shopper) == ids{"c3", "c1"});
  conversation_filter by_agent;
  by_agent.agent_id = "a1";
  CHECK(list_ids(f, by_agent) == ids{"c3", "c2"});
  by_agent.shopper_id = "s2";
  CHECK(list_ids(f, by_agent) == ids{"c2"});

  conversation_filter closed_agent;
  closed_agent.agent_id = "a2";
  CHECK(list_ids(f, closed_agent).empty());
  closed_agent.open_only = false;
  CHECK(list_ids(f, closed_agent) == ids{"c4"});

  // Reassignment moves the conversation between agents.
  assign("c3", "s1", 300, "a2", conversation_state::assigned);
  by_agent = {};
  by_agent.agent_id = "a1";
  CHECK(list_ids(f, by_agent) == ids{"c2"});
  by_agent.agent_id = "a2";
  CHECK(list_ids(f, by_agent) == ids{"c3"});
  // ... and reopening puts a closed one back in the open list.
  assign("c4", "s3", 400, std::nullopt, conversation_state::queued);
  CHECK(list_ids(f, all_open) == ids{"c4", "c3", "c2", "c1"});
  conversation_filter none_left;
  none_left.limit = 0;
  CHECK(list_ids(f, none_left).empty());
}

TEST_CASE_TEMPLATE("operations issued back to back apply and complete in order", F, memory_fixture,
                   redis_fixture) {
  F f;
  std::vector<std::string> done;
  std::vector<std::string> errors;
  auto note = [&](std::string what) {
    return [&, what](auto r) {
      done.push_back(what);
      if (!r.ok()) errors.push_back(what + ": " + r.error);
    };
  };
  // Nothing waits between these calls.
  f.s->create_conversation(conv("c1", "s1", 100), note("create"));
  for (int i = 1; i <= 5; ++i)
    f.s->append_message({msg("c1", "s1", "m" + std::to_string(i), "t")}, note("append" + std::to_string(i)));
  auto closed = conv("c1", "s1", 100);
  closed.state = conversation_state::closed;
  f.s->update_conversation(closed, note("update"));
  std::optional<conversation_record> seen;
  f.s->get_conversation("c1", [&](result<std::optional<conversation_record>> r) {
    seen = r.value;
    done.push_back("get");
  });
  REQUIRE(test::run_until(f.ioc, [&] { return done.size() == 8; }));
  CHECK(errors.empty());
  CHECK(done == std::vector<std::string>{"create", "append1", "append2", "append3", "append4", "append5",
                                         "update", "get"});
  REQUIRE(seen.has_value());
  CHECK(seen->state == conversation_state::closed);
  CHECK(seen->last_seq == 5);
}

TEST_CASE_TEMPLATE("an agent's presence is remembered - the latest one wins", F, memory_fixture, redis_fixture) {
  F f;
  auto& ioc = f.ioc;
  auto l0 = await<std::vector<presence_record>>(ioc, [&](auto cb) { f.s->list_presence(cb); });
  REQUIRE(l0.ok());
  CHECK(l0.value.empty());
  REQUIRE(await<none>(ioc, [&](auto cb) { f.s->put_presence({"agent", agent_status::away, 2, 1000}, 60, cb); }).ok());
  REQUIRE(await<none>(ioc, [&](auto cb) { f.s->put_presence({"agent2", agent_status::online, 4, 1100}, 60, cb); }).ok());
  REQUIRE(await<none>(ioc, [&](auto cb) { f.s->put_presence({"agent", agent_status::online, 3, 1200}, 60, cb); }).ok());
  auto l = await<std::vector<presence_record>>(ioc, [&](auto cb) { f.s->list_presence(cb); });
  REQUIRE(l.ok());
  std::map<std::string, presence_record> by;
  for (auto& p : l.value) by[p.agent_id] = p;
  REQUIRE(by.size() == 2);
  CHECK(by["agent"].status == agent_status::online);
  CHECK(by["agent"].capacity == 3);
  CHECK(by["agent"].updated_ts == 1200);
  CHECK(by["agent2"].status == agent_status::online);
  CHECK(by["agent2"].capacity == 4);
}

TEST_CASE_TEMPLATE("v1.1 fields - context - contact - follow-up - rating - causes - figures round trip", F, memory_fixture,
                   redis_fixture) {
  F f;
  auto c = conv("c1", "s1", 1000);
  c.shopper.context.order_id = "PL-77";
  c.shopper.context.order_value = 950.5;
  c.shopper.context.currency = "PLN";
  c.shopper.context.tier = "vip";
  must_create(f, c);
  c.contact = contact_info{"a@b.pl", "+48 600 100 200", "proszę o telefon", 2000};
  c.first_response_ts = 1500;
  c.follow_up = true;
  c.state = conversation_state::closed;
  c.csat_score = 4;
  c.csat_comment = "dobrze, \"szybko\"";
  c.csat_ts = 3000;
  c.categories = {"delivery", "damaged"};
  c.categories_corrected = true;
  c.figures.peak_level = 81.5;
  c.figures.closing_level = 12;
  c.figures.escalations = 1;
  c.figures.escalation_reasons = {"manager_request"};
  c.figures.first_response_by = "agent";
  c.figures.agents.push_back(agent_figures{"agent", "Ana", 3, 42.5});
  REQUIRE(await<none>(f.ioc, [&](auto cb) { f.s->update_conversation(c, cb); }).ok());
  auto got = must_get(f, "c1");
  REQUIRE(got);
  CHECK(got->shopper.context == c.shopper.context);
  CHECK(got->contact.email == "a@b.pl");
  CHECK(got->contact.phone == "+48 600 100 200");
  CHECK(got->contact.ts == 2000);
  CHECK(got->first_response_ts == 1500);
  CHECK(got->follow_up);
  CHECK(got->csat_score == 4);
  CHECK(got->csat_comment == c.csat_comment);
  CHECK(got->categories == c.categories);
  CHECK(got->categories_corrected);
  CHECK(got->figures.peak_level == 81.5);
  CHECK(got->figures.escalation_reasons == c.figures.escalation_reasons);
  REQUIRE(got->figures.agents.size() == 1);
  CHECK(got->figures.agents[0].fall_sum == 42.5);
  // On the follow-up list, then done: off it.
  conversation_filter fu;
  fu.open_only = false;
  fu.follow_up_only = true;
  CHECK(list_ids(f, fu) == std::vector<std::string>{"c1"});
  fu.stores = {"other-store"};
  CHECK(list_ids(f, fu).empty());
  c.follow_up_done_ts = 4000;
  REQUIRE(await<none>(f.ioc, [&](auto cb) { f.s->update_conversation(c, cb); }).ok());
  fu.stores.clear();
  CHECK(list_ids(f, fu).empty());
}

// Every field set to something other than its default (the memory store keeps
// records packed: a field it forgot would come back empty here).
TEST_CASE_TEMPLATE("every field of a record comes back from get - list - list_window - after create and update", F,
                   memory_fixture, redis_fixture) {
  F f;
  conversation_record c = conv("c_full", "s_full", 5000);
  c.shopper.context = shopper_context{"ORD-1", 12.25, "EUR", "gold"};
  c.state = conversation_state::assigned;
  c.agent_id = "agent-7";
  c.agent_name = "Agata \"A\" Nowak";
  c.queue = "returns";
  c.updated_ts = 6000;
  c.closed_by = "agent-7";
  c.close_reason = "resolved, with ünïcödé";
  c.escalation_acked_ts = 5500;
  c.escalation_acked_by = "sup-1";
  c.first_response_ts = 5100;
  c.contact = contact_info{"x@y.z", "+1 555", "after 5 pm", 5200};
  c.contact_answered_ts = 5300;
  c.follow_up = true;
  c.follow_up_done_ts = 5400;
  c.follow_up_done_by = "sup-2";
  c.csat_score = 5;
  c.csat_comment = "great";
  c.csat_ts = 7000;
  c.categories = {"delivery", "refund"};
  c.categories_corrected = true;
  c.figures.peak_level = 77.5;
  c.figures.closing_level = 3.25;
  c.figures.escalations = 2;
  c.figures.escalation_reasons = {"manager_request", "legal_threat"};
  c.figures.first_response_by = "agent-7";
  c.figures.agents = {agent_figures{"agent-7", "Agata", 4, 12.5}, agent_figures{"agent-8", "Bo", 1, -2.25}};
  must_create(f, c);
  auto got = must_get(f, "c_full");
  REQUIRE(got);
  CHECK(*got == c);

  must_append(f, msg("c_full", "s_full", "m1", "hello", 8000));
  c.updated_ts = 8000;
  c.last_seq = 1;
  got = must_get(f, "c_full");
  REQUIRE(got);
  CHECK(*got == c);

  c.state = conversation_state::closed;
  c.agent_id.reset();
  c.updated_ts = 9000;
  c.shopper.context.order_value.reset();
  c.figures.agents.pop_back();
  REQUIRE(await<none>(f.ioc, [&](auto cb) { f.s->update_conversation(c, cb); }).ok());
  got = must_get(f, "c_full");
  REQUIRE(got);
  CHECK(*got == c);

  conversation_filter all;
  all.open_only = false;
  all.shopper_id = "s_full";
  auto listed = await<std::vector<conversation_record>>(f.ioc, [&](auto cb) { f.s->list_conversations(all, cb); });
  REQUIRE(listed.ok());
  REQUIRE(listed.value.size() == 1);
  CHECK(listed.value[0] == c);
  window_query q;
  q.from = 0;
  q.to = 10'000;
  auto page = await<window_page>(f.ioc, [&](auto cb) { f.s->list_window(q, cb); });
  REQUIRE(page.ok());
  REQUIRE(page.value.records.size() == 1);
  CHECK(page.value.records[0] == c);
}

// The memory store checks a (sender, client_msg_id) on the stored message
// itself, whatever its index says: many of them, each found once.
TEST_CASE_TEMPLATE("resends among many messages are each found - never mistaken for another", F, memory_fixture,
                   redis_fixture) {
  F f;
  must_create(f, conv("c1", "s1", 100));
  for (int i = 1; i <= 60; ++i) {
    must_append(f, msg("c1", i % 2 ? "s1" : "a1", "m" + std::to_string(i / 2), "t" + std::to_string(i)));
  }
  for (int i = 1; i <= 60; ++i) {
    auto again = must_append(f, msg("c1", i % 2 ? "s1" : "a1", "m" + std::to_string(i / 2), "other"));
    CHECK(again.duplicate);
    CHECK(again.message.seq == i);
    CHECK(again.message.text == "t" + std::to_string(i));
  }
  CHECK(must_get(f, "c1")->last_seq == 60);
  auto fresh = must_append(f, msg("c1", "s2", "m1", "new sender, same id"));
  CHECK_FALSE(fresh.duplicate);
  CHECK(fresh.message.seq == 61);
}

TEST_CASE_TEMPLATE("the audit trail keeps entries in order - only for a conversation that exists", F, memory_fixture,
                   redis_fixture) {
  F f;
  must_create(f, conv("c1", "s1", 1000));
  for (int i = 0; i < 3; ++i)
    REQUIRE(await<none>(f.ioc, [&](auto cb) { f.s->append_audit("c1", "{\"n\":" + std::to_string(i) + "}", cb); }).ok());
  auto a = await<std::vector<audit_entry>>(f.ioc, [&](auto cb) { f.s->read_audit("c1", cb); });
  REQUIRE(a.ok());
  CHECK(a.value == std::vector<audit_entry>{"{\"n\":0}", "{\"n\":1}", "{\"n\":2}"});
  CHECK_FALSE(await<none>(f.ioc, [&](auto cb) { f.s->append_audit("nope", "{}", cb); }).ok());
  auto none_yet = await<std::vector<audit_entry>>(f.ioc, [&](auto cb) { f.s->read_audit("nope", cb); });
  REQUIRE(none_yet.ok());
  CHECK(none_yet.value.empty());
}

TEST_CASE_TEMPLATE("the audit trail keeps the last max_audit_entries - the oldest fall off", F, memory_fixture,
                   redis_fixture) {
  F f;
  must_create(f, conv("c1", "s1", 1000));
  const std::size_t n = store::max_audit_entries + 7;
  for (std::size_t i = 0; i < n; ++i)
    REQUIRE(await<none>(f.ioc, [&](auto cb) { f.s->append_audit("c1", "{\"n\":" + std::to_string(i) + "}", cb); }).ok());
  auto a = await<std::vector<audit_entry>>(f.ioc, [&](auto cb) { f.s->read_audit("c1", cb); });
  REQUIRE(a.ok());
  REQUIRE(a.value.size() == store::max_audit_entries);
  CHECK(a.value.front() == "{\"n\":7}");
  CHECK(a.value[1] == "{\"n\":8}");
  CHECK(a.value.back() == "{\"n\":" + std::to_string(n - 1) + "}");
  // And one more after the trim, with an empty entry between.
  REQUIRE(await<none>(f.ioc, [&](auto cb) { f.s->append_audit("c1", "", cb); }).ok());
  REQUIRE(await<none>(f.ioc, [&](auto cb) { f.s->append_audit("c1", "{\"last\":1}", cb); }).ok());
  a = await<std::vector<audit_entry>>(f.ioc, [&](auto cb) { f.s->read_audit("c1", cb); });
  REQUIRE(a.ok());
  REQUIRE(a.value.size() == store::max_audit_entries);
  CHECK(a.value.front() == "{\"n\":9}");
  CHECK(a.value[a.value.size() - 2].empty());
  CHECK(a.value.back() == "{\"last\":1}");
}

TEST_CASE_TEMPLATE("list_window pages through a window oldest first - by store", F, memory_fixture, redis_fixture) {
  F f;
  for (int i = 0; i < 25; ++i) {
    auto c = conv("c" + std::to_string(i), "s" + std::to_string(i), 1000 + i * 10);
    c.shopper.store = i % 2 ? "odd" : "even";
    must_create(f, c);
  }
  window_query q;
  q.from = 1050;  // c5 ..
  q.to = 1200;    // .. c19 (1190), exclusive of c20
  q.limit = 4;
  std::vector<std::string> seen;
  int pages = 0;
  for (;;) {
    auto p = await<window_page>(f.ioc, [&](auto cb) { f.s->list_window(q, cb); });
    REQUIRE(p.ok());
    ++pages;
    for (auto& r : p.value.records) seen.push_back(r.id);
    if (!p.value.next) break;
    q.cursor = *p.value.next;
    REQUIRE(pages < 10);
  }
  CHECK(pages == 4);
  REQUIRE(seen.size() == 15);
  CHECK(seen.front() == "c5");
  CHECK(seen.back() == "c19");
  q.cursor = 0;
  q.limit = 100;
  q.stores = {"odd"};
  auto odd = await<window_page>(f.ioc, [&](auto cb) { f.s->list_window(q, cb); });
  REQUIRE(odd.ok());
  CHECK(odd.value.records.size() == 8);  // c5 c7 ... c19
  CHECK_FALSE(odd.value.next);
}

// The hub's deadlines (server/hub/deadline_set.hpp): one entry per
// conversation, each taken out exactly once - when due, or when cancelled.
#include <doctest/doctest.h>

#include <map>

#include "server/hub/deadline_set.hpp"

using calma::deadline_set;

namespace {

// What the hub does: each conversation keeps the time it is armed for; a due
// entry is taken once and its conversation disarmed.
struct owner {
  deadline_set set;
  std::map<std::string, deadline_set::time> armed;
  std::vector<std::string> fired;
  void arm(const std::string& id, deadline_set::time at) { set.arm(id, armed[id], at); }
  void cancel(const std::string& id) { set.cancel(id, armed[id]); }
  void run(deadline_set::time now) {
    for (const auto& [at, id] : set.take_due(now)) {
      CHECK(armed[id] == at);
      armed[id] = 0;
      fired.push_back(id + "@" + std::to_string(at));
    }
  }
};

}  // namespace

TEST_CASE("deadlines - each armed deadline is taken once when due - earliest first") {
  owner o;
  o.arm("a", 30);
  o.arm("b", 10);
  o.arm("c", 20);
  CHECK(o.set.size() == 3);
  CHECK(o.set.earliest() == 10);
  o.run(9);
  CHECK(o.fired.empty());
  o.run(20);
  CHECK(o.fired == std::vector<std::string>{"b@10", "c@20"});
  CHECK(o.set.earliest() == 30);
  o.run(20);
  o.run(25);
  CHECK(o.fired.size() == 2);
  o.run(1000);
  CHECK(o.fired == std::vector<std::string>{"b@10", "c@20", "a@30"});
  o.run(2000);
  CHECK(o.fired.size() == 3);
  CHECK(o.set.empty());
  CHECK_FALSE(o.set.earliest());
}

TEST_CASE("deadlines - armed again the entry moves - cancelled it never fires") {
  owner o;
  o.arm("a", 50);
  o.arm("a", 20);  // sooner: one entry, at 20
  o.arm("a", 20);  // the same time: nothing changes
  CHECK(o.set.size() == 1);
  o.arm("b", 10);
  o.cancel("b");
  o.cancel("b");   // not armed: nothing
  o.cancel("zz");  // never armed: nothing
  CHECK(o.set.size() == 1);
  o.run(100);
  CHECK(o.fired == std::vector<std::string>{"a@20"});
  // Fired, then armed again (what apply() does after its catch_up): fires again, once.
  o.arm("a", 150);
  o.arm("b", 150);
  o.run(149);
  o.run(150);
  o.run(151);
  CHECK(o.fired == std::vector<std::string>{"a@20", "a@150", "b@150"});
  CHECK(o.set.empty());
}

TEST_CASE("deadlines - many conversations at the same time each fire once") {
  owner o;
  for (int i = 0; i < 100; ++i) o.arm("c" + std::to_string(i), 1000 + i % 3);
  for (int i = 0; i < 100; i += 2) o.arm("c" + std::to_string(i), 5000);  // later: moved
  for (int i = 0; i < 100; i += 5) o.cancel("c" + std::to_string(i));
  o.run(1002);
  std::map<std::string, int> times;
  for (const auto& f : o.fired) ++times[f.substr(0, f.find('@'))];
  CHECK(times.size() == 40);  // the odd ones not cancelled (i % 5 != 0)
  for (const auto& [id, n] : times) CHECK(n == 1);
  o.run(5000);
  CHECK(o.fired.size() == 80);  // and the even ones not cancelled, at 5000
  CHECK(o.set.empty());
}

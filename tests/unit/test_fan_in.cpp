// The fan-in of a supervisor served by several hub shards (server/hub/fan_in.hpp):
// its legs fed frames by hand, what the client receives checked. No hub, no I/O.
#include <doctest/doctest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/hub/fan_in.hpp"

using nlohmann::json;

namespace {

/// The supervisor's own connection: keeps what the fan-in sends it.
class client final : public calma::connection {
 public:
  std::uint64_t id() const override { return 7; }
  void send(calma::frame_ptr f) override {
    std::lock_guard lk(mu_);
    got_.push_back(json::parse(*f));
  }
  void close(std::uint16_t, std::string) override { closed = true; }
  std::vector<json> take() {
    std::lock_guard lk(mu_);
    return std::exchange(got_, {});
  }
  bool closed = false;

 private:
  std::mutex mu_;
  std::vector<json> got_;
};

json welcome(const std::string& store) {
  return json{{"type", "welcome"}, {"role", "supervisor"}, {"conversations", json::array()},
              {"escalations", json::array()}, {"stores", json::array({json{{"id", store}}})}};
}

json page(const std::string& agent, const std::string& store) {
  return json{{"type", "agents.list"}, {"ts", 1},
              {"agents", json::array({json{{"id", agent}, {"name", agent}, {"store", store}, {"status", "online"}}})},
              {"total", 1}, {"offset", 0}, {"more", false}};
}

void say(const std::shared_ptr<calma::connection>& leg, const json& j) { leg->send(calma::make_frame(j.dump())); }

std::vector<std::string> types(const std::vector<json>& frames) {
  std::vector<std::string> out;
  for (const auto& f : frames) out.push_back(f.value("type", ""));
  return out;
}

}  // namespace

TEST_CASE("fan-in - colleagues asked just before a shard moved are not answered half: the next ask is merged whole") {
  auto c = std::make_shared<client>();
  auto f = std::make_shared<calma::fan_in>(c, std::vector<std::uint32_t>{0, 1},
                                           std::vector<std::pair<std::string, std::uint32_t>>{{"north", 0}, {"south", 1}}, 100);
  auto legs = f->legs();
  std::vector<std::size_t> rewelcomed;
  f->on_rewelcome([&](std::size_t i) { rewelcomed.push_back(i); });
  say(legs[0], welcome("north"));
  say(legs[1], welcome("south"));
  auto got = c->take();
  REQUIRE(types(got) == std::vector<std::string>{"welcome"});
  CHECK(got[0]["stores"].size() == 2);

  // Colleagues asked of both legs; before either answers, north's shard moves
  // and its new hub welcomes the leg afresh: south is asked to say hello again.
  calma::protocol::agents_list ask;
  f->expect_agents_list(ask);
  say(legs[0], welcome("north"));
  REQUIRE(rewelcomed == std::vector<std::size_t>{0});
  // South's hub answers what was asked before (its leg's hello again comes after), then welcomes again.
  say(legs[1], page("ola", "south"));
  say(legs[1], welcome("south"));
  got = c->take();
  // One merged welcome; no page of south's colleagues alone passed off as the answer.
  CHECK(types(got) == std::vector<std::string>{"welcome"});

  // Asked again: both legs answer, one page of both.
  f->expect_agents_list(ask);
  say(legs[0], page("ana", "north"));
  say(legs[1], page("ola", "south"));
  got = c->take();
  REQUIRE(types(got) == std::vector<std::string>{"agents.list"});
  CHECK(got[0]["agents"].size() == 2);
  CHECK(got[0]["total"] == 2);
  CHECK_FALSE(c->closed);
}

TEST_CASE("fan-in - colleagues asked while the welcomes are merged again are answered merged") {
  auto c = std::make_shared<client>();
  auto f = std::make_shared<calma::fan_in>(c, std::vector<std::uint32_t>{0, 1},
                                           std::vector<std::pair<std::string, std::uint32_t>>{{"north", 0}, {"south", 1}}, 100);
  auto legs = f->legs();
  f->on_rewelcome([](std::size_t) {});
  say(legs[0], welcome("north"));
  say(legs[1], welcome("south"));
  c->take();
  say(legs[0], welcome("north"));  // north's shard moved: merging again
  // Asked now (nothing was pending): south's hub answers before its new welcome.
  calma::protocol::agents_list ask;
  f->expect_agents_list(ask);
  say(legs[1], page("ola", "south"));
  say(legs[1], welcome("south"));
  say(legs[0], page("ana", "north"));
  const auto got = c->take();
  REQUIRE(types(got) == std::vector<std::string>{"welcome", "agents.list"});
  CHECK(got[1]["agents"].size() == 2);
}

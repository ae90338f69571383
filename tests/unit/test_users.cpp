// The users file's round trip and the pure parts of `calma-server users`.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "server/auth/crypto.hpp"
#include "server/auth/users.hpp"
#include "server/auth/users_cli.hpp"

using namespace calma;
using namespace calma::auth;

namespace {

user make(const std::string& id, role r, std::vector<std::string> stores = {}, bool senior = false,
          bool disabled = false) {
  static const std::string h = hash_password("pw", 1000);
  user u;
  u.username = id;
  u.name = id == "ana" ? "Ana García" : "Name of " + id;
  u.r = r;
  u.password_hash = h;
  u.stores = std::move(stores);
  u.senior = senior;
  u.disabled = disabled;
  return u;
}

user_table sample() {
  user_table t;
  for (auto u : {make("ana", role::agent, {"demo", "demo-pl"}, true), make("bo", role::agent, {}, false, true),
                 make("sofia", role::supervisor)})
    t.emplace(u.username, u);
  return t;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_dir() {
  static int n = 0;
  auto d = std::filesystem::temp_directory_path() / ("calma-unit-users-" + std::to_string(::getpid()) + "-" +
                                                     std::to_string(n++));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

std::size_t files_in(const std::string& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("users_json and parse_users round trip with stores - senior and disabled") {
  auto t = sample();
  auto text = users_json(t);
  std::vector<std::string> errors;
  auto back = parse_users(text, "mem", errors);
  CHECK(errors.empty());
  REQUIRE(back.size() == 3);
  const auto& ana = back.at("ana");
  CHECK(ana.name == "Ana García");
  CHECK(ana.r == role::agent);
  CHECK(ana.stores == std::vector<std::string>{"demo", "demo-pl"});
  CHECK(ana.senior);
  CHECK_FALSE(ana.disabled);
  CHECK(ana.serves("demo-pl"));
  CHECK_FALSE(ana.serves("other"));
  CHECK(back.at("bo").disabled);
  CHECK(back.at("bo").stores.empty());
  CHECK(back.at("bo").serves("anything"));
  CHECK(back.at("sofia").r == role::supervisor);
  CHECK(back.at("sofia").password_hash == t.at("sofia").password_hash);
  CHECK(users_json(back) == text);  // stable: writing what was read changes nothing
  // Defaults stay out of the file: one user a line, only the keys that say something.
  CHECK(text.find("\"senior\":false") == std::string::npos);
  CHECK(text.find("\"disabled\":false") == std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 5);
}

TEST_CASE("parse_users refuses bad optional fields") {
  auto h = hash_password("pw", 1000);
  auto one = [&](const std::string& extra) {
    std::vector<std::string> errors;
    auto t = parse_users(R"([{"username":"x","name":"X","role":"agent","password_hash":")" + h + "\"" + extra + "}]",
                         "mem", errors);
    return std::make_pair(t.size(), errors);
  };
  CHECK(one("").first == 1);
  CHECK(one(R"(,"stores":"demo")").second.size() == 1);
  CHECK(one(R"(,"stores":["bad store"])").second.size() == 1);
  CHECK(one(R"(,"senior":"yes")").second.size() == 1);
  CHECK(one(R"(,"disabled":1)").second.size() == 1);
  CHECK(one(R"(,"disabled":true)").second.empty());
}

TEST_CASE("an add request is checked before anything is written") {
  auto t = sample();
  add_request r{"piotr", "Piotr Nowak", "agent", {"demo"}, false};
  CHECK(check_add(r, t).empty());
  auto with = [&](auto change) {
    auto c = r;
    change(c);
    return check_add(c, t);
  };
  CHECK(with([](add_request& c) { c.username = "ana"; }).find("already exists") != std::string::npos);
  CHECK(with([](add_request& c) { c.username = ""; }).find("bad username") == 0);
  CHECK(with([](add_request& c) { c.username = "two words"; }).find("bad username") == 0);
  CHECK(with([](add_request& c) { c.username = std::string(65, 'a'); }).find("bad username") == 0);
  CHECK(with([](add_request& c) { c.username = std::string(64, 'a'); }).empty());
  CHECK(with([](add_request& c) { c.role = "admin"; }).find("bad role") == 0);
  CHECK(with([](add_request& c) { c.role = "shopper"; }).find("bad role") == 0);
  CHECK(with([](add_request& c) { c.role = "supervisor"; }).empty());
  CHECK_FALSE(with([](add_request& c) { c.name = ""; }).empty());
  CHECK_FALSE(with([](add_request& c) { c.name = "   "; }).empty());
  CHECK_FALSE(with([](add_request& c) { c.name = "tab\there"; }).empty());
  CHECK_FALSE(with([](add_request& c) { c.name = "bad \xff utf8"; }).empty());
  CHECK_FALSE(with([](add_request& c) { c.name = "cut \xc3"; }).empty());
  CHECK_FALSE(with([](add_request& c) { c.name = std::string(129, 'a'); }).empty());
  CHECK(with([](add_request& c) { c.name = "Zoë Łukasz 李"; }).empty());
  CHECK(with([](add_request& c) { c.stores = {"demo", "x y"}; }).find("bad store") == 0);
  CHECK(with([](add_request& c) { c.stores = {"demo", "demo"}; }).find("twice") != std::string::npos);
  CHECK(with([](add_request& c) { c.stores = {}; }).empty());

  CHECK_FALSE(check_password("").empty());
  CHECK(check_password("s3cret").empty());

  r.senior = true;
  auto u = make_user(r, hash_password("pw", 1000));
  CHECK(u.username == "piotr");
  CHECK(u.name == "Piotr Nowak");
  CHECK(u.r == role::agent);
  CHECK(u.stores == std::vector<std::string>{"demo"});
  CHECK(u.senior);
  CHECK_FALSE(u.disabled);
  CHECK(verify_password("pw", u.password_hash));
}

TEST_CASE("list prints aligned columns") {
  auto out = format_users(sample());
  std::istringstream in(out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].rfind("USERNAME", 0) == 0);
  CHECK(lines[1].find("Ana García") != std::string::npos);
  CHECK(lines[1].find("demo,demo-pl") != std::string::npos);
  CHECK(lines[3].find("all stores") != std::string::npos);
  // Columns line up on screen: "STORES" starts where each user's stores start (in code points).
  auto col = [](const std::string& l, const std::string& what) {
    auto at = l.find(what);
    std::size_t n = 0;
    for (std::size_t i = 0; i < at; ++i) n += (static_cast<unsigned char>(l[i]) & 0xc0) != 0x80;
    return n;
  };
  CHECK(col(lines[1], "demo,demo-pl") == col(lines[0], "STORES"));
  CHECK(col(lines[2], "all stores") == col(lines[0], "STORES"));
  CHECK(format_users({}) == "no users\n");
}

TEST_CASE("write_users_file: whole file - permissions kept - nothing left behind - refuses what would not load") {
  auto dir = temp_dir();
  auto path = dir + "/users.json";
  auto t = sample();

  REQUIRE(write_users_file(path, t).empty());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);  // a new file: only its owner reads the hashes
  CHECK(slurp(path) == users_json(t));
  CHECK(files_in(dir) == 1);

  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  t.erase("bo");
  REQUIRE(write_users_file(path, t).empty());
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  std::vector<std::string> errors;
  CHECK(load_users(path, errors).size() == 2);
  CHECK(errors.empty());
  CHECK(files_in(dir) == 1);

  // A table whose file would not load (a hash the server refuses) is not written.
  const auto before = slurp(path);
  auto bad = t;
  bad.at("ana").password_hash = "plain";
  auto err = write_users_file(path, bad);
  CHECK(err.find("would not load") != std::string::npos);
  CHECK(slurp(path) == before);
  CHECK(files_in(dir) == 1);

  CHECK_FALSE(write_users_file(dir + "/no-such-dir/users.json", t).empty());
  std::filesystem::remove_all(dir);
}

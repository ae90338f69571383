// `calma-server users ...` on a real file, and the running server picking the
// file's changes up without a restart (SIGHUP, and the mtime watcher).
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/common.hpp"

using namespace calma::test;

namespace {

struct cli_result {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// Runs `calma-server users ARGS...` with `input` on its stdin, through a
/// shell as the hash-password test does.
cli_result users_cli(const std::vector<std::string>& args, const std::string& input = "") {
  const std::string in = temp_file(input, ".in"), out = temp_file("", ".out"), err = temp_file("", ".err");
  std::string cmd = quote(server_process::binary()) + " users";
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " <" + in + " >" + out + " 2>" + err;
  int st = std::system(cmd.c_str());
  cli_result r{WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(out), slurp(err)};
  for (const auto& p : {in, out, err}) std::filesystem::remove(p);
  return r;
}

std::string fresh_dir() {
  static int n = 0;
  auto d = "/tmp/calma-users-cli-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

std::vector<std::string> add_args(const std::string& user, const std::string& name, const std::string& role,
                                  const std::string& file, std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"add", user, "--name", name, "--role", role, "--users", file, "--iterations", "1000"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

json file_json(const std::string& path) { return json::parse(slurp(path), nullptr, false); }

json entry(const std::string& path, const std::string& user) {
  for (const auto& e : file_json(path))
    if (e.value("username", "") == user) return e;
  return nullptr;
}

std::uint64_t inode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::size_t count_of(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

/// Waits until the server has printed `needle` more than `before` times.
bool wait_output(server_process& srv, const std::string& needle, std::size_t before = 0,
                 std::chrono::milliseconds timeout = 5s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (count_of(srv.output(), needle) > before) return true;
    std::this_thread::sleep_for(20ms);  // polling a child's output: no clock to inject here
  }
  return false;
}

unsigned login_status(std::uint16_t port, const std::string& user, const std::string& password) {
  return http(port, "POST", "/api/v1/login", json{{"username", user}, {"password", password}}.dump()).status;
}

std::vector<std::string> server_args(const std::string& users_file) {
  return {"--config", test_config(), "--users", users_file, "--bind", "127.0.0.1"};
}

}  // namespace

TEST_CASE("users CLI: add - list - passwd - disable - enable - and refused commands leave the file byte-identical") {
  const auto dir = fresh_dir();
  const auto file = dir + "/users.json";

  // Only add creates the file.
  for (auto args : std::vector<std::vector<std::string>>{
           {"list", "--users", file}, {"passwd", "ana", "--users", file}, {"disable", "ana", "--users", file}}) {
    auto r = users_cli(args, "pw\n");
    CHECK(r.code != 0);
    CHECK(r.err.find("does not exist") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(file));
  }

  auto r = users_cli(add_args("ana", "Ana García", "agent", file, {"--store", "demo", "--store", "demo-pl", "--senior"}),
                     "pw-ana\n");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.err.empty());
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  auto ana = entry(file, "ana");
  CHECK(ana["name"] == "Ana García");
  CHECK(ana["role"] == "agent");
  CHECK(ana["stores"] == json::array({"demo", "demo-pl"}));
  CHECK(ana["senior"] == true);
  CHECK_FALSE(ana.contains("disabled"));
  CHECK(ana["password_hash"].get<std::string>().rfind("$pbkdf2-sha256$1000$", 0) == 0);

  r = users_cli(add_args("sofia", "Sofía Ruiz", "supervisor", file), "pw-sofia\r\n");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  // The mode an operator gave the file is kept across rewrites.
  REQUIRE(::chmod(file.c_str(), 0640) == 0);

  r = users_cli({"list", "--users", file});
  REQUIRE(r.code == 0);
  std::istringstream lines_in(r.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(lines_in, l);) lines.push_back(l);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].find("USERNAME") == 0);
  CHECK(lines[1].find("ana") == 0);
  CHECK(lines[1].find("Ana García") != std::string::npos);
  CHECK(lines[1].find("demo,demo-pl") != std::string::npos);
  CHECK(lines[2].find("sofia") == 0);
  CHECK(lines[2].find("supervisor") != std::string::npos);
  CHECK(lines[2].find("all stores") != std::string::npos);

  SUBCASE("refused commands: one line on stderr, non-zero, the file untouched") {
    const auto before = slurp(file);
    const auto ino = inode(file);
    const std::vector<std::pair<std::vector<std::string>, std::string>> refused{
        {add_args("ana", "Another Ana", "agent", file), "pw\n"},          // exists
        {add_args("bad name!", "Bad", "agent", file), "pw\n"},            // bad username
        {add_args(std::string(65, 'a'), "Long", "agent", file), "pw\n"},  // too long
        {add_args("bob", "Bob", "agent", file), "\n"},                    // empty password
        {add_args("bob", "Bob", "agent", file), ""},                      // no password at all
        {add_args("bob", "Bob", "admin", file), "pw\n"},                  // bad role
        {add_args("bob", "Bob", "agent", file, {"--store", "no spaces"}), "pw\n"},
        {add_args("bob", "", "agent", file), "pw\n"},  // empty name
        {{"passwd", "ghost", "--users", file}, "pw\n"},
        {{"passwd", "ana", "--users", file}, "\n"},
        {{"disable", "ghost", "--users", file}, ""},
        {{"enable", "ghost", "--users", file}, ""},
    };
    for (const auto& [args, input] : refused) {
      auto res = users_cli(args, input);
      std::string what = args[0] + " " + args[1] + ": " + res.err;
      CHECK_MESSAGE(res.code != 0, what);
      CHECK_MESSAGE(count_of(res.err, "\n") == 1, what);
      CHECK_MESSAGE(res.err.rfind("calma-server users " + args[0] + ": ", 0) == 0, what);
      CHECK_MESSAGE(res.out.empty(), what);
      CHECK_MESSAGE(slurp(file) == before, what);
      CHECK_MESSAGE(inode(file) == ino, what);
    }
    // No temporary file left beside it either.
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
    CHECK(files == 1);
  }

  SUBCASE("passwd - disable - enable") {
    const auto old_hash = entry(file, "ana")["password_hash"];
    r = users_cli({"passwd", "ana", "--users", file, "--iterations", "1000"}, "new-pass\n");
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK(entry(file, "ana")["password_hash"] != old_hash);
    CHECK(entry(file, "ana")["stores"] == json::array({"demo", "demo-pl"}));  // the rest is kept
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);

    r = users_cli({"disable", "sofia", "--users", file});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK(entry(file, "sofia")["disabled"] == true);
    auto listed = users_cli({"list", "--users", file}).out;
    auto sofia_line = listed.substr(listed.find("\nsofia") + 1);
    CHECK(sofia_line.substr(sofia_line.size() - 4) == "yes\n");  // the DISABLED column
    r = users_cli({"disable", "sofia", "--users", file});
    CHECK(r.code == 0);
    CHECK(r.out.find("already disabled") != std::string::npos);

    r = users_cli({"enable", "sofia", "--users", file});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK_FALSE(entry(file, "sofia").contains("disabled"));

    // The server reads what the CLI wrote, and the new password is the one that works.
    server_process srv(server_args(file));
    CHECK(srv.output().find("2 staff users") != std::string::npos);
    CHECK(login_status(srv.port(), "ana", "new-pass") == 200);
    CHECK(login_status(srv.port(), "ana", "pw-ana") == 401);
    CHECK(login_status(srv.port(), "sofia", "pw-sofia") == 200);  // the \r of a CRLF line is not part of it
  }

  SUBCASE("a file with problems is not rewritten (its bad entries would be lost)") {
    const std::string broken = R"([{"username":"x","name":"X","role":"agent","password_hash":"plain"}])";
    std::ofstream(file, std::ios::trunc) << broken;
    r = users_cli(add_args("bob", "Bob", "agent", file), "pw\n");
    CHECK(r.code != 0);
    CHECK(r.err.find("password_hash") != std::string::npos);
    CHECK(slurp(file) == broken);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("the running server reloads the users file on SIGHUP and when it changes - and keeps the old one if it is bad") {
  const auto dir = fresh_dir();
  const auto file = dir + "/users.json";
  REQUIRE(users_cli(add_args("ana", "Ana García", "agent", file), "pw-ana\n").code == 0);

  server_process srv(server_args(file));
  CHECK(srv.output().find("1 staff users") != std::string::npos);
  CHECK(login_status(srv.port(), "ana", "pw-ana") == 200);  // a user the CLI added

  // SIGHUP: the file is read again at once (the watcher may also see the change: both log).
  REQUIRE(users_cli(add_args("piotr", "Piotr Nowak", "agent", file), "pw-piotr\n").code == 0);
  REQUIRE(::kill(srv.pid(), SIGHUP) == 0);
  CHECK_MESSAGE(wait_output(srv, "users reloaded: 2 users from " + file + " (SIGHUP)"), srv.output());
  CHECK(srv.alive());

  // No signal: the mtime/size watcher (once a second) sees the CLI's rewrite.
  REQUIRE(users_cli(add_args("sofia", "Sofía Ruiz", "supervisor", file), "pw-sofia\n").code == 0);
  CHECK_MESSAGE(wait_output(srv, "users reloaded: 3 users from " + file + " (file changed)"), srv.output());

  // A bad file (written by hand, not by the CLI): one warning, the 3 users kept.
  std::ofstream(file, std::ios::trunc) << R"([{"username":"ana","name":"Ana","role":"boss","password_hash":"x"}])";
  CHECK_MESSAGE(wait_output(srv, "users not reloaded (file changed), keeping the 3 users loaded: users file " + file +
                                     ": entry 0: role must be agent or supervisor"),
                srv.output());
  REQUIRE(::kill(srv.pid(), SIGHUP) == 0);
  CHECK_MESSAGE(wait_output(srv, "users not reloaded (SIGHUP), keeping the 3 users loaded"), srv.output());
  // A missing file is a problem like any other.
  std::filesystem::remove(file);
  CHECK_MESSAGE(wait_output(srv, "keeping the 3 users loaded: users file " + file + ": cannot be read"), srv.output());
  CHECK(count_of(srv.output(), "users reloaded:") >= 2);
  CHECK(login_status(srv.port(), "ana", "pw-ana") == 200);

  // SIGTERM still drains and exits cleanly.
  CHECK(srv.signal_and_wait(SIGTERM) == 0);
  CHECK(srv.output().find("draining") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("users added while the server runs log in after a reload - disabled users cannot") {
  const auto dir = fresh_dir();
  const auto file = dir + "/users.json";
  REQUIRE(users_cli(add_args("ana", "Ana García", "agent", file), "pw-ana\n").code == 0);
  server_process srv(server_args(file));
  REQUIRE(login_status(srv.port(), "ana", "pw-ana") == 200);

  REQUIRE(users_cli(add_args("piotr", "Piotr Nowak", "agent", file), "pw-piotr\n").code == 0);
  REQUIRE(::kill(srv.pid(), SIGHUP) == 0);
  REQUIRE(wait_output(srv, "users reloaded: 2 users from " + file + " (SIGHUP)"));
  CHECK(login_status(srv.port(), "piotr", "pw-piotr") == 200);  // no restart

  REQUIRE(users_cli(add_args("sofia", "Sofía Ruiz", "supervisor", file), "pw-sofia\n").code == 0);
  REQUIRE(wait_output(srv, "users reloaded: 3 users from " + file + " (file changed)"));
  CHECK(login_status(srv.port(), "sofia", "pw-sofia") == 200);

  REQUIRE(users_cli({"disable", "ana", "--users", file}).code == 0);
  REQUIRE(::kill(srv.pid(), SIGHUP) == 0);
  REQUIRE(wait_output(srv, "users reloaded: 3 users from " + file + " (SIGHUP)", 0));
  CHECK(login_status(srv.port(), "ana", "pw-ana") == 401);
  std::filesystem::remove_all(dir);
}

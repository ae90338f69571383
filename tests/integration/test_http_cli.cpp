// HTTP endpoints and the command line.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/common.hpp"

using namespace calma::test;

TEST_CASE("health - metrics - login and static files") {
  server_process srv(test_args());
  auto h = http(srv.port(), "GET", "/healthz");
  CHECK(h.status == 200);
  CHECK(h.j()["status"] == "ok");
  CHECK(h.j()["store"] == "memory");

  auto m = http(srv.port(), "GET", "/metrics");
  CHECK(m.status == 200);
  CHECK(m.content_type.find("text/plain") == 0);
  for (const char* name : {"calma_connections{role=\"shopper\"}", "calma_messages_in_total", "calma_frames_out_total",
                           "calma_queue_length", "calma_queue_oldest_wait_seconds", "calma_assignments_total",
                           "calma_errors_total{code=\"bad_request\"}", "calma_slow_consumer_disconnects_total"})
    CHECK_MESSAGE(m.body.find(name) != std::string::npos, name);

  auto ok = http(srv.port(), "POST", "/api/v1/login", R"({"username":"supervisor","password":"supervisor"})");
  CHECK(ok.status == 200);
  CHECK(ok.j()["role"] == "supervisor");
  CHECK(ok.j()["user_id"] == "supervisor");
  CHECK(ok.j()["name"] == "Sofía Ruiz");
  auto bad = http(srv.port(), "POST", "/api/v1/login", R"({"username":"agent","password":"wrong"})");
  CHECK(bad.status == 401);
  CHECK(bad.j()["error"]["code"] == "unauthorized");
  CHECK(http(srv.port(), "POST", "/api/v1/login", R"({"username":"ghost","password":"x"})").status == 401);
  CHECK(http(srv.port(), "POST", "/api/v1/login", "not json").status == 400);
  CHECK(http(srv.port(), "GET", "/api/v1/login").status == 405);

  CHECK(http(srv.port(), "GET", "/").status == 200);
  CHECK(http(srv.port(), "GET", "/console").status == 200);
  CHECK(http(srv.port(), "GET", "/../../etc/passwd").status == 404);
  CHECK(http(srv.port(), "GET", "/%2e%2e/%2e%2e/etc/passwd").status == 404);
  CHECK(http(srv.port(), "GET", "/assets/..%2f..%2f..%2fCMakeLists.txt").status == 404);
  CHECK(http(srv.port(), "GET", "/nope.js").status == 404);
}

TEST_CASE("static files are served from the configured folder with their MIME types") {
  auto dir = "/tmp/calma-static-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir + "/assets");
  std::ofstream(dir + "/index.html") << "<h1>store</h1>";
  std::ofstream(dir + "/widget.js") << "console.log(1)";
  std::ofstream(dir + "/console.html") << "<h1>console</h1>";
  std::ofstream(dir + "/assets/app-123.css") << "body{}";
  server_process srv(test_args({{"server", {{"static_dir", dir}}}}));
  auto idx = http(srv.port(), "GET", "/");
  CHECK(idx.body == "<h1>store</h1>");
  CHECK(idx.content_type == "text/html; charset=utf-8");
  auto w = http(srv.port(), "GET", "/widget.js");
  CHECK(w.content_type == "text/javascript; charset=utf-8");
  CHECK(http(srv.port(), "GET", "/console").body == "<h1>console</h1>");
  CHECK(http(srv.port(), "GET", "/assets/app-123.css").content_type == "text/css; charset=utf-8");
  CHECK(http(srv.port(), "GET", "/assets/../index.html").status == 404);
}

TEST_CASE("SIGTERM drains: sessions get 1001 and the process exits cleanly") {
  server_process srv(test_args());
  shopper s(srv.port());
  s.say("hola", "1");
  CHECK(srv.signal_and_wait(SIGTERM) == 0);
  CHECK(s->wait_closed());
  CHECK(s->close_code() == 1001);
}

TEST_CASE("bad command lines and configs fail with one line and a non-zero exit") {
  SUBCASE("busy port") {
    server_process first(test_args());
    auto args = test_args();
    args.push_back("--port");
    args.push_back(std::to_string(first.port()));
    server_process second(args, /*wait_listening=*/false);
    CHECK(second.wait_exit() != 0);
    CHECK(second.output().find("cannot listen") != std::string::npos);
  }
  SUBCASE("config with a wrong type and an unknown key") {
    auto path = temp_file(R"({"server": {"port": "eighty"}, "websockets": {}})");
    server_process p({"--config", path}, false);
    CHECK(p.wait_exit() != 0);
    auto out = p.output();
    CHECK(out.find("config.server.port") != std::string::npos);
    CHECK(out.find("config.websockets: unknown key") != std::string::npos);
  }
  SUBCASE("config that is not JSON") {
    server_process p({"--config", temp_file("{")}, false);
    CHECK(p.wait_exit() != 0);
  }
  SUBCASE("users file with a bad hash") {
    server_process p({"--users", temp_file(R"([{"username":"x","name":"X","role":"agent","password_hash":"plain"}])")}, false);
    CHECK(p.wait_exit() != 0);
    CHECK(p.output().find("password_hash") != std::string::npos);
  }
  SUBCASE("hash-password output works in a users file") {
    // Run hash-password through a shell so stdin can be fed.
    auto users_path = temp_file("");
    std::string cmd = "printf 's3cret-pass\\n' | " + server_process::binary() +
                      " hash-password --iterations 1000 | awk '{print \"[{\\\"username\\\":\\\"zoe\\\",\\\"name\\\":\\\"Zoe\\\",\\\"role\\\":\\\"agent\\\",\\\"password_hash\\\":\\\"\" $0 \"\\\"}]\"}' > " + users_path;
    REQUIRE(std::system(cmd.c_str()) == 0);
    server_process p({"--users", users_path, "--config", test_config()});
    CHECK(login(p.port(), "zoe", "s3cret-pass").size() > 20);
    CHECK(http(p.port(), "POST", "/api/v1/login", R"({"username":"zoe","password":"nope"})").status == 401);
  }
}

TEST_CASE("static files are sent precompressed by Accept-Encoding with an ETag - hashed assets are immutable") {
  server_process srv(test_args());
  auto get = [&](const std::string& path, std::vector<std::pair<std::string, std::string>> headers) {
    http_options o;
    o.headers = std::move(headers);
    return http_from(srv.port(), "GET", path, {}, o);
  };
  const auto plain = get("/widget.js", {});
  REQUIRE(plain.status == 200);
  CHECK(plain.header("content-encoding").empty());
  CHECK(plain.header("cache-control") == "no-cache");
  CHECK(plain.header("vary") == "Accept-Encoding");
  const auto br = get("/widget.js", {{"Accept-Encoding", "gzip, deflate, br"}});
  CHECK(br.header("content-encoding") == "br");
  CHECK(br.body.size() * 2 < plain.body.size());
  const auto gz = get("/widget.js", {{"Accept-Encoding", "gzip"}});
  CHECK(gz.header("content-encoding") == "gzip");
  REQUIRE(gz.body.size() > 2);
  CHECK(static_cast<unsigned char>(gz.body[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(gz.body[1]) == 0x8b);
  // Each representation has its own tag; a matching one is answered 304 without a body.
  CHECK(br.header("etag") != plain.header("etag"));
  const auto again = get("/widget.js", {{"Accept-Encoding", "br"}, {"If-None-Match", br.header("etag")}});
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  CHECK(get("/widget.js", {{"If-None-Match", "\"stale\""}}).status == 200);
  // The console's hashed script is cached for good.
  const auto page = get("/console", {});
  auto at = page.body.find("/assets/");
  REQUIRE(at != std::string::npos);
  const auto asset = page.body.substr(at, page.body.find('"', at) - at);
  const auto a = get(asset, {{"Accept-Encoding", "br"}});
  CHECK(a.status == 200);
  CHECK(a.header("cache-control") == "public, max-age=31536000, immutable");
  CHECK(a.header("content-encoding") == "br");
}

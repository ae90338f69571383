#include <doctest/doctest.h>

#include "server/net/http_api.hpp"

using namespace calma;

TEST_CASE("static paths never leave the root") {
  CHECK(resolve_static("/srv", "/index.html") == "/srv/index.html");
  CHECK(resolve_static("/srv", "/assets/app.js") == "/srv/assets/app.js");
  CHECK(resolve_static("/srv", "/../etc/passwd").empty());
  CHECK(resolve_static("/srv", "/assets/../../etc/passwd").empty());
  CHECK(resolve_static("/srv", "/%2e%2e/etc/passwd").empty());
  CHECK(resolve_static("/srv", "/a/%2E%2E/b").empty());
  CHECK(resolve_static("/srv", "/a%2f..%2fb").empty());
  CHECK(resolve_static("/srv", "/a%00b").empty());
  CHECK(resolve_static("/srv", "/a\\b").empty());
  CHECK(resolve_static("/srv", "/bad%zz").empty());
  CHECK(resolve_static("/srv", "/trailing%2").empty());
  CHECK(resolve_static("/srv", "relative").empty());
  CHECK(resolve_static("/srv", "/caf%C3%A9.txt") == "/srv/café.txt");
}

TEST_CASE("MIME types by extension") {
  CHECK(mime_type("/x/index.html") == "text/html; charset=utf-8");
  CHECK(mime_type("widget.js") == "text/javascript; charset=utf-8");
  CHECK(mime_type("a.css") == "text/css; charset=utf-8");
  CHECK(mime_type("a.svg") == "image/svg+xml");
  CHECK(mime_type("a.woff2") == "font/woff2");
  CHECK(mime_type("noext") == "application/octet-stream");
}

TEST_CASE("static files: the encoding sent follows Accept-Encoding and what was built") {
  using calma::pick_encoding;
  CHECK(pick_encoding("gzip, deflate, br, zstd", true, true) == "br");
  CHECK(pick_encoding("gzip, deflate", true, true) == "gzip");
  CHECK(pick_encoding("br;q=0.5, gzip", true, true) == "gzip");
  CHECK(pick_encoding("br;q=0, gzip;q=0", true, true).empty());
  CHECK(pick_encoding("", true, true).empty());
  CHECK(pick_encoding("identity", true, true).empty());
  CHECK(pick_encoding("*", true, true) == "br");
  CHECK(pick_encoding("*;q=0", true, true).empty());
  CHECK(pick_encoding("BR", true, false) == "br");
  CHECK(pick_encoding("br, gzip", false, true) == "gzip");  // no .br built for it
  CHECK(pick_encoding("br", false, false).empty());
}

TEST_CASE("static files: If-None-Match compares the ETag") {
  using calma::etag_matches;
  CHECK(etag_matches("\"a1-b2\"", "\"a1-b2\""));
  CHECK(etag_matches("W/\"a1-b2\"", "\"a1-b2\""));
  CHECK(etag_matches("\"x\", \"a1-b2\"", "\"a1-b2\""));
  CHECK(etag_matches("*", "\"a1-b2\""));
  CHECK_FALSE(etag_matches("\"a1-b3\"", "\"a1-b2\""));
  CHECK_FALSE(etag_matches("", "\"a1-b2\""));
  CHECK_FALSE(etag_matches("\"a1-b2-gzip\"", "\"a1-b2\""));
}

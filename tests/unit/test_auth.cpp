#include <doctest/doctest.h>

#include "server/auth/crypto.hpp"
#include "server/auth/users.hpp"

#include <vector>

using namespace calma;
using namespace calma::auth;

TEST_CASE("password hashes are salted - verifiable and refuse wrong passwords") {
  auto h1 = hash_password("correct horse", 1000);
  auto h2 = hash_password("correct horse", 1000);
  CHECK(h1 != h2);  // salted
  CHECK(h1.rfind("$pbkdf2-sha256$1000$", 0) == 0);
  CHECK(verify_password("correct horse", h1));
  CHECK(verify_password("correct horse", h2));
  CHECK_FALSE(verify_password("correct horse!", h1));
  CHECK_FALSE(verify_password("", h1));
  CHECK(well_formed_hash(h1));
  CHECK_FALSE(well_formed_hash("plain"));
  CHECK_FALSE(well_formed_hash("$pbkdf2-sha256$10$AAAA$BBBB"));
  CHECK_FALSE(verify_password("x", "$pbkdf2-sha256$1000$%%%%$%%%%"));
}

TEST_CASE("tokens: signed - expiring - tamper-evident") {
  token_signer s("0123456789abcdef0123456789abcdef");
  claims c;
  c.r = role::shopper;
  c.sub = "s_1";
  c.name = "Zoë";
  c.store = "demo";
  c.lang = "pl";
  c.exp = 10'000;
  auto t = s.sign(c);
  auto back = s.verify(t, 9'999);
  REQUIRE(back);
  CHECK(back->sub == "s_1");
  CHECK(back->r == role::shopper);
  CHECK(back->name == "Zoë");
  CHECK(back->lang == "pl");
  CHECK_FALSE(s.verify(t, 10'000));  // expired
  token_signer other("another-secret-of-enough-length!!");
  CHECK_FALSE(other.verify(t, 0));
  // Change the claims, keep the signature.
  claims evil = c;
  evil.r = role::supervisor;
  auto forged = token_signer("x-different-secret-xxxxxxxxxxxxxx").sign(evil);
  auto mixed = forged.substr(0, forged.find('.')) + t.substr(t.find('.'));
  CHECK_FALSE(s.verify(mixed, 0));
  CHECK_FALSE(s.verify("", 0));
  CHECK_FALSE(s.verify("abc", 0));
  CHECK_FALSE(s.verify(".", 0));
  CHECK_FALSE(s.verify(t + "x", 0));
}

TEST_CASE("base64url round trip") {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\xff\xfe\x00\x01", 4)}) {
    auto e = base64url_encode(s);
    CHECK(e.find('=') == std::string::npos);
    CHECK(base64url_decode(e) == s);
  }
  CHECK_FALSE(base64url_decode("a+b/"));
}

TEST_CASE("the demo users file loads") {
  std::vector<std::string> errors;
  auto users = load_users(std::string(CALMA_SOURCE_DIR) + "/config/users.json", errors);
  CHECK(errors.empty());
  REQUIRE(users.count("agent"));
  CHECK(users.at("agent").r == role::agent);
  CHECK(users.at("supervisor").r == role::supervisor);
  CHECK(verify_password("agent", users.at("agent").password_hash));
}

// Password hashes and signed tokens, on OpenSSL.
//
// Passwords: PBKDF2-HMAC-SHA256 with a random 16-byte salt, encoded as
//   $pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>
// Tokens: base64url(JSON claims) "." base64url(HMAC-SHA256(secret, first part)).
// Verification is constant-time and checks expiry against the `now` passed in.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/model/model.hpp"

namespace calma::auth {

constexpr int default_pbkdf2_iterations = 210'000;

std::string hash_password(std::string_view password, int iterations = default_pbkdf2_iterations);
/// False for a wrong password and for a malformed hash.
bool verify_password(std::string_view password, std::string_view encoded);
/// True if `encoded` has the shape hash_password produces.
bool well_formed_hash(std::string_view encoded);

std::string random_token(std::size_t bytes);  ///< base64url of random bytes
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

/// A token's id for revocation: base64url of its SHA-256 (never the token itself).
std::string token_id(std::string_view token);

struct claims {
  role r = role::shopper;
  std::string sub;    ///< user id
  std::string name;
  std::string store;  ///< shoppers
  std::string lang;   ///< shoppers
  timestamp_ms exp = 0;
};

class token_signer {
 public:
  explicit token_signer(std::string secret) : secret_(std::move(secret)) {}
  std::string sign(const claims& c) const;
  /// The claims if the signature is ours and `now` is before expiry.
  std::optional<claims> verify(std::string_view token, timestamp_ms now) const;

 private:
  std::string mac(std::string_view data) const;
  std::string secret_;
};

}  // namespace calma::auth

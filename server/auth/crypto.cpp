#include "server/auth/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

namespace calma::auth {

namespace {

std::string b64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unb64(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out(3 * in.size() / 4 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  std::size_t len = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts padding as zero bytes.
  if (!in.empty() && in.back() == '=') --len;
  if (in.size() > 1 && in[in.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

std::string pbkdf2(std::string_view password, std::string_view salt, int iterations) {
  std::string out(32, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        iterations, EVP_sha256(), static_cast<int>(out.size()),
                        reinterpret_cast<unsigned char*>(out.data())) != 1)
    throw std::runtime_error("PBKDF2 failed");
  return out;
}

struct parsed_hash {
  int iterations = 0;
  std::string salt, hash;
};

std::optional<parsed_hash> parse_hash(std::string_view e) {
  constexpr std::string_view prefix = "$pbkdf2-sha256$";
  if (e.substr(0, prefix.size()) != prefix) return std::nullopt;
  e.remove_prefix(prefix.size());
  auto d1 = e.find('$');
  if (d1 == std::string_view::npos) return std::nullopt;
  auto d2 = e.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  parsed_hash p;
  auto it = e.substr(0, d1);
  auto [ptr, ec] = std::from_chars(it.data(), it.data() + it.size(), p.iterations);
  if (ec != std::errc() || ptr != it.data() + it.size() || p.iterations < 1000 || p.iterations > 10'000'000)
    return std::nullopt;
  auto salt = unb64(e.substr(d1 + 1, d2 - d1 - 1));
  auto hash = unb64(e.substr(d2 + 1));
  if (!salt || !hash || salt->size() < 8 || hash->size() != 32) return std::nullopt;
  p.salt = std::move(*salt);
  p.hash = std::move(*hash);
  return p;
}

}  // namespace

std::string random_token(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return base64url_encode(raw);
}

std::string base64url_encode(std::string_view bytes) {
  std::string s = b64(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return s;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (c == '+' || c == '/' || c == '=') return std::nullopt;
  }
  while (s.size() % 4) s.push_back('=');
  return unb64(s);
}

std::string token_id(std::string_view token) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(token.data(), token.size(), md, &n, EVP_sha256(), nullptr);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(md), n));
}

std::string hash_password(std::string_view password, int iterations) {
  std::string salt(16, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), 16) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return "$pbkdf2-sha256$" + std::to_string(iterations) + "$" + b64(salt) + "$" +
         b64(pbkdf2(password, salt, iterations));
}

bool well_formed_hash(std::string_view encoded) { return parse_hash(encoded).has_value(); }

bool verify_password(std::string_view password, std::string_view encoded) {
  auto p = parse_hash(encoded);
  if (!p) return false;
  std::string got = pbkdf2(password, p->salt, p->iterations);
  return CRYPTO_memcmp(got.data(), p->hash.data(), got.size()) == 0;
}

std::string token_signer::mac(std::string_view data) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string token_signer::sign(const claims& c) const {
  nlohmann::json j{{"r", to_string(c.r)}, {"sub", c.sub}, {"exp", c.exp}};
  if (!c.name.empty()) j["name"] = c.name;
  if (!c.store.empty()) j["store"] = c.store;
  if (!c.lang.empty()) j["lang"] = c.lang;
  std::string body = base64url_encode(j.dump());
  return body + "." + base64url_encode(mac(body));
}

std::optional<claims> token_signer::verify(std::string_view token, timestamp_ms now) const {
  auto dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  auto body = token.substr(0, dot);
  auto sig = base64url_decode(token.substr(dot + 1));
  if (!sig) return std::nullopt;
  std::string want = mac(body);
  if (sig->size() != want.size() || CRYPTO_memcmp(sig->data(), want.data(), want.size()) != 0)
    return std::nullopt;
  auto raw = base64url_decode(body);
  if (!raw) return std::nullopt;
  auto j = nlohmann::json::parse(*raw, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  claims c;
  try {
    auto r = role_from_string(j.at("r").get<std::string>());
    if (!r) return std::nullopt;
    c.r = *r;
    c.sub = j.at("sub").get<std::string>();
    c.exp = j.at("exp").get<timestamp_ms>();
    c.name = j.value("name", "");
    c.store = j.value("store", "");
    c.lang = j.value("lang", "");
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  if (now >= c.exp || c.sub.empty()) return std::nullopt;
  return c;
}

}  // namespace calma::auth

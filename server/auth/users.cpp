#include "server/auth/users.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/protocol/messages.hpp"
#include "server/auth/crypto.hpp"

namespace calma::auth {

user_table load_users(const std::string& path, std::vector<std::string>& errors) {
  user_table out;
  std::ifstream in(path);
  if (!in) {
    errors.push_back("users file " + path + ": cannot be read");
    return out;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    errors.push_back("users file " + path + ": must be a JSON array of users");
    return out;
  }
  int i = 0;
  for (const auto& e : j) {
    std::string where = "users file " + path + ": entry " + std::to_string(i++);
    if (!e.is_object()) {
      errors.push_back(where + ": must be an object");
      continue;
    }
    auto s = [&](const char* k) -> std::string {
      auto it = e.find(k);
      if (it == e.end() || !it->is_string()) {
        errors.push_back(where + ": missing string '" + k + "'");
        return {};
      }
      return it->get<std::string>();
    };
    user u;
    u.username = s("username");
    u.name = s("name");
    std::string r = s("role");
    u.password_hash = s("password_hash");
    if (u.username.empty()) continue;
    if (!protocol::valid_id(u.username, 64)) {
      errors.push_back(where + ": username must be 1-64 characters of [A-Za-z0-9._:-]");
      continue;
    }
    if (r != "agent" && r != "supervisor") {
      errors.push_back(where + ": role must be agent or supervisor");
      continue;
    }
    u.r = *role_from_string(r);
    if (!well_formed_hash(u.password_hash)) {
      errors.push_back(where + ": password_hash is not a hash from 'calma-server hash-password'");
      continue;
    }
    if (u.name.empty()) u.name = u.username;
    if (out.count(u.username)) {
      errors.push_back(where + ": duplicate username '" + u.username + "'");
      continue;
    }
    out.emplace(u.username, std::move(u));
  }
  return out;
}

}  // namespace calma::auth

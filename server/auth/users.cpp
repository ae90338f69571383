#include "server/auth/users.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/protocol/messages.hpp"
#include "server/auth/crypto.hpp"

namespace calma::auth {

bool user::serves(std::string_view store) const {
  if (stores.empty()) return true;
  for (const auto& s : stores)
    if (s == store) return true;
  return false;
}

user_table load_users(const std::string& path, std::vector<std::string>& errors) {
  std::ifstream in(path);
  if (!in) {
    errors.push_back("users file " + path + ": cannot be read");
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_users(ss.str(), path, errors);
}

user_table parse_users(const std::string& text, const std::string& path, std::vector<std::string>& errors) {
  user_table out;
  auto j = nlohmann::json::parse(text, nullptr, false);
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
    if (auto it = e.find("stores"); it != e.end()) {
      bool ok = it->is_array();
      if (ok)
        for (const auto& st : *it) {
          if (!st.is_string() || !protocol::valid_id(st.get<std::string>(), 64)) {
            ok = false;
            break;
          }
          u.stores.push_back(st.get<std::string>());
        }
      if (!ok) {
        errors.push_back(where + ": stores must be an array of store ids");
        continue;
      }
    }
    auto flag = [&](const char* k, bool& out_flag) {
      auto it = e.find(k);
      if (it == e.end()) return true;
      if (!it->is_boolean()) {
        errors.push_back(where + ": " + k + " must be true or false");
        return false;
      }
      out_flag = it->get<bool>();
      return true;
    };
    if (!flag("senior", u.senior) || !flag("disabled", u.disabled)) continue;
    if (u.name.empty()) u.name = u.username;
    if (out.count(u.username)) {
      errors.push_back(where + ": duplicate username '" + u.username + "'");
      continue;
    }
    out.emplace(u.username, std::move(u));
  }
  return out;
}

std::string users_json(const user_table& t) {
  std::string out = "[\n";
  bool first = true;
  for (const auto& [id, u] : t) {
    nlohmann::json j{{"username", u.username}, {"name", u.name}, {"role", to_string(u.r)},
                     {"password_hash", u.password_hash}};
    if (!u.stores.empty()) j["stores"] = u.stores;
    if (u.senior) j["senior"] = true;
    if (u.disabled) j["disabled"] = true;
    out += (first ? "  " : ",\n  ") + j.dump();
    first = false;
  }
  out += "\n]\n";
  return out;
}

}  // namespace calma::auth

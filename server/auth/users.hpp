// The staff users file: a JSON array of {"username","name","role","password_hash"}.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/model/model.hpp"

namespace calma::auth {

struct user {
  std::string username;  ///< also the user id
  std::string name;
  role r = role::agent;
  std::string password_hash;
};

using user_table = std::map<std::string, user>;

/// Reads and checks the file; every problem is appended to `errors`.
user_table load_users(const std::string& path, std::vector<std::string>& errors);

}  // namespace calma::auth

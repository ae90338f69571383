// `calma-server users add|passwd|disable|enable|list --users FILE`: staff
// accounts without hand-editing the users file.
//
// Every change rewrites the whole file (users_json) safely: to a temporary
// file in the same directory, fsync'd, read back and parsed, then renamed over
// the original (whose mode and owner it keeps; a new file is 0600). Edits of
// the same directory's files are serialised with flock on the directory. A
// refused command leaves the file byte-identical. The running server picks the
// change up on its own (users_watch.hpp).
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "server/auth/crypto.hpp"
#include "server/auth/users.hpp"

namespace CLI {
class App;
}

namespace calma::auth {

// ---- the pure parts --------------------------------------------------------

struct add_request {
  std::string username;
  std::string name;
  std::string role;                 ///< "agent" or "supervisor"
  std::vector<std::string> stores;  ///< empty: every store
  bool senior = false;
};

/// Empty when `r` may be added to `t`, else the one-line reason.
std::string check_add(const add_request& r, const user_table& t);
/// Empty when `password` is acceptable, else the reason.
std::string check_password(std::string_view password);
/// The user `r` describes (check_add first), with `password_hash`.
user make_user(const add_request& r, std::string password_hash);
/// `list`'s output: a header and one line per user, in aligned columns.
std::string format_users(const user_table& t);

// ---- the file ----------------------------------------------------------------

/// Writes `t` to `path` as described above. Empty on success, else the reason
/// (the original file is then untouched).
std::string write_users_file(const std::string& path, const user_table& t);

// ---- the command line ----------------------------------------------------------

struct users_command_line {
  CLI::App* cmd = nullptr;  ///< the `users` subcommand
  CLI::App *add = nullptr, *passwd = nullptr, *disable = nullptr, *enable = nullptr, *list = nullptr;
  std::string users_file;
  add_request req;  ///< add's arguments; passwd/disable/enable use req.username
  int iterations = default_pbkdf2_iterations;
};

/// Adds the `users` subcommand and its subcommands to `app`, filling `cl`.
void add_users_subcommands(CLI::App& app, users_command_line& cl);
/// Runs the parsed command: passwords from `in` (one line), results on `out`,
/// a one-line error on `err`. Returns the exit code (0 on success).
int run_users_command(const users_command_line& cl, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace calma::auth

#include "server/auth/users_cli.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "common/protocol/messages.hpp"

namespace calma::auth {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_name_bytes = 128;

/// Well-formed UTF-8 without control characters (the name is shown in the console).
bool printable_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) n = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 3, cp = c & 0x07;
    else return false;
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff) ||
        (cp >= 0x80 && cp < 0xa0))  // overlong, out of range, surrogates, C1 controls
      return false;
    i += n + 1;
  }
  return true;
}

/// Characters on screen, near enough for aligning columns (code points).
std::size_t width(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

/// An open file descriptor, closed on scope exit.
struct fd_guard {
  int fd = -1;
  explicit fd_guard(int f) : fd(f) {}
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
};

std::string dir_of(const std::string& path) {
  auto d = fs::path(path).parent_path();
  return d.empty() ? std::string(".") : d.string();
}

/// The file a path names: a symlink is followed, so the rename replaces its target, not the link.
std::string resolve(const std::string& path) {
  std::error_code ec;
  if (fs::is_symlink(path, ec)) {
    auto target = fs::canonical(path, ec);
    if (!ec) return target.string();
  }
  return path;
}

struct loaded {
  bool exists = false;
  user_table table;
  std::string error;  ///< non-empty: refuse the command
};

loaded read_users(const std::string& path, bool create_if_missing) {
  loaded l;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT && create_if_missing) return l;
    l.error = errno == ENOENT ? "users file " + path + " does not exist" : sys_error("cannot read", path);
    return l;
  }
  std::ifstream in(path, std::ios::binary);
  if (!S_ISREG(st.st_mode) || !in) {
    l.error = "cannot read users file " + path;
    return l;
  }
  l.exists = true;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  // A new, empty file (touch users.json) is a file with no users yet, for add.
  if (create_if_missing && text.find_first_not_of(" \t\r\n") == std::string::npos) return l;
  std::vector<std::string> errors;
  l.table = parse_users(text, path, errors);
  if (!errors.empty())
    l.error = errors.front() +
              (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more problems)" : "") +
              "; fix the file by hand first (it is left as it is)";
  return l;
}

/// One line from `in`; on a terminal, prompted on `err` without echo.
std::string read_password(std::istream& in, std::ostream& err, const std::string& username) {
  const bool tty = &in == &std::cin && ::isatty(STDIN_FILENO);
  termios old{};
  if (tty) {
    err << "password for " << username << ": " << std::flush;
    if (::tcgetattr(STDIN_FILENO, &old) == 0) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
  }
  std::string pw;
  std::getline(in, pw);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    err << std::endl;
  }
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  return pw;
}

bool write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

// ---- pure parts

std::string check_add(const add_request& r, const user_table& t) {
  if (!protocol::valid_id(r.username, 64))
    return "bad username '" + r.username + "': 1-64 characters of [A-Za-z0-9._:-]";
  if (t.count(r.username)) return "user '" + r.username + "' already exists";
  if (r.role != "agent" && r.role != "supervisor") return "bad role '" + r.role + "': agent or supervisor";
  if (r.name.find_first_not_of(' ') == std::string::npos) return "the name (--name) is empty";
  if (r.name.size() > max_name_bytes || !printable_utf8(r.name))
    return "bad name: up to " + std::to_string(max_name_bytes) + " bytes of UTF-8 text, no control characters";
  for (std::size_t i = 0; i < r.stores.size(); ++i) {
    if (!protocol::valid_id(r.stores[i], 64))
      return "bad store '" + r.stores[i] + "': 1-64 characters of [A-Za-z0-9._:-]";
    for (std::size_t k = 0; k < i; ++k)
      if (r.stores[k] == r.stores[i]) return "store '" + r.stores[i] + "' given twice";
  }
  return {};
}

std::string check_password(std::string_view password) {
  if (password.empty()) return "read an empty password from stdin";
  return {};
}

user make_user(const add_request& r, std::string password_hash) {
  user u;
  u.username = r.username;
  u.name = r.name;
  u.r = *role_from_string(r.role);
  u.password_hash = std::move(password_hash);
  u.stores = r.stores;
  u.senior = r.senior;
  return u;
}

std::string format_users(const user_table& t) {
  if (t.empty()) return "no users\n";
  std::vector<std::vector<std::string>> rows{{"USERNAME", "ROLE", "NAME", "STORES", "SENIOR", "DISABLED"}};
  for (const auto& [id, u] : t) {
    std::string stores;
    for (const auto& s : u.stores) stores += (stores.empty() ? "" : ",") + s;
    rows.push_back({u.username, std::string(to_string(u.r)), u.name, stores.empty() ? "all stores" : stores,
                    u.senior ? "yes" : "no", u.disabled ? "yes" : "no"});
  }
  std::vector<std::size_t> w(rows.front().size(), 0);
  for (const auto& r : rows)
    for (std::size_t c = 0; c < r.size(); ++c) w[c] = std::max(w[c], width(r[c]));
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line += std::string(w[c] - width(r[c]) + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

// ---- the file

std::string write_users_file(const std::string& path, const user_table& t) {
  const std::string text = users_json(t);
  const std::string dir = dir_of(path);
  struct stat orig {};
  const bool exists = ::stat(path.c_str(), &orig) == 0;
  if (!exists && errno != ENOENT) return sys_error("cannot stat", path);
  if (exists && !S_ISREG(orig.st_mode)) return path + " is not a regular file";

  std::string tmp = (fs::path(dir) / ("." + fs::path(path).filename().string() + ".tmp-XXXXXX")).string();
  int raw = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (raw < 0) return sys_error("cannot create a temporary file in", dir);
  bool keep_tmp = false;
  struct unlink_guard {
    const std::string& p;
    bool& keep;
    ~unlink_guard() {
      if (!keep) ::unlink(p.c_str());
    }
  } cleanup{tmp, keep_tmp};
  {
    fd_guard fd(raw);
    // The original's mode and owner (the server may run as another user); a new file is 0600.
    if (::fchmod(fd.fd, exists ? (orig.st_mode & 07777) : 0600) != 0) return sys_error("cannot chmod", tmp);
    if (exists) {
      struct stat mine {};
      if (::fstat(fd.fd, &mine) != 0) return sys_error("cannot stat", tmp);
      if ((mine.st_uid != orig.st_uid || mine.st_gid != orig.st_gid) && ::fchown(fd.fd, orig.st_uid, orig.st_gid) != 0)
        return sys_error("cannot give the new file the owner of", path) + " (run as that user or as root)";
    }
    if (!write_all(fd.fd, text)) return sys_error("cannot write", tmp);
    if (::fsync(fd.fd) != 0) return sys_error("cannot fsync", tmp);
    int c = fd.fd;
    fd.fd = -1;
    if (::close(c) != 0) return sys_error("cannot close", tmp);
  }
  // What the server will read: the bytes on disk, parsed the way it parses them.
  std::vector<std::string> errors;
  auto back = load_users(tmp, errors);
  if (!errors.empty()) return "refusing to write " + path + ", it would not load: " + errors.front();
  if (users_json(back) != text) return "refusing to write " + path + ": it would not read back the same";
  if (::rename(tmp.c_str(), path.c_str()) != 0) return sys_error("cannot rename the new file over", path);
  keep_tmp = true;  // it is the file now
  // The rename itself survives a crash once the directory is synced.
  fd_guard d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd >= 0) ::fsync(d.fd);
  return {};
}

// ---- the command line

void add_users_subcommands(CLI::App& app, users_command_line& cl) {
  cl.cmd = app.add_subcommand("users", "manage the staff users file (add, passwd, disable, enable, list)");
  cl.cmd->require_subcommand(1);
  auto common = [&](CLI::App* s, bool with_user) {
    if (with_user) s->add_option("username", cl.req.username, "the user's login name (also their id)")->required();
    s->add_option("--users", cl.users_file, "the staff users file (JSON array)");
  };
  cl.add = cl.cmd->add_subcommand("add", "add a user; the password is read from stdin (one line)");
  common(cl.add, true);
  cl.add->add_option("--name", cl.req.name, "the name colleagues and customers see")->required();
  cl.add->add_option("--role", cl.req.role, "agent or supervisor")->required();
  cl.add->add_option("--store", cl.req.stores, "a store the user works for (repeat it; default: every store)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cl.add->add_flag("--senior", cl.req.senior, "routed angry and VIP conversations first");
  cl.add->add_option("--iterations", cl.iterations, "PBKDF2 iterations")->check(CLI::Range(1000, 10'000'000));
  cl.passwd = cl.cmd->add_subcommand("passwd", "set a user's password, read from stdin (one line)");
  common(cl.passwd, true);
  cl.passwd->add_option("--iterations", cl.iterations, "PBKDF2 iterations")->check(CLI::Range(1000, 10'000'000));
  cl.disable = cl.cmd->add_subcommand("disable", "refuse a user's logins (the server closes their sessions)");
  common(cl.disable, true);
  cl.enable = cl.cmd->add_subcommand("enable", "let a disabled user log in again");
  common(cl.enable, true);
  cl.list = cl.cmd->add_subcommand("list", "print the users, one a line");
  common(cl.list, false);
}

int run_users_command(const users_command_line& cl, std::istream& in, std::ostream& out, std::ostream& err) {
  const char* verb = *cl.add ? "add" : *cl.passwd ? "passwd" : *cl.disable ? "disable" : *cl.enable ? "enable" : "list";
  auto fail = [&](const std::string& msg, int code = 1) {
    err << "calma-server users " << verb << ": " << msg << std::endl;
    return code;
  };
  if (cl.users_file.empty()) return fail("--users FILE is required", 2);
  const std::string path = resolve(cl.users_file);
  const std::string dir = dir_of(path);

  // One editor at a time per directory (covers a file that does not exist yet);
  // the server only reads, and always sees a whole file.
  fd_guard lock(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (lock.fd < 0) return fail(sys_error("cannot open the directory", dir));
  if (::flock(lock.fd, LOCK_EX) != 0) return fail(sys_error("cannot lock", dir));

  auto state = read_users(path, static_cast<bool>(*cl.add));
  if (!state.error.empty()) return fail(state.error);
  auto& t = state.table;
  const std::string& name = cl.req.username;

  if (*cl.list) {
    out << format_users(t);
    return 0;
  }
  if (*cl.add) {
    if (auto e = check_add(cl.req, t); !e.empty()) return fail(e, 2);
    auto pw = read_password(in, err, name);
    if (auto e = check_password(pw); !e.empty()) return fail(e, 2);
    t.emplace(name, make_user(cl.req, hash_password(pw, cl.iterations)));
    if (auto e = write_users_file(path, t); !e.empty()) return fail(e);
    out << "added " << cl.req.role << " '" << name << "' (" << cl.req.name << ") to " << path << std::endl;
    return 0;
  }
  auto u = t.find(name);
  if (u == t.end()) return fail("no user '" + name + "' in " + path);
  if (*cl.passwd) {
    auto pw = read_password(in, err, name);
    if (auto e = check_password(pw); !e.empty()) return fail(e, 2);
    u->second.password_hash = hash_password(pw, cl.iterations);
    if (auto e = write_users_file(path, t); !e.empty()) return fail(e);
    out << "changed the password of '" << name << "' in " << path << std::endl;
    return 0;
  }
  const bool disable = static_cast<bool>(*cl.disable);
  if (u->second.disabled == disable) {
    out << "'" << name << "' is already " << (disable ? "disabled" : "enabled") << std::endl;
    return 0;
  }
  u->second.disabled = disable;
  if (auto e = write_users_file(path, t); !e.empty()) return fail(e);
  out << (disable ? "disabled '" : "enabled '") << name << "' in " << path << std::endl;
  return 0;
}

}  // namespace calma::auth

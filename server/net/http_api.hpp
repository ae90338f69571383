// The HTTP side of Calma, free of Beast: a request in, a response out (later,
// through a callback, since login hashing and the store are asynchronous).
// /healthz, /metrics, /api/v1/login, /api/v1/conversations/{id}, static files.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "common/config/config.hpp"
#include "server/auth/crypto.hpp"
#include "common/canned/canned.hpp"
#include "server/auth/revocations.hpp"
#include "server/auth/users.hpp"
#include "server/hub/shard_set.hpp"
#include "server/metrics.hpp"
#include "server/net/doors.hpp"
#include "server/report_runner.hpp"
#include "server/store/store.hpp"

namespace calma {

struct http_request {
  std::string method;
  std::string target;
  std::string authorization;
  std::string origin;  ///< the Origin header ("" when none)
  std::string host;
  std::string content_type;
  std::string accept_encoding;
  std::string if_none_match;
  std::string client;  ///< the client's address (behind a trusted proxy: the one it forwards for)
  std::string body;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// The value of `name` in the target's query string, percent-decoded ("" when absent).
std::string query_param(std::string_view target, std::string_view name);

/// The precompressed variant to send for this Accept-Encoding: "br", "gzip"
/// or "" (the file as it is), among those that exist; q=0 refuses one.
std::string pick_encoding(std::string_view accept_encoding, bool have_br, bool have_gzip);
/// Does If-None-Match name this ETag (or "*")? Weak tags compare as strong ones.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

/// MIME type by file extension (".js" -> "text/javascript; charset=utf-8").
std::string mime_type(std::string_view path);

/// Maps a URL path to a file under `root`, refusing anything that would
/// leave it ("..", encoded or not, absolute paths, NUL). Empty: refused.
std::string resolve_static(const std::string& root, std::string_view url_path);

class http_api {
 public:
  http_api(const config& cfg, std::shared_ptr<shard_set> h, store& st, metrics& m,
           const auth::token_signer& signer, const auth::user_directory& users, clock_fn clock,
           std::string static_root, canned::library canned = {}, auth::revocations* revoked = nullptr);
  /// Told of every sign-out (token id, its expiry), to close the sessions holding it.
  void on_signed_out(std::function<void(std::string, timestamp_ms)> f) { on_signed_out_ = std::move(f); }
  ~http_api();

  /// `done` may run on any thread.
  void handle(http_request req, std::function<void(http_response)> done);
  /// The doors' limits for logins and /metrics (nullptr: none, as in unit tests); set before serving.
  void set_doors(doors* d) { doors_ = d; }
  /// Extra state for /healthz (the cluster's: member, leader); set before serving.
  void set_health_extra(std::function<nlohmann::json()> f) { health_extra_ = std::move(f); }

 private:
  void login(const http_request& req, std::function<void(http_response)> done);
  void serve_static(const std::string& path, const http_request& req, std::function<void(http_response)> done);
  /// The staff member behind `Authorization: Bearer`, or the 401 to answer.
  std::optional<auth::user> staff_of(const http_request& req, http_response& refusal) const;
  /// The stores a request names with ?store= (checked against what the user
  /// serves) or, without one, every store the user serves; or the error to answer.
  std::optional<std::vector<std::string>> stores_for(const auth::user& u, const std::string& target,
                                                     http_response& refusal) const;

  const config& cfg_;
  std::shared_ptr<shard_set> hub_;
  std::function<nlohmann::json()> health_extra_;
  store& store_;
  metrics& metrics_;
  const auth::token_signer& signer_;
  const auth::user_directory& users_;
  canned::library canned_;
  auth::revocations* revoked_;
  std::function<void(std::string, timestamp_ms)> on_signed_out_;
  clock_fn clock_;
  std::string static_root_;
  void report(const http_request& req, const std::string& path, std::function<void(http_response)> done);
  report_runner reports_{store_};
  /// Queues a password check behind the others of its client address (fair_queue).
  void check_in_turn(const std::string& client, std::function<void()> job);
  std::mutex checks_mu_;
  limits::fair_queue<std::function<void()>> checks_;
  boost::asio::thread_pool hash_pool_{1};  // slow password checks never block I/O threads
  doors* doors_ = nullptr;
};

}  // namespace calma

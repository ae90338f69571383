// A message's words read before its turn on the hub's strand, on the thread
// that parsed it (a connection's, or the cluster relay's): the anger scorer's
// half that needs the text alone (anger::scorer::prepare) and the complaint
// causes. One strand decides for every conversation; what does not need it
// runs beside it, on as many threads as there are. The strand then adds only
// what the conversation knows (repetition, bursts, the curve, the rules), or
// reads the words itself when the guess made here does not fit.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/anger/scorer.hpp"
#include "common/causes/causes.hpp"

namespace calma {

struct anger_engine;

struct preread {
  anger::prepared_text anger;
  std::optional<causes::result> causes;  // a shopper's words
  std::string text;       // the text read
  std::string text_json;  // and as a JSON string (protocol::append_json_string); "" if not UTF-8
  /// text_json when `t` is the text read, else "".
  std::string_view json_of(std::string_view t) const { return t == text ? std::string_view(text_json) : std::string_view(); }
};

class prereader {
 public:
  explicit prereader(std::shared_ptr<const anger_engine> engine) : engine_(std::move(engine)) {}

  /// On the strand, as a session starts and ends: the side it writes from and,
  /// for a shopper, its language (its conversation's, as the hub's monitor reads it).
  void know(std::uint64_t conn_id, bool shopper, const std::string& language);
  void forget(std::uint64_t conn_id);

  /// Any thread: `text`, sent on `conn_id`, read; null when the connection is
  /// not known yet (the strand then reads it).
  std::shared_ptr<preread> read(std::uint64_t conn_id, std::string_view text) const;

 private:
  struct side {
    bool shopper = false;
    anger::lang_id lang = anger::no_lang;
  };
  std::shared_ptr<const anger_engine> engine_;
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, side> conns_;
};

}  // namespace calma

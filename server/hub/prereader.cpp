#include "server/hub/prereader.hpp"

#include "common/protocol/messages.hpp"
#include "server/hub/anger_engine.hpp"

namespace calma {

void prereader::know(std::uint64_t conn_id, bool shopper, const std::string& language) {
  side s{shopper, anger::no_lang};
  // As hub::start_monitor reads it: a shopper's messages in its language; staff's detected.
  if (shopper && !language.empty()) s.lang = engine_->lexicons->find(language);
  std::lock_guard lock(mu_);
  conns_[conn_id] = s;
}

void prereader::forget(std::uint64_t conn_id) {
  std::lock_guard lock(mu_);
  conns_.erase(conn_id);
}

std::shared_ptr<preread> prereader::read(std::uint64_t conn_id, std::string_view text) const {
  side s;
  {
    std::lock_guard lock(mu_);
    auto it = conns_.find(conn_id);
    if (it == conns_.end()) return nullptr;
    s = it->second;
  }
  auto p = std::make_shared<preread>();
  const auto& sc = *engine_->scorer;
  // The fallback of a conversation that has detected nothing yet; a
  // conversation that remembers another language reads it again (scorer::fits).
  sc.prepare(text, s.lang, sc.default_language(), s.shopper, p->anger);
  if (s.shopper && engine_->causes) p->causes = engine_->causes->classify(text, "");
  // The chat.message frame's costliest field, escaped here rather than on the strand.
  if (protocol::valid_utf8(text)) {
    p->text.assign(text);
    p->text_json.reserve(text.size() + 2);
    protocol::append_json_string(p->text_json, text);
  }
  return p;
}

}  // namespace calma

#include "server/store/memory_store.hpp"

#include <algorithm>

namespace calma {

void memory_store::create_conversation(const conversation_record& c, callback<none> cb) {
  {
    std::lock_guard lk(mu_);
    if (convs_.count(c.id)) {
      cb({{}, "conversation " + c.id + " exists"});
      return;
    }
    convs_[c.id].rec = c;
  }
  cb({});
}

void memory_store::update_conversation(const conversation_record& c, callback<none> cb) {
  {
    std::lock_guard lk(mu_);
    auto it = convs_.find(c.id);
    if (it == convs_.end()) {
      cb({{}, "no conversation " + c.id});
      return;
    }
    auto last = it->second.rec.last_seq;
    it->second.rec = c;
    it->second.rec.last_seq = last;
  }
  cb({});
}

void memory_store::get_conversation(const std::string& id,
                                    callback<std::optional<conversation_record>> cb) {
  std::optional<conversation_record> out;
  {
    std::lock_guard lk(mu_);
    if (auto it = convs_.find(id); it != convs_.end()) out = it->second.rec;
  }
  cb({std::move(out), {}});
}

void memory_store::list_conversations(const conversation_filter& f,
                                      callback<std::vector<conversation_record>> cb) {
  std::vector<conversation_record> out;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, c] : convs_) {
      const auto& r = c.rec;
      if (f.open_only && r.state == conversation_state::closed) continue;
      if (f.shopper_id && r.shopper.id != *f.shopper_id) continue;
      if (f.agent_id && r.agent_id != f.agent_id) continue;
      if (f.follow_up_only && !needs_follow_up(r)) continue;
      if (!f.stores.empty() && std::find(f.stores.begin(), f.stores.end(), r.shopper.store) == f.stores.end()) continue;
      out.push_back(r);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.created_ts > b.created_ts; });
  if (out.size() > f.limit) out.resize(f.limit);
  cb({std::move(out), {}});
}

void memory_store::append_message(const append_request& r, callback<append_result> cb) {
  append_result res;
  bool found = false;  // answered below, out of the lock (the callback may call the store)
  {
    std::lock_guard lk(mu_);
    auto it = convs_.find(r.message.conversation_id);
    if (it != convs_.end()) {
      found = true;
      conv& c = it->second;
      std::string key = r.message.from.id + '\x1f' + r.message.client_msg_id;
      if (auto d = c.by_client_id.find(key); d != c.by_client_id.end()) {
        res.message = c.messages[static_cast<std::size_t>(d->second - 1)];
        res.duplicate = true;
      } else if (!r.allow_new) {
        res.message = r.message;
        res.message.seq = 0;
      } else {
        c.messages.push_back(r.message);
        c.messages.back().seq = ++c.rec.last_seq;
        res.message = c.messages.back();
        c.by_client_id.emplace(std::move(key), res.message.seq);
        c.rec.updated_ts = r.message.ts;
      }
    }
  }
  if (!found) return cb({{}, "no conversation " + r.message.conversation_id});
  cb({std::move(res), {}});
}

void memory_store::read_messages(const std::string& conversation_id, std::int64_t after_seq,
                                 std::size_t limit, callback<std::vector<chat_message>> cb) {
  std::vector<chat_message> out;
  {
    std::lock_guard lk(mu_);
    auto it = convs_.find(conversation_id);
    if (it != convs_.end()) {
      const auto& m = it->second.messages;
      std::size_t from = static_cast<std::size_t>(std::max<std::int64_t>(after_seq, 0));
      for (std::size_t i = from; i < m.size() && out.size() < limit; ++i) out.push_back(m[i]);
    }
  }
  cb({std::move(out), {}});
}

void memory_store::ping(callback<none> cb) { cb({}); }

void memory_store::list_window(const window_query& q, callback<window_page> cb) {
  window_page page;
  {
    std::lock_guard lk(mu_);
    // The window's conversations in created order, as the Redis index has them.
    std::vector<const conversation_record*> in;
    for (const auto& [id, c] : convs_)
      if (c.rec.created_ts >= q.from && c.rec.created_ts < q.to) in.push_back(&c.rec);
    std::sort(in.begin(), in.end(), [](const auto* a, const auto* b) {
      return a->created_ts != b->created_ts ? a->created_ts < b->created_ts : a->id < b->id;
    });
    const auto end = std::min<std::size_t>(in.size(), q.cursor + q.limit);
    for (std::size_t i = q.cursor; i < end; ++i)
      if (q.stores.empty() || std::find(q.stores.begin(), q.stores.end(), in[i]->shopper.store) != q.stores.end())
        page.records.push_back(*in[i]);
    if (end < in.size()) page.next = end;
  }
  cb({std::move(page), {}});
}

void memory_store::append_audit(const std::string& conversation_id, audit_entry e, callback<none> cb) {
  {
    std::lock_guard lk(mu_);
    auto it = convs_.find(conversation_id);
    if (it == convs_.end()) {
      cb({{}, "no conversation for this audit entry"});
      return;
    }
    auto& a = it->second.audit;
    a.push_back(std::move(e));
    while (a.size() > max_audit_entries) a.pop_front();
  }
  cb({});
}

void memory_store::read_audit(const std::string& conversation_id, callback<std::vector<audit_entry>> cb) {
  std::vector<audit_entry> out;
  {
    std::lock_guard lk(mu_);
    if (auto it = convs_.find(conversation_id); it != convs_.end()) out.assign(it->second.audit.begin(), it->second.audit.end());
  }
  cb({std::move(out), {}});
}

void memory_store::put_online_agents(const std::string& store_id, int count, std::int64_t ttl_s, callback<none> cb) {
  {
    std::lock_guard lk(mu_);
    online_[store_id] = {count, std::chrono::steady_clock::now() + std::chrono::seconds(ttl_s)};
  }
  cb({});
}

void memory_store::get_online_agents(const std::string& store_id, callback<int> cb) {
  int n = 0;
  {
    std::lock_guard lk(mu_);
    if (auto it = online_.find(store_id); it != online_.end() && it->second.second > std::chrono::steady_clock::now())
      n = it->second.first;
  }
  cb({n, {}});
}

void memory_store::put_presence(const presence_record& p, std::int64_t ttl_s, callback<none> cb) {
  {
    std::lock_guard lk(mu_);
    presence_[p.agent_id] = {p, std::chrono::steady_clock::now() + std::chrono::seconds(ttl_s)};
  }
  cb({});
}

void memory_store::list_presence(callback<std::vector<presence_record>> cb) {
  std::vector<presence_record> out;
  {
    std::lock_guard lk(mu_);
    const auto now = std::chrono::steady_clock::now();
    for (auto it = presence_.begin(); it != presence_.end();) {
      if (it->second.expires <= now) {
        it = presence_.erase(it);
        continue;
      }
      out.push_back(it->second.p);
      ++it;
    }
  }
  cb({std::move(out), {}});
}

}  // namespace calma

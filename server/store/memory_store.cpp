#include "server/store/memory_store.hpp"

#include <algorithm>
#include <functional>

#include "server/store/packed.hpp"

namespace calma {

namespace {
std::uint64_t hash_of(std::string_view s) { return std::hash<std::string_view>{}(s); }
std::uint64_t client_id_hash(std::string_view sender, std::string_view client_msg_id) {
  return hash_of(sender) * 0x9e3779b97f4a7c15ull ^ hash_of(client_msg_id);
}
}  // namespace

void memory_store::conv::set(const conversation_record& r) {
  rec = packed::pack(r);
  rec.shrink_to_fit();
  created_ts = r.created_ts;
  updated_ts = r.updated_ts;
  shopper_h = hash_of(r.shopper.id);
  has_agent = r.agent_id.has_value();
  agent_h = has_agent ? hash_of(*r.agent_id) : 0;
  store_h = hash_of(r.shopper.store);
  state = r.state;
  follow_up = needs_follow_up(r);
}

conversation_record memory_store::conv::record() const {
  auto r = packed::unpack_record(rec);
  r.updated_ts = updated_ts;
  r.last_seq = last_seq;
  return r;
}

void memory_store::create_conversation(const conversation_record& c, callback<none> cb) {
  {
    std::lock_guard lk(mu_);
    auto [it, fresh] = convs_.try_emplace(c.id);
    if (!fresh) {
      cb({{}, "conversation " + c.id + " exists"});
      return;
    }
    it->second.set(c);
    it->second.last_seq = c.last_seq;
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
    it->second.set(c);  // keeps last_seq
  }
  cb({});
}

void memory_store::get_conversation(const std::string& id,
                                    callback<std::optional<conversation_record>> cb) {
  std::optional<conversation_record> out;
  {
    std::lock_guard lk(mu_);
    if (auto it = convs_.find(id); it != convs_.end()) out = it->second.record();
  }
  cb({std::move(out), {}});
}

void memory_store::list_conversations(const conversation_filter& f,
                                      callback<std::vector<conversation_record>> cb) {
  std::vector<conversation_record> out;
  {
    std::lock_guard lk(mu_);
    const auto shopper_h = f.shopper_id ? hash_of(*f.shopper_id) : 0;
    const auto agent_h = f.agent_id ? hash_of(*f.agent_id) : 0;
    for (const auto& [id, c] : convs_) {
      // What the packed record's neighbours rule out, then the filter itself on the record.
      if (f.open_only && c.state == conversation_state::closed) continue;
      if (f.shopper_id && c.shopper_h != shopper_h) continue;
      if (f.agent_id && (!c.has_agent || c.agent_h != agent_h)) continue;
      if (f.follow_up_only && !c.follow_up) continue;
      auto r = c.record();
      if (f.shopper_id && r.shopper.id != *f.shopper_id) continue;
      if (f.agent_id && r.agent_id != f.agent_id) continue;
      if (!f.stores.empty() && std::find(f.stores.begin(), f.stores.end(), r.shopper.store) == f.stores.end()) continue;
      out.push_back(std::move(r));
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
      const auto& m = r.message;
      const auto h = client_id_hash(m.from.id, m.client_msg_id);
      auto at = std::lower_bound(c.by_client_id.begin(), c.by_client_id.end(), std::pair{h, std::int64_t{0}});
      std::int64_t earlier = 0;
      for (auto d = at; d != c.by_client_id.end() && d->first == h && !earlier; ++d) {
        const auto k = packed::key_of(c.messages[static_cast<std::size_t>(d->second - 1)]);
        if (k.from_id == m.from.id && k.client_msg_id == m.client_msg_id) earlier = d->second;
      }
      if (earlier) {
        res.message = packed::unpack_message(c.messages[static_cast<std::size_t>(earlier - 1)], it->first, earlier);
        res.duplicate = true;
      } else if (!r.allow_new) {
        res.message = m;
        res.message.seq = 0;
      } else {
        res.message = m;
        res.message.seq = ++c.last_seq;
        c.messages.push_back(packed::pack(m));
        c.by_client_id.insert(at, {h, res.message.seq});
        c.updated_ts = m.ts;
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
      for (std::size_t i = from; i < m.size() && out.size() < limit; ++i)
        out.push_back(packed::unpack_message(m[i], conversation_id, static_cast<std::int64_t>(i + 1)));
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
    std::vector<std::pair<const std::string*, const conv*>> in;
    for (const auto& [id, c] : convs_)
      if (c.created_ts >= q.from && c.created_ts < q.to) in.emplace_back(&id, &c);
    std::sort(in.begin(), in.end(), [](const auto& a, const auto& b) {
      return a.second->created_ts != b.second->created_ts ? a.second->created_ts < b.second->created_ts : *a.first < *b.first;
    });
    const auto end = std::min<std::size_t>(in.size(), q.cursor + q.limit);
    for (std::size_t i = q.cursor; i < end; ++i) {
      if (!q.stores.empty()) {
        bool maybe = false;
        for (const auto& st : q.stores) maybe = maybe || hash_of(st) == in[i].second->store_h;
        if (!maybe) continue;
      }
      auto r = in[i].second->record();
      if (q.stores.empty() || std::find(q.stores.begin(), q.stores.end(), r.shopper.store) != q.stores.end())
        page.records.push_back(std::move(r));
    }
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
    a.push_back(e);
    if (a.size() > max_audit_entries) a.drop_front(a.size() - max_audit_entries);
  }
  cb({});
}

void memory_store::read_audit(const std::string& conversation_id, callback<std::vector<audit_entry>> cb) {
  std::vector<audit_entry> out;
  {
    std::lock_guard lk(mu_);
    if (auto it = convs_.find(conversation_id); it != convs_.end()) {
      const auto& a = it->second.audit;
      out.reserve(a.size());
      for (std::size_t i = 0; i < a.size(); ++i) out.emplace_back(a[i]);
    }
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

// The conversation desk: messages in and out, typing, read marks, history,
// contacts left by shoppers and follow-ups.
#include "server/hub/hub_internal.hpp"

namespace calma {

// ---------------------------------------------------------------------------
// chat

void hub::on_chat_send(session_entry& s, std::uint64_t conn_id, protocol::chat_send m, std::shared_ptr<preread> pre) {
  const participant& who = s.who;  // nothing below adds or removes sessions
  if (!m.conversation_id) {
    if (who.role != role::shopper)
      return send_error(conn_id, error_code::bad_request, "missing field 'conversation_id'", m.client_msg_id);
    // The resend of a message that opened a conversation (its ack was lost)
    // belongs to that conversation, even if it was closed since.
    if (auto f = opened_by_.find(who.id + '\x1f' + m.client_msg_id); f != opened_by_.end()) {
      std::string conv = f->second;
      return store_message(conn_id, who, conv, std::move(m), visibility::all, open_conversation(conv) != nullptr, false,
                           std::move(pre));
    }
    if (auto o = shopper_open_.find(who.id); o != shopper_open_.end()) {
      // A resend of the message that opened it, or the shopper writing on:
      // either way it belongs to the open conversation.
      return store_message(conn_id, who, o->second, std::move(m), visibility::all, true, false, std::move(pre));
    }
    // New conversations per client address: a flood of throw-away shoppers
    // from one address must not fill the queue for everyone else.
    const auto v = conversations_from_->take(limits::address_key(s.address), clock_());
    if (!v.ok && !s.address.empty()) {
      metrics_.refused(refusal::conversation_rate);
      return send_error(conn_id, error_code::rate_limited,
                        "too many new conversations from your address; try again in " +
                            std::to_string(v.retry_after_s()) + " s",
                        m.client_msg_id);
    }
    return open_conversation_for(conn_id, who, std::move(m), std::move(pre));
  }
  const std::string conv_id = *m.conversation_id;
  if (auto* c = open_conversation(conv_id)) {
    if (who.role == role::supervisor) {
      auto j = c->joined.find(who.id);
      bool owns = c->rec.agent_id == who.id;
      if (!owns && (j == c->joined.end() || j->second == protocol::join_mode::monitor))
        return send_error(conn_id, error_code::forbidden,
                          "join the conversation in whisper or barge mode (or take it over) to write",
                          m.client_msg_id);
      auto vis = !owns && j->second == protocol::join_mode::whisper ? visibility::staff : visibility::all;
      return store_message(conn_id, who, conv_id, std::move(m), vis, true, false, std::move(pre));
    }
    if (!may_act(who, *c))
      return send_error(conn_id, error_code::forbidden, "not your conversation", m.client_msg_id);
    return store_message(conn_id, who, conv_id, std::move(m), visibility::all, true, false, std::move(pre));
  }
  // Not open: closed or unknown. A resend of a message stored before the
  // close must still be acked with its seq; anything new is refused.
  store_.get_conversation(conv_id, [self = shared_from_this(), conn_id, who, m = std::move(m)](auto r) mutable {
    self->on_strand([self, conn_id, who, m = std::move(m), r = std::move(r)]() mutable {
      if (!r.ok()) return self->send_error(conn_id, error_code::unavailable, "store unavailable: not stored, retry", m.client_msg_id);
      if (!r.value || !self->may_see(who, *r.value) || !self->owns(r.value->shopper.store))
        return self->send_error(conn_id, error_code::not_found, "no such conversation", m.client_msg_id);
      std::string id = r.value->id;
      self->store_message(conn_id, who, id, std::move(m), visibility::all, false);
    });
  });
}

void hub::open_conversation_for(std::uint64_t conn_id, const participant& who, protocol::chat_send m,
                                std::shared_ptr<preread> pre) {
  const auto now = clock_();
  conversation_record rec;
  rec.id = new_id("c_");
  rec.shopper.id = who.id;
  rec.shopper.name = who.name;
  // The shopper's language and store come from its token.
  if (auto s = sessions_.find(conn_id); s != sessions_.end()) {
    rec.shopper.language = s->second.language;
    rec.shopper.store = s->second.store;
    rec.shopper.context = s->second.context;
  }
  rec.state = conversation_state::queued;
  const auto* st = cfg_.find_store(rec.shopper.store);
  rec.queue = st ? cfg_.queues_of(*st).front() : cfg_.routing.queues.front();
  rec.created_ts = rec.updated_ts = now;
  auto& entry = open_[rec.id];
  entry.rec.assign(rec);
  start_monitor(entry);
  shopper_open_[who.id] = rec.id;
  if (opened_by_.size() >= 100'000) opened_by_.clear();  // bounded; only recent resends need it
  opened_by_[who.id + '\x1f' + m.client_msg_id] = rec.id;
  ++metrics_.conversations_opened;
  spdlog::info("conversation {} opened by shopper {} (language '{}')", rec.id, who.id, limits::log_safe(rec.shopper.language, 16));

  store_.create_conversation(rec, [self = shared_from_this(), id = rec.id, created = now](auto r) {
    self->on_strand([self, id, created, r = std::move(r)] {
      auto* c = self->open_conversation(id);
      if (!c) return;
      if (!r.ok()) {
        ++self->metrics_.store_errors;
        spdlog::warn("store error: {}", r.error);
        if (auto o = self->shopper_open_.find(c->rec.shopper.id); o != self->shopper_open_.end() && o->second == id)
          self->shopper_open_.erase(o);
        // The conversation never existed: a resend must open it again, not point here.
        for (auto it = self->opened_by_.begin(); it != self->opened_by_.end();)
          it = it->second == id ? self->opened_by_.erase(it) : std::next(it);
        self->cancel_deadline(*c);
        self->open_.erase(id);
        return;  // the append issued after this fails too and answers `unavailable`
      }
      self->router_.enqueue(id, c->rec.queue, created, 0, {}, c->rec.shopper.store,
                            routing::is_vip(c->rec.context(), self->cfg_.routing.router));
      self->record(id, system_actor(), "queued", json{{"queue", c->rec.queue}});
      self->apply(*c, c->mon->on_queued(created));
      self->send_to_user(c->rec.shopper.id, make_frame(self->queued_json(*c).dump()));
      self->update_queue_gauges();
      // After the completions already queued (the first message's append):
      // the agent then gets that message in its history, not twice.
      self->on_strand([self] { self->try_assign(); });
      self->mark_snapshot_dirty();
    });
  });
  // After the create (the store applies them in order): the trail's first entry.
  record(rec.id, actor(who), "opened", json{{"store", rec.shopper.store}, {"language", rec.shopper.language}});
  // Answered after the create's answer (queued first, then the ack), even from the memory store.
  store_message(conn_id, who, rec.id, std::move(m), visibility::all, true, /*answer_later=*/true, std::move(pre));
}

void hub::store_message(std::uint64_t conn_id, const participant& who, std::string conversation_id,
                        protocol::chat_send m, visibility vis, bool allow_new, bool answer_later,
                        std::shared_ptr<preread> pre) {
  append_request req;
  req.allow_new = allow_new;
  req.message.conversation_id = std::move(conversation_id);
  req.message.ts = clock_();
  req.message.from = who;
  req.message.text = std::move(m.text);
  req.message.client_msg_id = std::move(m.client_msg_id);
  req.message.visibility = vis;
  store_.append_message(req, [self = shared_from_this(), conn_id, cmid = req.message.client_msg_id,
                              conv = req.message.conversation_id, answer_later, pre = std::move(pre)](auto r) mutable {
    auto answer = [self, conn_id, cmid = std::move(cmid), conv = std::move(conv), r = std::move(r), pre = std::move(pre)] {
      if (!r.ok()) {
        ++self->metrics_.store_errors;
        spdlog::warn("store error: {}", r.error);
        return self->send_error(conn_id, error_code::unavailable, "store unavailable: not stored, retry", cmid);
      }
      const auto& msg = r.value.message;
      if (msg.seq == 0)
        return self->send_error(conn_id, error_code::bad_request, "conversation is closed", cmid);
      if (r.value.duplicate) {
        ++self->metrics_.messages_duplicate;
        return self->send_to(conn_id, make_frame(protocol::make_ack(cmid, conv, msg.seq)));
      }
      ++self->metrics_.messages_in;
      // Fan out first, then ack: once the sender holds its ack, every other
      // participant's copy is already queued ahead of anything later.
      if (auto* c = self->open_conversation(conv)) {
        if (msg.seq > c->rec.last_seq) c->rec.last_seq = msg.seq;
        if (msg.visibility == visibility::all && msg.seq > c->last_visible_seq) c->last_visible_seq = msg.seq;
        c->rec.updated_ts = msg.ts;
        self->send_to_conversation(*c, make_frame(protocol::make_chat_message(msg, pre ? pre->json_of(msg.text) : std::string_view())),
                                   msg.visibility == visibility::staff, conn_id);
        // The curve moves only on what the shopper wrote and on what staff
        // said to the shopper (a whisper does not calm anyone).
        if (msg.from.role == role::shopper) {
          if (!c->unanswered_since) c->unanswered_since = msg.ts;
          self->apply(*c, c->mon->catch_up(msg.ts));
          self->note_message(*c, msg);
          if (self->tag_causes(*c, msg, pre.get())) {
            self->persist(*c);
            self->send_to_conversation(*c, make_frame(self->causes_frame(*c)), /*staff_only=*/true, 0,
                                       /*and_all_supervisors=*/true);
          }
          self->apply(*c, c->mon->on_customer_message(msg.ts, msg.text, pre ? &pre->anger : nullptr));
        } else if (msg.visibility == visibility::all) {
          c->unanswered_since.reset();
          // The first answer (reports) and the answer to a contact left (it leaves the follow-up list).
          bool changed = false;
          if (c->rec.first_response_ts == 0) c->rec.first_response_ts = msg.ts, changed = true;
          if (!c->rec.contact().empty() && c->rec.contact_answered_ts == 0) {
            c->rec.contact_answered_ts = msg.ts;
            changed = true;
            self->followups_changed(c->rec.shopper.store);
          }
          if (changed) self->persist(*c);
          self->apply(*c, c->mon->catch_up(msg.ts));
          self->note_message(*c, msg);
          self->apply(*c, c->mon->on_staff_message(msg.ts, msg.text, pre ? &pre->anger : nullptr));
        }
      }
      self->send_to(conn_id, make_frame(protocol::make_ack(cmid, conv, msg.seq)));
    };
    if (answer_later) self->on_strand(std::move(answer));
    else self->on_strand_now(std::move(answer));
  });
}

void hub::on_typing(session_entry& s, std::uint64_t conn_id, const protocol::typing& m) {
  auto* c = open_conversation(m.conversation_id);
  if (!c || !may_see(s.who, c->rec)) return send_error(conn_id, error_code::not_found, "no such open conversation", "typing");
  bool whisperer = s.who.role == role::supervisor && c->rec.agent_id != s.who.id &&
                   (!c->joined.count(s.who.id) || c->joined.at(s.who.id) != protocol::join_mode::barge);
  json j{{"type", "typing"}, {"conversation_id", m.conversation_id}, {"state", m.state},
         {"from", protocol::to_json(s.who)}};
  send_to_conversation(*c, make_frame(j.dump()), whisperer, 0);
  (void)conn_id;
}

void hub::on_read(session_entry& s, std::uint64_t conn_id, const protocol::read& m) {
  auto* c = open_conversation(m.conversation_id);
  if (!c || !may_see(s.who, c->rec)) return send_error(conn_id, error_code::not_found, "no such open conversation", "read");
  if (m.seq > c->rec.last_seq) return send_error(conn_id, error_code::bad_request, "seq is beyond the last message", "read");
  auto& mark = c->read_marks[s.who.id];
  if (m.seq <= mark) return;  // not news
  mark = m.seq;
  json j{{"type", "read"}, {"conversation_id", m.conversation_id}, {"seq", m.seq}, {"from", protocol::to_json(s.who)}};
  bool staff_only = s.who.role == role::supervisor && c->rec.agent_id != s.who.id;
  send_to_conversation(*c, make_frame(j.dump()), staff_only, conn_id);
}

void hub::send_history(const std::string& user_id, std::uint64_t only_conn, const std::string& conv_id,
                       std::int64_t after_seq, bool staff, std::int64_t upto) {
  const auto page = cfg_.history_page;
  store_.read_messages(conv_id, after_seq, page, [self = shared_from_this(), user_id, only_conn, conv_id, staff, page, upto](auto r) {
    self->on_strand([self, user_id, only_conn, conv_id, staff, page, upto, r = std::move(r)] {
      if (!r.ok()) {
        ++self->metrics_.store_errors;
        spdlog::warn("store error: {}", r.error);
        if (only_conn) self->send_error(only_conn, error_code::unavailable, "store unavailable, retry", "history");
        return;
      }
      json msgs = json::array();
      for (const auto& m : r.value)
        if ((staff || m.visibility == visibility::all) && (upto < 0 || m.seq <= upto))
          msgs.push_back(protocol::to_json(m));
      json j{{"type", "history"}, {"conversation_id", conv_id}, {"messages", std::move(msgs)},
             {"more", r.value.size() >= page}};
      // The last seq this answer accounts for, whispers a shopper does not get included.
      if (!r.value.empty()) j["upto"] = upto >= 0 ? std::min(upto, r.value.back().seq) : r.value.back().seq;
      auto f = make_frame(j.dump());
      if (only_conn) self->send_to(only_conn, f);
      else self->send_to_user(user_id, f);
    });
  });
}

void hub::on_history(session_entry& s, std::uint64_t conn_id, const protocol::history& m) {
  const participant who = s.who;
  if (auto* c = open_conversation(m.conversation_id)) {
    if (!may_see(who, c->rec) && !(who.role == role::supervisor))
      return send_error(conn_id, error_code::forbidden, "not your conversation", "history");
    return send_history(who.id, conn_id, m.conversation_id, m.after_seq, is_staff(who.role));
  }
  store_.get_conversation(m.conversation_id, [self = shared_from_this(), conn_id, who, m](auto r) {
    self->on_strand([self, conn_id, who, m, r = std::move(r)] {
      if (!r.ok()) return self->send_error(conn_id, error_code::unavailable, "store unavailable, retry", "history");
      if (!r.value) return self->send_error(conn_id, error_code::not_found, "no such conversation", "history");
      if (!self->may_see(who, *r.value)) return self->send_error(conn_id, error_code::forbidden, "not your conversation", "history");
      self->send_history(who.id, conn_id, m.conversation_id, m.after_seq, is_staff(who.role));
    });
  });
}

// ---------------------------------------------------------------------------
// contacts and follow-ups

void hub::change_conversation(const std::string& id, std::function<bool(conversation_record&)> change,
                              std::function<void(std::optional<conversation_record>, std::string)> done) {
  if (auto* c = open_conversation(id)) {
    // Applied to the hub's copy at once, so that any save issued meanwhile
    // (an assignment) carries it too; undone if the store refuses it.
    const conversation_record before = whole(*c);
    conversation_record next = before;
    if (!change(next)) return done(std::nullopt, {});
    c->rec.assign(next);
    store_.update_conversation(next, [self = shared_from_this(), id, before, done = std::move(done)](auto r) mutable {
      self->on_strand([self, id, before, done = std::move(done), r = std::move(r)]() mutable {
        auto* c = self->open_conversation(id);
        if (!r.ok()) {
          if (c) {
            conversation_record undone = whole(*c);
            undone.contact = before.contact;
            undone.contact_answered_ts = before.contact_answered_ts;
            undone.follow_up_done_ts = before.follow_up_done_ts;
            undone.follow_up_done_by = before.follow_up_done_by;
            undone.categories = before.categories;
            undone.categories_corrected = before.categories_corrected;
            c->rec.assign(undone);
          }
          return done(std::nullopt, r.error);
        }
        done(c ? std::optional<conversation_record>(whole(*c)) : std::nullopt, {});
      });
    });
    return;
  }
  store_.get_conversation(id, [self = shared_from_this(), id, change = std::move(change), done = std::move(done)](auto r) mutable {
    self->on_strand([self, id, change = std::move(change), done = std::move(done), r = std::move(r)]() mutable {
      if (!r.ok()) return done(std::nullopt, r.error);
      // Another shard's conversation is that hub's to change (its open copy would overwrite this).
      if (!r.value || !self->owns(r.value->shopper.store)) return done(std::nullopt, {});
      if (self->open_conversation(id)) {
        // Reopened meanwhile (a restart's load): apply it to the open copy.
        return self->change_conversation(id, std::move(change), std::move(done));
      }
      conversation_record next = *r.value;
      if (!change(next)) return done(std::nullopt, {});
      self->store_.update_conversation(next, [self, next, done = std::move(done)](auto w) mutable {
        self->on_strand([next = std::move(next), done = std::move(done), w = std::move(w)]() mutable {
          if (!w.ok()) return done(std::nullopt, w.error);
          done(std::move(next), {});
        });
      });
    });
  });
}

void hub::on_contact(session_entry& s, std::uint64_t conn_id, const protocol::contact& m) {
  const char* ref = "contact";
  if (s.who.role != role::shopper) return send_error(conn_id, error_code::forbidden, "contact is for shoppers", ref);
  const participant who = s.who;
  const std::string store = s.store;
  protocol::contact msg = m;
  auto applied = std::make_shared<bool>(false);
  change_conversation(
      m.conversation_id,
      [who, msg, applied, now = clock_()](conversation_record& rec) {
        if (rec.shopper.id != who.id) return false;
        rec.contact = contact_info{msg.email, msg.phone, msg.note, now};
        rec.contact_answered_ts = 0;
        rec.follow_up_done_ts = 0;
        rec.follow_up_done_by.clear();
        *applied = true;
        return true;
      },
      [self = shared_from_this(), conn_id, id = m.conversation_id, applied, store, who](auto, std::string err) {
        if (!err.empty()) {
          ++self->metrics_.store_errors;
          return self->send_error(conn_id, error_code::unavailable, "store unavailable: contact not saved, retry", "contact");
        }
        if (!*applied) return self->send_error(conn_id, error_code::not_found, "no such conversation", "contact");
        spdlog::info("conversation {}: the shopper left a contact", id);
        // Who left it and how to reach them is in the record; the trail says only that it happened.
        self->record(id, actor(who), "contact");
        self->send_to(conn_id, make_frame(json{{"type", "contact.saved"}, {"conversation_id", id}}.dump()));
        self->followups_changed(store);
      });
}

void hub::on_followup_done(session_entry& s, std::uint64_t conn_id, const protocol::followup_done& m) {
  const char* ref = "followup.done";
  if (!is_staff(s.who.role)) return send_error(conn_id, error_code::forbidden, "follow-ups are for staff", ref);
  const participant who = s.who;
  auto outcome = std::make_shared<int>(0);  // 0 not found, 1 not on the list, 2 done
  auto store = std::make_shared<std::string>();
  change_conversation(
      m.conversation_id,
      [self = shared_from_this(), who, outcome, store, now = clock_()](conversation_record& rec) {
        if (!self->staff_serves(who.id, rec.shopper.store)) return false;
        *store = rec.shopper.store;
        if (!needs_follow_up(rec)) {
          *outcome = 1;
          return false;
        }
        *outcome = 2;
        rec.follow_up_done_ts = now;
        rec.follow_up_done_by = who.id;
        return true;
      },
      [self = shared_from_this(), conn_id, who, outcome, store, id = m.conversation_id, note = m.note,
       now = clock_()](auto, std::string err) {
        if (!err.empty()) {
          ++self->metrics_.store_errors;
          return self->send_error(conn_id, error_code::unavailable, "store unavailable: not saved, retry", "followup.done");
        }
        if (*outcome == 0) return self->send_error(conn_id, error_code::not_found, "no such conversation", "followup.done");
        if (*outcome == 1)
          return self->send_error(conn_id, error_code::bad_request, "this conversation is not on the follow-up list", "followup.done");
        spdlog::info("conversation {}: follow-up done by {}", id, who.id);
        // Not an audit action: PROTOCOL v1.1 names the actions; the record keeps who did it and when.
        json j{{"type", "followup.done"}, {"conversation_id", id}, {"store", *store},
               {"by", json{{"id", who.id}, {"name", who.name}}}, {"ts", now}, {"note", note}};
        self->send_to_store_staff(*store, make_frame(j.dump()));
      });
}

void hub::followups_changed(const std::string& store) {
  send_to_store_staff(store, make_frame(json{{"type", "followups.changed"}, {"store", store}}.dump()));
}

// ---------------------------------------------------------------------------
// after the conversation: the rating and the causes

void hub::note_message(conv_entry& c, const chat_message& m) {
  if (m.from.role == role::shopper) c.fig.on_customer_message(level_of(c));
  else if (m.visibility == visibility::all) c.fig.on_reply(m.from.id, m.from.name, level_of(c));
}

// Any language the lexicons know: shoppers mix them ("mi pedido didn't arrive").
bool hub::tag_causes(conv_entry& c, const chat_message& m, preread* pre) {
  if (m.from.role != role::shopper || c.rec.categories_corrected) return false;
  if (!c.causes) c.causes.emplace(engine_->causes);
  if (pre && pre->causes) c.causes->add(std::move(*pre->causes));
  else c.causes->add(m.text, "");
  std::vector<std::string> names;
  for (auto cause : c.causes->causes()) names.emplace_back(causes::name(cause));
  if (names == c.rec.categories) return false;
  c.rec.categories = std::move(names);
  return true;
}

// {"type":"causes.updated", conversation_id, causes, corrected: false, hits}, as
// json::dump() would write it, without the tree: sent on every change of a
// conversation's causes, with every hit so far.
std::string hub::causes_frame(const conv_entry& c) const {
  static const std::vector<causes::hit> none;
  const auto& hits = c.causes ? c.causes->hits() : none;
  bool utf8 = protocol::valid_utf8(c.rec.id);
  for (const auto& n : c.rec.categories) utf8 = utf8 && protocol::valid_utf8(n);
  for (const auto& h : hits) utf8 = utf8 && protocol::valid_utf8(h.term) && protocol::valid_utf8(h.words);
  if (!utf8) {  // dump()'s own answer to bad bytes
    json list = json::array();
    for (const auto& h : hits) list.push_back(json{{"cause", causes::name(h.c)}, {"term", h.term}, {"words", h.words}});
    return json{{"type", "causes.updated"}, {"conversation_id", c.rec.id}, {"causes", c.rec.categories},
                {"corrected", false}, {"hits", std::move(list)}}
        .dump();
  }
  std::string out = "{\"causes\":[";
  for (std::size_t i = 0; i < c.rec.categories.size(); ++i) {
    if (i) out += ',';
    protocol::append_json_string(out, c.rec.categories[i]);
  }
  out += "],\"conversation_id\":";
  protocol::append_json_string(out, c.rec.id);
  out += ",\"corrected\":false,\"hits\":[";
  for (std::size_t i = 0; i < hits.size(); ++i) {
    out += i ? ",{\"cause\":" : "{\"cause\":";
    protocol::append_json_string(out, causes::name(hits[i].c));
    out += ",\"term\":";
    protocol::append_json_string(out, hits[i].term);
    out += ",\"words\":";
    protocol::append_json_string(out, hits[i].words);
    out += '}';
  }
  out += "],\"type\":\"causes.updated\"}";
  return out;
}

void hub::on_csat(session_entry& s, std::uint64_t conn_id, const protocol::csat& m) {
  const char* ref = "csat";
  if (s.who.role != role::shopper) return send_error(conn_id, error_code::forbidden, "ratings are for shoppers", ref);
  if (open_conversation(m.conversation_id)) {
    // Its own open conversation: not yet; someone else's: no such conversation for this shopper.
    const auto* c = open_conversation(m.conversation_id);
    if (c->rec.shopper.id != s.who.id) return send_error(conn_id, error_code::not_found, "no such conversation", ref);
    return send_error(conn_id, error_code::bad_request, "the conversation is not closed yet", ref);
  }
  // One rating per conversation, also against two arriving at once.
  if (!rating_.insert(m.conversation_id).second)
    return send_error(conn_id, error_code::bad_request, "this conversation is already rated", ref);
  const participant who = s.who;
  auto outcome = std::make_shared<int>(0);  // 0 not found, 1 already rated, 2 rated
  change_conversation(
      m.conversation_id,
      [who, m, outcome, now = clock_()](conversation_record& rec) {
        if (rec.shopper.id != who.id) return false;
        if (rec.csat_score != 0) {
          *outcome = 1;
          return false;
        }
        *outcome = 2;
        rec.csat_score = m.score;
        rec.csat_comment = m.comment;
        rec.csat_ts = now;
        return true;
      },
      [self = shared_from_this(), conn_id, who, outcome, m](auto, std::string err) {
        self->rating_.erase(m.conversation_id);
        if (!err.empty()) {
          ++self->metrics_.store_errors;
          return self->send_error(conn_id, error_code::unavailable, "store unavailable: rating not saved, retry", "csat");
        }
        if (*outcome == 0) return self->send_error(conn_id, error_code::not_found, "no such conversation", "csat");
        if (*outcome == 1) return self->send_error(conn_id, error_code::bad_request, "this conversation is already rated", "csat");
        self->record(m.conversation_id, actor(who), "csat", json{{"score", m.score}});
        self->send_to(conn_id, make_frame(json{{"type", "csat.saved"}, {"conversation_id", m.conversation_id}}.dump()));
      });
}

void hub::on_causes_set(session_entry& s, std::uint64_t conn_id, const protocol::causes_set& m) {
  const char* ref = "causes.set";
  if (!is_staff(s.who.role)) return send_error(conn_id, error_code::forbidden, "causes are set by staff", ref);
  const participant who = s.who;
  auto found = std::make_shared<bool>(false);
  auto store = std::make_shared<std::string>();
  change_conversation(
      m.conversation_id,
      [self = shared_from_this(), who, m, found, store](conversation_record& rec) {
        if (!self->may_see(who, rec) && !(who.role == role::supervisor && self->staff_serves(who.id, rec.shopper.store)))
          return false;
        *found = true;
        *store = rec.shopper.store;
        rec.categories = m.causes;
        rec.categories_corrected = true;
        return true;
      },
      [self = shared_from_this(), conn_id, who, found, store, m](auto, std::string err) {
        if (!err.empty()) {
          ++self->metrics_.store_errors;
          return self->send_error(conn_id, error_code::unavailable, "store unavailable: not saved, retry", "causes.set");
        }
        if (!*found) return self->send_error(conn_id, error_code::not_found, "no such conversation", "causes.set");
        self->record(m.conversation_id, actor(who), "causes_corrected", json{{"causes", m.causes}});
        json j{{"type", "causes.updated"}, {"conversation_id", m.conversation_id}, {"causes", m.causes},
               {"corrected", true}, {"by", actor(who)}};
        self->send_to_store_staff(*store, make_frame(j.dump()));
      });
}

}  // namespace calma

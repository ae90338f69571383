// The routing desk: a conversation's lifecycle (assignment, requeue, close),
// presence, transfers, supervisors joining and taking over, and the queue board.
#include <cctype>
#include <tuple>

#include "server/hub/hub_internal.hpp"

namespace calma {

// ---------------------------------------------------------------------------
// lifecycle

// Assignments, transfers and acknowledgements are applied at once and saved
// behind; one the store did not take is saved again (its latest state) on the
// snapshot timer until it is, so a restart or a new leader finds it.
void hub::persist(const conv_entry& c) {
  unsaved_.erase(c.rec.id);
  store_.update_conversation(whole(c), [self = shared_from_this(), id = c.rec.id](auto r) {
    if (r.ok()) return;
    ++self->metrics_.store_errors;
    spdlog::warn("store error, conversation {} not saved (will retry): {}", id, r.error);
    self->on_strand([self, id] { self->unsaved_.insert(id); });
  });
}

void hub::retry_unsaved() {
  auto ids = std::move(unsaved_);
  unsaved_.clear();
  for (const auto& id : ids)
    if (auto* c = open_conversation(id)) persist(*c);
}

json hub::queued_json(const conv_entry& c, int position) const {
  if (position == 0) position = router_.position(c.rec.id);
  json j{{"type", "conversation.queued"},
         {"conversation_id", c.rec.id},
         {"position", position},
         {"estimated_wait_s", router_.estimated_wait_s(c.rec.id, position)},
         {"queue", c.rec.queue}};
  // Outside hours or with nobody of the store online: say so, honestly.
  const auto why = offline_reason(c.rec.shopper.store);
  j["offline"] = !why.empty();
  if (!why.empty()) {
    j["offline_reason"] = why;
    const auto& st = store_of(c);
    auto next = why == "closed" ? st.hours.next_open(clock_()) : std::nullopt;
    j["next_open_ts"] = next ? json(*next) : json(nullptr);
  }
  return j;
}

const store_config& hub::store_of(const conv_entry& c) const {
  const auto* st = cfg_.find_store(c.rec.shopper.store);
  return st ? *st : cfg_.stores.front();
}

std::string hub::offline_reason(const std::string& store) const {
  const auto* st = cfg_.find_store(store);
  if (st && !st->hours.is_open(clock_())) return "closed";
  if (router_.online_agents(store) == 0) return "no_agents";
  return {};
}

// The number of agents online per store, kept in the store (with a TTL) so
// that every node's widget endpoint can say whether a store is open.
void hub::publish_store_presence(bool force) {
  const auto now = std::chrono::steady_clock::now();
  const bool refresh = force || now - published_at_ > std::chrono::seconds(20);
  for (const auto& st : cfg_.stores) {
    if (!owns(st.id)) continue;  // another shard's hub publishes it
    const int n = router_.online_agents(st.id);
    auto it = published_online_.find(st.id);
    if (!refresh && it != published_online_.end() && it->second == n) continue;
    published_online_[st.id] = n;
    store_.put_online_agents(st.id, n, 60, [self = shared_from_this(), id = st.id](auto r) {
      if (!r.ok()) self->on_strand([self, id] { self->published_online_.erase(id); });
    });
  }
  if (refresh) published_at_ = now;
}

json hub::assigned_json(const conv_entry& c) const {
  return json{{"type", "conversation.assigned"},
              {"conversation_id", c.rec.id},
              {"agent", json{{"id", c.rec.agent_id.value_or("")}, {"name", c.rec.agent_name}}},
              {"shopper", protocol::shopper_json(c.rec.whole_shopper())},
              {"store", c.rec.shopper.store},
              {"categories", c.rec.categories},
              {"state", to_string(c.rec.state)},
              {"last_seq", c.rec.last_seq}};
}

void hub::on_close(session_entry& s, std::uint64_t conn_id, const protocol::conversation_close& m) {
  auto* c = open_conversation(m.conversation_id);
  if (!c) return send_error(conn_id, error_code::not_found, "no such open conversation", "conversation.close");
  if (!may_act(s.who, *c)) return send_error(conn_id, error_code::forbidden, "not your conversation", "conversation.close");
  if (m.follow_up && !is_staff(s.who.role))
    return send_error(conn_id, error_code::forbidden, "follow_up is for staff", "conversation.close");
  // Stored first: a close the store did not take is refused, and nothing changes.
  reports::figures_builder fig = c->fig;
  fig.on_close(level_of(*c));
  conversation_record closed = whole(*c);
  closed.figures = fig.figures();
  closed.state = conversation_state::closed;
  closed.closed_by = s.who.id;
  closed.close_reason = m.reason;
  closed.updated_ts = clock_();
  if (m.follow_up) {
    closed.follow_up = true;
    closed.follow_up_done_ts = 0;
    closed.follow_up_done_by.clear();
  }
  store_.update_conversation(closed, [self = shared_from_this(), conn_id, who = s.who, closed](auto r) {
    self->on_strand([self, conn_id, who, closed, r = std::move(r)] {
      if (!r.ok()) {
        ++self->metrics_.store_errors;
        spdlog::warn("store error: {}", r.error);
        return self->send_error(conn_id, error_code::unavailable, "store unavailable: not closed, retry",
                                "conversation.close");
      }
      self->finish_close(closed, who);
    });
  });
}

void hub::finish_close(const conversation_record& closed, const participant& by, bool by_system) {
  auto* c = open_conversation(closed.id);
  if (!c) return;  // closed meanwhile by someone else
  const auto now = closed.updated_ts;
  c->rec.state = conversation_state::closed;
  auto& rest = c->rec.rest_for_write();
  rest.closed_by = closed.closed_by;
  rest.close_reason = closed.close_reason;
  c->rec.updated_ts = now;
  rest.follow_up = closed.follow_up;
  c->fig = reports::figures_builder(closed.figures);
  const json by_j = by_system ? system_actor() : actor(by);
  record(c->rec.id, by_j, "closed", json{{"reason", closed.close_reason}, {"follow_up", closed.follow_up}});
  if (c->esc)
    record(c->rec.id, by_j, "escalation_resolved",
           json{{"escalation_id", c->esc->id}, {"note", "conversation closed"}});
  router_.release(c->rec.id, now, true);
  ++metrics_.conversations_closed;
  spdlog::info("conversation {} closed by {}", closed.id, by_system ? std::string("calma") : by.id);
  if (c->esc) end_escalation(*c, by, "conversation closed", true);
  c->mon->on_closed(now);
  cancel_deadline(*c);
  json j{{"type", "conversation.closed"}, {"conversation_id", c->rec.id}, {"by", by_j["id"]},
         {"by_role", by_j["role"]}, {"by_name", by_j["name"]}, {"reason", closed.close_reason}};
  send_to_conversation(*c, make_frame(j.dump()), false, 0, /*and_all_supervisors=*/true);
  if (auto o = shopper_open_.find(c->rec.shopper.id); o != shopper_open_.end() && o->second == c->rec.id)
    shopper_open_.erase(o);
  const std::string store = c->rec.shopper.store;
  const bool listed = needs_follow_up(closed);
  open_.erase(closed.id);
  if (listed) followups_changed(store);
  update_queue_gauges();
  try_assign();
  send_queue_positions();
  mark_snapshot_dirty();
}

void hub::apply_assignment(const std::string& conv_id, const std::string& agent_id,
                           const std::optional<std::string>& previous_agent) {
  auto* c = open_conversation(conv_id);
  if (!c) return;
  const auto* a = router_.agent(agent_id);
  c->rec.state = conversation_state::assigned;
  c->rec.agent_id = agent_id;
  c->rec.agent_name = a ? a->name : agent_id;
  if (auto u = users().find(agent_id); u != users().end()) c->rec.agent_name = u->second.name;
  c->rec.updated_ts = clock_();
  persist(*c);
  ++metrics_.assignments;
  spdlog::info("conversation {} assigned to {}", conv_id, agent_id);
  if (c->handled_by.empty() || c->handled_by.back() != agent_id) c->handled_by.push_back(agent_id);
  record(conv_id, system_actor(), "assigned", json{{"agent", json{{"id", agent_id}, {"name", c->rec.agent_name}}}});
  auto f = make_frame(assigned_json(*c).dump());
  send_to_conversation(*c, f, false, 0, /*and_all_supervisors=*/true);
  if (previous_agent && *previous_agent != agent_id) send_to_user(*previous_agent, f);
  // Up to what was already fanned out: later messages reach the agent live.
  send_history(agent_id, 0, conv_id, 0, true, c->rec.last_seq);
  // The new agent learns where the curve stands and any open escalation.
  if (!c->timeline.empty()) send_to_user(agent_id, make_frame(point_json(*c, c->timeline.back()).dump()));
  if (c->esc) send_escalation(*c, true);
  apply(*c, c->mon->on_assigned(clock_()));
}

void hub::try_assign() {
  // Stopped (the process ends, or the shards are planned again and other hubs
  // will load these conversations): no assignment that the next hubs would not know of.
  if (stopped_.set()) return;
  auto decided = router_.assign_waiting(clock_());
  for (const auto& a : decided) apply_assignment(a.conversation_id, a.agent_id, std::nullopt);
  if (!decided.empty()) {
    update_queue_gauges();
    send_queue_positions();
    mark_snapshot_dirty();
  }
}

void hub::shopper_left(const std::string& shopper_id, timestamp_ms now) {
  auto o = shopper_open_.find(shopper_id);
  if (o == shopper_open_.end()) return;
  if (auto* c = open_conversation(o->second); c && c->rec.state == conversation_state::queued && !c->shopper_gone_since)
    c->shopper_gone_since = now;
}

void hub::shopper_back(const std::string& shopper_id) {
  auto o = shopper_open_.find(shopper_id);
  if (o == shopper_open_.end()) return;
  auto* c = open_conversation(o->second);
  if (!c) return;
  c->shopper_gone_since.reset();
  if (!c->abandoned) return;
  c->abandoned = false;
  router_.set_abandoned(c->rec.id, false);
  c->mon->set_abandoned(false);
  schedule_deadline(*c);
  send_queue_positions();  // it is back in its place: the others behind it move back
  mark_snapshot_dirty();
  try_assign();
}

void hub::sweep_abandoned(timestamp_ms now) {
  const auto after = static_cast<timestamp_ms>(cfg_.routing.abandon_after_s) * 1000;
  const auto close_after = static_cast<timestamp_ms>(cfg_.routing.abandon_close_s) * 1000;
  bool moved = false;
  std::vector<std::string> to_close;
  for (auto& [id, c] : open_) {
    if (c.rec.state != conversation_state::queued || !c.shopper_gone_since) continue;
    // A shopper who left a contact waits for a call-back: not abandoned.
    if (!c.rec.contact().email.empty() || !c.rec.contact().phone.empty()) continue;
    const auto gone = now - *c.shopper_gone_since;
    if (gone >= close_after) to_close.push_back(id);
    else if (gone >= after && !c.abandoned) {
      c.abandoned = true;
      router_.set_abandoned(id, true);
      c.mon->set_abandoned(true);
      cancel_deadline(c);
      moved = true;
    }
  }
  if (moved) {
    send_queue_positions();  // those behind move up
    mark_snapshot_dirty();
    update_queue_gauges();
    try_assign();
  }
  for (const auto& id : to_close) {
    auto* c = open_conversation(id);
    if (!c) continue;
    conversation_record closed = whole(*c);
    reports::figures_builder fig = c->fig;
    fig.on_close(level_of(*c));
    closed.figures = fig.figures();
    closed.state = conversation_state::closed;
    closed.closed_by = "calma";
    closed.close_reason = "abandoned";
    closed.updated_ts = now;
    const participant shopper{role::shopper, c->rec.shopper.id, c->rec.shopper.name};
    store_.update_conversation(closed, [self = shared_from_this(), closed, shopper](auto r) {
      self->on_strand([self, closed, shopper, r = std::move(r)] {
        if (!r.ok()) {
          ++self->metrics_.store_errors;
          return spdlog::warn("store error, abandoned conversation {} not closed (will retry): {}", closed.id, r.error);
        }
        self->finish_close(closed, shopper, /*by_system=*/true);
      });
    });
  }
}

void hub::send_queue_positions() {
  for (const auto& [id, pos] : router_.positions())
    if (auto* c = open_conversation(id)) send_to_user(c->rec.shopper.id, make_frame(queued_json(*c, pos).dump()));
}

void hub::requeue(const std::string& conv_id, const std::string& queue,
                  const std::optional<std::string>& avoid_agent) {
  auto* c = open_conversation(conv_id);
  if (!c) return;
  const auto previous = c->rec.agent_id;
  router_.release(conv_id, clock_(), false);
  c->rec.state = conversation_state::queued;
  c->rec.agent_id.reset();
  c->rec.agent_name.clear();
  c->rec.queue = queue;
  c->rec.updated_ts = clock_();
  persist(*c);
  // Back in line by its original arrival: it has waited already.
  router_.enqueue(conv_id, queue, c->rec.created_ts, level_of(*c), avoid_agent.value_or(""), c->rec.shopper.store,
                  routing::is_vip(c->rec.context(), cfg_.routing.router));
  auto f = make_frame(queued_json(*c).dump());
  send_to_user(c->rec.shopper.id, f);
  if (previous) send_to_user(*previous, f);
  send_to_supervisors(c->rec.shopper.store, f);
  record(conv_id, system_actor(), "queued", json{{"queue", queue}});
  apply(*c, c->mon->on_queued(clock_()));
}

void hub::agent_gone(const std::string& agent_id) {
  router_.set_status(agent_id, agent_status::offline);
  for (const auto& conv : router_.conversations_of(agent_id)) requeue(conv, open_[conv].rec.queue, agent_id);
  update_queue_gauges();
  try_assign();
  send_queue_positions();
  mark_snapshot_dirty();
}

// ---------------------------------------------------------------------------
// staff actions

void hub::on_presence(session_entry& s, std::uint64_t conn_id, const protocol::presence_set& m) {
  if (!is_staff(s.who.role)) return send_error(conn_id, error_code::forbidden, "presence is for staff", "presence.set");
  if (s.who.role == role::agent) {
    router_.upsert_agent(s.who.id, s.who.name, m.status);
    if (m.capacity) router_.set_capacity(s.who.id, *m.capacity);
    remember_presence(s.who.id);
  }
  const auto* a = router_.agent(s.who.id);
  json j{{"type", "presence"}, {"status", to_string(m.status)},
         {"capacity", a ? json(a->capacity) : json(m.capacity.value_or(0))}};
  send_to_user(s.who.id, make_frame(j.dump()));
  if (s.who.role == role::agent) {
    if (m.status == agent_status::offline) {
      agent_gone(s.who.id);
    } else {
      try_assign();
      mark_snapshot_dirty();
    }
  }
}

void hub::remember_presence(const std::string& agent_id) {
  const auto* a = router_.agent(agent_id);
  if (!a) return;
  presence_record p{agent_id, a->status, a->capacity, clock_()};
  remembered_[agent_id] = p;
  store_.put_presence(p, cfg_.routing.presence_ttl_s, [self = shared_from_this(), agent_id](auto r) {
    if (r.ok()) return;
    ++self->metrics_.store_errors;
    spdlog::warn("store error, presence of {} not saved: {}", agent_id, r.error);
  });
}

void hub::on_transfer(session_entry& s, std::uint64_t conn_id, const protocol::conversation_transfer& m) {
  const char* ref = "conversation.transfer";
  if (!is_staff(s.who.role)) return send_error(conn_id, error_code::forbidden, "transfers are for staff", ref);
  auto* c = open_conversation(m.conversation_id);
  if (!c) return send_error(conn_id, error_code::not_found, "no such open conversation", ref);
  if (!may_act(s.who, *c)) return send_error(conn_id, error_code::forbidden, "not your conversation", ref);
  const auto previous = c->rec.agent_id;
  if (m.to_queue) {
    const auto& qs = cfg_.queues_of(store_of(*c));
    if (std::find(qs.begin(), qs.end(), *m.to_queue) == qs.end())
      return send_error(conn_id, error_code::not_found, "no such queue: " + *m.to_queue, ref);
    record(c->rec.id, actor(s.who), "transferred", json{{"to_queue", *m.to_queue}, {"from", previous.value_or("")}});
    requeue(c->rec.id, *m.to_queue, previous);
    update_queue_gauges();
    try_assign();
    send_queue_positions();
    mark_snapshot_dirty();
    return;
  }
  const auto& target = *m.to_agent_id;
  auto u = users().find(target);
  if (u == users().end() || u->second.r != role::agent || !u->second.serves(c->rec.shopper.store))
    return send_error(conn_id, error_code::not_found, "no such agent of this store: " + target, ref);
  if (previous == target) return send_error(conn_id, error_code::bad_request, "already assigned to " + target, ref);
  const auto* a = router_.agent(target);
  if (!a || a->status != agent_status::online || !by_user_.count(target))
    return send_error(conn_id, error_code::bad_request, "agent " + target + " is not online", ref);
  // Supervisors may override a full agent; agents may not.
  if (s.who.role == role::agent && a->load >= a->capacity)
    return send_error(conn_id, error_code::bad_request, "agent " + target + " is at capacity", ref);
  router_.assign(c->rec.id, target, clock_());
  record(c->rec.id, actor(s.who), "transferred", json{{"to_agent_id", target}, {"from", previous.value_or("")}});
  apply_assignment(c->rec.id, target, previous);
  update_queue_gauges();
  try_assign();  // the previous agent has a free slot now
  mark_snapshot_dirty();
}

void hub::on_join(session_entry& s, std::uint64_t conn_id, const protocol::conversation_join& m) {
  const char* ref = "conversation.join";
  if (s.who.role != role::supervisor) return send_error(conn_id, error_code::forbidden, "only supervisors join", ref);
  auto* c = open_conversation(m.conversation_id);
  if (!c || !may_see(s.who, c->rec)) return send_error(conn_id, error_code::not_found, "no such open conversation", ref);
  c->joined[s.who.id] = m.mode;
  record(c->rec.id, actor(s.who), "joined", json{{"mode", protocol::to_string(m.mode)}});
  json j{{"type", "conversation.joined"}, {"conversation_id", c->rec.id}, {"mode", protocol::to_string(m.mode)},
         {"supervisor", protocol::to_json(s.who)}};
  auto f = make_frame(j.dump());
  send_to_user(s.who.id, f);
  if (c->rec.agent_id && *c->rec.agent_id != s.who.id) send_to_user(*c->rec.agent_id, f);
  send_history(s.who.id, 0, c->rec.id, 0, true, c->rec.last_seq);
}

void hub::on_takeover(session_entry& s, std::uint64_t conn_id, const protocol::conversation_takeover& m) {
  const char* ref = "conversation.takeover";
  if (s.who.role != role::supervisor) return send_error(conn_id, error_code::forbidden, "only supervisors take over", ref);
  auto* c = open_conversation(m.conversation_id);
  if (!c || !may_see(s.who, c->rec)) return send_error(conn_id, error_code::not_found, "no such open conversation", ref);
  if (c->rec.agent_id == s.who.id) return send_error(conn_id, error_code::bad_request, "already yours", ref);
  const auto previous = c->rec.agent_id;
  // A supervisor holds chats like an agent but is never routed new ones.
  if (!router_.agent(s.who.id)) router_.upsert_agent(s.who.id, s.who.name, agent_status::away);
  router_.assign(c->rec.id, s.who.id, clock_());
  c->joined[s.who.id] = protocol::join_mode::barge;
  record(c->rec.id, actor(s.who), "took_over", json{{"from", previous.value_or("")}});
  apply_assignment(c->rec.id, s.who.id, previous);
  update_queue_gauges();
  try_assign();
  mark_snapshot_dirty();
}

// ---------------------------------------------------------------------------
// supervisors' view

void hub::update_queue_gauges() {
  // Stopped, its shard's series are zero (stop) or another hub's now (the shards planned again).
  if (stopped_.set()) return;
  metrics_.set_shard_queue(shard_, static_cast<std::int64_t>(router_.queued_count()),
                           router_.oldest_enqueued_ts().value_or(0));
  // By store: every configured store has its series, 0 when nobody waits.
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> by_store;
  for (const auto& st : cfg_.stores)
    if (owns(st.id)) by_store[st.id] = {0, 0};
  for (const auto& e : router_.queue_order()) {
    auto& [n, oldest] = by_store[e.store];
    ++n;
    if (oldest == 0 || e.enqueued_ts < oldest) oldest = e.enqueued_ts;
  }
  for (const auto& [st, v] : by_store)
    if (cfg_.find_store(st)) metrics_.set_store_queue(st, v.first, v.second);
}

void hub::mark_snapshot_dirty() {
  // Agents count too: the snapshot's turn also publishes the store's agents online.
  if (snapshot_pending_ || (supervisor_conns_.empty() && agent_conns_.empty())) return;
  snapshot_pending_ = true;
  // Coalesce: at most one snapshot per snapshot_min_gap_ms, however many changes
  // (a burst of logins or new conversations would otherwise send one per change).
  const std::chrono::milliseconds gap{cfg_.routing.snapshot_min_gap_ms};
  auto due = last_snapshot_ + gap;
  auto now = std::chrono::steady_clock::now();
  if (due <= now) {
    on_strand([self = shared_from_this()] {
      self->snapshot_pending_ = false;
      self->send_snapshot();
    });
    return;
  }
  snapshot_delay_.expires_after(due - now);
  snapshot_delay_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    busy_scope busy(self->metrics_, self->shard_);
    self->snapshot_pending_ = false;
    if (!ec && !self->stopped_) self->send_snapshot();
  });
}

namespace {

bool shares_store(const std::vector<std::string>& viewer, const std::vector<std::string>& agent) {
  if (viewer.empty() || agent.empty()) return true;
  for (const auto& s : viewer)
    if (std::find(agent.begin(), agent.end(), s) != agent.end()) return true;
  return false;
}

bool viewer_serves(const std::vector<std::string>& viewer, const std::string& store) {
  return viewer.empty() || std::find(viewer.begin(), viewer.end(), store) != viewer.end();
}

// Available first: online with a free slot, online and full, away, offline.
int availability(const routing::agent_view& a) {
  switch (a.status) {
    case agent_status::online: return a.load < a.capacity ? 0 : 1;
    case agent_status::away: return 2;
    case agent_status::offline: return 3;
  }
  return 3;
}

bool contains_nocase(const std::string& hay, const std::string& needle) {
  auto lower = [](unsigned char c) { return static_cast<char>(c < 0x80 ? std::tolower(c) : c); };
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [&](char a, char b) { return lower(static_cast<unsigned char>(a)) == lower(static_cast<unsigned char>(b)); }) !=
         hay.end();
}

}  // namespace

std::vector<routing::agent_view> hub::agents_seen_by(const std::vector<std::string>& stores) const {
  std::vector<routing::agent_view> out;
  for (auto& a : router_.agents()) {
    // A supervisor holding a conversation (takeover) is in the router, not a colleague to list.
    if (auto u = users().find(a.id); u != users().end() && u->second.r != role::agent) continue;
    if (!shares_store(stores, a.stores)) continue;
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(), [](const routing::agent_view& x, const routing::agent_view& y) {
    const int ax = availability(x), ay = availability(y);
    if (ax != ay) return ax < ay;
    return std::tie(x.name, x.id) < std::tie(y.name, y.id);
  });
  return out;
}

json hub::agent_row(const routing::agent_view& a) const {
  return json{{"id", a.id},       {"name", a.name},
              {"status", to_string(a.status)},
              {"load", a.load},   {"capacity", a.capacity},
              {"connected", by_user_.count(a.id) > 0},
              {"senior", a.senior}, {"stores", a.stores}};
}

void hub::on_agents_list(session_entry& s, std::uint64_t conn_id, const protocol::agents_list& m) {
  const char* ref = "agents.list";
  if (!is_staff(s.who.role)) return send_error(conn_id, error_code::forbidden, "agents.list is for staff", ref);
  std::vector<std::string> scope = s.stores;
  if (!m.store.empty()) {
    if (!cfg_.find_store(m.store)) return send_error(conn_id, error_code::not_found, "no such store: " + m.store, ref);
    if (!s.serves(m.store)) return send_error(conn_id, error_code::forbidden, "not a store you serve: " + m.store, ref);
    scope = {m.store};
  }
  json page = json::array();
  int total = 0;
  for (const auto& a : agents_seen_by(scope)) {
    if (m.status && a.status != *m.status) continue;
    if (!m.q.empty() && !contains_nocase(a.name, m.q) && !contains_nocase(a.id, m.q)) continue;
    if (total >= m.offset && static_cast<int>(page.size()) < m.limit) page.push_back(agent_row(a));
    ++total;
  }
  const bool more = m.offset + static_cast<int>(page.size()) < total;
  send_to(conn_id, make_frame(json{{"type", "agents.list"}, {"ts", clock_()}, {"agents", std::move(page)},
                                   {"total", total}, {"offset", m.offset}, {"more", more}}
                                  .dump()));
}

frame_ptr hub::snapshot_frame(const std::vector<std::string>& viewer) const {
  const auto now = clock_();
  const auto max_agents = static_cast<std::size_t>(cfg_.routing.snapshot_max_agents);
  const auto max_waiting = static_cast<std::size_t>(cfg_.routing.snapshot_max_waiting);
  bool truncated = false;
  // Agents: the first max_agents (available first), all of them counted.
  const auto seen = agents_seen_by(viewer);
  json agents = json::array();
  int online = 0, away = 0, offline = 0;
  for (const auto& a : seen) {
    online += a.status == agent_status::online;
    away += a.status == agent_status::away;
    offline += a.status == agent_status::offline;
    if (agents.size() < max_agents) agents.push_back(agent_row(a));
  }
  truncated |= seen.size() > max_agents;
  // Queues: the first max_waiting of each in queue order, all of them counted.
  struct q_state {
    json waiting = json::array();
    std::size_t total = 0;
  };
  std::map<std::pair<std::string, std::string>, q_state> queues;  // (store, queue)
  for (const auto& st : cfg_.stores)
    if (owns(st.id) && viewer_serves(viewer, st.id))
      for (const auto& q : cfg_.queues_of(st)) queues[{st.id, q}];
  for (const auto& e : router_.queue_order()) {
    auto it = open_.find(e.conversation_id);
    const conv_entry* c = it == open_.end() ? nullptr : &it->second;
    const std::string& store = c ? c->rec.shopper.store : e.store;
    if (!viewer_serves(viewer, store)) continue;
    auto& q = queues[{store, e.queue}];
    if (q.total++ >= max_waiting) {
      truncated = true;
      continue;
    }
    q.waiting.push_back(json{{"conversation_id", e.conversation_id},
                             {"wait_s", (now - e.enqueued_ts) / 1000},
                             {"level", c ? level_of(*c) : 0.0},
                             {"shopper", c ? c->rec.shopper.name : ""},
                             {"vip", e.vip},
                             {"store", store}});
  }
  json qs = json::array();
  for (auto& [k, q] : queues)
    qs.push_back(json{{"name", k.second}, {"store", k.first}, {"waiting", std::move(q.waiting)}, {"waiting_total", q.total}});
  return make_frame(json{{"type", "queue.snapshot"},
                         {"ts", now},
                         {"queues", std::move(qs)},
                         {"agents", std::move(agents)},
                         {"agents_total", seen.size()},
                         {"agents_by_status", json{{"online", online}, {"away", away}, {"offline", offline}}},
                         {"truncated", truncated}}
                        .dump());
}

// Supervisors only, one frame per distinct set of stores among them: each sees
// the agents and the queues of its own stores. Agents get no snapshot (they
// ask agents.list): a thousand agents coming online no longer cost each of
// them a thousand colleagues on every change.
void hub::send_snapshot() {
  // Coalesced with the snapshots, not on every change.
  publish_store_presence(false);
  last_snapshot_ = std::chrono::steady_clock::now();
  if (supervisor_conns_.empty()) return;
  std::map<std::vector<std::string>, frame_ptr> frames;
  for (auto id : supervisor_conns_) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;
    auto& f = frames[it->second.stores];
    if (!f) f = snapshot_frame(it->second.stores);
    send_to(id, f);
  }
}

void hub::send_snapshot_to(std::uint64_t conn_id) {
  auto it = sessions_.find(conn_id);
  if (it == sessions_.end()) return;
  send_to(conn_id, snapshot_frame(it->second.stores));
}

void hub::schedule_snapshot_timer() {
  if (stopped_) return;
  snapshot_timer_.expires_after(std::chrono::seconds(cfg_.routing.queue_snapshot_interval_s));
  snapshot_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    busy_scope busy(self->metrics_, self->shard_);
    if (ec || self->stopped_) return;
    if (self->router_.queued_count() > 0) self->send_snapshot();
    self->close_expired_sessions(self->clock_());
    self->sweep_abandoned(self->clock_());
    self->retry_unsaved();
    self->publish_store_presence(false);
    self->schedule_snapshot_timer();
  });
}

}  // namespace calma

// The escalation desk: the anger curve of every open conversation and the
// escalations it raises, acknowledged and resolved by supervisors.
#include "server/hub/hub_internal.hpp"

namespace calma {

// ---------------------------------------------------------------------------
// anger curve and escalations


void hub::start_monitor(conv_entry& c) const {
  const auto& lex = *engine_->lexicons;
  auto lang = c.rec.shopper.language.empty() ? anger::no_lang : lex.find(c.rec.shopper.language);
  // The engine's parameters, shared (aliasing pointers: they keep the engine alive, nothing is copied).
  c.mon = std::make_unique<escalation::monitor>(
      *engine_->scorer, std::shared_ptr<const anger::curve_params>(engine_, &engine_->anger.curve),
      std::shared_ptr<const escalation::params>(engine_, &engine_->escalation), c.rec.created_ts, lang);
}

double hub::level_of(const conv_entry& c) const {
  return c.timeline.empty() ? 0.0 : round1(c.timeline.back().level);
}

json hub::point_json(const conv_entry& c, const anger::point& p) const {
  json j{{"type", "anger.update"},  {"conversation_id", c.rec.id}, {"ts", p.ts},
         {"level", round1(p.level)}, {"phase", anger::phase_name(p.phase)}, {"trend", round1(p.trend)},
         {"cues", p.cues}};
  if (p.eta_ms) j["eta_s"] = *p.eta_ms / 1000;
  // The coaching hint for the agent, in the conversation's language.
  const auto stage = c.mon->coaching();
  const auto& lex = *engine_->lexicons;
  auto lang = lex.find(c.rec.shopper.language);
  if (lang == anger::no_lang) lang = c.mon->last_score().lang;
  j["coaching_stage"] = stage;
  j["coaching"] = lex.coaching(lang, stage);
  return j;
}

// point_json(c, p).dump(), byte for byte (keys in std::map order, numbers
// through json's own formatting), without building the tree: one per point,
// several points per shopper message, each sent to the agent and the supervisors.
std::string hub::point_frame(const conv_entry& c, const anger::point& p) const {
  const auto stage = c.mon->coaching();
  const auto& lex = *engine_->lexicons;
  auto lang = lex.find(c.rec.shopper.language);
  if (lang == anger::no_lang) lang = c.mon->last_score().lang;
  const auto coaching = lex.coaching(lang, stage);
  // The coaching lines are the lexicon's own, fixed while the hub lives: each
  // one checked and escaped once (keyed by where it lives), not on every point.
  auto memo = coaching_json_.find(coaching.data());
  if (memo == coaching_json_.end() || memo->second.first != coaching.size()) {
    std::string esc;
    if (protocol::valid_utf8(coaching)) protocol::append_json_string(esc, coaching);
    memo = coaching_json_.insert_or_assign(coaching.data(), std::pair{coaching.size(), std::move(esc)}).first;
  }
  const std::string& coaching_json = memo->second.second;
  bool ok = !coaching_json.empty() && protocol::valid_utf8(stage) && protocol::valid_utf8(c.rec.id);
  for (const auto& cue : p.cues) ok = ok && protocol::valid_utf8(cue);
  if (!ok) return point_json(c, p).dump();  // dump()'s own answer to bad bytes
  std::string out;
  out.reserve(192 + coaching_json.size());
  out += "{\"coaching\":";
  out += coaching_json;
  out += ",\"coaching_stage\":";
  protocol::append_json_string(out, stage);
  out += ",\"conversation_id\":";
  protocol::append_json_string(out, c.rec.id);
  out += ",\"cues\":[";
  for (std::size_t i = 0; i < p.cues.size(); ++i) {
    if (i) out += ',';
    protocol::append_json_string(out, p.cues[i]);
  }
  out += ']';
  if (p.eta_ms) {
    out += ",\"eta_s\":";
    out += std::to_string(*p.eta_ms / 1000);
  }
  out += ",\"level\":";
  protocol::append_json_tenths(out, round1(p.level));
  out += ",\"phase\":";
  protocol::append_json_string(out, anger::phase_name(p.phase));
  out += ",\"trend\":";
  protocol::append_json_tenths(out, round1(p.trend));
  out += ",\"ts\":";
  out += std::to_string(p.ts);
  out += ",\"type\":\"anger.update\"}";
  return out;
}

json hub::curve_json(const conv_entry& c) const {
  json a = json::array();
  for (const auto& p : c.timeline)
    a.push_back(json{{"ts", p.ts}, {"level", round1(p.level)}, {"phase", anger::phase_name(p.phase)}, {"cues", p.cues}});
  return a;
}

protocol::escalation_fields hub::escalation_fields_of(const conv_entry& c) const {
  const auto& e = *c.esc;
  const auto now = clock_();
  protocol::escalation_fields f;
  f.escalation_id = e.id;
  f.conversation_id = c.rec.id;
  f.severity = escalation::severity_name(e.sev);
  f.store = c.rec.shopper.store;
  f.reasons = &e.reasons;
  f.reason_keys = &e.keys;
  f.handled_by = &c.handled_by;
  f.shopper = c.rec.whole_shopper();
  f.level = level_of(c);
  f.raised_ts = e.raised_ts;
  f.conversation_s = (now - c.rec.created_ts) / 1000;
  if (c.rec.state == conversation_state::queued) f.queued_s = (now - c.rec.created_ts) / 1000;
  if (c.unanswered_since) f.unanswered_s = (now - *c.unanswered_since) / 1000;
  if (c.rec.agent_id) {
    f.has_agent = true;
    f.agent_id = *c.rec.agent_id;
    f.agent_name = c.rec.agent_name;
  }
  f.acked_by = e.acked_by;
  f.renotified = e.renotified;
  return f;
}

json hub::escalation_json(const conv_entry& c) const {
  json j = protocol::to_json(escalation_fields_of(c));
  json curve = json::array();
  for (const auto& p : c.timeline) curve.push_back(json{{"ts", p.ts}, {"level", round1(p.level)}});
  j["curve"] = std::move(curve);
  j["transcript_tail"] = json::array();
  return j;
}

// escalation_json(c) with "update", as text, but for the curve and the
// transcript: the curve (up to anger.curve.history_points points) is written
// straight into the text here, the transcript's messages by
// escalation_frame_end, as their chat.message frames are. Raised and
// updated on every new reason: no json tree per point or message.
std::string hub::escalation_frame_start(const conv_entry& c, bool update) const {
  auto f = escalation_fields_of(c);
  f.update = update;
  std::string out;
  out.reserve(1024 + c.timeline.size() * 32);
  if (!protocol::append_escalation_fields(out, f)) {
    out = protocol::to_json(f).dump();  // dump()'s own answer to bad bytes
    out.pop_back();                    // its closing brace: the arrays follow
  }
  out += ",\"curve\":[";
  bool first = true;
  for (const auto& p : c.timeline) {
    out += first ? "{\"level\":" : ",{\"level\":";
    first = false;
    protocol::append_json_tenths(out, round1(p.level));
    out += ",\"ts\":";
    out += std::to_string(p.ts);
    out += '}';
  }
  out += "],\"transcript_tail\":[";
  return out;
}

std::string hub::escalation_frame_end(std::string start, const std::vector<chat_message>& tail) {
  for (std::size_t i = 0; i < tail.size(); ++i) {
    if (i) start += ',';
    start += protocol::make_chat_message(tail[i]);
  }
  start += "]}";
  return start;
}

void hub::send_escalation(conv_entry& c, bool update) {
  if (!c.esc) return;
  std::string start = escalation_frame_start(c, update);
  // The supervisor needs the last messages: read them, then send.
  const std::int64_t tail = 10;
  store_.read_messages(c.rec.id, std::max<std::int64_t>(0, c.rec.last_seq - tail), tail,
                       [self = shared_from_this(), id = c.rec.id, start = std::move(start)](auto r) mutable {
    self->on_strand([self, id, start = std::move(start), r = std::move(r)]() mutable {
      static const std::vector<chat_message> none;
      auto f = make_frame(escalation_frame_end(std::move(start), r.ok() ? r.value : none));
      auto* c = self->open_conversation(id);
      if (!c) return;
      self->send_to_supervisors(c->rec.shopper.store, f);
      if (c->rec.agent_id) {
        // Unless the holder is a supervisor, who got it above.
        auto u = self->users().find(*c->rec.agent_id);
        if (u == self->users().end() || u->second.r != role::supervisor) self->send_to_user(*c->rec.agent_id, f);
      }
    });
  });
}

namespace {
// Feeds a conversation's stored history to a monitor in time order: queued at
// creation, assigned at the first staff answer (or at the last update if it
// is assigned), every message, then time up to `until`. `sink` gets every
// output. Whispers do not move the curve.
// `before(m)` runs for each message that moves the curve, once time has caught
// up with it and before its words count (the figures read the level then).
template <class Record, class Sink, class Before>
void feed_history(escalation::monitor& mon, const Record& rec,
                  const std::vector<chat_message>& messages, timestamp_ms until, Sink&& sink, Before&& before) {
  sink(mon.on_queued(rec.created_ts));
  bool assigned = rec.state == conversation_state::queued;
  auto assign_at = [&](timestamp_ms ts) {
    if (assigned) return;
    assigned = true;
    sink(mon.on_assigned(ts));
  };
  // The stored acknowledgement of the open escalation, applied at its time.
  bool acked = rec.escalation_acked_ts == 0;
  auto ack_before = [&](timestamp_ms ts) {
    if (acked || rec.escalation_acked_ts > ts) return;
    acked = true;
    sink(mon.catch_up(rec.escalation_acked_ts));
    mon.on_acknowledged(rec.escalation_acked_ts);
  };
  for (const auto& m : messages) {
    ack_before(m.ts);
    if (m.from.role == role::shopper) {
      sink(mon.catch_up(m.ts));
      before(m);
      sink(mon.on_customer_message(m.ts, m.text));
    } else if (m.visibility == visibility::all) {
      assign_at(m.ts);
      sink(mon.catch_up(m.ts));
      before(m);
      sink(mon.on_staff_message(m.ts, m.text));
    }
  }
  assign_at(std::max(rec.updated_ts, rec.created_ts));
  ack_before(until);
  sink(mon.catch_up(until));
}
}  // namespace

void hub::replay(conv_entry& c, const std::vector<chat_message>& messages) {
  for (const auto& m : messages) {
    if (m.visibility == visibility::all) c.last_visible_seq = std::max(c.last_visible_seq, m.seq);
    if (m.from.role == role::shopper) {
      if (!c.unanswered_since) c.unanswered_since = m.ts;
    } else if (m.visibility == visibility::all) {
      c.unanswered_since.reset();
    }
  }
  // The figures are rebuilt with the curve (whatever was stored for an open conversation is older).
  c.fig = reports::figures_builder();
  c.causes.reset();
  replaying_ = true;
  feed_history(*c.mon, c.rec, messages, clock_(), [&](escalation::output o) { apply(c, std::move(o)); },
               [&](const chat_message& m) {
                 note_message(c, m);
                 tag_causes(c, m);
               });
  replaying_ = false;
  if (c.esc && c.rec.escalation_acked_ts != 0) {
    c.esc->acked_by = c.rec.rest().escalation_acked_by;
    c.esc->acked_ts = c.rec.escalation_acked_ts;
  }
}

json hub::replayed_timeline(const conversation_record& rec, const std::vector<chat_message>& messages) const {
  // A closed conversation's curve, rebuilt from its messages (nothing is sent).
  conv_entry tmp;
  tmp.rec.assign(rec);
  start_monitor(tmp);
  const timestamp_ms until = messages.empty() ? rec.updated_ts : std::max(rec.updated_ts, messages.back().ts);
  json out = json::array();
  feed_history(
      *tmp.mon, rec, messages, until,
      [&](const escalation::output& o) {
        for (const auto& p : o.points)
          out.push_back(json{{"ts", p.ts}, {"level", round1(p.level)}, {"phase", anger::phase_name(p.phase)}, {"cues", p.cues}});
      },
      [](const chat_message&) {});
  return out;
}

void hub::raise_escalation(conv_entry& c, const escalation::decision& d) {
  if (!c.esc) {
    escalation_state e;
    e.id = new_id("e_");
    e.sev = d.sev;
    e.reasons = d.reasons;
    e.keys = d.keys;
    e.raised_ts = d.ts;
    c.esc = std::make_unique<escalation_state>(std::move(e));
    escalations_[c.esc->id] = c.rec.id;
    c.fig.on_escalation(d.keys, true);
    if (replaying_) return;  // the load settles it against the audit trail (settle_replayed_escalation)
    return announce_escalation(c);
  }
  // One open escalation per conversation: a new reason joins it.
  for (const auto& r : d.reasons)
    if (std::find(c.esc->reasons.begin(), c.esc->reasons.end(), r) == c.esc->reasons.end()) c.esc->reasons.push_back(r);
  if (d.sev > c.esc->sev) c.esc->sev = d.sev;
  for (const auto& k : d.keys)
    if (std::find(c.esc->keys.begin(), c.esc->keys.end(), k) == c.esc->keys.end()) c.esc->keys.push_back(k);
  c.fig.on_escalation(d.keys, false);
  if (replaying_) return;  // as it was before the load: told already, or told whole when announced
  record(c.rec.id, system_actor(), "escalated",
         json{{"escalation_id", c.esc->id}, {"severity", escalation::severity_name(c.esc->sev)}, {"reasons", d.reasons},
              {"keys", d.keys}, {"update", true}});
  spdlog::info("escalation {} on conversation {} now {}: {}", c.esc->id, c.rec.id,
               escalation::severity_name(c.esc->sev), fmt::join(d.reasons, "; "));
  send_escalation(c, true);
}

void hub::announce_escalation(conv_entry& c) {
  record(c.rec.id, system_actor(), "escalated",
         json{{"escalation_id", c.esc->id}, {"severity", escalation::severity_name(c.esc->sev)}, {"reasons", c.esc->reasons},
              {"keys", c.esc->keys}});
  metrics_.count_escalation(c.rec.shopper.store);
  spdlog::info("escalation {} raised on conversation {}: {} ({})", c.esc->id, c.rec.id,
               escalation::severity_name(c.esc->sev), fmt::join(c.esc->reasons, "; "));
  send_escalation(c, false);
}

void hub::settle_replayed_escalation(conv_entry& c, const std::vector<audit_entry>& audit) {
  if (!c.esc) return;
  // The last escalation raised on the conversation, and when it was resolved (0: open).
  std::string raised;
  timestamp_ms resolved_ts = 0;
  for (const auto& line : audit) {
    const auto e = json::parse(line, nullptr, false);
    if (!e.is_object() || !e.contains("escalation_id") || !e["escalation_id"].is_string()) continue;
    const auto action = e.value("action", "");
    if (action == "escalated" && !e.value("update", false)) {
      raised = e["escalation_id"].get<std::string>();
      resolved_ts = 0;
    }
    if (action == "escalation_resolved" && e["escalation_id"] == raised) resolved_ts = e.value("ts", timestamp_ms{1});
  }
  if (!raised.empty() && resolved_ts != 0 && c.esc->raised_ts <= resolved_ts) {
    // The replay does not see resolutions: what it found open began before
    // the last one was resolved, so it is that one, closed by a supervisor
    // then. Closed again quietly, as of then (the rules' cooldown runs from
    // it); nobody is told anything.
    escalations_.erase(c.esc->id);
    c.esc.reset();
    c.mon->on_resolved(resolved_ts);
    return schedule_deadline(c);
  }
  if (raised.empty() || resolved_ts != 0) return announce_escalation(c);  // new: nobody was told of it
  // Raised by an earlier hub and told then: the same id (an ack naming it
  // still works), not audited, counted nor sent again (the welcome lists it).
  escalations_.erase(c.esc->id);
  c.esc->id = raised;
  escalations_[raised] = c.rec.id;
}

void hub::end_escalation(conv_entry& c, const participant& by, const std::string& note, bool closed) {
  if (!c.esc) return;
  json j{{"type", "escalation.resolved"}, {"escalation_id", c.esc->id}, {"conversation_id", c.rec.id},
         {"by", by.id}, {"by_name", by.name}, {"note", note}, {"conversation_closed", closed}};
  auto f = make_frame(j.dump());
  send_to_supervisors(c.rec.shopper.store, f);
  if (c.rec.agent_id) send_to_user(*c.rec.agent_id, f);
  escalations_.erase(c.esc->id);
  c.esc.reset();
  c.mon->on_resolved(clock_());
  if (c.rec.escalation_acked_ts != 0) {
    c.rec.escalation_acked_ts = 0;
    c.rec.rest_for_write().escalation_acked_by.clear();
    if (c.rec.state != conversation_state::closed) persist(c);
  }
}

void hub::apply(conv_entry& c, escalation::output out) {
  for (auto& p : out.points) {
    // Staff only: the agent and every supervisor; never the shopper.
    send_to_conversation(c, make_frame(point_frame(c, p)), /*staff_only=*/true, 0, /*and_all_supervisors=*/true);
    c.fig.on_level(round1(p.level));
    c.timeline.push_back(std::move(p));
    constexpr std::size_t max_points = 2000;  // a long chat's whole curve; older points fall off
    while (c.timeline.size() > max_points) c.timeline.pop_front();
    if (router_.is_queued(c.rec.id)) {
      // The angrier the customer, the sooner an agent takes it.
      router_.set_priority(c.rec.id, level_of(c));
      mark_snapshot_dirty();
    }
  }
  for (const auto& d : out.decisions) {
    switch (d.kind) {
      case escalation::decision_kind::escalate: raise_escalation(c, d); break;
      case escalation::decision_kind::renotify:
        if (c.esc) {
          c.esc->sev = d.sev;
          ++c.esc->renotified;
          spdlog::warn("escalation {} on conversation {} not acknowledged: re-notified as {}", c.esc->id, c.rec.id,
                       escalation::severity_name(c.esc->sev));
          send_escalation(c, true);
        }
        break;
      case escalation::decision_kind::warn_agent:
      case escalation::decision_kind::nudge_agent:
        if (c.rec.agent_id) {
          json j{{"type", "agent.alert"}, {"conversation_id", c.rec.id},
                 {"kind", d.kind == escalation::decision_kind::warn_agent ? "warning" : "nudge"},
                 {"reasons", d.reasons}, {"ts", d.ts}};
          send_to_user(*c.rec.agent_id, make_frame(j.dump()));
        }
        break;
    }
  }
  schedule_deadline(c);
}

// Called after every change of the curve (several times per message): the
// conversation's entry moves only when the next deadline comes sooner than the
// one it is armed for. Armed for an earlier time, it fires, its catch_up does
// nothing before the deadline, and apply() arms it for the real one. No timer
// operation on a message that moves no deadline closer; the one hub timer is
// armed again only when the earliest of all comes sooner.
void hub::schedule_deadline(conv_entry& c) {
  auto dl = c.mon->next_deadline();
  if (!dl || stopped_) return cancel_deadline(c);
  if (c.deadline_at != 0 && c.deadline_at <= *dl) return;
  deadlines_.arm(c.rec.id, c.deadline_at, *dl);
  arm_deadline_timer();
}

void hub::cancel_deadline(conv_entry& c) { deadlines_.cancel(c.rec.id, c.deadline_at); }

void hub::arm_deadline_timer() {
  const auto first = deadlines_.earliest();
  if (!first || stopped_) return;
  if (deadline_timer_at_ != 0 && deadline_timer_at_ <= *first) return;
  deadline_timer_at_ = *first;
  deadline_timer_.expires_after(std::chrono::milliseconds(std::max<timestamp_ms>(0, *first - clock_())));
  deadline_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;  // cancelled: armed again for sooner (or stopping)
    busy_scope busy(self->metrics_, self->shard_);
    self->deadline_timer_at_ = 0;
    self->fire_deadlines();
  });
}

// Each entry is taken out once (deadline_set::take_due); one whose
// conversation closed, or was armed again meanwhile, is passed over.
// A timer that fires early (the clocks differ) takes nothing and is armed again.
void hub::fire_deadlines() {
  const auto now = clock_();
  for (const auto& [at, id] : deadlines_.take_due(now)) {
    auto* c = open_conversation(id);
    if (!c || c->deadline_at != at) continue;
    c->deadline_at = 0;
    apply(*c, c->mon->catch_up(now));
  }
  arm_deadline_timer();
}

void hub::on_escalation_ack(session_entry& s, std::uint64_t conn_id, const protocol::escalation_ack& m) {
  const char* ref = "escalation.ack";
  if (s.who.role != role::supervisor) return send_error(conn_id, error_code::forbidden, "only supervisors handle escalations", ref);
  auto it = escalations_.find(m.escalation_id);
  auto* c = it == escalations_.end() ? nullptr : open_conversation(it->second);
  if (!c || !c->esc || !may_see(s.who, c->rec))
    return send_error(conn_id, error_code::not_found, "no such open escalation: " + m.escalation_id, ref);
  if (c->esc->acked_by.empty()) {
    spdlog::info("escalation {} acknowledged by {}", c->esc->id, s.who.id);
    c->esc->acked_by = s.who.id;
    c->esc->acked_ts = clock_();
    c->rec.escalation_acked_ts = c->esc->acked_ts;
    c->rec.rest_for_write().escalation_acked_by = c->esc->acked_by;
    persist(*c);
    c->mon->on_acknowledged(c->esc->acked_ts);
    schedule_deadline(*c);
    record(c->rec.id, actor(s.who), "escalation_acked", json{{"escalation_id", c->esc->id}});
  }
  json j{{"type", "escalation.acked"}, {"escalation_id", c->esc->id}, {"conversation_id", c->rec.id},
         {"by", c->esc->acked_by}, {"by_name", users().count(c->esc->acked_by) ? users().at(c->esc->acked_by).name : ""},
         {"ts", c->esc->acked_ts}};
  auto f = make_frame(j.dump());
  send_to_supervisors(c->rec.shopper.store, f);
  if (c->rec.agent_id) send_to_user(*c->rec.agent_id, f);
}

void hub::on_escalation_resolve(session_entry& s, std::uint64_t conn_id, const protocol::escalation_resolve& m) {
  const char* ref = "escalation.resolve";
  if (s.who.role != role::supervisor) return send_error(conn_id, error_code::forbidden, "only supervisors handle escalations", ref);
  auto it = escalations_.find(m.escalation_id);
  auto* c = it == escalations_.end() ? nullptr : open_conversation(it->second);
  if (!c || !c->esc || !may_see(s.who, c->rec))
    return send_error(conn_id, error_code::not_found, "no such open escalation: " + m.escalation_id, ref);
  spdlog::info("escalation {} resolved by {}", c->esc->id, s.who.id);
  record(c->rec.id, actor(s.who), "escalation_resolved", json{{"escalation_id", c->esc->id}, {"note", m.note}});
  end_escalation(*c, s.who, m.note, false);
  schedule_deadline(*c);
}

}  // namespace calma

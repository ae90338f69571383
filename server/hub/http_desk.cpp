// What the HTTP API asks of the hub, off the chat's hot path: a
// conversation's detail, a store's follow-ups and its widget status.
#include "server/hub/hub_internal.hpp"

namespace calma {

// ---------------------------------------------------------------------------
// HTTP

void hub::conversation_detail(participant who, std::string id, std::function<void(http_answer)> done) {
  on_strand([self = shared_from_this(), who, id, done = std::move(done)]() mutable {
    self->store_.get_conversation(id, [self, who, id, done = std::move(done)](auto r) mutable {
      self->on_strand([self, who, id, done = std::move(done), r = std::move(r)]() mutable {
        auto err = [&](unsigned st, error_code c, std::string msg) {
          done({st, json{{"error", json{{"code", protocol::to_string(c)}, {"message", std::move(msg)}}}}});
        };
        if (!r.ok()) return err(503, error_code::unavailable, "store unavailable");
        if (!r.value) return err(404, error_code::not_found, "no such conversation");
        conversation_record rec = *r.value;
        json timeline = json::array();
        if (auto* c = self->open_conversation(id)) {
          rec = whole(*c);
          for (const auto& p : c->timeline) {
            auto pj = self->point_json(*c, p);
            timeline.push_back(json{{"ts", p.ts}, {"level", pj["level"]}, {"phase", pj["phase"]}, {"cues", p.cues}});
          }
        }
        if (!self->may_see(who, rec)) return err(403, error_code::forbidden, "not your conversation");
        const bool open = self->open_conversation(id) != nullptr;
        self->store_.read_messages(id, 0, 1'000'000, [self, rec, open, timeline, done = std::move(done)](auto m) mutable {
          self->on_strand([self, rec, open, timeline, done = std::move(done), m = std::move(m)]() mutable {
            if (!m.ok())
              return done({503, json{{"error", json{{"code", "unavailable"}, {"message", "store unavailable"}}}}});
            if (!open) timeline = self->replayed_timeline(rec, m.value);
            json msgs = json::array();
            for (const auto& x : m.value) msgs.push_back(protocol::to_json(x));
            json conv = protocol::summary_json(rec, true);
            conv["closed_by"] = rec.closed_by;
            conv["close_reason"] = rec.close_reason;
            conv["context"] = protocol::to_json(rec.shopper.context);
            conv["contact"] = protocol::to_json(rec.contact);
            conv["follow_up"] = json{{"pending", needs_follow_up(rec)}, {"reason", follow_up_reason(rec)},
                                     {"requested", rec.follow_up}, {"done_ts", rec.follow_up_done_ts},
                                     {"done_by", rec.follow_up_done_by}};
            conv["first_response_ts"] = rec.first_response_ts;
            conv["categories"] = rec.categories;
            conv["categories_corrected"] = rec.categories_corrected;
            conv["csat"] = rec.csat_score == 0 ? json(nullptr)
                                               : json{{"score", rec.csat_score}, {"comment", rec.csat_comment}, {"ts", rec.csat_ts}};
            conv["figures"] = reports::to_json(rec.figures);
            if (auto* c = self->open_conversation(rec.id)) conv["figures"] = reports::to_json(c->fig.figures());
            json body{{"conversation", conv}, {"messages", std::move(msgs)}, {"anger", std::move(timeline)}};
            // PROTOCOL v1.1 names these at the top level too.
            for (const char* k : {"context", "categories", "csat"}) body[k] = conv[k];
            body["store"] = rec.shopper.store;
            self->store_.read_audit(rec.id, [self, body = std::move(body), done = std::move(done)](auto a) mutable {
              self->on_strand([body = std::move(body), done = std::move(done), a = std::move(a)]() mutable {
                if (!a.ok())
                  return done({503, json{{"error", json{{"code", "unavailable"}, {"message", "store unavailable"}}}}});
                json audit = json::array();
                for (const auto& e : a.value) {
                  auto j = json::parse(e, nullptr, false);
                  if (!j.is_discarded()) audit.push_back(std::move(j));
                }
                body["audit"] = std::move(audit);
                done({200, std::move(body)});
              });
            });
          });
        });
      });
    });
  });
}

void hub::followups(participant who, std::vector<std::string> stores, std::function<void(http_answer)> done) {
  on_strand([self = shared_from_this(), who, stores = std::move(stores), done = std::move(done)]() mutable {
    conversation_filter f;
    f.open_only = false;
    f.follow_up_only = true;
    f.stores = stores;
    f.limit = 1000;
    self->store_.list_conversations(f, [self, done = std::move(done)](auto r) mutable {
      self->on_strand([self, done = std::move(done), r = std::move(r)]() mutable {
        if (!r.ok())
          return done({503, json{{"error", json{{"code", "unavailable"}, {"message", "store unavailable"}}}}});
        std::vector<conversation_record> list;
        for (auto& rec : r.value) {
          // The hub's copy of an open conversation is the freshest.
          if (auto* c = self->open_conversation(rec.id)) rec = whole(*c);
          if (needs_follow_up(rec)) list.push_back(std::move(rec));
        }
        std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.created_ts < b.created_ts; });
        json out = json::array();
        for (const auto& rec : list)
          out.push_back(json{{"conversation_id", rec.id},
                             {"store", rec.shopper.store},
                             {"state", to_string(rec.state)},
                             {"shopper", protocol::shopper_json(rec.shopper)},
                             {"contact", protocol::to_json(rec.contact)},
                             {"reason", follow_up_reason(rec)},
                             {"close_reason", rec.close_reason},
                             {"created_ts", rec.created_ts},
                             {"updated_ts", rec.updated_ts},
                             {"agent", rec.agent_id ? json{{"id", *rec.agent_id}, {"name", rec.agent_name}} : json(nullptr)}});
        done({200, json{{"followups", std::move(out)}}});
      });
    });
  });
}

void hub::widget_status(std::string store_id, std::function<void(http_answer)> done) {
  const auto* st = cfg_.find_store(store_id);
  if (!st) return done({404, json{{"error", json{{"code", "not_found"}, {"message", "no such store"}}}}});
  // Agents online come from the store: on a cluster, the leader's hub keeps the count there.
  store_.get_online_agents(store_id, [self = shared_from_this(), st, done = std::move(done)](auto r) mutable {
    const auto now = self->clock_();
    const bool in_hours = st->hours.is_open(now);
    const bool agents = r.ok() && r.value > 0;
    json j{{"id", st->id},
           {"name", st->name},
           {"languages", st->languages},
           {"open", in_hours && agents},
           {"in_hours", in_hours},
           {"agents_online", agents},
           {"hours", st->hours.to_json()},
           {"tz", st->hours.tz_name()},
           {"server_ts", now}};
    auto next = in_hours ? std::optional<timestamp_ms>() : st->hours.next_open(now);
    j["next_open_ts"] = next ? json(*next) : json(nullptr);
    auto closes = in_hours ? st->hours.next_change(now) : std::nullopt;
    j["closes_ts"] = closes ? json(*closes) : json(nullptr);
    done({200, std::move(j)});
  });
}

}  // namespace calma

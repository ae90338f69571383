// The hub: applies the rules to the connected people.
//
// All hub state lives on one strand. Sessions hand it parsed messages (any
// thread: every entry point goes through the strand: a session's at once
// when the strand is free, see on_strand_from_session); it asks the store, the
// router and (later) the anger curve, and sends the resulting frames to the
// connections concerned. It holds connections by weak pointer: a session's
// lifetime is its own.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>

#include "common/config/config.hpp"
#include "common/limits/doors.hpp"
#include "common/protocol/messages.hpp"
#include "common/reports/figures.hpp"
#include "common/routing/router.hpp"
#include "server/auth/crypto.hpp"
#include "server/auth/revocations.hpp"
#include "server/auth/users.hpp"
#include "server/hub/address_limits.hpp"
#include "server/hub/anger_engine.hpp"
#include "common/escalation/monitor.hpp"
#include "server/hub/connection.hpp"
#include "server/hub/deadline_set.hpp"
#include "server/hub/flat_map.hpp"
#include "server/hub/open_record.hpp"
#include "server/hub/prereader.hpp"
#include "server/hub/small_ring.hpp"
#include "server/metrics.hpp"
#include "server/store/store.hpp"

namespace calma {

using clock_fn = std::function<timestamp_ms()>;

class hub : public std::enable_shared_from_this<hub> {
 public:
  hub(boost::asio::io_context& ioc, const config& cfg, store& st, metrics& m,
      const auth::token_signer& signer, const auth::user_directory& users, clock_fn clock,
      std::shared_ptr<const anger_engine> engine, const auth::revocations* revoked = nullptr);

  /// Loads the open conversations from the store, then calls `done(error)`.
  void start(std::function<void(std::string)> done);
  /// Closes every session (1001 unless told otherwise) and stops the timers.
  void stop(std::uint16_t code = 1001, std::string reason = "server shutting down");
  /// After stop(): `done` runs once every session has detached (their
  /// frames, and what those stored, are all in), or after `within` at most.
  void when_vacated(std::chrono::milliseconds within, std::function<void()> done);
  /// This hub no longer leads its cluster (its node lost the lease while
  /// alive): it stops its timers and forgets every session *without closing
  /// it* (the node says their hello to the next leader), and from then on
  /// decides nothing: whatever is still on its way to its strand (a frame, a
  /// store's answer, an ack) is dropped unrun. A message whose append was
  /// under way is not acked by this hub; its client resends it to the next
  /// leader with the same client_msg_id, which stores it once.
  void step_down();
  /// In a cluster, before start(): asked (on the hub's strand) before every
  /// step the hub takes, a timer's included; false: the node's lease is in
  /// doubt, nothing is decided and the node steps down (see
  /// cluster::decide_gate). Unset: always true.
  void set_decide_check(std::function<bool()> may_decide) { may_decide_ = std::move(may_decide); }
  /// Before start(): this hub is shard `index` and decides for `stores` only
  /// (routing::shard_plan), and for any store not configured when `fallback`.
  /// Unset: every store. Sessions are routed to it by the shard set.
  void set_scope(int index, std::vector<std::string> stores, bool fallback);
  /// True when this hub decides for `store`'s conversations.
  bool owns(std::string_view store) const;
  /// Before start(): the limits per client address (new conversations) are
  /// `first`'s, so that shards do not multiply an address's allowance.
  void share_limits_with(const hub& first) { conversations_from_ = first.conversations_from_; }
  /// Those limits, for a cluster node to tell the others what passed here and charge what passed there.
  const std::shared_ptr<address_limits>& conversation_limits() const { return conversations_from_; }
  /// New conversations another node let pass for the address key `key` (any thread).
  void charge_conversations(const std::string& key, int n) const { conversations_from_->charge(key, n, clock_()); }

  // ---- from sessions (any thread)
  /// The first frame of a connection. On a bad token the hub closes it (4401).
  void hello(std::shared_ptr<connection> c, protocol::hello h);
  void handle(std::uint64_t conn_id, protocol::client_message m);
  /// `counted`: false for a fan-in's second and later legs (fan_in.hpp), which
  /// the connection gauges do not count.
  void detach(std::uint64_t conn_id, bool counted = true);
  /// A token was signed out: its open sessions are closed with 4401.
  void signed_out(std::string token_id);
  /// The users table was replaced: the hub takes it now (closing the sessions
  /// of staff removed, disabled or, with shards, given other stores) rather
  /// than at its next step.
  void users_changed();

  // ---- from HTTP (any thread); `done` runs on the hub strand
  struct http_answer {
    unsigned status = 200;
    nlohmann::json body;
  };
  void conversation_detail(participant who, std::string id, std::function<void(http_answer)> done);
  /// The follow-up list of `stores` (those the staff member serves), oldest first.
  void followups(participant who, std::vector<std::string> stores, std::function<void(http_answer)> done);
  /// What the widget needs before the shopper writes: name, languages, open now.
  void widget_status(std::string store_id, std::function<void(http_answer)> done);

 private:
  /// A shopper_context kept only when not empty (most connections have none:
  /// staff, and shoppers whose page said nothing); ~110 bytes less per session.
  class boxed_context {
   public:
    boxed_context() = default;
    boxed_context(shopper_context c)  // NOLINT: implicit, as the plain member was
        : p_(c.empty() ? nullptr : std::make_unique<shopper_context>(std::move(c))) {}
    operator const shopper_context&() const {  // NOLINT: reads as the plain member did
      static const shopper_context none;
      return p_ ? *p_ : none;
    }

   private:
    std::unique_ptr<shopper_context> p_;
  };
  struct session_entry {
    std::weak_ptr<connection> conn;
    participant who;
    std::string language;  // shoppers
    std::string store;     // shoppers: their store
    std::vector<std::string> stores;  // staff: the stores they serve (empty: every store)
    boxed_context context;            // shoppers: what the store's page said (hello.context)
    std::string token_id;             // the token it said hello with (auth::token_id), for sign-out
    timestamp_ms token_exp = 0;       // when that token expires: the session is closed then (4401)
    std::string address;              // the client's address (for the limits per address)
    bool counted = true;              // in the connection gauges (connection::counted)
    bool serves(const std::string& st) const {
      return who.role == role::shopper ? st == store
                                       : stores.empty() || std::find(stores.begin(), stores.end(), st) != stores.end();
    }
  };
  struct escalation_state {
    std::string id;
    escalation::severity sev = escalation::severity::warning;
    std::vector<std::string> reasons;
    std::vector<std::string> keys;  // the reasons as keys (decision::keys), for counting
    timestamp_ms raised_ts = 0;
    std::string acked_by;
    timestamp_ms acked_ts = 0;
    int renotified = 0;
  };
  struct conv_entry {
    open_record rec;  // its record: the rarely set fields boxed (open_record.hpp)
    flat_map<std::string, protocol::join_mode> joined;  // supervisor id -> mode
    flat_map<std::string, std::int64_t> read_marks;     // user id -> seq
    // The anger curve and the escalation rules of this conversation.
    std::unique_ptr<escalation::monitor> mon;
    small_ring<anger::point> timeline;  // bounded by anger.curve.history_points; nothing while empty
    timestamp_ms deadline_at = 0;  // its entry in deadlines_ (0: none)
    std::unique_ptr<escalation_state> esc;  // the open one (a pointer: most conversations never have one)
    std::vector<std::string> handled_by;     // agents who held it, in order
    std::optional<timestamp_ms> unanswered_since;
    reports::figures_builder fig;  // the report's figures: whole() gives them to the record
    std::optional<causes::tagger> causes;  // complaint causes from the shopper's words
    std::int64_t last_visible_seq = 0;     // the last message the shopper may see (not a whisper)
    std::optional<timestamp_ms> shopper_gone_since;  // queued, and no connection of its shopper since then
    bool abandoned = false;                          // see routing.abandon_after_s
  };

  template <class F>
  auto strand_step(F&& f);
  template <class F>
  void on_strand(F&& f);
  template <class F>
  void on_strand_from_session(F&& f);
  template <class F>
  void on_strand_now(F&& f);
  /// On the strand: takes the reloaded users table, if any, and closes the
  /// sessions of staff who are gone or disabled.
  void refresh_users();
  const auth::user_table& users() const { return *users_snap_; }
  /// The stores a staff user serves (empty: every store).
  std::vector<std::string> stores_of(const std::string& user_id) const;
  bool staff_serves(const std::string& user_id, const std::string& store) const;
  void load_conversations(std::function<void(std::string)> done);
  void remember_presence(const std::string& agent_id);

  // handlers (strand)
  void do_hello(std::shared_ptr<connection> c, protocol::hello h);
  void do_welcome(std::uint64_t conn_id, const std::string& token);
  /// `pre`: its words read before the strand (prereader), or null.
  void on_chat_send(session_entry& s, std::uint64_t conn_id, protocol::chat_send m, std::shared_ptr<preread> pre);
  void on_typing(session_entry& s, std::uint64_t conn_id, const protocol::typing& m);
  void on_read(session_entry& s, std::uint64_t conn_id, const protocol::read& m);
  void on_history(session_entry& s, std::uint64_t conn_id, const protocol::history& m);
  void on_close(session_entry& s, std::uint64_t conn_id, const protocol::conversation_close& m);
  /// `by_system`: closed by Calma itself (abandoned), not by `by`.
  void finish_close(const conversation_record& closed, const participant& by, bool by_system = false);
  /// The shopper of a queued conversation left, or came back.
  void shopper_left(const std::string& shopper_id, timestamp_ms now);
  void shopper_back(const std::string& shopper_id);
  /// Queued conversations whose shopper is gone: abandoned after
  /// routing.abandon_after_s (unless a contact was left), closed after abandon_close_s.
  void sweep_abandoned(timestamp_ms now);
  void on_presence(session_entry& s, std::uint64_t conn_id, const protocol::presence_set& m);
  /// Colleagues on request: agents get no queue.snapshot, they ask this.
  void on_agents_list(session_entry& s, std::uint64_t conn_id, const protocol::agents_list& m);
  void on_transfer(session_entry& s, std::uint64_t conn_id, const protocol::conversation_transfer& m);
  void on_join(session_entry& s, std::uint64_t conn_id, const protocol::conversation_join& m);
  void on_takeover(session_entry& s, std::uint64_t conn_id, const protocol::conversation_takeover& m);
  void on_escalation_ack(session_entry& s, std::uint64_t conn_id, const protocol::escalation_ack& m);
  void on_escalation_resolve(session_entry& s, std::uint64_t conn_id, const protocol::escalation_resolve& m);
  void on_contact(session_entry& s, std::uint64_t conn_id, const protocol::contact& m);
  void on_followup_done(session_entry& s, std::uint64_t conn_id, const protocol::followup_done& m);
  /// Applies a change to a conversation, open (here) or closed (read from the store), saves it, then `done(rec)`.
  void change_conversation(const std::string& id, std::function<bool(conversation_record&)> change,
                           std::function<void(std::optional<conversation_record>, std::string error)> done);
  void followups_changed(const std::string& store);
  void on_csat(session_entry& s, std::uint64_t conn_id, const protocol::csat& m);
  void on_causes_set(session_entry& s, std::uint64_t conn_id, const protocol::causes_set& m);

  // the audit trail
  static nlohmann::json actor(const participant& p);
  static nlohmann::json system_actor();
  /// Appends `{ts, action, by, ...extra}` to the conversation's audit trail.
  void record(const std::string& conversation_id, nlohmann::json by, std::string action,
              nlohmann::json extra = nlohmann::json::object());
  /// A message that moves the curve, before its words count: the figures read the level.
  void note_message(conv_entry& c, const chat_message& m);
  /// Tags the conversation's causes with a shopper's message; true when they changed.
  bool tag_causes(conv_entry& c, const chat_message& m, preread* pre = nullptr);
  /// The causes.updated frame of the shopper's words (every hit so far).
  std::string causes_frame(const conv_entry& c) const;
  // anger curve and escalations
  void start_monitor(conv_entry& c) const;
  void replay(conv_entry& c, const std::vector<chat_message>& messages);
  nlohmann::json replayed_timeline(const conversation_record& rec, const std::vector<chat_message>& messages) const;
  void apply(conv_entry& c, escalation::output out);
  void schedule_deadline(conv_entry& c);
  void cancel_deadline(conv_entry& c);
  /// deadline_timer_ at the earliest of deadlines_, unless it is armed for that or sooner.
  void arm_deadline_timer();
  /// The timer fired: every conversation whose deadline is due catches up.
  void fire_deadlines();
  void raise_escalation(conv_entry& c, const escalation::decision& d);
  /// The escalation a load's replay found open (raised quietly, with a new
  /// id): the one the audit trail says was raised and not resolved keeps its
  /// id and is not announced again; one the trail does not know (a deadline
  /// that passed while no hub decided) is announced now: audited, counted, sent.
  void settle_replayed_escalation(conv_entry& c, const std::vector<audit_entry>& audit);
  /// What raise_escalation records, counts and sends for a new escalation.
  void announce_escalation(conv_entry& c);
  void send_escalation(conv_entry& c, bool update);
  void end_escalation(conv_entry& c, const participant& by, const std::string& note, bool closed);
  nlohmann::json point_json(const conv_entry& c, const anger::point& p) const;
  /// point_json(c, p).dump(), written directly (the same bytes).
  std::string point_frame(const conv_entry& c, const anger::point& p) const;
  nlohmann::json curve_json(const conv_entry& c) const;
  /// Without the curve: no "curve" nor "transcript_tail".
  protocol::escalation_fields escalation_fields_of(const conv_entry& c) const;
  nlohmann::json escalation_json(const conv_entry& c) const;
  /// The escalation.raised frame's text, in two halves: up to its transcript, then with it.
  std::string escalation_frame_start(const conv_entry& c, bool update) const;
  static std::string escalation_frame_end(std::string start, const std::vector<chat_message>& tail);
  double level_of(const conv_entry& c) const;

  // rules applied
  conv_entry* open_conversation(const std::string& id);
  bool may_see(const participant& who, const conversation_record& rec) const;
  bool may_see(const participant& who, const open_record& rec) const;
  bool may_see(const participant& who, const std::string& shopper_id, const std::optional<std::string>& agent_id,
               const std::string& store) const;
  /// An open conversation's whole record, its figures included (to save it, to answer with it).
  static conversation_record whole(const conv_entry& c) { return c.rec.full(c.fig.figures()); }
  bool may_act(const participant& who, const conv_entry& c) const;
  void store_message(std::uint64_t conn_id, const participant& who, std::string conversation_id,
                     protocol::chat_send m, visibility vis, bool allow_new, bool answer_later = false,
                     std::shared_ptr<preread> pre = nullptr);
  void open_conversation_for(std::uint64_t conn_id, const participant& who, protocol::chat_send m,
                             std::shared_ptr<preread> pre);
  void try_assign();
  void apply_assignment(const std::string& conv_id, const std::string& agent_id,
                        const std::optional<std::string>& previous_agent);
  void requeue(const std::string& conv_id, const std::string& queue,
               const std::optional<std::string>& avoid_agent);
  void send_queue_positions();
  void agent_gone(const std::string& agent_id);
  void start_grace(const std::string& agent_id);
  void mark_snapshot_dirty();
  /// Every supervisor gets the queue.snapshot of its stores (one frame per set of stores).
  void send_snapshot();
  /// One supervisor connection gets it now (its welcome), nobody else.
  void send_snapshot_to(std::uint64_t conn_id);
  /// The queue.snapshot of `stores` (empty: every store), its lists capped by
  /// routing.snapshot_max_agents / snapshot_max_waiting, with the counts.
  frame_ptr snapshot_frame(const std::vector<std::string>& stores) const;
  /// The router's agents that `stores` (a viewer's; empty: all) share a store
  /// with, and that are agents in the users file: available first, then by name.
  std::vector<routing::agent_view> agents_seen_by(const std::vector<std::string>& stores) const;
  nlohmann::json agent_row(const routing::agent_view& a) const;
  void schedule_snapshot_timer();
  /// Sessions whose token expired are closed (4401).
  void close_expired_sessions(timestamp_ms now);
  void update_queue_gauges();
  void persist(const conv_entry& c);
  void retry_unsaved();

  // sending
  void send_to(std::uint64_t conn_id, const frame_ptr& f);
  void send_to_user(const std::string& user_id, const frame_ptr& f, std::uint64_t except = 0);
  /// Every supervisor connection that serves `store`.
  void send_to_supervisors(const std::string& store, const frame_ptr& f, std::uint64_t except = 0);
  /// Every staff connection (agents and supervisors) that serves `store`.
  void send_to_store_staff(const std::string& store, const frame_ptr& f);
  /// Everyone in the conversation: shopper (unless staff-only), agent, joined supervisors.
  void send_to_conversation(const conv_entry& c, const frame_ptr& f, bool staff_only,
                            std::uint64_t except = 0, bool and_all_supervisors = false);
  void send_error(std::uint64_t conn_id, protocol::error_code code, std::string message,
                  std::string ref = {});
  void send_history(const std::string& user_id, std::uint64_t only_conn, const std::string& conv_id,
                    std::int64_t after_seq, bool staff, std::int64_t upto = -1);
  /// `position` when already known (0: ask the router).
  nlohmann::json queued_json(const conv_entry& c, int position = 0) const;
  nlohmann::json assigned_json(const conv_entry& c) const;
  /// Offline for a store: outside hours ("closed"), nobody online ("no_agents"), or "" (open).
  std::string offline_reason(const std::string& store) const;
  const store_config& store_of(const conv_entry& c) const;
  void publish_store_presence(bool force);

  boost::asio::io_context& ioc_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const config& cfg_;
  store& store_;
  metrics& metrics_;
  const auth::token_signer& signer_;
  const auth::user_directory& users_dir_;
  const auth::revocations* revoked_;
  std::shared_ptr<const auth::user_table> users_snap_;
  std::uint64_t users_version_ = 0;
  clock_fn clock_;
  // Before the conversations: their monitors use its scorer until they are destroyed.
  std::shared_ptr<const anger_engine> engine_;
  prereader prereader_;  // any thread: read-only but for its own lock
  agent_status status_on_connect_;
  int shard_ = 0;
  std::optional<std::set<std::string, std::less<>>> scope_;  // unset: every store
  bool scope_fallback_ = true;

  std::unordered_map<std::uint64_t, session_entry> sessions_;
  std::unordered_map<std::string, flat_set<std::uint64_t>> by_user_;  // user id -> its connections
  std::set<std::uint64_t> supervisor_conns_;
  std::set<std::uint64_t> agent_conns_;
  std::unordered_map<std::string, conv_entry> open_;
  std::unordered_map<std::string, std::string> shopper_open_;  // shopper id -> open conversation
  std::unordered_map<std::string, std::string> opened_by_;     // shopper \x1f client_msg_id -> conversation it opened
  routing::router router_;
  /// Shared by every shard's hub (share_limits_with) and, through the node, counted across a cluster.
  std::shared_ptr<address_limits> conversations_from_;  // new conversations per client address
  std::unordered_map<std::string, presence_record> remembered_;  // agent -> its last chosen presence
  std::set<std::string> unsaved_;  // open conversations whose last save failed
  std::set<std::string> rating_;   // conversations whose rating is being saved
  std::unordered_map<std::string, std::unique_ptr<boost::asio::steady_timer>> grace_timers_;
  std::unordered_map<std::string, std::string> escalations_;  // open escalation id -> conversation
  boost::asio::steady_timer snapshot_timer_;
  // Every open conversation's next deadline, and one timer at the earliest.
  deadline_set deadlines_;
  boost::asio::steady_timer deadline_timer_;
  timestamp_ms deadline_timer_at_ = 0;  // what deadline_timer_ is armed for (0: not armed)
  boost::asio::steady_timer snapshot_delay_;
  std::chrono::steady_clock::time_point last_snapshot_{};
  bool snapshot_pending_ = false;
  std::map<std::string, int> published_online_;  // store -> agents online, as last put in the store
  std::chrono::steady_clock::time_point published_at_{};
  /// stop() or step_down() was called; and, read as a bool (as every timer
  /// does before it decides), also while the node's lease is in doubt.
  class stop_flag {
   public:
    explicit stop_flag(const hub& h) : h_(h) {}
    stop_flag& operator=(bool v) {
      set_ = v;
      return *this;
    }
    explicit operator bool() const { return set_ || !h_.may_decide(); }
    bool set() const { return set_; }

   private:
    const hub& h_;
    bool set_ = false;
  };
  struct vacate_wait;
  void poll_vacated(const std::shared_ptr<vacate_wait>& w);
  bool may_decide() const { return !may_decide_ || may_decide_(); }
  std::function<bool()> may_decide_;
  stop_flag stopped_{*this};
  std::uint16_t stop_code_ = static_cast<std::uint16_t>(protocol::close_code::going_away);  ///< stop()'s, for later hellos
  std::string stop_reason_ = "server shutting down";
  bool deposed_ = false;  ///< step_down(): nothing more runs on the strand
  /// replay() is feeding stored history: an escalation it raises was most
  /// likely raised before, by this hub's predecessor (settle_replayed_escalation).
  bool replaying_ = false;
  /// point_frame's memo: a coaching line (by its address in the lexicon) -> (its length, its JSON string; "" if not UTF-8).
  mutable std::unordered_map<const char*, std::pair<std::size_t, std::string>> coaching_json_;
};

}  // namespace calma

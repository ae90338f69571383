/** Message shapes of PROTOCOL.md v1, plus the server extensions the client relies on. */

export type Role = 'shopper' | 'agent' | 'supervisor';
export type ConversationState = 'queued' | 'assigned' | 'closed';
export type Visibility = 'all' | 'staff';
export type PresenceStatus = 'online' | 'away' | 'offline';
export type AngerPhase = 'calm' | 'rising' | 'peak' | 'cooling';
export type Severity = 'warning' | 'high' | 'critical';
export type JoinMode = 'monitor' | 'whisper' | 'barge';

export interface Party {
  role?: Role;
  id: string;
  name?: string;
}

export interface ShopperInfo {
  id: string;
  name?: string | null;
  language?: string | null;
}

export interface CurvePoint {
  ts: number;
  level: number;
  phase?: AngerPhase;
  cues?: string[];
}

export interface ConversationSummary {
  conversation_id: string;
  state: ConversationState;
  agent_id: string | null;
  last_seq: number;
  created_ts: number;
  /** staff extension */
  shopper?: ShopperInfo;
  /** staff extension: anger curve so far (name not fixed by the protocol) */
  curve?: CurvePoint[];
  anger?: CurvePoint[] | { level: number; phase?: AngerPhase; curve?: CurvePoint[] };
  [k: string]: unknown;
}

export interface ChatMessage {
  type?: 'chat.message';
  conversation_id: string;
  seq: number;
  ts: number;
  from: Party;
  text: string;
  client_msg_id?: string;
  visibility?: Visibility;
}

export interface Welcome {
  type: 'welcome';
  user_id: string;
  role: Role;
  token?: string;
  server_ts: number;
  conversations: ConversationSummary[];
  escalations?: EscalationRaised[];
  name?: string;
}

export interface Ack {
  type: 'ack';
  client_msg_id: string;
  conversation_id: string;
  seq: number;
}

export interface ErrorMsg {
  type: 'error';
  code: string;
  message?: string;
  ref?: string;
}

export interface HistoryMsg {
  type: 'history';
  conversation_id: string;
  messages: ChatMessage[];
  more?: boolean;
}

export interface TypingMsg {
  type: 'typing';
  conversation_id: string;
  state: boolean;
  from?: Party;
}

export interface ReadMsg {
  type: 'read';
  conversation_id: string;
  seq: number;
  from?: Party;
}

export interface QueuedMsg {
  type: 'conversation.queued';
  conversation_id: string;
  position: number;
  estimated_wait_s: number;
}

export interface AssignedMsg {
  type: 'conversation.assigned';
  conversation_id: string;
  agent: { id: string; name?: string };
  shopper?: ShopperInfo;
}

export interface ClosedMsg {
  type: 'conversation.closed';
  conversation_id: string;
  by?: string | Party;
  reason?: string;
}

export interface AngerUpdate {
  type: 'anger.update';
  conversation_id: string;
  ts: number;
  level: number;
  phase: AngerPhase;
  trend?: number;
  cues?: string[];
  /** server extension: predicted seconds until the escalation line is crossed */
  eta_s?: number;
  /** server extension: coaching hint for the agent, in the conversation's language */
  coaching?: string;
  coaching_stage?: string;
}

/** server extension: a private warning or nudge for the conversation's agent */
export interface AgentAlert {
  type: 'agent.alert';
  conversation_id: string;
  kind: 'warning' | 'nudge' | string;
  reasons?: string[];
  ts?: number;
}

export interface EscalationRaised {
  type?: 'escalation.raised';
  escalation_id: string;
  conversation_id: string;
  reasons: string[];
  severity: Severity;
  level: number;
  curve?: { ts: number; level: number }[];
  transcript_tail?: ChatMessage[];
  raised_ts: number;
  state?: 'open' | 'acked' | 'resolved';
  acked_by?: string;
  // server extensions
  /** a re-send of an open escalation (new reason, higher severity, re-notification) */
  update?: boolean;
  acked?: boolean;
  renotified?: number;
  waiting?: { conversation_s?: number; queued_s?: number; unanswered_s?: number };
  /** agents who held the conversation, in order */
  handled_by?: string[];
  shopper?: ShopperInfo;
  agent?: { id: string; name?: string } | null;
}

export interface EscalationEvent {
  type: 'escalation.acked' | 'escalation.resolved';
  escalation_id: string;
  conversation_id: string;
  by?: string | Party;
  /** server extension */
  by_name?: string;
  note?: string;
}

export interface QueueSnapshot {
  type: 'queue.snapshot';
  queues: { name: string; waiting: { conversation_id: string; wait_s: number; level?: number }[] }[];
  agents: { id: string; name: string; status: PresenceStatus | string; load: number; capacity: number }[];
}

export interface PresenceMsg {
  type: 'presence';
  status: PresenceStatus;
  capacity?: number;
}

export type ServerMessage =
  | Welcome
  | Ack
  | ErrorMsg
  | HistoryMsg
  | (ChatMessage & { type: 'chat.message' })
  | TypingMsg
  | ReadMsg
  | QueuedMsg
  | AssignedMsg
  | ClosedMsg
  | AngerUpdate
  | (EscalationRaised & { type: 'escalation.raised' })
  | EscalationEvent
  | QueueSnapshot
  | PresenceMsg
  | AgentAlert
  | { type: 'pong' };

export type HelloMessage =
  | { type: 'hello'; token: string; role?: Role; store?: string; name?: string; language?: string }
  | { type: 'hello'; role: 'shopper'; store: string; name?: string; language?: string; token?: undefined };

export interface OutgoingChat {
  type: 'chat.send';
  client_msg_id: string;
  text: string;
  conversation_id?: string;
}

// ---- v1.1 additions used by the console (stores, shopper context, prepared answers,
// ---- follow-ups; /work/spec-v1.1.md). Interfaces declared here merge with the ones
// ---- above (TypeScript declaration merging), so this block stands alone for merges.

// ShopperContext (`hello.context`) is declared in the widget's v1.1 block below; staff
// see it as `shopper.context` (`{}` when none).
export interface ShopperInfo {
  context?: ShopperContext;
}

/** A store the staff user serves (`welcome.stores`). */
export interface StoreInfo {
  id: string;
  name: string;
  languages?: string[];
}

export interface Welcome {
  /** staff: the stores the user serves */
  stores?: StoreInfo[];
  senior?: boolean;
}

export interface ConversationSummary {
  /** staff summaries carry the conversation's store */
  store?: string;
}

export interface AssignedMsg {
  store?: string;
}

export interface EscalationRaised {
  store?: string;
}

/** `GET /api/v1/canned?store=S&lang=L` → `{responses: CannedAnswer[]}` */
export interface CannedAnswer {
  id: string;
  title: string;
  text: string;
  lang?: string;
  category?: string;
  /** coaching stages it fits: calm, rising, peak, cooling, closed */
  stages?: string[];
}

export type FollowUpReason = 'contact' | 'follow_up';

/** One entry of `GET /api/v1/followups` → `{followups: FollowUp[]}` */
export interface FollowUp {
  conversation_id: string;
  store?: string;
  state?: ConversationState;
  shopper?: ShopperInfo | null;
  contact?: { email?: string | null; phone?: string | null; note?: string | null; ts?: number } | null;
  reason: FollowUpReason | string;
  close_reason?: string | null;
  created_ts: number;
  agent?: { id: string; name?: string } | null;
}

/** staff → server: the follow-up is dealt with */
export interface FollowupDoneSend {
  type: 'followup.done';
  conversation_id: string;
  note?: string;
}

/** server → every staff member of the store (and the sender) */
export interface FollowupDoneMsg {
  type: 'followup.done';
  conversation_id: string;
  store?: string;
  by?: Party;
  ts?: number;
  note?: string;
}

/** server → staff of the store: its follow-up list gained an entry (refetch it) */
export interface FollowupsChangedMsg {
  type: 'followups.changed';
  store?: string;
}

/** queue.snapshot extras of our server: a queue's store; per waiting conversation its store, shopper name, VIP flag. */
export interface QueueExtras {
  store?: string;
}
export interface WaitingExtras {
  store?: string;
  shopper?: string;
  vip?: boolean;
}

/** Every frame the console handles: ServerMessage plus the v1.1 follow-up frames. */
export type ConsoleServerMessage = ServerMessage | FollowupDoneMsg | FollowupsChangedMsg | AgentsListMsg;

// ---- end of the console's v1.1 block

// ---- Issue 9 additions used by the console: ratings, causes, the audit trail, reports
// ---- (/work/spec-v1.1.md "Issue 9 additions"). Declaration merging again: this block
// ---- stands alone and touches nothing above.

/** The seven complaint causes (the console's list of them, in order, is console/causes.ts). */
export type Cause = 'delivery' | 'damaged' | 'wrong_item' | 'refund' | 'payment' | 'service' | 'other';

/** staff → server: correct a conversation's causes */
export interface CausesSetFrame {
  type: 'causes.set';
  conversation_id: string;
  causes: string[];
}

/** server → the store's staff: a correction (`corrected: true`) or the server's own tagging (`false`). */
export interface CausesUpdatedMsg {
  type: 'causes.updated';
  conversation_id: string;
  causes: string[];
  corrected?: boolean;
  by?: { role: Role | 'system'; id: string; name?: string };
  hits?: { cause: string; term: string; words?: unknown }[];
}

export type AuditAction =
  | 'opened'
  | 'queued'
  | 'assigned'
  | 'transferred'
  | 'escalated'
  | 'escalation_acked'
  | 'escalation_resolved'
  | 'joined'
  | 'took_over'
  | 'closed'
  | 'csat'
  | 'contact'
  | 'causes_corrected'
  | 'followup_done';

/** Staff summaries and `conversation.assigned` carry the causes found so far. */
export interface AssignedMsg {
  categories?: string[];
}

/** One entry of the conversation endpoint's `audit` (by.role "system", id "calma": Calma itself). */
export interface AuditEntry {
  ts: number;
  action: AuditAction | string;
  by?: { role?: Role | 'system' | string; id?: string; name?: string } | null;
  /** joined */
  mode?: string;
  /** closed */
  reason?: string;
  follow_up?: boolean;
  /** csat */
  score?: number;
  /** causes_corrected */
  causes?: string[];
  /** escalated */
  severity?: string;
  reasons?: string[];
  /** assigned */
  agent?: { id?: string; name?: string };
  /** transferred */
  to_queue?: string;
  to_agent_id?: string;
  [k: string]: unknown;
}

export interface CsatRating {
  score: number;
  comment?: string;
  ts?: number;
}

/** `conversation.figures` of the conversation endpoint. */
export interface ConversationFigures {
  peak_level?: number;
  closing_level?: number;
  escalations?: number;
  escalation_reasons?: string[];
  first_response_by?: string;
  agents?: { id: string; name?: string; replies?: number; fall_sum?: number }[];
}

/** One day (UTC, "YYYY-MM-DD") of `GET /api/v1/reports/summary`; only days with conversations are listed. */
export interface ReportDay {
  day: string;
  conversations: number;
  escalations: number;
  peak_median: number | null;
  closing_median: number | null;
}

export interface ReportAgent {
  id: string;
  name?: string;
  conversations: number;
  first_response_s_median: number | null;
  replies_measured?: number;
  /** mean fall of the anger level (points) after the agent's replies; positive = calmer */
  deescalation: number | null;
  csat_count?: number;
  csat_average: number | null;
}

/** `GET /api/v1/reports/summary?from=MS&to=MS[&store=S]` (supervisors). Any figure may be null. */
export interface ReportSummary {
  from: number;
  to: number;
  stores: string[];
  conversations: number;
  escalations: number;
  escalations_by_reason?: Record<string, number>;
  categories: Record<string, number>;
  first_response_s: { median: number | null; p90: number | null; count?: number };
  csat: { count: number; average: number | null; scores?: Record<string, number> };
  anger: { peak_median: number | null; closing_median: number | null };
  agents: ReportAgent[];
  days: ReportDay[];
}
// ---- end of the Issue 9 block

/** Pretty-print `by` fields, which may be a string id or a party object. */
export function partyId(by: string | Party | undefined | null): string | undefined {
  if (by == null) return undefined;
  return typeof by === 'string' ? by : by.id;
}

// ---- v1.1 shopper-side shapes (widget: stores, opening hours, context, offline contact) ----
// PROTOCOL.md "v1.1 additions" and /work/spec-v1.1.md. Kept in this one block; the console's
// v1.1 shapes live in their own block. QueuedMsg and Welcome are widened by declaration
// merging (same module), so the existing lines above stay untouched.

/** `hello.context` of a shopper: all optional (spec: order_id <= 64 chars, currency 3 letters, tier <= 32 chars). */
export interface ShopperContext {
  order_id?: string | number;
  order_value?: number;
  currency?: string;
  tier?: string;
}

/** A fresh shopper hello with the v1.1 `context`; assignable to HelloMessage. */
export interface ShopperHelloV11 {
  type: 'hello';
  role: 'shopper';
  store: string;
  name?: string;
  language?: string;
  context?: ShopperContext;
  token?: undefined;
}

/** One weekly opening range: days 1 = Monday … 7 = Sunday, "HH:MM" in the store's time zone. */
export interface WeeklyHours {
  days: number[];
  from: string;
  to: string;
}

export interface StoreHours {
  tz: string;
  weekly: WeeklyHours[];
  closed_dates?: string[];
}

/** `GET /api/v1/stores/{id}/widget` (public). */
export interface StoreWidgetInfo {
  id: string;
  name: string;
  languages: string[];
  /** in hours AND at least one agent of the store online */
  open: boolean;
  in_hours?: boolean;
  agents_online?: boolean;
  /** null: always open */
  hours: StoreHours | null;
  next_open_ts?: number | null;
  closes_ts?: number | null;
}

export type OfflineReason = 'closed' | 'no_agents';

export interface QueuedMsg {
  /** v1.1: outside hours or nobody of the store online */
  offline?: boolean;
  offline_reason?: OfflineReason | string;
  next_open_ts?: number | null;
}

export interface Welcome {
  /** v1.1, shopper welcome */
  store?: { id: string; name?: string; languages?: string[]; open?: boolean };
}

/** Shopper -> server: a way to be reached while nobody can answer. */
export interface ContactFrame {
  type: 'contact';
  conversation_id: string;
  email?: string;
  phone?: string;
  note?: string;
}

export interface ContactSavedMsg {
  type: 'contact.saved';
  conversation_id: string;
}
// ---- end of v1.1 shopper-side shapes ----

// ---- Issue 9, shopper side: the rating (CSAT) after the conversation (widget) ----
// /work/spec-v1.1.md "Issue 9 additions" -> "Rating (CSAT)". Only after
// `conversation.closed`, ONE per conversation, the comment in the same frame. A second
// rating, an open conversation or a score outside 1..5 is `error{code:"bad_request",
// ref:"csat"}` (the server's message for the second: "this conversation is already
// rated"); someone else's conversation: `not_found`; the store down: `unavailable`.

/** Shopper -> server. `comment` optional, at most 500 bytes of UTF-8. */
export interface CsatFrame {
  type: 'csat';
  conversation_id: string;
  /** 1 (very bad) .. 5 (excellent) */
  score: number;
  comment?: string;
}

/** Server -> the shopper who rated. */
export interface CsatSavedMsg {
  type: 'csat.saved';
  conversation_id: string;
}
// ---- end of the rating (CSAT) block ----

// ---- Staff fan-out (issue 12): colleagues on request, bounded snapshots ----
// Agents no longer get `queue.snapshot`; they ask `agents.list` (the transfer list).
// Supervisors' snapshots are coalesced and capped (routing.snapshot_max_agents /
// snapshot_max_waiting): the counts say what the capped lists leave out.

/** One agent, as in `queue.snapshot.agents` and the `agents.list` answer. */
export interface AgentRow {
  id: string;
  name: string;
  status: PresenceStatus | string;
  load: number;
  capacity: number;
  connected?: boolean;
  senior?: boolean;
  stores?: string[];
}

/** staff -> server: a page of the agents of the user's stores, available ones first. */
export interface AgentsListFrame {
  type: 'agents.list';
  store?: string;
  status?: PresenceStatus;
  /** substring of the name or id, any case */
  q?: string;
  offset?: number;
  /** 1..500, default 100 */
  limit?: number;
}

/** server -> the staff connection that asked. */
export interface AgentsListMsg {
  type: 'agents.list';
  ts?: number;
  agents: AgentRow[];
  /** how many match (the page is `agents`) */
  total: number;
  offset: number;
  more: boolean;
}

/** queue.snapshot's counts beside the capped lists (server extension). */
export interface QueueSnapshot {
  ts?: number;
  /** agents of the viewer's stores, whatever the cap */
  agents_total?: number;
  agents_by_status?: { online?: number; away?: number; offline?: number };
  /** a list was cut at its cap */
  truncated?: boolean;
}
export interface QueueExtras {
  /** conversations waiting in this queue, whatever the cap */
  waiting_total?: number;
}
// ---- end of the staff fan-out block ----

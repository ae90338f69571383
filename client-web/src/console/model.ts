/**
 * The console's view model: what the staff member knows about conversations,
 * escalations, queues and agents, built from protocol events. No DOM here, so it
 * can be unit-tested; the UI re-renders from it.
 */
import type {
  AgentRow,
  AngerPhase,
  AngerUpdate,
  ChatMessage,
  ConversationState,
  ConversationSummary,
  CurvePoint,
  EscalationRaised,
  JoinMode,
  QueueSnapshot,
  ShopperInfo,
  Severity,
  AuditEntry,
  CsatRating,
} from '../protocol/types';
import { partyId } from '../protocol/types';
import { normCauses } from './causes';

export interface AngerState {
  level: number;
  phase: AngerPhase;
  trend: number;
  cues: string[];
  curve: CurvePoint[];
  /** seconds until the escalation line is crossed, when the server predicts it */
  etaS?: number;
  /** the server's coaching hint (in the conversation's language) */
  coaching?: string;
  /** anger.update's coaching_stage: calm, rising, peak, cooling, closed */
  coachingStage?: string;
}

export interface PendingMsg {
  client_msg_id: string;
  text: string;
  ts: number;
  failed?: string;
}

/** Why a conversation is no longer ours (kept as data: the text is in the UI language). */
export type GoneReason = { kind: 'unassigned' } | { kind: 'transferred'; to: string } | { kind: 'requeued' };

export interface ConvVM {
  id: string;
  /** the store the conversation belongs to (staff summaries, conversation endpoint) */
  store?: string;
  state: ConversationState;
  agentId: string | null;
  agentName?: string;
  shopper?: ShopperInfo;
  createdTs: number;
  /** last_seq from the summary: how many messages exist before any is loaded. */
  knownLastSeq: number;
  queue?: string;
  messages: Map<number, ChatMessage>;
  pending: Map<string, PendingMsg>;
  /** Highest seq the staff member has marked read. */
  readSeq: number;
  /** Highest seq the shopper has read (receipts). */
  peerReadSeq: number;
  typing: { name: string; until: number } | null;
  anger: AngerState | null;
  /** ts of the oldest shopper message not yet answered by staff. */
  waitingSince: number | null;
  joined?: JoinMode;
  closedReason?: string;
  /** id of who closed it */
  closedBy?: string;
  /** the last agent.alert (warning / nudge) for this conversation */
  alert?: { kind: string; reasons: string[]; ts: number };
  /** Not ours any more (transferred away or requeued): shown greyed until dismissed. */
  gone?: GoneReason;
  /** complaint causes (conversation endpoint `categories`, `causes.updated`); undefined: not known yet */
  causes?: string[];
  /** the causes were corrected by staff */
  causesCorrected?: boolean;
  /** the shopper's words that made the server tag each cause (causes.updated `hits`) */
  causeTerms?: Record<string, string[]>;
  /** the audit trail from the conversation endpoint; undefined: not fetched yet */
  audit?: AuditEntry[];
  /** the history could not be fetched (last try) */
  auditFailed?: boolean;
  /** the shopper's rating, once given */
  csat?: CsatRating | null;
}

export interface EscalationVM extends EscalationRaised {
  status: 'open' | 'acked' | 'resolved';
  ackedBy?: string;
  resolvedBy?: string;
  note?: string;
}

export interface EscalationChange {
  vm: EscalationVM;
  /** first time this escalation is seen */
  isNew: boolean;
  /** severity went up or it was re-notified: worth another alert */
  louder: boolean;
}

export const SEVERITY_RANK: Record<Severity, number> = { warning: 1, high: 2, critical: 3 };

export class ConsoleModel {
  convs = new Map<string, ConvVM>();
  escalations = new Map<string, EscalationVM>();
  snapshot: QueueSnapshot | null = null;
  snapshotTs = 0;
  /** the last `agents.list` answer: colleagues to transfer to (agents get no snapshots) */
  colleagues: AgentRow[] | null = null;
  colleaguesTs = 0;

  constructor(
    public userId: string,
    public role: 'agent' | 'supervisor',
  ) {}

  /** Colleagues to offer for a transfer: the last agents.list answer, else the snapshot's agents. */
  transferTargets(): AgentRow[] {
    return this.colleagues ?? this.snapshot?.agents ?? [];
  }

  conv(id: string): ConvVM {
    let c = this.convs.get(id);
    if (!c) {
      c = {
        id,
        state: 'queued',
        agentId: null,
        createdTs: Date.now(),
        knownLastSeq: 0,
        messages: new Map(),
        pending: new Map(),
        readSeq: 0,
        peerReadSeq: 0,
        typing: null,
        anger: null,
        waitingSince: null,
      };
      this.convs.set(id, c);
    }
    return c;
  }

  applySummary(s: ConversationSummary): ConvVM {
    const c = this.conv(s.conversation_id);
    c.state = s.state;
    c.agentId = s.agent_id ?? null;
    const agent = (s as { agent?: { id: string; name?: string } }).agent;
    if (agent?.name) c.agentName = agent.name;
    if (s.shopper) c.shopper = s.shopper;
    if (typeof s.store === 'string' && s.store) c.store = s.store;
    c.createdTs = s.created_ts || c.createdTs;
    c.knownLastSeq = Math.max(c.knownLastSeq, s.last_seq || 0);
    if (typeof s.queue === 'string') c.queue = s.queue;
    // Issue 9: staff summaries carry the causes found so far.
    if (Array.isArray(s.categories)) c.causes = normCauses(s.categories);
    const curve = extractCurve(s);
    if (curve.length) this.setCurve(c, curve);
    return c;
  }

  setCurve(c: ConvVM, points: CurvePoint[]): void {
    const sorted = [...points].filter((p) => typeof p.ts === 'number' && typeof p.level === 'number').sort((a, b) => a.ts - b.ts);
    if (!sorted.length) return;
    const last = sorted[sorted.length - 1];
    const prev = c.anger;
    // Merge with points already received live; a bare {ts, level} (escalation curve)
    // does not erase the phase and cues a live point at the same ts carried.
    const merged = new Map<number, CurvePoint>();
    for (const p of prev?.curve ?? []) merged.set(p.ts, p);
    for (const p of sorted) {
      const old = merged.get(p.ts);
      merged.set(p.ts, { ts: p.ts, level: p.level, phase: p.phase ?? old?.phase, cues: p.cues ?? old?.cues });
    }
    const curve = [...merged.values()].sort((a, b) => a.ts - b.ts);
    const newest = curve[curve.length - 1];
    c.anger = {
      level: newest.level,
      phase: newest.phase ?? prev?.phase ?? last.phase ?? 'calm',
      trend: prev?.trend ?? 0,
      cues: newest.cues ?? prev?.cues ?? [],
      curve,
      etaS: prev?.etaS,
      coaching: prev?.coaching,
      coachingStage: prev?.coachingStage,
    };
  }

  addAnger(u: Omit<AngerUpdate, 'type'>): void {
    const c = this.conv(u.conversation_id);
    const curve = c.anger?.curve ?? [];
    const point = { ts: u.ts, level: u.level, phase: u.phase, cues: u.cues };
    // Points arrive in order; an out-of-order one is inserted where it belongs.
    let i = curve.length;
    while (i > 0 && curve[i - 1].ts > u.ts) i--;
    if (i > 0 && curve[i - 1].ts === u.ts) curve[i - 1] = point;
    else curve.splice(i, 0, point);
    if (curve.length > 2000) curve.splice(0, curve.length - 2000);
    const last = curve[curve.length - 1];
    c.anger = {
      level: last.level,
      phase: last.phase ?? u.phase,
      trend: u.trend ?? 0,
      cues: last.cues ?? [],
      curve,
      etaS: u.eta_s,
      coaching: u.coaching || c.anger?.coaching,
      coachingStage: u.coaching_stage || c.anger?.coachingStage,
    };
  }

  /** Adds a message; returns true if it is new and from the shopper (for unread/notifications). */
  addMessage(m: ChatMessage): boolean {
    const c = this.conv(m.conversation_id);
    if (c.messages.has(m.seq)) return false;
    c.messages.set(m.seq, m);
    if (m.client_msg_id) c.pending.delete(m.client_msg_id);
    const fromShopper = m.from?.role === 'shopper';
    if (fromShopper) {
      if (c.waitingSince === null) c.waitingSince = m.ts;
      if (c.typing) c.typing = null;
    } else if (m.visibility !== 'staff') {
      c.waitingSince = null;
    }
    if (m.from?.id === this.userId && m.seq > c.readSeq) c.readSeq = m.seq;
    return fromShopper;
  }

  unread(c: ConvVM): number {
    let n = 0;
    for (const m of c.messages.values()) if (m.seq > c.readSeq && m.from?.id !== this.userId) n++;
    return n;
  }

  lastSeq(c: ConvVM): number {
    let max = 0;
    for (const s of c.messages.keys()) if (s > max) max = s;
    return max;
  }

  sortedMessages(c: ConvVM): ChatMessage[] {
    return [...c.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Conversations in the order staff should look at them: angriest, then longest waiting. */
  ordered(now: number): ConvVM[] {
    const openEsc = new Set([...this.escalations.values()].filter((e) => e.status !== 'resolved').map((e) => e.conversation_id));
    const score = (c: ConvVM) => {
      if (c.gone) return -3;
      if (c.state === 'closed') return -2;
      return 0;
    };
    return [...this.convs.values()]
      .filter((c) => this.role === 'supervisor' || c.agentId === this.userId || c.joined || c.gone)
      .sort((a, b) => {
        const s = score(b) - score(a);
        if (s) return s;
        const e = Number(openEsc.has(b.id)) - Number(openEsc.has(a.id));
        if (e) return e;
        const la = a.anger?.level ?? 0;
        const lb = b.anger?.level ?? 0;
        if (Math.abs(la - lb) >= 1) return lb - la;
        const wa = a.waitingSince ? now - a.waitingSince : a.state === 'queued' ? now - a.createdTs : 0;
        const wb = b.waitingSince ? now - b.waitingSince : b.state === 'queued' ? now - b.createdTs : 0;
        if (wa !== wb) return wb - wa;
        return b.createdTs - a.createdTs;
      });
  }

  raise(e: EscalationRaised): EscalationChange {
    const prev = this.escalations.get(e.escalation_id);
    const vm: EscalationVM = { ...prev, ...e, status: prev?.status === 'acked' ? 'acked' : 'open' };
    if (e.state === 'acked' || e.acked) vm.status = 'acked';
    if (e.acked_by) vm.ackedBy = e.acked_by;
    if (e.state === 'resolved') vm.status = 'resolved';
    this.escalations.set(e.escalation_id, vm);
    const c = this.conv(e.conversation_id);
    if (e.shopper && (!c.shopper || (!c.shopper.context && e.shopper.context))) c.shopper = { ...e.shopper, ...c.shopper, context: c.shopper?.context ?? e.shopper.context };
    if (e.store && !c.store) c.store = e.store;
    if (e.agent?.id && !c.agentId) {
      c.agentId = e.agent.id;
      c.agentName = e.agent.name;
    }
    if (e.curve?.length) this.setCurve(c, e.curve);
    for (const m of e.transcript_tail ?? []) if (typeof m.seq === 'number') this.addMessage({ ...m, conversation_id: e.conversation_id });
    const louder =
      !!prev && (SEVERITY_RANK[e.severity] > SEVERITY_RANK[prev.severity] || (e.renotified ?? 0) > (prev.renotified ?? 0));
    return { vm, isNew: !prev, louder };
  }

  escalationEvent(type: 'escalation.acked' | 'escalation.resolved', id: string, convId: string, by: unknown, note?: string, byName?: string): void {
    let e = this.escalations.get(id);
    if (!e) {
      e = { escalation_id: id, conversation_id: convId, reasons: [], severity: 'warning', level: 0, raised_ts: Date.now(), status: 'open' };
      this.escalations.set(id, e);
    }
    const who = byName || partyId(by as string) || '';
    if (type === 'escalation.acked') {
      if (e.status === 'open') e.status = 'acked';
      e.ackedBy = who;
    } else {
      e.status = 'resolved';
      e.resolvedBy = who;
      if (note) e.note = note;
    }
  }

  orderedEscalations(): EscalationVM[] {
    const rank = { open: 0, acked: 1, resolved: 2 };
    return [...this.escalations.values()].sort(
      (a, b) => rank[a.status] - rank[b.status] || SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || b.raised_ts - a.raised_ts,
    );
  }

  openEscalationFor(convId: string): EscalationVM | undefined {
    return [...this.escalations.values()].find((e) => e.conversation_id === convId && e.status !== 'resolved');
  }
}

/** The anger curve in a staff conversation summary: the field name is not fixed by PROTOCOL.md. */
export function extractCurve(s: Record<string, unknown>): CurvePoint[] {
  const a = s.anger as unknown;
  if (Array.isArray(a)) return a as CurvePoint[];
  if (a && typeof a === 'object' && Array.isArray((a as { curve?: unknown }).curve)) return (a as { curve: CurvePoint[] }).curve;
  for (const k of ['curve', 'anger_curve', 'anger_timeline', 'timeline']) if (Array.isArray(s[k])) return s[k] as CurvePoint[];
  return [];
}

export function levelColor(level: number): string {
  if (level >= 80) return '#dc2626';
  if (level >= 60) return '#ea580c';
  if (level >= 35) return '#d97706';
  return '#16a34a';
}

/** "2m 05s" in English; "2 min 05 s" in Spanish and Polish. */
export function fmtDuration(ms: number, lang: string = 'en'): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const long = lang !== 'en';
  if (s < 60) return long ? `${s} s` : `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return long ? `${m} min ${String(s % 60).padStart(2, '0')} s` : `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return long ? `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min` : `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

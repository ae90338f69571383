/**
 * The audit trail of a conversation (the conversation endpoint's `audit`) without the DOM:
 * each entry as time + who + a translated action label (+ its detail), which frames make
 * the console fetch it again, the per-conversation debouncer for that, and folding a
 * conversation endpoint answer into the view model. Unit-tested in test/console-report.test.ts.
 */
import type { AuditEntry, CsatRating, CurvePoint } from '../protocol/types';
import type { ConversationDetail } from './api';
import { normCauses } from './causes';
import type { Strings } from './i18n';
import type { ConsoleModel, ConvVM } from './model';

/** Who system entries (by.role "system") are shown as: the product's name, the same in every language. */
export const SYSTEM_NAME = 'Calma';

export interface AuditLine {
  ts: number;
  action: string;
  /** HH:MM (with the date when not today) */
  time: string;
  /** full date and time, for a tooltip */
  when: string;
  who: string;
  system: boolean;
  label: string;
  detail: string;
}

export interface AuditNames {
  /** the conversation's shopper, for entries by role "shopper" without a name */
  shopper?: string;
  /** the signed-in user's id, and what to call them */
  me?: string;
  you?: string;
  /** staff id → name, when the entry has none */
  staff?: (id: string) => string;
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

export function auditTime(ts: number, locale: string, now: number = Date.now()): string {
  const d = new Date(ts);
  try {
    const time = d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    if (sameDay(d, new Date(now))) return time;
    return `${d.toLocaleDateString(locale, { day: 'numeric', month: 'short' })} ${time}`;
  } catch {
    return d.toISOString().slice(11, 16);
  }
}

/** The translated detail of an entry: mode, close reason, score, causes, target… ('' when none). */
export function auditDetail(e: AuditEntry, s: Strings, names: AuditNames = {}): string {
  const mode = (m: unknown) => ({ monitor: s.modeMonitor, whisper: s.modeWhisper, barge: s.modeBarge })[String(m)] ?? String(m ?? '');
  switch (e.action) {
    case 'joined':
      return e.mode ? mode(e.mode) : '';
    case 'closed': {
      const reason = e.reason ? s.closeReason[e.reason] ?? e.reason : '';
      return [reason, e.follow_up ? s.auditFollowUp : ''].filter(Boolean).join(' · ');
    }
    case 'csat':
      return typeof e.score === 'number' ? s.auditScore(e.score) : '';
    case 'causes_corrected': {
      const list = normCauses(e.causes).map((c) => s.causeName[c] ?? c);
      return list.length ? list.join(', ') : s.auditNoCauses;
    }
    case 'assigned': {
      const a = e.agent;
      const who = a?.name || (a?.id ? names.staff?.(a.id) ?? a.id : '');
      return who ? s.auditTo(who) : '';
    }
    case 'transferred':
      if (e.to_queue) return s.auditTo(s.auditQueue(e.to_queue));
      if (e.to_agent_id) return s.auditTo(names.staff?.(e.to_agent_id) ?? e.to_agent_id);
      return '';
    case 'queued':
      return typeof e.queue === 'string' && e.queue ? s.auditQueue(e.queue) : '';
    case 'escalated': {
      const sev = e.severity ? s.severity[e.severity] ?? e.severity : '';
      const reasons = Array.isArray(e.reasons) ? e.reasons.join(', ') : '';
      return [sev, reasons].filter(Boolean).join(' · ');
    }
    default:
      return '';
  }
}

/** Who did it: "Calma" for the system, the name (or "You"), else the shopper / the staff id. */
export function auditWho(e: AuditEntry, s: Strings, names: AuditNames = {}): { who: string; system: boolean } {
  const by = e.by ?? undefined;
  if (!by || by.role === 'system') return { who: SYSTEM_NAME, system: true };
  if (names.me && by.id === names.me && names.you) return { who: names.you, system: false };
  if (by.name) return { who: by.name, system: false };
  if (by.role === 'shopper') return { who: names.shopper || s.shopper, system: false };
  return { who: by.id ? names.staff?.(by.id) ?? by.id : s.someone, system: false };
}

/** The entries in time order (stable for equal times), ready to show. */
export function auditLines(entries: readonly AuditEntry[] | undefined, s: Strings, locale: string, names: AuditNames = {}, now: number = Date.now()): AuditLine[] {
  const list = (entries ?? []).filter((e) => e && typeof e.ts === 'number' && typeof e.action === 'string');
  return list
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.ts - b.e.ts || a.i - b.i)
    .map(({ e }) => {
      const { who, system } = auditWho(e, s, names);
      let when = '';
      try {
        when = new Date(e.ts).toLocaleString(locale);
      } catch {
        when = new Date(e.ts).toISOString();
      }
      return {
        ts: e.ts,
        action: e.action,
        time: auditTime(e.ts, locale, now),
        when,
        who,
        system,
        label: s.auditAction[e.action] ?? e.action,
        detail: auditDetail(e, s, names),
      };
    });
}

/** Frames after which a conversation's audit trail has grown: refetch it (debounced). */
export const AUDIT_FRAMES: ReadonlySet<string> = new Set([
  'conversation.closed',
  'conversation.joined',
  'conversation.assigned',
  'conversation.queued',
  'causes.updated',
  'escalation.raised',
  'escalation.acked',
  'escalation.resolved',
]);

/** The conversation whose audit trail the frame changes, or null. */
export function auditConversation(frame: { type?: unknown; conversation_id?: unknown }): string | null {
  if (typeof frame?.type !== 'string' || !AUDIT_FRAMES.has(frame.type)) return null;
  return typeof frame.conversation_id === 'string' && frame.conversation_id ? frame.conversation_id : null;
}

/** Calls fn(key) once, `ms` after the last trigger(key); one timer per key. */
export class KeyedDebouncer {
  private timers = new Map<string, ReturnType<typeof setTimeout>>();
  constructor(
    private ms: number,
    private fn: (key: string) => void,
  ) {}

  trigger(key: string): void {
    const old = this.timers.get(key);
    if (old) clearTimeout(old);
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.fn(key);
      }, this.ms),
    );
  }

  cancelAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

/**
 * Folds a `GET /api/v1/conversations/{id}` answer into the conversation: the anger curve
 * (only when none is known yet: live points are fresher), the store, the shopper and their
 * context, the causes and whether they were corrected, the rating and the audit trail.
 */
export function applyDetail(model: ConsoleModel, c: ConvVM, d: ConversationDetail): void {
  const tl = d.anger_timeline ?? d.timeline ?? (Array.isArray(d.anger) ? d.anger : undefined);
  if (tl && tl.length && !c.anger) model.setCurve(c, tl as CurvePoint[]);
  const store = d.store ?? d.conversation?.store;
  if (typeof store === 'string' && store && !c.store) c.store = store;
  const shopper = d.conversation?.shopper ?? d.shopper;
  const ctxObj = d.context ?? d.conversation?.context ?? shopper?.context;
  if (shopper || ctxObj) {
    const context = c.shopper?.context ?? (ctxObj && typeof ctxObj === 'object' ? ctxObj : undefined);
    c.shopper = { id: '', ...shopper, ...c.shopper, name: c.shopper?.name || shopper?.name, context };
  }
  const conv = (d.conversation ?? {}) as Record<string, unknown>;
  const cats = Array.isArray(d.categories) ? d.categories : Array.isArray(conv.categories) ? conv.categories : undefined;
  if (cats) c.causes = normCauses(cats);
  if (typeof conv.categories_corrected === 'boolean') c.causesCorrected = conv.categories_corrected;
  const csat = (d.csat !== undefined ? d.csat : conv.csat) as CsatRating | null | undefined;
  if (csat === null || (csat && typeof csat === 'object' && typeof csat.score === 'number')) c.csat = csat;
  if (Array.isArray(d.audit)) {
    c.audit = (d.audit as AuditEntry[]).filter((e) => e && typeof e === 'object');
    c.auditFailed = false;
  }
}

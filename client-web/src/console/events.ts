/**
 * What each server frame (other than chat messages, acks and history) does to the
 * console's view model, and what it asks of the UI: a notice, a toast, a flashing title,
 * selecting a conversation, refetching the follow-ups. No DOM: app.ts carries the
 * effects out; unit-tested in test/console-events.test.ts.
 */
import type { CausesUpdatedMsg, ConsoleServerMessage, JoinMode, PresenceStatus, QueueExtras, Severity, WaitingExtras } from '../protocol/types';
import { partyId } from '../protocol/types';
import { normCauses } from './causes';
import { t } from './i18n';
import type { ConsoleModel, ConvVM } from './model';
import { isAssignedNotice, isEscalationNotice, type NoticeKind } from './notices';

export type Effect =
  | { kind: 'notice'; notice: NoticeKind; convId: string; detail?: string; severity?: Severity }
  | { kind: 'select'; convId: string }
  | { kind: 'toast'; text: string; error?: boolean }
  | { kind: 'flash'; label: string }
  | { kind: 'presence'; status: PresenceStatus; capacity?: number }
  | { kind: 'followups'; doneId?: string; doneByMe?: boolean };

export interface FrameContext {
  me: string;
  supervisor: boolean;
  /** the conversation on screen */
  selected: string | null;
  /** escalation ids already seen (updated here) */
  seenEscalations: Set<string>;
  shopperName(c: ConvVM): string;
}

/** Applies the frame to the model; the effects for the UI, or null when the frame is not the console's. */
export function applyFrame(model: ConsoleModel, ev: ConsoleServerMessage, fc: FrameContext): Effect[] | null {
  const s = t();
  const me = fc.me;
  const out: Effect[] = [];
  switch (ev.type) {
    case 'conversation.assigned': {
      const c = model.conv(ev.conversation_id);
      const before = c.agentId;
      c.state = 'assigned';
      c.agentId = ev.agent?.id ?? null;
      c.agentName = ev.agent?.name;
      if (ev.shopper) c.shopper = { ...c.shopper, ...ev.shopper, context: ev.shopper.context ?? c.shopper?.context };
      if (typeof ev.store === 'string' && ev.store) c.store = ev.store;
      if (Array.isArray(ev.categories)) c.causes = normCauses(ev.categories);
      if (c.agentId === me) {
        c.gone = undefined;
        const sel = fc.selected ? model.convs.get(fc.selected) : undefined;
        if (!sel || sel.gone) out.push({ kind: 'select', convId: c.id });
        if (isAssignedNotice(before, c.agentId, me)) out.push({ kind: 'notice', notice: 'assigned', convId: c.id });
      } else if (!fc.supervisor && !c.joined) {
        c.gone = { kind: 'transferred', to: ev.agent?.name || ev.agent?.id || '' };
      }
      return out;
    }
    case 'conversation.queued': {
      const c = model.conv(ev.conversation_id);
      if (!fc.supervisor && c.agentId === me) c.gone = { kind: 'requeued' };
      c.state = 'queued';
      c.agentId = null;
      return out;
    }
    case 'conversation.closed': {
      const c = model.conv(ev.conversation_id);
      c.state = 'closed';
      c.typing = null;
      c.closedReason = ev.reason || undefined;
      c.closedBy = partyId(ev.by);
      return out;
    }
    case 'conversation.joined' as string: {
      const j = ev as unknown as { conversation_id: string; mode: JoinMode; supervisor?: { id: string; name?: string } };
      const c = model.conv(j.conversation_id);
      if (j.supervisor?.id === me) c.joined = j.mode;
      else out.push({ kind: 'toast', text: s.joinedToast(j.supervisor?.name || s.aSupervisor, j.mode) });
      return out;
    }
    case 'typing': {
      if (ev.from?.id === me) return null;
      const c = model.conv(ev.conversation_id);
      c.typing = ev.state ? { name: ev.from?.name || (ev.from?.role === 'shopper' ? fc.shopperName(c) : s.someone), until: Date.now() + 8000 } : null;
      return out;
    }
    case 'read': {
      if (ev.from?.id === me) return null;
      const c = model.conv(ev.conversation_id);
      if (ev.from?.role === 'shopper' || !ev.from?.role) c.peerReadSeq = Math.max(c.peerReadSeq, ev.seq);
      return out;
    }
    case 'anger.update': {
      model.addAnger(ev);
      // A "heading for 80" warning is stale once the line is crossed: the escalation takes over.
      const c = model.conv(ev.conversation_id);
      if (c.alert?.kind === 'warning' && ev.level >= 80) c.alert = undefined;
      return out;
    }
    case 'escalation.raised': {
      const seen = fc.seenEscalations.has(ev.escalation_id);
      fc.seenEscalations.add(ev.escalation_id);
      const change = model.raise(ev);
      // Alert on a new escalation, and again when it gets louder (severity up, re-notified).
      if (isEscalationNotice(seen, change.louder)) out.push({ kind: 'notice', notice: 'escalation', convId: ev.conversation_id, detail: ev.reasons.join(', '), severity: ev.severity });
      return out;
    }
    case 'escalation.acked':
    case 'escalation.resolved':
      model.escalationEvent(ev.type, ev.escalation_id, ev.conversation_id, ev.by, ev.note, ev.by_name);
      return out;
    case 'agent.alert': {
      const c = model.conv(ev.conversation_id);
      c.alert = { kind: ev.kind, reasons: ev.reasons ?? [], ts: ev.ts ?? Date.now() };
      const who = fc.shopperName(c);
      const why = (ev.reasons ?? []).join('; ');
      out.push(
        { kind: 'toast', text: ev.kind === 'nudge' ? s.waitingForYourReply(who, why) : s.angerRisingFor(who, why), error: ev.kind !== 'nudge' },
        { kind: 'flash', label: ev.kind === 'nudge' ? s.flashReplyWaiting : s.flashAngerRising },
      );
      return out;
    }
    case 'queue.snapshot':
      model.snapshot = ev;
      model.snapshotTs = Date.now();
      for (const q of ev.queues ?? []) {
        for (const w of q.waiting ?? []) {
          const c = model.conv(w.conversation_id);
          const x = w as WaitingExtras;
          if (c.state !== 'closed') c.state = 'queued';
          c.queue = q.name;
          const store = x.store || (q as QueueExtras).store;
          if (store && !c.store) c.store = store;
          if (x.shopper && !c.shopper?.name) c.shopper = { id: c.shopper?.id ?? '', ...c.shopper, name: x.shopper };
          if (!c.waitingSince && c.messages.size === 0) c.createdTs = Date.now() - w.wait_s * 1000;
        }
      }
      return out;
    case 'agents.list':
      // Colleagues on request (the transfer list): agents get no queue.snapshot.
      model.colleagues = Array.isArray(ev.agents) ? ev.agents : [];
      model.colleaguesTs = Date.now();
      return out;
    case 'presence':
      out.push({ kind: 'presence', status: ev.status, capacity: typeof ev.capacity === 'number' ? ev.capacity : undefined });
      return out;
    case 'causes.updated' as string: {
      // Issue 9: a correction by staff (corrected: true) or the server's own tagging (false).
      const u = ev as unknown as CausesUpdatedMsg;
      const c = model.conv(u.conversation_id);
      c.causes = normCauses(u.causes);
      c.causesCorrected = u.corrected === true;
      // What the server found in the shopper's words, per cause (a correction has none).
      const terms: Record<string, string[]> = {};
      for (const hit of Array.isArray(u.hits) ? u.hits : []) {
        if (!hit || typeof hit.cause !== 'string' || typeof hit.term !== 'string') continue;
        const list = (terms[hit.cause] ??= []);
        if (!list.includes(hit.term)) list.push(hit.term);
      }
      c.causeTerms = u.corrected === true ? undefined : terms;
      return out;
    }
    case 'followups.changed':
      out.push({ kind: 'followups' });
      return out;
    case 'followup.done':
      out.push({ kind: 'followups', doneId: ev.conversation_id, doneByMe: ev.by?.id === me });
      return out;
    default:
      return null;
  }
}

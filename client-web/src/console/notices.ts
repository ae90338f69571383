/**
 * What deserves the staff member's attention, without the DOM: which conversations
 * count towards the unread total, the document title, and which events make a notice
 * (sound, and a browser notification while the tab is hidden). The sound and the
 * Notification themselves are in notifier.ts. Unit-tested in test/console-notices.test.ts.
 */
import type { ChatMessage } from '../protocol/types';
import type { ConsoleModel, ConvVM } from './model';

export type NoticeKind = 'assigned' | 'message' | 'escalation';

/**
 * A conversation's unread messages count for this user when the user answers in it
 * (holds it, or joined it as a supervisor) and it is still open. A supervisor merely
 * watching a conversation does not get its messages counted.
 */
export function countsTowardsUnread(c: ConvVM, me: string): boolean {
  return !c.gone && c.state !== 'closed' && (c.agentId === me || !!c.joined);
}

/** Messages not yet read in every conversation that counts (see countsTowardsUnread). */
export function unreadTotal(model: ConsoleModel): number {
  let n = 0;
  for (const c of model.convs.values()) if (countsTowardsUnread(c, model.userId)) n += model.unread(c);
  return n;
}

/** "(3) Calma console", or just the name with nothing unread. */
export function titleText(unread: number, base: string): string {
  return unread > 0 ? `(${unread}) ${base}` : base;
}

export interface ViewState {
  me: string;
  /** the conversation on screen */
  selected: string | null;
  /** the tab is visible and the conversation list is the current view */
  visible: boolean;
}

/**
 * A live customer message is a notice unless the user is looking at that very
 * conversation with the tab visible. History (replayed after a reconnect), staff
 * messages and conversations the user does not answer in are never notices.
 */
export function isMessageNotice(m: ChatMessage, live: boolean, c: ConvVM | undefined, view: ViewState): boolean {
  if (!live || m.from?.role !== 'shopper' || !c) return false;
  if (!countsTowardsUnread(c, view.me)) return false;
  return !(view.visible && view.selected === m.conversation_id);
}

/** `conversation.assigned` is a notice when it gives the user a conversation it did not hold. */
export function isAssignedNotice(previousAgentId: string | null, newAgentId: string | null | undefined, me: string): boolean {
  return newAgentId === me && previousAgentId !== me;
}

/** An escalation is a notice when it is new, or when a re-send got louder. */
export function isEscalationNotice(seenBefore: boolean, louder: boolean): boolean {
  return !seenBefore || louder;
}

/** A browser notification only when the tab is hidden (a visible tab shows it already). */
export function wantsSystemNotification(hidden: boolean, permission: string | undefined): boolean {
  return hidden && permission === 'granted';
}

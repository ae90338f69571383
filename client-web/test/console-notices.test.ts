import { describe, expect, it } from 'vitest';
import { ConsoleModel } from '../src/console/model';
import {
  countsTowardsUnread,
  isAssignedNotice,
  isEscalationNotice,
  isMessageNotice,
  titleText,
  unreadTotal,
  wantsSystemNotification,
} from '../src/console/notices';

const msg = (conv: string, seq: number, role: 'shopper' | 'agent' | 'supervisor', id = role === 'shopper' ? 's1' : 'agent') => ({
  conversation_id: conv,
  seq,
  ts: seq,
  from: { role, id },
  text: `m${seq}`,
  visibility: 'all' as const,
});

function agentModel() {
  const m = new ConsoleModel('agent', 'agent');
  m.applySummary({ conversation_id: 'a', state: 'assigned', agent_id: 'agent', last_seq: 0, created_ts: 1 });
  m.applySummary({ conversation_id: 'b', state: 'assigned', agent_id: 'agent', last_seq: 0, created_ts: 1 });
  return m;
}

describe('what counts as unread', () => {
  it('sums unread messages of the open conversations the user answers in', () => {
    const m = agentModel();
    m.addMessage(msg('a', 1, 'shopper'));
    m.addMessage(msg('a', 2, 'shopper'));
    m.addMessage(msg('b', 1, 'shopper'));
    expect(unreadTotal(m)).toBe(3);
    m.conv('a').readSeq = 2;
    expect(unreadTotal(m)).toBe(1);
    // A closed conversation, or one transferred away, no longer counts.
    m.conv('b').state = 'closed';
    expect(unreadTotal(m)).toBe(0);
    m.conv('b').state = 'assigned';
    m.conv('b').gone = { kind: 'transferred', to: 'Piotr' };
    expect(unreadTotal(m)).toBe(0);
  });

  it("the user's own messages are never unread", () => {
    const m = agentModel();
    m.addMessage(msg('a', 1, 'shopper'));
    m.addMessage(msg('a', 2, 'agent'));
    expect(unreadTotal(m)).toBe(0);
  });

  it('a supervisor counts only conversations it holds or joined, not those it watches', () => {
    const m = new ConsoleModel('sup', 'supervisor');
    m.applySummary({ conversation_id: 'w', state: 'assigned', agent_id: 'agent', last_seq: 0, created_ts: 1 });
    m.applySummary({ conversation_id: 'j', state: 'assigned', agent_id: 'agent', last_seq: 0, created_ts: 1 });
    m.addMessage(msg('w', 1, 'shopper'));
    m.addMessage(msg('j', 1, 'shopper'));
    expect(unreadTotal(m)).toBe(0);
    m.conv('j').joined = 'whisper';
    expect(countsTowardsUnread(m.conv('j'), 'sup')).toBe(true);
    expect(countsTowardsUnread(m.conv('w'), 'sup')).toBe(false);
    expect(unreadTotal(m)).toBe(1);
  });

  it('puts the count in the title', () => {
    expect(titleText(3, 'Calma console')).toBe('(3) Calma console');
    expect(titleText(0, 'Calma console')).toBe('Calma console');
    expect(titleText(1, 'Konsola Calma')).toBe('(1) Konsola Calma');
  });
});

describe('what makes a notice', () => {
  const view = (selected: string | null, visible = true) => ({ me: 'agent', selected, visible });

  it('a live customer message in another conversation, or with the tab hidden', () => {
    const m = agentModel();
    const a = m.conv('a');
    expect(isMessageNotice(msg('a', 1, 'shopper'), true, a, view('b'))).toBe(true);
    expect(isMessageNotice(msg('a', 1, 'shopper'), true, a, view('a', false))).toBe(true);
    expect(isMessageNotice(msg('a', 1, 'shopper'), true, a, view(null))).toBe(true);
    // the one in view, with the tab visible: no
    expect(isMessageNotice(msg('a', 1, 'shopper'), true, a, view('a'))).toBe(false);
  });

  it('never history, staff messages, or conversations the user does not answer in', () => {
    const m = agentModel();
    const a = m.conv('a');
    expect(isMessageNotice(msg('a', 1, 'shopper'), false, a, view('b'))).toBe(false);
    expect(isMessageNotice(msg('a', 1, 'supervisor', 'sup'), true, a, view('b'))).toBe(false);
    a.state = 'closed';
    expect(isMessageNotice(msg('a', 1, 'shopper'), true, a, view('b'))).toBe(false);
    expect(isMessageNotice(msg('x', 1, 'shopper'), true, undefined, view('b'))).toBe(false);
    const other = m.conv('other');
    other.agentId = 'agent2';
    expect(isMessageNotice(msg('other', 1, 'shopper'), true, other, view('b'))).toBe(false);
  });

  it('an assignment to me of a conversation I did not hold', () => {
    expect(isAssignedNotice(null, 'agent', 'agent')).toBe(true);
    expect(isAssignedNotice('agent2', 'agent', 'agent')).toBe(true);
    expect(isAssignedNotice('agent', 'agent', 'agent')).toBe(false);
    expect(isAssignedNotice(null, 'agent2', 'agent')).toBe(false);
  });

  it('a new escalation, or one that got louder', () => {
    expect(isEscalationNotice(false, false)).toBe(true);
    expect(isEscalationNotice(true, true)).toBe(true);
    expect(isEscalationNotice(true, false)).toBe(false);
  });

  it('a system notification only with the tab hidden and permission granted', () => {
    expect(wantsSystemNotification(true, 'granted')).toBe(true);
    expect(wantsSystemNotification(false, 'granted')).toBe(false);
    expect(wantsSystemNotification(true, 'default')).toBe(false);
    expect(wantsSystemNotification(true, undefined)).toBe(false);
  });
});

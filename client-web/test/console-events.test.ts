import { describe, expect, it } from 'vitest';
import { applyFrame, type FrameContext } from '../src/console/events';
import { setLang } from '../src/console/i18n';
import { ConsoleModel } from '../src/console/model';

function setup(role: 'agent' | 'supervisor' = 'agent', selected: string | null = null) {
  setLang('en');
  const me = role === 'agent' ? 'agent' : 'sup';
  const model = new ConsoleModel(me, role);
  const fc: FrameContext = { me, supervisor: role === 'supervisor', selected, seenEscalations: new Set(), shopperName: (c) => c.shopper?.name || 'Shopper' };
  return { model, fc };
}

describe('server frames applied to the console model', () => {
  it('a conversation assigned to me: its shopper context and store, a notice, and it is selected when nothing is', () => {
    const { model, fc } = setup();
    const fx = applyFrame(model, { type: 'conversation.assigned', conversation_id: 'c1', store: 'demo-pl', agent: { id: 'agent', name: 'Ana' }, shopper: { id: 's1', name: 'Kasia', language: 'pl', context: { order_id: 'PL-77', tier: 'vip' } } }, fc);
    expect(fx).toEqual([
      { kind: 'select', convId: 'c1' },
      { kind: 'notice', notice: 'assigned', convId: 'c1' },
    ]);
    const c = model.conv('c1');
    expect(c.store).toBe('demo-pl');
    expect(c.shopper?.context?.order_id).toBe('PL-77');
    // Assigned again (e.g. after a supervisor's transfer back): no second notice.
    fc.selected = 'c1';
    expect(applyFrame(model, { type: 'conversation.assigned', conversation_id: 'c1', agent: { id: 'agent' } }, fc)).toEqual([]);
    expect(model.conv('c1').shopper?.context?.order_id).toBe('PL-77'); // kept
  });

  it('agents.list: the colleagues to transfer to, preferred to a (capped) snapshot', () => {
    const { model, fc } = setup();
    expect(model.transferTargets()).toEqual([]);
    applyFrame(model, { type: 'queue.snapshot', queues: [], agents: [{ id: 'old', name: 'Old', status: 'online', load: 0, capacity: 4 }], agents_total: 40 }, fc);
    expect(model.transferTargets().map((a) => a.id)).toEqual(['old']);
    const fx = applyFrame(model, { type: 'agents.list', agents: [{ id: 'agent2', name: 'Piotr', status: 'online', load: 1, capacity: 4 }], total: 1, offset: 0, more: false }, fc);
    expect(fx).toEqual([]);
    expect(model.transferTargets().map((a) => a.id)).toEqual(['agent2']);
    expect(model.colleaguesTs).toBeGreaterThan(0);
  });

  it('transferred away or requeued: gone, as data (the text is the UI language)', () => {
    const { model, fc } = setup('agent', 'c1');
    applyFrame(model, { type: 'conversation.assigned', conversation_id: 'c1', agent: { id: 'agent' } }, fc);
    applyFrame(model, { type: 'conversation.assigned', conversation_id: 'c1', agent: { id: 'agent2', name: 'Piotr' } }, fc);
    expect(model.conv('c1').gone).toEqual({ kind: 'transferred', to: 'Piotr' });
    applyFrame(model, { type: 'conversation.assigned', conversation_id: 'c2', agent: { id: 'agent' } }, fc);
    applyFrame(model, { type: 'conversation.queued', conversation_id: 'c2', position: 1, estimated_wait_s: 0 }, fc);
    expect(model.conv('c2').gone).toEqual({ kind: 'requeued' });
  });

  it('closed: the reason and who closed it', () => {
    const { model, fc } = setup();
    applyFrame(model, { type: 'conversation.closed', conversation_id: 'c1', by: { id: 'agent', role: 'agent' }, reason: 'resolved' }, fc);
    expect(model.conv('c1')).toMatchObject({ state: 'closed', closedReason: 'resolved', closedBy: 'agent' });
  });

  it('an escalation is a notice when new or louder, not when merely re-sent', () => {
    const { model, fc } = setup('supervisor');
    const e = { type: 'escalation.raised' as const, escalation_id: 'e1', conversation_id: 'c1', reasons: ['manager_request'], severity: 'warning' as const, level: 70, raised_ts: 1 };
    expect(applyFrame(model, e, fc)).toEqual([{ kind: 'notice', notice: 'escalation', convId: 'c1', detail: 'manager_request', severity: 'warning' }]);
    expect(applyFrame(model, { ...e, update: true }, fc)).toEqual([]);
    expect(applyFrame(model, { ...e, update: true, severity: 'high' }, fc)).toMatchObject([{ kind: 'notice', severity: 'high' }]);
  });

  it('an agent alert: a toast and a flashing title; follow-up frames: refetch', () => {
    const { model, fc } = setup();
    expect(applyFrame(model, { type: 'agent.alert', conversation_id: 'c1', kind: 'nudge', reasons: [] }, fc)).toEqual([
      { kind: 'toast', text: 'Shopper is waiting for your reply', error: false },
      { kind: 'flash', label: 'Reply waiting' },
    ]);
    expect(model.conv('c1').alert?.kind).toBe('nudge');
    expect(applyFrame(model, { type: 'followups.changed', store: 'demo' }, fc)).toEqual([{ kind: 'followups' }]);
    expect(applyFrame(model, { type: 'followup.done', conversation_id: 'c9', by: { id: 'agent', name: 'Ana' } }, fc)).toEqual([{ kind: 'followups', doneId: 'c9', doneByMe: true }]);
  });

  it('a queue snapshot names the waiting shopper and the store (our server sends both)', () => {
    const { model, fc } = setup('supervisor');
    applyFrame(model, { type: 'queue.snapshot', queues: [{ name: 'default', store: 'demo-pl', waiting: [{ conversation_id: 'q1', wait_s: 30, level: 10, shopper: 'Ola', vip: true }] } as never], agents: [] }, fc);
    expect(model.conv('q1')).toMatchObject({ state: 'queued', queue: 'default', store: 'demo-pl' });
    expect(model.conv('q1').shopper?.name).toBe('Ola');
  });

  it('my own typing and read frames, and unknown frames, change nothing', () => {
    const { model, fc } = setup();
    expect(applyFrame(model, { type: 'typing', conversation_id: 'c1', state: true, from: { id: 'agent' } }, fc)).toBeNull();
    expect(applyFrame(model, { type: 'pong' }, fc)).toBeNull();
    expect(model.convs.size).toBe(0);
    applyFrame(model, { type: 'typing', conversation_id: 'c1', state: true, from: { id: 's1', role: 'shopper', name: 'Kasia' } }, fc);
    expect(model.conv('c1').typing?.name).toBe('Kasia');
  });
});

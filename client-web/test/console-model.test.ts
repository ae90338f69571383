import { describe, expect, it } from 'vitest';
import { ConsoleModel, extractCurve, fmtDuration, levelColor } from '../src/console/model';

const msg = (conv: string, seq: number, role: 'shopper' | 'agent', ts = seq * 1000, id = role === 'agent' ? 'agent' : 's1') => ({
  conversation_id: conv,
  seq,
  ts,
  from: { role, id },
  text: `m${seq}`,
  visibility: 'all' as const,
});

describe('console model', () => {
  it('orders conversations angriest first, then longest waiting', () => {
    const m = new ConsoleModel('agent', 'agent');
    for (const id of ['a', 'b', 'c']) m.applySummary({ conversation_id: id, state: 'assigned', agent_id: 'agent', last_seq: 0, created_ts: 1 });
    m.addMessage(msg('a', 1, 'shopper', 5000));
    m.addMessage(msg('b', 1, 'shopper', 1000));
    m.addMessage(msg('c', 1, 'shopper', 3000));
    expect(m.ordered(10000).map((c) => c.id)).toEqual(['b', 'c', 'a']);
    m.addAnger({ conversation_id: 'a', ts: 6000, level: 72, phase: 'rising', trend: 8, cues: ['caps'] });
    expect(m.ordered(10000).map((c) => c.id)).toEqual(['a', 'b', 'c']);
    // Answering stops the waiting clock.
    m.addMessage(msg('b', 2, 'agent', 7000));
    expect(m.ordered(10000).map((c) => c.id)).toEqual(['a', 'c', 'b']);
    m.conv('a').state = 'closed';
    expect(m.ordered(10000).at(-1)!.id).toBe('a');
  });

  it('counts unread messages and de-duplicates by seq', () => {
    const m = new ConsoleModel('agent', 'agent');
    m.applySummary({ conversation_id: 'a', state: 'assigned', agent_id: 'agent', last_seq: 0, created_ts: 1 });
    expect(m.addMessage(msg('a', 1, 'shopper'))).toBe(true);
    expect(m.addMessage(msg('a', 1, 'shopper'))).toBe(false);
    m.addMessage(msg('a', 2, 'shopper'));
    const c = m.conv('a');
    expect(m.unread(c)).toBe(2);
    c.readSeq = 1;
    expect(m.unread(c)).toBe(1);
    m.addMessage(msg('a', 3, 'agent')); // my own reply marks everything before it read
    expect(m.unread(c)).toBe(0);
  });

  it('agents see only their conversations; supervisors see all', () => {
    const a = new ConsoleModel('agent', 'agent');
    const s = new ConsoleModel('sup', 'supervisor');
    for (const m of [a, s]) {
      m.applySummary({ conversation_id: 'mine', state: 'assigned', agent_id: 'agent', last_seq: 0, created_ts: 1 });
      m.applySummary({ conversation_id: 'other', state: 'assigned', agent_id: 'agent2', last_seq: 0, created_ts: 1 });
    }
    expect(a.ordered(0).map((c) => c.id)).toEqual(['mine']);
    expect(s.ordered(0).map((c) => c.id).sort()).toEqual(['mine', 'other']);
  });

  it('tracks an escalation from raised to acked to resolved, with its curve and tail', () => {
    const m = new ConsoleModel('sup', 'supervisor');
    m.raise({
      escalation_id: 'e1',
      conversation_id: 'a',
      reasons: ['level>=80', 'asked for a manager'],
      severity: 'high',
      level: 84,
      curve: [{ ts: 1, level: 20 }, { ts: 2, level: 84 }],
      transcript_tail: [msg('a', 4, 'shopper')],
      raised_ts: 2,
    });
    expect(m.openEscalationFor('a')?.status).toBe('open');
    expect(m.conv('a').anger?.level).toBe(84);
    expect(m.conv('a').messages.get(4)?.text).toBe('m4');
    m.escalationEvent('escalation.acked', 'e1', 'a', { id: 'sup' });
    expect(m.escalations.get('e1')!.status).toBe('acked');
    expect(m.escalations.get('e1')!.ackedBy).toBe('sup');
    m.escalationEvent('escalation.resolved', 'e1', 'a', 'sup', 'refund issued');
    expect(m.openEscalationFor('a')).toBeUndefined();
    expect(m.escalations.get('e1')!.note).toBe('refund issued');
    m.raise({ escalation_id: 'e2', conversation_id: 'b', reasons: ['queue wait'], severity: 'critical', level: 10, raised_ts: 5 });
    expect(m.orderedEscalations().map((e) => e.escalation_id)).toEqual(['e2', 'e1']);
  });

  it('flags an escalation re-sent louder (severity up or re-notified), and takes the server extras', () => {
    const m = new ConsoleModel('sup', 'supervisor');
    const base = { escalation_id: 'e1', conversation_id: 'a', reasons: ['queue_wait'], severity: 'warning' as const, level: 40, raised_ts: 1 };
    expect(m.raise(base)).toMatchObject({ isNew: true, louder: false });
    expect(m.raise({ ...base, update: true, reasons: ['queue_wait', 'manager_request'] })).toMatchObject({ isNew: false, louder: false });
    expect(m.raise({ ...base, update: true, severity: 'high' })).toMatchObject({ louder: true });
    expect(m.raise({ ...base, update: true, severity: 'high', renotified: 1 })).toMatchObject({ louder: true });
    const e = m.raise({ ...base, severity: 'high', renotified: 1, acked: true, acked_by: 'sup', shopper: { id: 's1', name: 'Marta' } }).vm;
    expect(e.status).toBe('acked');
    expect(m.conv('a').shopper?.name).toBe('Marta');
    m.escalationEvent('escalation.resolved', 'e1', 'a', 'sup', 'ok', 'Sofía Ruiz');
    expect(m.escalations.get('e1')!.resolvedBy).toBe('Sofía Ruiz');
  });

  it('keeps the live curve in time order and the server coaching hint', () => {
    const m = new ConsoleModel('agent', 'agent');
    m.addAnger({ conversation_id: 'a', ts: 10, level: 20, phase: 'calm', coaching: 'Escucha' });
    m.addAnger({ conversation_id: 'a', ts: 30, level: 60, phase: 'rising', eta_s: 40 });
    m.addAnger({ conversation_id: 'a', ts: 20, level: 40, phase: 'rising' });
    const a = m.conv('a').anger!;
    expect(a.curve.map((p) => p.ts)).toEqual([10, 20, 30]);
    expect(a.level).toBe(60);
    expect(a.coaching).toBe('Escucha');
  });

  it('an escalation curve merged into the live one keeps phase, cues and coaching', () => {
    const m = new ConsoleModel('agent', 'agent');
    m.addAnger({ conversation_id: 'a', ts: 10, level: 72, phase: 'peak', cues: ['manager_request'], coaching: 'Discúlpate', eta_s: 5 });
    m.raise({ escalation_id: 'e', conversation_id: 'a', reasons: ['manager_request'], severity: 'high', level: 72, raised_ts: 10, curve: [{ ts: 5, level: 30 }, { ts: 10, level: 72 }] });
    const a = m.conv('a').anger!;
    expect(a.phase).toBe('peak');
    expect(a.cues).toEqual(['manager_request']);
    expect(a.coaching).toBe('Discúlpate');
    expect(a.curve.map((p) => p.ts)).toEqual([5, 10]);
  });

  it('takes the store and the shopper context from staff summaries, and the coaching stage from anger.update', () => {
    const m = new ConsoleModel('agent', 'agent');
    m.applySummary({ conversation_id: 'a', state: 'assigned', agent_id: 'agent', last_seq: 0, created_ts: 1, store: 'demo-pl', shopper: { id: 's', name: 'Kasia', language: 'pl', context: { order_id: 'PL-77', tier: 'vip' } } });
    expect(m.conv('a').store).toBe('demo-pl');
    expect(m.conv('a').shopper?.context?.order_id).toBe('PL-77');
    m.addAnger({ conversation_id: 'a', ts: 1, level: 70, phase: 'peak', coaching_stage: 'peak' });
    m.addAnger({ conversation_id: 'a', ts: 2, level: 65, phase: 'peak' });
    expect(m.conv('a').anger?.coachingStage).toBe('peak');
    // An escalation brings the context when the summary had none.
    m.raise({ escalation_id: 'e', conversation_id: 'b', reasons: [], severity: 'high', level: 80, raised_ts: 1, store: 'demo', shopper: { id: 's2', context: { order_value: 900, currency: 'EUR' } } });
    expect(m.conv('b').shopper?.context?.order_value).toBe(900);
    expect(m.conv('b').store).toBe('demo');
  });

  it('reads the anger curve from a staff summary whatever it is called', () => {
    expect(extractCurve({ anger: [{ ts: 1, level: 5 }] })).toHaveLength(1);
    expect(extractCurve({ anger: { level: 5, curve: [{ ts: 1, level: 5 }] } })).toHaveLength(1);
    expect(extractCurve({ curve: [{ ts: 1, level: 5 }] })).toHaveLength(1);
    expect(extractCurve({ anger: [] })).toEqual([]);
  });

  it('formats durations and colours levels', () => {
    expect(fmtDuration(5000)).toBe('5s');
    expect(fmtDuration(125000)).toBe('2m 05s');
    expect(fmtDuration(125000, 'pl')).toBe('2 min 05 s');
    expect(fmtDuration(3 * 3600000 + 60000, 'es')).toBe('3 h 01 min');
    expect(levelColor(90)).not.toBe(levelColor(10));
  });
});

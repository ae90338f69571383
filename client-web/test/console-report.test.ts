/**
 * The pure parts of Issue 9 in the console: the report window (local dates, 93 days),
 * formatting (durations, averages, signed points, "—" for what was not measured), the
 * summary's days and categories as uPlot data, the agents' sort, the causes, and the
 * audit trail's lines, frames and folding of the conversation endpoint into the model.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeyedDebouncer, SYSTEM_NAME, applyDetail, auditConversation, auditDetail, auditLines } from '../src/console/audit';
import { CAUSES, normCauses, sameCauses } from '../src/console/causes';
import { applyFrame } from '../src/console/events';
import { STRINGS, setLang } from '../src/console/i18n';
import { ConsoleModel } from '../src/console/model';
import {
  DAY_MS,
  NONE,
  angerChartData,
  barData,
  causeCounts,
  checkWindow,
  csatDistribution,
  csvFileName,
  dayChartData,
  dayLabel,
  daySeries,
  defaultDates,
  fmtAverage,
  fmtNumber,
  fmtSeconds,
  fmtSigned,
  localDateString,
  normalizeSummary,
  parseLocalDate,
  reportQuery,
  sortAgents,
} from '../src/console/report';
import type { ReportAgent } from '../src/protocol/types';

const en = STRINGS.en;
const es = STRINGS.es;
const pl = STRINGS.pl;

describe('report window', () => {
  it('defaults to the last 7 days, today included, as local dates', () => {
    expect(defaultDates(new Date(2025, 5, 9, 15, 30))).toEqual({ from: '2025-06-03', to: '2025-06-09' });
    // across a month and a year
    expect(defaultDates(new Date(2025, 0, 2, 0, 5))).toEqual({ from: '2024-12-27', to: '2025-01-02' });
    expect(localDateString(new Date(2025, 2, 5))).toBe('2025-03-05');
  });

  it('turns two inclusive local dates into [local midnight, the midnight after the last day)', () => {
    const w = checkWindow('2025-06-03', '2025-06-09');
    expect(w).toEqual({ ok: true, from: new Date(2025, 5, 3).getTime(), to: new Date(2025, 5, 10).getTime(), days: 7 });
    const one = checkWindow('2025-06-09', '2025-06-09');
    expect(one.ok && one.days).toBe(1);
    expect(one.ok && one.to - one.from).toBe(DAY_MS);
    expect(parseLocalDate('2025-06-03')).toBe(new Date(2025, 5, 3).getTime());
  });

  it('refuses bad, reversed and longer than 93-day windows before asking', () => {
    expect(checkWindow('', '2025-06-09')).toEqual({ ok: false, error: 'invalid' });
    expect(checkWindow('2025-02-30', '2025-03-09')).toEqual({ ok: false, error: 'invalid' });
    expect(checkWindow('06/03/2025', '2025-06-09')).toEqual({ ok: false, error: 'invalid' });
    expect(checkWindow('2025-06-10', '2025-06-09')).toEqual({ ok: false, error: 'reversed' });
    const max = checkWindow('2025-01-01', '2025-04-03'); // 93 days
    expect(max.ok && max.days).toBe(93);
    expect(checkWindow('2025-01-01', '2025-04-04')).toEqual({ ok: false, error: 'too_long', days: 94 });
    expect(checkWindow('2024-01-01', '2025-01-01')).toEqual({ ok: false, error: 'too_long', days: 367 });
  });

  it('never asks for more than 93 × 24 h, even when a daylight-saving change lengthens the days', () => {
    for (const [a, b] of [
      ['2025-09-01', '2025-12-02'],
      ['2025-02-01', '2025-05-04'],
    ]) {
      const w = checkWindow(a, b);
      expect(w.ok).toBe(true);
      if (w.ok) expect(w.to - w.from).toBeLessThanOrEqual(93 * DAY_MS);
    }
  });

  it('builds the query and the file name', () => {
    expect(reportQuery(1, 2)).toBe('from=1&to=2');
    expect(reportQuery(1, 2, 'demo-pl')).toBe('from=1&to=2&store=demo-pl');
    expect(reportQuery(1, 2, '')).toBe('from=1&to=2');
    expect(csvFileName('2025-06-03', '2025-06-09')).toBe('calma-conversations_2025-06-03_2025-06-09.csv');
    expect(csvFileName('2025-06-03', '2025-06-09', 'demo pl/../x')).toBe('calma-conversations_2025-06-03_2025-06-09_demo-pl-x.csv');
  });
});

describe('report formatting', () => {
  it('writes durations in the language, and "—" (never 0) for what was not measured', () => {
    expect(fmtSeconds(42.4, 'en')).toBe('42s');
    expect(fmtSeconds(125, 'en')).toBe('2m 05s');
    expect(fmtSeconds(125, 'es')).toBe('2 min 05 s');
    expect(fmtSeconds(3725, 'pl')).toBe('1 h 02 min');
    expect(fmtSeconds(0.3, 'es')).toBe('<1 s');
    expect(fmtSeconds(0, 'en')).toBe('0s');
    expect(fmtSeconds(null, 'en')).toBe(NONE);
    expect(fmtSeconds(undefined, 'es')).toBe('—');
    expect(fmtSeconds(Number.NaN, 'es')).toBe('—');
  });

  it('numbers and averages in the locale; null is "—"', () => {
    expect(fmtAverage(4, 'en-GB')).toBe('4.0');
    expect(fmtAverage(4, 'es-ES')).toBe('4,0');
    expect(fmtAverage(3.666, 'pl-PL')).toBe('3,7');
    expect(fmtAverage(null, 'en-GB')).toBe('—');
    expect(fmtNumber(72.5, 'es-ES')).toBe('72,5');
    expect(fmtNumber(0, 'en-GB')).toBe('0');
    expect(fmtNumber(null, 'en-GB')).toBe('—');
    expect(fmtNumber(12345, 'en-GB', 0)).toBe('12,345');
  });

  it('signed points: + for calmer, − for angrier, plain 0', () => {
    expect(fmtSigned(12.5, 'en-GB')).toBe('+12.5');
    expect(fmtSigned(-3, 'es-ES')).toBe('−3');
    expect(fmtSigned(0, 'en-GB')).toBe('0');
    expect(fmtSigned(0.01, 'en-GB')).toBe('0');
    expect(fmtSigned(null, 'en-GB')).toBe('—');
    expect(en.points(fmtSigned(4.25, 'en-GB'))).toBe('+4.3 pts');
  });

  it('labels UTC days in the locale', () => {
    expect(dayLabel('2025-06-03', 'en-GB')).toBe('3 Jun');
    expect(dayLabel('2025-06-03', 'es-ES')).toBe('3 jun');
    expect(dayLabel('not a day', 'es-ES')).toBe('not a day');
  });

  it('normalises a summary: nulls stay null, missing parts are filled', () => {
    const n = normalizeSummary({ conversations: 2, first_response_s: { median: null }, csat: { count: 0, average: null }, agents: [{ id: 'a1' }, { nope: 1 }], days: [{ day: '2025-06-03' }] });
    expect(n.conversations).toBe(2);
    expect(n.escalations).toBe(0);
    expect(n.first_response_s).toEqual({ median: null, p90: null, count: 0 });
    expect(n.csat.average).toBeNull();
    expect(n.anger).toEqual({ peak_median: null, closing_median: null });
    expect(n.agents).toEqual([{ id: 'a1', name: 'a1', conversations: 0, first_response_s_median: null, replies_measured: 0, deescalation: null, csat_count: 0, csat_average: null }]);
    expect(n.days).toEqual([{ day: '2025-06-03', conversations: 0, escalations: 0, peak_median: null, closing_median: null }]);
    expect(normalizeSummary(null).agents).toEqual([]);
  });

  it('the CSAT distribution 1–5 with shares', () => {
    expect(csatDistribution({ '4': 3, '5': 1 })).toEqual([
      { score: 1, count: 0, share: 0 },
      { score: 2, count: 0, share: 0 },
      { score: 3, count: 0, share: 0 },
      { score: 4, count: 3, share: 0.75 },
      { score: 5, count: 1, share: 0.25 },
    ]);
    expect(csatDistribution(undefined).every((x) => x.count === 0 && x.share === 0)).toBe(true);
  });
});

describe('report chart data', () => {
  const from = Date.UTC(2025, 5, 3);
  const to = Date.UTC(2025, 5, 8); // 5 UTC days: 3..7 June
  const days = [
    { day: '2025-06-04', conversations: 3, escalations: 1, peak_median: 70, closing_median: 20 },
    { day: '2025-06-06', conversations: 1, escalations: 0, peak_median: 40, closing_median: null },
  ];

  it('fills every UTC day of the window: 0 conversations, null anger (a gap, not a fall to 0)', () => {
    const s = daySeries(days, from, to);
    expect(s.days).toEqual(['2025-06-03', '2025-06-04', '2025-06-05', '2025-06-06', '2025-06-07']);
    expect(s.conversations).toEqual([0, 3, 0, 1, 0]);
    expect(s.escalations).toEqual([0, 1, 0, 0, 0]);
    expect(s.peak).toEqual([null, 70, null, 40, null]);
    expect(s.closing).toEqual([null, 20, null, null, null]);
    expect(dayChartData(s)).toEqual([[0, 1, 2, 3, 4], [0, 3, 0, 1, 0], [0, 1, 0, 0, 0]]);
    expect(angerChartData(s)).toEqual([[0, 1, 2, 3, 4], [null, 70, null, 40, null], [null, 20, null, null, null]]);
  });

  it('a window starting off a UTC midnight covers the UTC day it starts in; a day outside is kept', () => {
    const s = daySeries([{ day: '2025-05-01', conversations: 1, escalations: 0, peak_median: null, closing_median: null }], from + 22 * 3600e3, from + 22 * 3600e3 + 2 * DAY_MS);
    expect(s.days).toEqual(['2025-05-01', '2025-06-03', '2025-06-04', '2025-06-05']);
    expect(daySeries([], 0, 0).days).toEqual([]);
  });

  it('the seven causes in order, zeros included, then the others', () => {
    expect(causeCounts({ refund: 2, delivery: 5, weird: 1, zero: 0 })).toEqual([
      { cause: 'delivery', count: 5 },
      { cause: 'damaged', count: 0 },
      { cause: 'wrong_item', count: 0 },
      { cause: 'refund', count: 2 },
      { cause: 'payment', count: 0 },
      { cause: 'service', count: 0 },
      { cause: 'other', count: 0 },
      { cause: 'weird', count: 1 },
    ]);
    expect(barData([1, null, 3])).toEqual([[0, 1, 2], [1, null, 3]]);
  });

  it('sorts agents by a column, those without the figure last either way', () => {
    const a = (id: string, name: string, deescalation: number | null, fr: number | null, csat: number | null, conversations = 1): ReportAgent => ({ id, name, conversations, first_response_s_median: fr, deescalation, csat_average: csat });
    const list = [a('x', 'Zoe', null, 10, null, 5), a('y', 'Ana', 4, 30, 4.5, 2), a('z', 'Piotr', -2, null, 3, 9), a('w', 'Bea', 12, 5, null, 2)];
    const ids = (key: Parameters<typeof sortAgents>[1], dir: 'asc' | 'desc') => sortAgents(list, key, dir).map((x) => x.id);
    expect(ids('deescalation', 'desc')).toEqual(['w', 'y', 'z', 'x']);
    expect(ids('deescalation', 'asc')).toEqual(['z', 'y', 'w', 'x']);
    expect(ids('first_response_s_median', 'asc')).toEqual(['w', 'x', 'y', 'z']);
    expect(ids('first_response_s_median', 'desc')).toEqual(['y', 'x', 'w', 'z']);
    expect(ids('csat_average', 'desc')).toEqual(['y', 'z', 'w', 'x']);
    expect(ids('name', 'asc')).toEqual(['y', 'w', 'z', 'x']);
    expect(ids('conversations', 'desc')).toEqual(['z', 'x', 'y', 'w']); // ties by name
    expect(list.map((x) => x.id)).toEqual(['x', 'y', 'z', 'w']); // not sorted in place
  });
});

describe('causes', () => {
  it('keeps strings once, the seven in their order, unknown ones after', () => {
    expect(CAUSES).toHaveLength(7);
    expect(normCauses(['refund', 'delivery', 'refund', 3, '', 'zzz'])).toEqual(['delivery', 'refund', 'zzz']);
    expect(normCauses(null)).toEqual([]);
    expect(sameCauses(['refund', 'delivery'], ['delivery', 'refund'])).toBe(true);
    expect(sameCauses(['refund'], [])).toBe(false);
  });

  it('every cause has a name in every language', () => {
    for (const s of [en, es, pl]) for (const c of CAUSES) expect(s.causeName[c]).toBeTruthy();
    expect(es.causeName.wrong_item).toBe('Producto equivocado');
  });
});

describe('causes from the server', () => {
  const fc = () => ({ me: 'sup', supervisor: true, selected: null, seenEscalations: new Set<string>(), shopperName: () => 'Ana' });

  it('summaries and conversation.assigned carry the causes found so far', () => {
    setLang('en');
    const model = new ConsoleModel('sup', 'supervisor');
    model.applySummary({ conversation_id: 'c1', state: 'assigned', agent_id: 'a', last_seq: 1, created_ts: 1, categories: ['refund', 'delivery'] });
    expect(model.conv('c1').causes).toEqual(['delivery', 'refund']);
    model.applySummary({ conversation_id: 'c2', state: 'assigned', agent_id: 'a', last_seq: 1, created_ts: 1 });
    expect(model.conv('c2').causes).toBeUndefined(); // not known: not "none"
    applyFrame(model, { type: 'conversation.assigned', conversation_id: 'c2', agent: { id: 'a' }, shopper: { id: 's' }, categories: ['payment'] }, fc());
    expect(model.conv('c2').causes).toEqual(['payment']);
  });

  it('causes.updated: the server’s tagging keeps the matched terms; a correction is marked and has none', () => {
    const model = new ConsoleModel('sup', 'supervisor');
    const tagged = { type: 'causes.updated', conversation_id: 'c1', causes: ['delivery', 'refund'], corrected: false, hits: [{ cause: 'delivery', term: 'pedido' }, { cause: 'delivery', term: 'pedido' }, { cause: 'refund', term: 'mi dinero' }, { nope: 1 }] };
    expect(applyFrame(model, tagged as never, fc())).toEqual([]);
    const c = model.conv('c1');
    expect(c.causes).toEqual(['delivery', 'refund']);
    expect(c.causesCorrected).toBe(false);
    expect(c.causeTerms).toEqual({ delivery: ['pedido'], refund: ['mi dinero'] });
    applyFrame(model, { type: 'causes.updated', conversation_id: 'c1', causes: ['damaged'], corrected: true, by: { role: 'supervisor', id: 'sup' } } as never, fc());
    expect(c.causes).toEqual(['damaged']);
    expect(c.causesCorrected).toBe(true);
    expect(c.causeTerms).toBeUndefined();
  });
});

describe('audit trail', () => {
  const now = new Date(2025, 5, 9, 18, 0).getTime();
  const at = (h: number, m: number) => new Date(2025, 5, 9, h, m).getTime();
  const entries = [
    { ts: at(10, 5), action: 'closed', by: { role: 'agent', id: 'agent2', name: 'Piotr Nowak' }, reason: 'resolved', follow_up: true },
    { ts: at(10, 0), action: 'opened', by: { role: 'shopper', id: 's1', name: '' }, store: 'demo' },
    { ts: at(10, 0), action: 'queued', by: { role: 'system', id: 'calma', name: 'Calma' }, queue: 'default' },
    { ts: at(10, 1), action: 'assigned', by: { role: 'system', id: 'calma' }, agent: { id: 'agent2', name: 'Piotr Nowak' } },
    { ts: at(10, 3), action: 'joined', by: { role: 'supervisor', id: 'sup', name: 'Sofía' }, mode: 'whisper' },
    { ts: at(10, 6), action: 'csat', by: { role: 'shopper', id: 's1' }, score: 4 },
    { ts: at(10, 7), action: 'causes_corrected', by: { role: 'supervisor', id: 'sup', name: 'Sofía' }, causes: ['refund', 'delivery'] },
    { ts: at(10, 8), action: 'brand_new_action', by: { role: 'agent', id: 'agent9' } },
  ];

  it('one line per entry in time order: time, who ("Calma" for the system), translated label, detail', () => {
    const lines = auditLines(entries, en, 'en-GB', { shopper: 'Ana', me: 'sup', you: en.you, staff: (id) => (id === 'agent9' ? 'Nine' : id) }, now);
    expect(lines.map((l) => l.action)).toEqual(['opened', 'queued', 'assigned', 'joined', 'closed', 'csat', 'causes_corrected', 'brand_new_action']);
    expect(lines.map((l) => [l.time, l.who, l.label, l.detail])).toEqual([
      ['10:00', 'Ana', 'Opened', ''],
      ['10:00', SYSTEM_NAME, 'Queued', 'queue “default”'],
      ['10:01', 'Calma', 'Assigned', 'to Piotr Nowak'],
      ['10:03', 'You', 'Joined', 'Whisper'],
      ['10:05', 'Piotr Nowak', 'Closed', 'resolved · needs follow-up'],
      ['10:06', 'Ana', 'Rated', '4/5'],
      ['10:07', 'You', 'Causes corrected', 'Delivery, Refund'],
      ['10:08', 'Nine', 'brand_new_action', ''],
    ]);
    expect(lines[1].system).toBe(true);
    expect(lines[0].system).toBe(false);
  });

  it('in Spanish and Polish', () => {
    const esLines = auditLines(entries.slice(0, 2), es, 'es-ES', {}, now);
    expect(esLines.map((l) => l.label)).toEqual(['Abierta', 'Cerrada']);
    expect(esLines[0].who).toBe('Cliente');
    expect(esLines[1].detail).toBe('resuelta · requiere seguimiento');
    expect(auditDetail({ ts: 1, action: 'joined', mode: 'barge' }, pl)).toBe('Włącz się');
    expect(auditDetail({ ts: 1, action: 'causes_corrected', causes: [] }, pl)).toBe('brak');
    expect(auditDetail({ ts: 1, action: 'escalated', severity: 'high', reasons: ['manager_request'] }, es)).toBe('alta · manager_request');
  });

  it('shows the date of an entry that is not from today', () => {
    const [l] = auditLines([{ ts: new Date(2025, 5, 1, 9, 30).getTime(), action: 'opened' }], en, 'en-GB', {}, now);
    expect(l.time).toBe('1 Jun 09:30');
    expect(l.who).toBe('Calma'); // no `by`: the system
  });

  it('the frames that add to a conversation’s audit trail', () => {
    for (const type of ['conversation.closed', 'conversation.joined', 'causes.updated', 'escalation.raised', 'escalation.acked', 'escalation.resolved']) {
      expect(auditConversation({ type, conversation_id: 'c1' })).toBe('c1');
    }
    expect(auditConversation({ type: 'chat.message', conversation_id: 'c1' })).toBeNull();
    expect(auditConversation({ type: 'conversation.closed' })).toBeNull();
  });

  describe('debouncer', () => {
    afterEach(() => vi.useRealTimers());
    it('fires once per key after the last trigger', () => {
      vi.useFakeTimers();
      const calls: string[] = [];
      const d = new KeyedDebouncer(500, (k) => calls.push(k));
      d.trigger('a');
      vi.advanceTimersByTime(300);
      d.trigger('a');
      d.trigger('b');
      vi.advanceTimersByTime(499);
      expect(calls).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(calls.sort()).toEqual(['a', 'b']);
      d.trigger('a');
      d.cancelAll();
      vi.advanceTimersByTime(1000);
      expect(calls).toHaveLength(2);
    });
  });

  it('folds the conversation endpoint into the model: causes, corrected, rating, audit, and what was missing', () => {
    const model = new ConsoleModel('sup', 'supervisor');
    const c = model.conv('c1');
    applyDetail(model, c, {
      store: 'demo',
      categories: ['refund', 'delivery'],
      csat: { score: 4, comment: '', ts: 5 },
      audit: [{ ts: 1, action: 'opened', by: { role: 'shopper', id: 's1' } }],
      anger: [{ ts: 1, level: 40, phase: 'rising' }],
      conversation: { categories_corrected: true, shopper: { id: 's1', name: 'Ana', context: { order_id: 'A-1' } } },
    });
    expect(c.causes).toEqual(['delivery', 'refund']);
    expect(c.causesCorrected).toBe(true);
    expect(c.csat?.score).toBe(4);
    expect(c.audit).toHaveLength(1);
    expect(c.store).toBe('demo');
    expect(c.shopper?.name).toBe('Ana');
    expect(c.shopper?.context?.order_id).toBe('A-1');
    expect(c.anger?.level).toBe(40);
    // A second answer: the live curve is kept, the causes follow the server.
    model.addAnger({ conversation_id: 'c1', ts: 2, level: 70, phase: 'peak', trend: 1, cues: [] });
    applyDetail(model, c, { categories: [], anger: [{ ts: 1, level: 40 }], conversation: { categories_corrected: false }, csat: null, audit: [] });
    expect(c.anger?.level).toBe(70);
    expect(c.causes).toEqual([]);
    expect(c.causesCorrected).toBe(false);
    expect(c.csat).toBeNull();
    expect(c.audit).toEqual([]);
  });
});

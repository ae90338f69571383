// @vitest-environment jsdom
/**
 * Issue 9 in the composed console (app.ts + views) in jsdom, against the in-process fake
 * WebSocket server and a stubbed fetch: the supervisors' Reports tab (default window,
 * store, the 93-day refusal, figures with "—", chart data, the sortable agents' table,
 * Download CSV with the Bearer header, Spanish), the audit timeline beside the curve
 * (refetched, debounced, after the frames that add to it) and the causes in the header
 * (chips, "corrected", the editor sending causes.set).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConsoleApp } from '../src/console/app';
import { MemoryStorage } from '../src/protocol/storage';
import { FakeServer, type FakeSocket } from './fake-server';

vi.mock('../src/console/chart', () => ({
  AngerChart: class {
    el = document.createElement('div');
    update() {}
    destroy() {}
  },
}));
// uPlot needs a canvas: the report charts are recorded instead (drawn in the browser test).
const chartCalls = vi.hoisted(() => new Map<string, { data: unknown; labels: string[]; empty: boolean }>());
vi.mock('../src/console/report-chart', () => ({
  ReportChart: class {
    el: HTMLElement;
    constructor(private o: { testid: string }) {
      this.el = document.createElement('div');
      this.el.dataset.testid = o.testid;
    }
    update(data: unknown, labels: string[], _w: number, empty = false) {
      chartCalls.set(this.o.testid, { data, labels, empty });
    }
    destroy() {}
  },
}));

const DAY = 86_400_000;

function summary(over: Record<string, unknown> = {}) {
  const to = Date.now();
  return {
    from: to - 7 * DAY,
    to,
    stores: ['demo', 'demo-pl'],
    conversations: 3,
    escalations: 1,
    escalations_by_reason: { manager_request: 1 },
    categories: { delivery: 2, refund: 1 },
    first_response_s: { median: 125, p90: null, count: 2 },
    csat: { count: 1, average: 4, scores: { '1': 0, '2': 0, '3': 0, '4': 1, '5': 0 } },
    anger: { peak_median: 72.5, closing_median: null },
    agents: [
      { id: 'agent2', name: 'Piotr Nowak', conversations: 2, first_response_s_median: 125, replies_measured: 3, deescalation: 12.5, csat_count: 1, csat_average: 4 },
      { id: 'agent', name: 'Ana García', conversations: 1, first_response_s_median: null, replies_measured: 0, deescalation: null, csat_count: 0, csat_average: null },
    ],
    days: [{ day: new Date(to).toISOString().slice(0, 10), conversations: 3, escalations: 1, peak_median: 72.5, closing_median: null }],
    ...over,
  };
}

class StaffServer extends FakeServer {
  welcome: Record<string, unknown> = {};
  receive(s: FakeSocket, f: Record<string, any>): void {
    if (f.type === 'hello') {
      this.log.push(f);
      s.push({ type: 'welcome', server_ts: 1, ...this.welcome });
      return;
    }
    super.receive(s, f);
  }
  sent(type: string) {
    return this.log.filter((f) => f.type === type);
  }
}

let server: StaffServer;
let fetchLog: { url: string; auth: string | null }[];
let report: Record<string, unknown>;
let detail: Record<string, unknown>;
const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);
const $ = (id: string) => document.querySelector(`[data-testid="${id}"]`) as HTMLElement;
const $$ = (id: string) => Array.from(document.querySelectorAll(`[data-testid="${id}"]`)) as HTMLElement[];
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const calls = (path: string) => fetchLog.filter((f) => new URL(f.url, 'http://console.test').pathname === path);

async function mount(role: 'agent' | 'supervisor' = 'supervisor', languages = ['en-GB']) {
  const me = role === 'agent' ? { user_id: 'agent', name: 'Ana García' } : { user_id: 'sup', name: 'Sofía Ruiz' };
  const session = new MemoryStorage();
  session.setItem('calma:console:session', JSON.stringify({ token: 'tok-' + role, role, ...me }));
  server.welcome = {
    user_id: me.user_id,
    role,
    stores: [
      { id: 'demo', name: 'Calma Demo Store', languages: ['es', 'en'] },
      { id: 'demo-pl', name: 'Sklep Demo Calma', languages: ['pl'] },
    ],
    conversations: [{ conversation_id: 'c1', state: 'assigned', agent_id: 'agent', last_seq: 0, created_ts: 1700000000000, store: 'demo', shopper: { id: 's1', name: 'Lucía', language: 'es', context: {} } }],
  };
  server.convs.set('c1', []);
  document.body.innerHTML = '<div id="app"></div>';
  const app = new ConsoleApp(document.getElementById('app')!, { createSocket: server.factory, sessionStorage: session, prefsStorage: new MemoryStorage(), wsUrl: 'ws://console.test/ws', languages });
  app.start();
  await tick(10);
  return app;
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date(2025, 5, 9, 15, 0) });
  server = new StaffServer();
  fetchLog = [];
  chartCalls.clear();
  report = summary();
  detail = {
    store: 'demo',
    categories: ['delivery'],
    csat: null,
    conversation: { categories_corrected: false },
    audit: [
      { ts: new Date(2025, 5, 9, 14, 0).getTime(), action: 'opened', by: { role: 'shopper', id: 's1', name: 'Lucía' } },
      { ts: new Date(2025, 5, 9, 14, 1).getTime(), action: 'assigned', by: { role: 'system', id: 'calma', name: 'Calma' }, agent: { id: 'agent', name: 'Ana García' } },
    ],
  };
  vi.stubGlobal('fetch', async (url: string, init?: RequestInit) => {
    const auth = new Headers(init?.headers).get('Authorization');
    fetchLog.push({ url: String(url), auth });
    const u = new URL(String(url), 'http://console.test');
    if (u.pathname === '/api/v1/reports/summary') return json(report);
    if (u.pathname === '/api/v1/reports/conversations.csv') return new Response('conversation_id,store\r\nc1,demo\r\n', { headers: { 'Content-Type': 'text/csv' } });
    if (u.pathname === '/api/v1/conversations/c1') return json(detail);
    if (u.pathname === '/api/v1/followups') return json({ followups: [] });
    if (u.pathname === '/api/v1/canned') return json({ responses: [] });
    return json({}, 404);
  });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('reports view', () => {
  it('is a supervisors-only tab', async () => {
    await mount('agent');
    expect($('tab-reports')).toBeNull();
    expect($('reports-panel')).toBeNull();
  });

  it('loads the last 7 days of every store on first opening, and shows the figures ("—" where not measured)', async () => {
    await mount();
    expect(calls('/api/v1/reports/summary')).toHaveLength(0); // not before it is opened
    $('tab-reports').click();
    await tick(10);
    expect($('tab-reports').getAttribute('aria-selected')).toBe('true');
    expect($('reports-panel').hidden).toBe(false);
    expect($('pane').hidden).toBe(true);
    const [req] = calls('/api/v1/reports/summary');
    expect(req.auth).toBe('Bearer tok-supervisor');
    const q = new URL(req.url, 'http://console.test').searchParams;
    expect(Number(q.get('from'))).toBe(new Date(2025, 5, 3).getTime());
    expect(Number(q.get('to'))).toBe(new Date(2025, 5, 10).getTime());
    expect(q.has('store')).toBe(false);
    expect(($('report-from') as HTMLInputElement).value).toBe('2025-06-03');
    expect(($('report-to') as HTMLInputElement).value).toBe('2025-06-09');
    expect($$('report-store')[0].querySelectorAll('option')).toHaveLength(3);
    expect($('report-period').textContent).toContain('7 days');
    expect($('report-period').textContent).toContain('All my stores');
    expect($('fig-conversations-value').textContent).toBe('3');
    expect($('fig-escalations-value').textContent).toBe('1');
    expect($('fig-first-response-value').textContent).toBe('2m 05s');
    expect($('fig-first-response-p90').textContent).toBe('p90: —');
    expect($('fig-csat-value').textContent).toBe('4.0');
    expect($('fig-csat-count').textContent).toContain('1 rating');
    expect($('csat-dist').querySelector('[data-score="4"]')!.textContent).toContain('1');
    expect($('fig-anger-peak').textContent).toBe('72.5');
    expect($('fig-anger-closing').textContent).toBe('—');
    expect($('report-message').hidden).toBe(true);
  });

  it('hands the charts their data: every day of the window, the seven causes, agents by de-escalation', async () => {
    await mount();
    $('tab-reports').click();
    await tick(10);
    const days = chartCalls.get('chart-days')!;
    expect(days.empty).toBe(false);
    const [xs, conv, esc] = days.data as number[][];
    expect(xs.length).toBe(days.labels.length);
    expect(xs.length).toBeGreaterThanOrEqual(7);
    expect(conv.reduce((a, b) => a + b, 0)).toBe(3);
    expect(esc.reduce((a, b) => a + b, 0)).toBe(1);
    const causes = chartCalls.get('chart-causes')!;
    expect(causes.labels).toEqual(['Delivery', 'Damaged item', 'Wrong item', 'Refund', 'Payment', 'Service', 'Other']);
    expect((causes.data as number[][])[1]).toEqual([2, 0, 0, 1, 0, 0, 0]);
    const anger = chartCalls.get('chart-anger')!;
    expect((anger.data as (number | null)[][])[2].every((v) => v === null)).toBe(true); // no closing median: gaps, not zeros
    const deesc = chartCalls.get('chart-deesc')!;
    expect(deesc.labels).toEqual(['Piotr Nowak', 'Ana García']);
    expect((deesc.data as (number | null)[][])[1]).toEqual([12.5, null]);
  });

  it('sorts the agents’ table by a column header, nulls last', async () => {
    await mount();
    $('tab-reports').click();
    await tick(10);
    const names = () => $$('report-agent').map((r) => r.dataset.agent);
    expect(names()).toEqual(['agent2', 'agent']);
    const row = $$('report-agent')[0];
    expect(row.textContent).toContain('+12.5 pts');
    expect($$('report-agent')[1].textContent).toContain('—');
    expect($('sort-deescalation').closest('th')!.getAttribute('aria-sort')).toBe('descending');
    $('sort-name').focus();
    $('sort-name').click();
    await tick(5);
    expect(names()).toEqual(['agent', 'agent2']); // Ana, Piotr
    expect($('sort-name').closest('th')!.getAttribute('aria-sort')).toBe('ascending');
    expect(document.activeElement).toBe($('sort-name')); // focus kept across the redraw
    $('sort-name').click();
    await tick(5);
    expect(names()).toEqual(['agent2', 'agent']);
    $('sort-first_response_s_median').click();
    await tick(5);
    expect(names()).toEqual(['agent2', 'agent']); // Ana has none: last
  });

  it('refuses more than 93 days with a message before asking; a store and Refresh ask again', async () => {
    await mount();
    $('tab-reports').click();
    await tick(10);
    const from = $('report-from') as HTMLInputElement;
    from.value = '2025-01-01';
    from.dispatchEvent(new Event('change'));
    $('report-refresh').click();
    await tick(10);
    expect(calls('/api/v1/reports/summary')).toHaveLength(1);
    expect($('report-message').hidden).toBe(false);
    expect($('report-message').textContent).toContain('at most 93 days');
    // CSV is refused the same way
    $('report-csv').click();
    await tick(10);
    expect(calls('/api/v1/reports/conversations.csv')).toHaveLength(0);
    from.value = '2025-06-01';
    from.dispatchEvent(new Event('change'));
    const store = $('report-store') as HTMLSelectElement;
    store.value = 'demo-pl';
    store.dispatchEvent(new Event('change'));
    report = summary({ conversations: 0, categories: {}, agents: [], days: [], csat: { count: 0, average: null, scores: {} }, first_response_s: { median: null, p90: null, count: 0 }, anger: { peak_median: null, closing_median: null }, escalations: 0 });
    $('report-refresh').click();
    await tick(10);
    const last = calls('/api/v1/reports/summary').at(-1)!;
    const q = new URL(last.url, 'http://console.test').searchParams;
    expect(q.get('store')).toBe('demo-pl');
    expect(Number(q.get('from'))).toBe(new Date(2025, 5, 1).getTime());
    expect($('report-message').textContent).toBe('No conversations in this period.');
    expect($('report-period').textContent).toContain('Sklep Demo Calma');
    expect($('fig-conversations-value').textContent).toBe('0');
    expect($('fig-csat-value').textContent).toBe('—');
    expect($('fig-first-response-value').textContent).toBe('—');
    expect($('report-no-agents')).not.toBeNull();
    expect(chartCalls.get('chart-days')!.empty).toBe(true);
    expect(chartCalls.get('chart-causes')!.empty).toBe(true);
  });

  it('says so when the server refuses', async () => {
    vi.stubGlobal('fetch', async (url: string) => {
      fetchLog.push({ url: String(url), auth: null });
      if (String(url).startsWith('/api/v1/reports/summary')) return json({ error: { code: 'bad_request', message: 'the window is longer than 93 days' } }, 400);
      return json({ followups: [], responses: [] });
    });
    await mount();
    $('tab-reports').click();
    await tick(10);
    expect($('report-message').textContent).toBe('The report could not be loaded. (the window is longer than 93 days)');
  });

  it('downloads the CSV with the Bearer header as a Blob saved through <a download>', async () => {
    const created: Blob[] = [];
    URL.createObjectURL = vi.fn((b: Blob) => {
      created.push(b);
      return 'blob:console.test/1';
    }) as never;
    URL.revokeObjectURL = vi.fn();
    const clicked: { href: string; download: string }[] = [];
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push({ href: this.getAttribute('href')!, download: this.download });
    });
    await mount();
    $('tab-reports').click();
    await tick(10);
    $('report-csv').click();
    await tick(10);
    const [req] = calls('/api/v1/reports/conversations.csv');
    expect(req.auth).toBe('Bearer tok-supervisor');
    expect(new URL(req.url, 'http://console.test').searchParams.get('from')).toBe(String(new Date(2025, 5, 3).getTime()));
    expect(clicked).toEqual([{ href: 'blob:console.test/1', download: 'calma-conversations_2025-06-03_2025-06-09.csv' }]);
    expect(await created[0].text()).toBe('conversation_id,store\r\nc1,demo\r\n');
    expect(document.querySelector('a[download]')).toBeNull(); // the link is gone again
    await tick(31000);
    expect(URL.revokeObjectURL).toHaveBeenCalledWith('blob:console.test/1');
    click.mockRestore();
  });

  it('in Spanish, rebuilt by the language menu from what was loaded (no refetch)', async () => {
    await mount('supervisor', ['es-ES']);
    $('tab-reports').click();
    await tick(10);
    expect($('tab-reports').textContent).toBe('Informes');
    expect($('report-refresh').textContent).toBe('Actualizar');
    expect($('fig-csat-value').textContent).toBe('4,0');
    expect($('fig-first-response-value').textContent).toBe('2 min 05 s');
    expect($('report-period').textContent).toContain('7 días');
    expect($$('report-agent')[0].textContent).toContain('+12,5 ptos.');
    expect(chartCalls.get('chart-causes')!.labels[0]).toBe('Entrega');
    const sel = $('lang') as HTMLSelectElement;
    sel.value = 'pl';
    sel.dispatchEvent(new Event('change'));
    await tick(10);
    expect($('tab-reports').textContent).toBe('Raporty');
    expect($('reports-panel').hidden).toBe(false);
    expect($('fig-conversations').textContent).toContain('Rozmowy');
    expect($('report-period').textContent).toContain('7 dni');
    expect(calls('/api/v1/reports/summary')).toHaveLength(1);
  });
});

describe('audit timeline and causes', () => {
  it('shows the audit trail beside the curve, and fetches it again (debounced) after the frames that add to it', async () => {
    await mount('agent');
    await tick(10);
    expect(calls('/api/v1/conversations/c1')).toHaveLength(1);
    const entries = $$('audit-entry');
    expect(entries.map((e) => e.dataset.action)).toEqual(['opened', 'assigned']);
    expect(entries[0].textContent).toBe('14:00LucíaOpened');
    expect(entries[1].textContent).toContain('Calma');
    expect(entries[1].textContent).toContain('to Ana García');
    expect($('audit-card').closest('.insight')).not.toBeNull();
    detail = {
      ...detail,
      audit: [...(detail.audit as unknown[]), { ts: new Date(2025, 5, 9, 14, 30).getTime(), action: 'closed', by: { role: 'agent', id: 'agent', name: 'Ana García' }, reason: 'resolved' }],
    };
    server.current!.push({ type: 'conversation.closed', conversation_id: 'c1', by: 'agent', reason: 'resolved' });
    server.current!.push({ type: 'escalation.resolved', escalation_id: 'e1', conversation_id: 'c1', by: 'agent' });
    await tick(300);
    expect(calls('/api/v1/conversations/c1')).toHaveLength(1); // debounced
    await tick(400);
    expect(calls('/api/v1/conversations/c1')).toHaveLength(2); // once for both frames
    const last = $$('audit-entry').at(-1)!;
    expect(last.dataset.action).toBe('closed');
    expect(last.textContent).toContain('You');
    expect(last.textContent).toContain('resolved');
    // A frame for another conversation does not refetch this one.
    server.current!.push({ type: 'conversation.closed', conversation_id: 'c9', by: 'agent', reason: 'resolved' });
    await tick(1000);
    expect(calls('/api/v1/conversations/c1')).toHaveLength(2);
    expect(calls('/api/v1/conversations/c9')).toHaveLength(0);
  });

  it('the audit trail in Spanish', async () => {
    await mount('supervisor', ['es']);
    await tick(10);
    const entries = $$('audit-entry');
    expect(entries[0].textContent).toContain('Abierta');
    expect(entries[1].textContent).toContain('Asignada');
    expect(entries[1].textContent).toContain('a Ana García');
  });

  it('shows the causes in the header; staff correct them with the editor; causes.updated updates them', async () => {
    await mount('supervisor');
    await tick(10);
    expect($$('cause-chip').map((c) => c.textContent)).toEqual(['Delivery']);
    expect($('causes-corrected')).toBeNull();
    $('causes-edit').click();
    await tick(5);
    const editor = $('causes-editor');
    expect(editor.querySelectorAll('input[type="checkbox"]')).toHaveLength(7);
    expect(($('cause-opt-delivery') as HTMLInputElement).checked).toBe(true);
    ($('cause-opt-refund') as HTMLInputElement).click();
    ($('cause-opt-delivery') as HTMLInputElement).click();
    await tick(1100); // a re-render keeps what is ticked
    expect(($('cause-opt-refund') as HTMLInputElement).checked).toBe(true);
    expect(($('cause-opt-delivery') as HTMLInputElement).checked).toBe(false);
    ($('cause-opt-damaged') as HTMLInputElement).click();
    $('causes-save').click();
    expect(server.sent('causes.set')).toEqual([{ type: 'causes.set', conversation_id: 'c1', causes: ['damaged', 'refund'] }]);
    await tick(5);
    expect($('causes-editor')).toBeNull();
    server.current!.push({ type: 'causes.updated', conversation_id: 'c1', causes: ['refund', 'damaged'], corrected: true, by: { role: 'supervisor', id: 'sup', name: 'Sofía Ruiz' } });
    await tick(5);
    expect($$('cause-chip').map((c) => c.textContent)).toEqual(['Damaged item', 'Refund']);
    expect($('causes-corrected').textContent).toContain('corrected');
    // The server's own tagging: not corrected.
    server.current!.push({ type: 'causes.updated', conversation_id: 'c1', causes: ['payment'], corrected: false, hits: [{ cause: 'payment', term: 'tarjeta' }] });
    await tick(5);
    expect($$('cause-chip').map((c) => c.textContent)).toEqual(['Payment']);
    expect($('cause-chip').title).toBe('Found in the customer’s words: tarjeta');
    expect($('causes-corrected')).toBeNull();
    await tick(700);
    expect(calls('/api/v1/conversations/c1').length).toBeGreaterThanOrEqual(2); // the audit trail grew
  });

  it('Cancel closes the editor without sending', async () => {
    await mount('agent');
    await tick(10);
    $('causes-edit').click();
    await tick(5);
    $('causes-cancel').click();
    await tick(5);
    expect($('causes-editor')).toBeNull();
    expect(server.sent('causes.set')).toHaveLength(0);
  });
});

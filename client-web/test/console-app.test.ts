// @vitest-environment jsdom
/**
 * The composed console (app.ts + views) in jsdom against the in-process fake server:
 * shopper context in the header, the `/` picker with the keyboard, the coaching
 * suggestion, close with follow-up, the follow-ups tab, the language menu, notices.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConsoleApp } from '../src/console/app';
import { MemoryStorage } from '../src/protocol/storage';
import { FakeServer, type FakeSocket } from './fake-server';

// uPlot needs a real canvas: the chart is a stub here (chart.ts is exercised in the browser tests).
vi.mock('../src/console/chart', () => ({
  AngerChart: class {
    el = document.createElement('div');
    update() {}
    destroy() {}
  },
}));
vi.mock('../src/console/report-chart', () => ({
  ReportChart: class {
    el = document.createElement('div');
    update() {}
    destroy() {}
  },
}));

const CANNED_PL = [
  { id: 'greeting_hello', title: 'Powitanie', text: 'Dzień dobry, {name}! Nazywam się {agent}.', lang: 'pl', category: 'greeting', stages: ['calm'] },
  { id: 'apology_delay', title: 'Przeprosiny za opóźnienie', text: 'Bardzo przepraszam, {name}, za opóźnienie zamówienia {order}.', lang: 'pl', category: 'apology', stages: ['rising', 'peak'] },
  { id: 'apology_damaged', title: 'Przeprosiny za uszkodzenie', text: 'Przepraszam, że paczka {order} dotarła uszkodzona.', lang: 'pl', category: 'apology', stages: ['peak'] },
];

const FOLLOWUPS = [
  {
    conversation_id: 'c-old',
    store: 'demo-pl',
    state: 'closed',
    shopper: { id: 's9', name: 'Jan Kowalski', language: 'pl', context: { order_id: 'PL-1' } },
    contact: { email: 'jan@example.pl', phone: '+48 600 100 200', note: 'Proszę o telefon po 16', ts: 5 },
    reason: 'contact',
    close_reason: null,
    created_ts: 1700000000000,
    agent: null,
  },
];

/** The fake server answering staff: a configurable welcome, history from its store. */
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
let prefs: MemoryStorage;
let session: MemoryStorage;
let followups: typeof FOLLOWUPS;
let fetchLog: string[];
const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);
const $ = (id: string) => document.querySelector(`[data-testid="${id}"]`) as HTMLElement;
const $$ = (id: string) => Array.from(document.querySelectorAll(`[data-testid="${id}"]`)) as HTMLElement[];

function jsonResponse(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

async function mount(opts: { lang?: string; role?: 'agent' | 'supervisor'; languages?: string[] } = {}) {
  const role = opts.role ?? 'agent';
  const me = role === 'agent' ? { user_id: 'agent', name: 'Ana García' } : { user_id: 'sup', name: 'Sofía Ruiz' };
  session.setItem('calma:console:session', JSON.stringify({ token: 'tok', role, ...me }));
  if (opts.lang) prefs.setItem('calma:console:lang', opts.lang);
  server.welcome = {
    user_id: me.user_id,
    role,
    stores: [
      { id: 'demo', name: 'Calma Demo Store', languages: ['es', 'en'] },
      { id: 'demo-pl', name: 'Sklep Demo Calma', languages: ['pl'] },
    ],
    conversations: [
      {
        conversation_id: 'c1',
        state: 'assigned',
        agent_id: 'agent',
        last_seq: 1,
        created_ts: 1700000000000,
        store: 'demo-pl',
        shopper: { id: 's1', name: 'Kasia Nowak', language: 'pl', context: { order_id: 'PL-77', order_value: 950, currency: 'PLN', tier: 'vip' } },
      },
    ],
  };
  server.convs.set('c1', []);
  server.store('c1', { role: 'shopper', id: 's1', name: 'Kasia Nowak' }, 'Gdzie jest moja paczka?', 'cm1');
  document.body.innerHTML = '<div id="app"></div>';
  const app = new ConsoleApp(document.getElementById('app')!, {
    createSocket: server.factory,
    sessionStorage: session,
    prefsStorage: prefs,
    wsUrl: 'ws://console.test/ws',
    languages: opts.languages ?? ['en-US'],
  });
  app.start();
  await tick(10);
  return app;
}

/** Type into the reply box as a user would: value, caret at the end, input event. */
function type(text: string) {
  const input = $('reply') as HTMLTextAreaElement;
  input.value = text;
  input.setSelectionRange(text.length, text.length);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

function key(k: string) {
  const ev = new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true });
  $('reply').dispatchEvent(ev);
  return ev;
}

beforeEach(() => {
  vi.useFakeTimers();
  server = new StaffServer();
  prefs = new MemoryStorage();
  session = new MemoryStorage();
  followups = structuredClone(FOLLOWUPS);
  fetchLog = [];
  vi.stubGlobal('fetch', async (url: string) => {
    fetchLog.push(String(url));
    const u = new URL(String(url), 'http://console.test');
    if (u.pathname === '/api/v1/canned') return jsonResponse({ responses: u.searchParams.get('lang') === 'pl' ? CANNED_PL : [] });
    if (u.pathname === '/api/v1/followups') return jsonResponse({ followups });
    return jsonResponse({}, 404);
  });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('console app', () => {
  it('shows the shopper context, VIP badge and store name in the conversation header', async () => {
    await mount();
    expect($('pane-title').textContent).toBe('Kasia Nowak');
    expect($('ctx-order').textContent).toBe('Order PL-77');
    expect($('ctx-value').textContent).toBe('PLN\u00a0950.00');
    expect($('vip-badge').textContent).toBe('VIP');
    expect($('store-name').textContent).toBe('Sklep Demo Calma');
    expect($('msg-shopper').textContent).toContain('Gdzie jest moja paczka?');
  });

  it('fetches the prepared answers in the shopper language for the store, once', async () => {
    await mount();
    const canned = fetchLog.filter((u) => u.startsWith('/api/v1/canned'));
    expect(canned).toEqual(['/api/v1/canned?store=demo-pl&lang=pl']);
  });

  it('`/` opens the picker; the arrows move, Enter inserts with placeholders filled and sends nothing', async () => {
    await mount();
    type('/prze');
    const picker = $('canned-picker');
    expect(picker.hidden).toBe(false);
    const input = $('reply') as HTMLTextAreaElement;
    expect($('canned-list').getAttribute('role')).toBe('listbox');
    const opts = $$('canned-option');
    expect(opts.map((o) => o.dataset.id)).toEqual(['apology_delay', 'apology_damaged']);
    expect(opts.every((o) => o.getAttribute('role') === 'option')).toBe(true);
    expect(input.getAttribute('aria-controls')).toBe('canned-listbox');
    expect(input.getAttribute('aria-activedescendant')).toBe('canned-opt-0');
    expect(opts[0].getAttribute('aria-selected')).toBe('true');
    expect(key('ArrowDown').defaultPrevented).toBe(true);
    expect(input.getAttribute('aria-activedescendant')).toBe('canned-opt-1');
    key('ArrowDown'); // wraps
    expect(input.getAttribute('aria-activedescendant')).toBe('canned-opt-0');
    expect(key('Enter').defaultPrevented).toBe(true);
    expect(input.value).toBe('Bardzo przepraszam, Kasia Nowak, za opóźnienie zamówienia PL-77.');
    expect(picker.hidden).toBe(true);
    expect(input.hasAttribute('aria-activedescendant')).toBe(false);
    expect(server.sent('chat.send')).toHaveLength(0); // the picker never sends
    // The agent may edit, then sends with Enter.
    type(input.value + ' Sprawdzam to.');
    key('Enter');
    await tick(5);
    expect(server.sent('chat.send').map((f) => f.text)).toEqual(['Bardzo przepraszam, Kasia Nowak, za opóźnienie zamówienia PL-77. Sprawdzam to.']);
  });

  it('filters accent-insensitively as the words are typed, Tab inserts, Escape closes until a new slash', async () => {
    await mount();
    type('Witam /uszkodz');
    expect($$('canned-option').map((o) => o.dataset.id)).toEqual(['apology_damaged']);
    key('Tab');
    expect(($('reply') as HTMLTextAreaElement).value).toBe('Witam Przepraszam, że paczka PL-77 dotarła uszkodzona.');
    type('/');
    expect($('canned-picker').hidden).toBe(false);
    expect($$('canned-option')).toHaveLength(3);
    expect(key('Escape').defaultPrevented).toBe(true);
    expect($('canned-picker').hidden).toBe(true);
    type('/po'); // same slash, still dismissed
    expect($('canned-picker').hidden).toBe(true);
    type('/po /pow'); // a new slash opens it again
    expect($('canned-picker').hidden).toBe(false);
    expect($$('canned-option').map((o) => o.dataset.id)).toEqual(['greeting_hello']);
  });

  it('suggests the prepared answer of the coaching stage, and inserts it on click', async () => {
    await mount();
    server.current!.push({ type: 'anger.update', conversation_id: 'c1', ts: 10, level: 72, phase: 'peak', trend: 5, cues: ['caps'], coaching: 'Przeproś szczerze.', coaching_stage: 'peak' });
    await tick(5);
    const b = $('canned-suggest');
    expect(b.textContent).toBe('Suggested: Przeprosiny za opóźnienie');
    expect($('coaching').textContent).toContain('Przeproś szczerze.');
    expect($('coaching').textContent).toContain('/');
    b.click();
    expect(($('reply') as HTMLTextAreaElement).value).toBe('Bardzo przepraszam, Kasia Nowak, za opóźnienie zamówienia PL-77.');
    expect(server.sent('chat.send')).toHaveLength(0);
  });

  it('closes with "needs follow-up" as follow_up: true', async () => {
    await mount();
    const cb = $('close-followup') as HTMLInputElement;
    cb.click();
    expect(cb.checked).toBe(true);
    await tick(1100); // a re-render keeps the box ticked
    expect(($('close-followup') as HTMLInputElement).checked).toBe(true);
    $('close-conv').click();
    expect(server.sent('conversation.close')).toEqual([{ type: 'conversation.close', conversation_id: 'c1', reason: 'resolved', follow_up: true }]);
  });

  it('a plain close sends no follow_up', async () => {
    await mount();
    $('close-conv').click();
    expect(server.sent('conversation.close')[0]).not.toHaveProperty('follow_up');
  });

  it('lists follow-ups with a count badge, contact links and Done; refetches on followups.changed', async () => {
    await mount();
    expect($('followups-count').textContent).toBe('1');
    $('tab-followups').click();
    await tick(5);
    expect($('tab-followups').getAttribute('aria-selected')).toBe('true');
    expect($('followups-panel').hidden).toBe(false);
    expect($('pane').hidden).toBe(true);
    const row = $('followup-row');
    expect(row.textContent).toContain('Jan Kowalski');
    expect(row.textContent).toContain('Sklep Demo Calma');
    expect(row.textContent).toContain('Left a contact');
    expect(row.textContent).toContain('Proszę o telefon po 16');
    expect($('followup-email').getAttribute('href')).toBe('mailto:jan@example.pl');
    expect($('followup-phone').getAttribute('href')).toBe('tel:+48600100200');
    expect($('followups-store')).toBeTruthy(); // the user serves two stores
    // Done: the frame goes out and the row disappears at once.
    $('followup-done').click();
    expect(server.sent('followup.done')).toEqual([{ type: 'followup.done', conversation_id: 'c-old' }]);
    await tick(5);
    expect($$('followup-row')).toHaveLength(0);
    expect($('followups-count').hidden).toBe(true);
    // Another store's list changes: refetch.
    const before = fetchLog.filter((u) => u.startsWith('/api/v1/followups')).length;
    followups = [{ ...FOLLOWUPS[0], conversation_id: 'c-new', reason: 'follow_up', contact: null, shopper: { id: 's2', name: 'Ola', language: 'pl', context: {} } } as never];
    server.current!.push({ type: 'followups.changed', store: 'demo-pl' });
    await tick(5);
    expect(fetchLog.filter((u) => u.startsWith('/api/v1/followups')).length).toBe(before + 1);
    expect($('followup-row').textContent).toContain('Follow-up requested');
    expect($('followup-row').textContent).toContain('No contact left');
    server.current!.push({ type: 'followup.done', conversation_id: 'c-new', store: 'demo-pl', by: { id: 'agent2', name: 'Piotr' }, ts: 9 });
    await tick(5);
    expect(fetchLog.filter((u) => u.startsWith('/api/v1/followups')).length).toBe(before + 2);
  });

  it('switches the language from the header menu, keeps it, and follows navigator.languages by default', async () => {
    await mount({ languages: ['es-ES', 'en'] });
    expect($('tab-conversations').textContent).toBe('Conversaciones');
    expect(document.documentElement.lang).toBe('es');
    const sel = $('lang') as HTMLSelectElement;
    sel.value = 'pl';
    sel.dispatchEvent(new Event('change'));
    await tick(5);
    expect($('tab-conversations').textContent).toBe('Rozmowy');
    expect($('conn').textContent).toBe('Połączono');
    expect($('ctx-order').textContent).toBe('Zamówienie PL-77');
    expect($('ctx-value').textContent).toBe('950,00\u00a0zł');
    expect(($('reply') as HTMLTextAreaElement).placeholder).toContain('gotowe odpowiedzi');
    expect(document.title).toBe('Konsola Calma');
    expect(prefs.getItem('calma:console:lang')).toBe('pl');
  });

  it('counts unread customer messages in the title, and beeps only when not muted (persisted)', async () => {
    let notes = 0;
    class FakeAudioContext {
      state = 'running';
      currentTime = 0;
      destination = {};
      resume = async () => {};
      createOscillator() {
        notes++;
        return { type: '', frequency: { value: 0 }, connect: (g: unknown) => g, start() {}, stop() {} };
      }
      createGain() {
        return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect: (d: unknown) => d };
      }
    }
    vi.stubGlobal('AudioContext', FakeAudioContext);
    await mount({ lang: 'en' });
    expect(notes).toBe(0); // nothing on load
    server.convs.set('c2', []);
    server.current!.push({ type: 'conversation.assigned', conversation_id: 'c2', agent: { id: 'agent', name: 'Ana García' }, shopper: { id: 's2', name: 'Ola', language: 'pl', context: {} } });
    for (const [seq, text] of [[1, 'Halo?'], [2, 'Jest tam ktoś?']] as const) {
      server.current!.push({ type: 'chat.message', conversation_id: 'c2', seq, ts: seq, from: { role: 'shopper', id: 's2', name: 'Ola' }, text, visibility: 'all' });
    }
    await tick(5);
    expect(document.title).toBe('(2) Calma console');
    await tick(1000);
    expect(document.title).toBe('New conversation · Calma console'); // flashing
    expect(notes).toBe(3); // the "new conversation" arpeggio; the messages right after it are not beeped again
    await tick(12000); // the flashing stops
    expect(document.title).toBe('(2) Calma console');
    server.current!.push({ type: 'chat.message', conversation_id: 'c2', seq: 3, ts: 3, from: { role: 'shopper', id: 's2', name: 'Ola' }, text: 'Halo!!', visibility: 'all' });
    await tick(5);
    expect(notes).toBe(5); // the two-note "message" sound
    expect(document.title).toBe('(3) Calma console');
    const mute = $('mute');
    expect(mute.getAttribute('aria-pressed')).toBe('false');
    mute.click();
    await tick(5);
    expect($('mute').getAttribute('aria-pressed')).toBe('true');
    expect(prefs.getItem('calma:console:muted')).toBe('1');
    await tick(2000);
    server.current!.push({ type: 'chat.message', conversation_id: 'c2', seq: 4, ts: 4, from: { role: 'shopper', id: 's2', name: 'Ola' }, text: '?', visibility: 'all' });
    await tick(5);
    expect(notes).toBe(5); // muted
    // Opening the conversation reads it.
    $$('conv-item').find((b) => b.dataset.conv === 'c2')!.click();
    await tick(5);
    expect(document.title).toBe('Calma console');
  });

  it('asks for notification permission only from the button, never on load', async () => {
    const requestPermission = vi.fn(async () => 'granted');
    class FakeNotification {
      static permission = 'default';
      static requestPermission = requestPermission;
    }
    vi.stubGlobal('Notification', FakeNotification);
    await mount();
    expect(requestPermission).not.toHaveBeenCalled();
    const btn = $('notify-enable');
    expect(btn.hidden).toBe(false);
    FakeNotification.permission = 'granted';
    btn.click();
    await tick(5);
    expect(requestPermission).toHaveBeenCalledTimes(1);
    expect($('notify-enable').hidden).toBe(true);
  });

  it('signs in in the browser language; the menu switches it, keeping what was typed; errors are translated', async () => {
    document.body.innerHTML = '<div id="app"></div>';
    const app = new ConsoleApp(document.getElementById('app')!, { createSocket: server.factory, sessionStorage: session, prefsStorage: prefs, wsUrl: 'ws://console.test/ws', languages: ['pl-PL'] });
    app.start();
    expect($('login').textContent).toBe('Zaloguj się');
    expect(document.title).toBe('Logowanie · Konsola Calma');
    ($('username') as HTMLInputElement).value = 'agent';
    const sel = $('login-lang') as HTMLSelectElement;
    sel.value = 'es';
    sel.dispatchEvent(new Event('change'));
    expect($('login').textContent).toBe('Iniciar sesión');
    expect(($('username') as HTMLInputElement).value).toBe('agent');
    expect(prefs.getItem('calma:console:lang')).toBe('es');
    vi.stubGlobal('fetch', async () => jsonResponse({ error: { code: 'unauthorized' } }, 401));
    ($('password') as HTMLInputElement).value = 'wrong';
    $('login').closest('form')!.dispatchEvent(new Event('submit', { cancelable: true }));
    await tick(5);
    expect($('login-error').hidden).toBe(false);
    expect($('login-error').textContent).toBe('Usuario o contraseña incorrectos.');
  });

  it('puts shopper context on the supervisor escalation card', async () => {
    await mount({ role: 'supervisor' });
    server.current!.push({
      type: 'escalation.raised',
      escalation_id: 'e1',
      conversation_id: 'c1',
      reasons: ['manager_request'],
      severity: 'high',
      level: 84,
      raised_ts: Date.now(),
      shopper: { id: 's1', name: 'Kasia Nowak', language: 'pl', context: { order_id: 'PL-77', order_value: 950, currency: 'PLN', tier: 'vip' } },
    });
    await tick(5);
    const card = $('esc-card');
    expect(card.textContent).toContain('manager_request');
    expect(card.querySelector('[data-testid="vip-badge"]')).not.toBeNull();
    expect(card.querySelector('[data-testid="ctx-order"]')!.textContent).toBe('Order PL-77');
    expect(card.querySelector('[data-testid="store-name"]')!.textContent).toBe('Sklep Demo Calma');
  });
});

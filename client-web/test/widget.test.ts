// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatWidget, configFromScript, utf8Length } from '../src/widget/widget';
import { LANGS, STRINGS, pickLang } from '../src/widget/i18n';
import { MemoryStorage } from '../src/protocol/storage';
import { FakeServer, fakeStoreApi } from './fake-server';

let server: FakeServer;
let storage: MemoryStorage;
const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

function mount(lang: 'es' | 'pl' | 'en' = 'es') {
  // No network: the store-state endpoint answers 404 (an older server), the classic widget.
  const w = new ChatWidget({ store: 'demo', lang, server: 'http://shop.test', storage, createSocket: server.factory, fetch: fakeStoreApi(null).fetch });
  w.mount(document.body);
  const host = document.querySelectorAll('#calma-widget');
  const root = host[host.length - 1].shadowRoot!;
  const $ = (id: string) => root.querySelector(`[data-testid="${id}"]`) as HTMLElement;
  const $$ = (id: string) => Array.from(root.querySelectorAll(`[data-testid="${id}"]`)) as HTMLElement[];
  return { w, root, $, $$ };
}

async function type(ui: ReturnType<typeof mount>, text: string) {
  const input = ui.$('input') as HTMLTextAreaElement;
  input.value = text;
  input.dispatchEvent(new Event('input'));
  input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
  await tick(5);
}

beforeEach(() => {
  vi.useFakeTimers();
  server = new FakeServer();
  storage = new MemoryStorage();
  document.body.innerHTML = '';
});
afterEach(() => vi.useRealTimers());

describe('i18n', () => {
  it('has every string in every language', () => {
    const keys = Object.keys(STRINGS.en).sort();
    for (const l of LANGS) {
      expect(Object.keys(STRINGS[l]).sort()).toEqual(keys);
      for (const k of keys) expect(STRINGS[l][k as keyof typeof STRINGS.en]).toBeTruthy();
    }
    expect(STRINGS.pl.queued(3)).toContain('3');
  });

  it('picks data-lang, then the browser language, then English', () => {
    expect(pickLang('pl', ['es-ES'])).toBe('pl');
    expect(pickLang(null, ['de-DE', 'es-MX'])).toBe('es');
    expect(pickLang('fr', ['de'])).toBe('en');
  });

  it('takes the server origin from its own script src, so it can be embedded elsewhere', () => {
    const s = document.createElement('script');
    s.src = 'https://chat.example.com/widget.js';
    s.dataset.store = 'shoes';
    s.dataset.lang = 'pl';
    expect(configFromScript(s)).toMatchObject({ server: 'https://chat.example.com', store: 'shoes', lang: 'pl' });
  });

  it('reports the shopper language only when the browser agrees with the widget language', () => {
    const s = document.createElement('script');
    s.src = 'https://chat.example.com/widget.js';
    s.dataset.lang = 'es';
    const langs = vi.spyOn(navigator, 'languages', 'get');
    langs.mockReturnValue(['es-ES', 'en']);
    expect(configFromScript(s).shopperLanguage).toBe('es');
    langs.mockReturnValue(['en-US']);
    expect(configFromScript(s)).toMatchObject({ lang: 'es', shopperLanguage: undefined });
    langs.mockRestore();
  });
});

describe('widget', () => {
  it('opens, sends a message (pending until ack), and shows the queue position', async () => {
    const ui = mount('es');
    const launcher = ui.$('launcher');
    expect(launcher.getAttribute('aria-label')).toBe('Abrir chat');
    launcher.click();
    expect(ui.$('panel').hidden).toBe(false);
    expect(server.connects).toBe(0); // no session until the shopper writes
    server.dropAcks = true;
    await type(ui, 'Hola');
    const row = ui.$$('msg-me')[0];
    expect(row.textContent).toContain('Hola');
    expect(row.dataset.status).toBe('pending');
    server.dropAcks = false;
    const sock = server.current!;
    const send = server.log.find((f) => f.type === 'chat.send')!;
    sock.push({ type: 'ack', client_msg_id: send.client_msg_id, conversation_id: 'c1', seq: 1 });
    sock.push({ type: 'conversation.queued', conversation_id: 'c1', position: 2, estimated_wait_s: 90 });
    expect(row.dataset.status).toBe('sent');
    expect(ui.$('status').textContent).toContain('Eres el número 2 en la cola');
    expect(ui.$('status').textContent).toContain('unos 2 min');
    expect(storage.getItem('calma:demo:token')).toBe('tok');
  });

  it('renders text as text, and never shows staff-only messages or anger data', async () => {
    const ui = mount('en');
    ui.$('launcher').click();
    await type(ui, 'hi');
    const sock = server.current!;
    sock.push({ type: 'conversation.assigned', conversation_id: 'c1', agent: { id: 'a1', name: 'Ana García' } });
    sock.push({ type: 'chat.message', conversation_id: 'c1', seq: 2, ts: 1, from: { role: 'agent', id: 'a1', name: 'Ana García' }, text: '<img src=x onerror="alert(1)"><b>bold</b>', visibility: 'all' });
    sock.push({ type: 'chat.message', conversation_id: 'c1', seq: 3, ts: 2, from: { role: 'supervisor', id: 's1', name: 'Sofía' }, text: 'SECRET whisper', visibility: 'staff' });
    sock.push({ type: 'anger.update', conversation_id: 'c1', ts: 3, level: 90, phase: 'peak', trend: 10, cues: ['insult'] });
    const log = ui.$('log');
    expect(log.querySelector('img')).toBeNull();
    expect(log.querySelector('b')).toBeNull();
    expect(log.textContent).toContain('<img src=x onerror="alert(1)"><b>bold</b>');
    expect(ui.root.textContent).not.toContain('SECRET');
    expect(ui.root.textContent).not.toContain('peak');
    expect(ui.$('header').textContent).toContain('Ana García');
  });

  it('shows the agent typing, read receipts, and the closed state with a new chat', async () => {
    const ui = mount('en');
    ui.$('launcher').click();
    await type(ui, 'hi');
    const sock = server.current!;
    sock.push({ type: 'conversation.assigned', conversation_id: 'c1', agent: { id: 'a1', name: 'Ana' } });
    sock.push({ type: 'typing', conversation_id: 'c1', state: true, from: { role: 'agent', id: 'a1', name: 'Ana' } });
    expect(ui.$('typing').textContent).toContain('Ana is typing');
    await tick(9000);
    expect(ui.$('typing').textContent).toBe('');
    sock.push({ type: 'read', conversation_id: 'c1', seq: 1, from: { role: 'agent', id: 'a1' } });
    expect(ui.$$('msg-me')[0].dataset.status).toBe('read');
    sock.push({ type: 'conversation.closed', conversation_id: 'c1', by: 'a1', reason: 'resolved' });
    expect(ui.$('closed').hidden).toBe(false);
    expect(ui.$('input').closest('.composer')!.hasAttribute('hidden')).toBe(true);
    ui.$('new-chat').click();
    expect(ui.$$('msg-me')).toHaveLength(0);
    await type(ui, 'again');
    const sends = server.log.filter((f) => f.type === 'chat.send');
    expect(sends.at(-1)!.conversation_id).toBeUndefined(); // opens a new conversation
  });

  it('after a reload resumes with the token and shows every message once', async () => {
    const ui = mount('en');
    ui.$('launcher').click();
    await type(ui, 'first');
    server.agentSays('c1', 'hello from Ana');
    expect(ui.$$('msg-them')).toHaveLength(1);
    // Reload: a new widget on the same storage.
    server.dropAll();
    document.body.innerHTML = '';
    const again = mount('en');
    await tick(5);
    const hello = server.log.filter((f) => f.type === 'hello').at(-1);
    expect(hello).toEqual({ type: 'hello', role: 'shopper', token: 'tok' });
    // The panel was open: it reopens, with the transcript from history.
    expect(again.$('panel').hidden).toBe(false);
    expect(again.$$('msg-me').map((e) => e.querySelector('.bubble')!.textContent)).toEqual(['first']);
    expect(again.$$('msg-them').map((e) => e.querySelector('.bubble')!.textContent)).toEqual(['hello from Ana']);
    // A duplicate live delivery changes nothing.
    server.current!.push({ type: 'chat.message', ...server.convs.get('c1')![1] });
    expect(again.$$('msg-them')).toHaveLength(1);
  });

  it('Escape closes the panel and gives focus back to the launcher', async () => {
    const ui = mount('en');
    ui.$('launcher').click();
    ui.$('panel').dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    expect(ui.$('panel').hidden).toBe(true);
    expect(ui.root.activeElement).toBe(ui.$('launcher'));
    expect(ui.$('launcher').getAttribute('aria-expanded')).toBe('false');
  });

  it('counts unread agent messages on the launcher while the panel is closed', async () => {
    const ui = mount('pl');
    ui.$('launcher').click();
    await type(ui, 'Dzień dobry');
    ui.$('launcher').click(); // close
    server.agentSays('c1', 'W czym mogę pomóc?');
    server.agentSays('c1', 'Jestem tutaj');
    const badge = ui.root.querySelector('.badge') as HTMLElement;
    expect(badge.hidden).toBe(false);
    expect(badge.textContent).toBe('2');
    expect(ui.$('launcher').getAttribute('aria-label')).toContain('Nieprzeczytane wiadomości: 2');
    ui.$('launcher').click();
    expect(badge.hidden).toBe(true);
    // Opening sends a read receipt for the last agent message.
    expect(server.log.filter((f) => f.type === 'read').at(-1)).toEqual({ type: 'read', conversation_id: 'c1', seq: 3 });
  });

  it('an expired token starts a new shopper session; a refused fresh hello is not retried in a loop', async () => {
    storage.setItem('calma:demo:token', 'expired');
    storage.setItem('calma:demo:conversation', 'c-old');
    server.receive = (s, f) => {
      if (f.type === 'hello') s.serverClose(4401, 'bad or expired token');
    };
    mount('en');
    await tick(5);
    expect(storage.getItem('calma:demo:token')).toBeNull();
    expect(storage.getItem('calma:demo:conversation')).toBeNull();
    await tick(10000);
    expect(server.connects).toBe(2); // the token one, then one fresh hello, then a pause
    await tick(25000);
    expect(server.connects).toBe(3);
  });

  it('counts UTF-8 bytes for the 4000-byte limit', () => {
    expect(utf8Length('ñ')).toBe(2);
    expect(utf8Length('abc')).toBe(3);
  });
});

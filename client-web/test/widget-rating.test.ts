// @vitest-environment jsdom
// Issue 9 in the widget: the rating (CSAT) after conversation.closed, against the fake server.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatWidget } from '../src/widget/widget';
import { STRINGS } from '../src/widget/i18n';
import { MemoryStorage } from '../src/protocol/storage';
import { FakeServer, fakeStoreApi } from './fake-server';

let server: FakeServer;
let storage: MemoryStorage;
const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

function mount(lang: 'es' | 'pl' | 'en' = 'es') {
  const w = new ChatWidget({ store: 'demo', lang, server: 'http://shop.test', storage, createSocket: server.factory, fetch: fakeStoreApi(null).fetch });
  w.mount(document.body);
  const host = document.querySelectorAll('#calma-widget');
  const root = host[host.length - 1].shadowRoot!;
  const $ = (id: string) => root.querySelector(`[data-testid="${id}"]`) as HTMLElement;
  const $$ = (id: string) => Array.from(root.querySelectorAll(`[data-testid="${id}"]`)) as HTMLElement[];
  const radios = () => Array.from(root.querySelectorAll('[role="radio"]')) as HTMLButtonElement[];
  /** Shown: the element and none of its ancestors (in the shadow root) is hidden. */
  const shown = (el: Element | null) => {
    for (let e = el; e; e = e.parentElement) if ((e as HTMLElement).hidden) return false;
    return !!el;
  };
  return { w, root, $, $$, radios, shown };
}
type UI = ReturnType<typeof mount>;

async function type(ui: UI, text: string) {
  const input = ui.$('input') as HTMLTextAreaElement;
  input.value = text;
  input.dispatchEvent(new Event('input'));
  input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
  await tick(5);
}

/** Open the widget, write, get an agent, and let the agent close: conversation c1. */
async function chatAndClose(ui: UI) {
  ui.$('launcher').click();
  await type(ui, 'hola');
  server.current!.push({ type: 'conversation.assigned', conversation_id: 'c1', agent: { id: 'agent-1', name: 'Ana' } });
  server.agentSays('c1', 'Listo, ¿algo más?');
  server.closeConversation('c1');
  await tick(5);
}

const csatFrames = () => server.log.filter((f) => f.type === 'csat');

function comment(ui: UI, text: string) {
  const c = ui.$('rating-comment') as HTMLTextAreaElement;
  c.value = text;
  c.dispatchEvent(new Event('input'));
}

const key = (el: HTMLElement, k: string) => el.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }));

beforeEach(() => {
  vi.useFakeTimers();
  server = new FakeServer();
  storage = new MemoryStorage();
  document.body.innerHTML = '';
});
afterEach(() => vi.useRealTimers());

describe('rating after the conversation', () => {
  it('asks in the shopper language once closed; a tap selects, Send sends the one csat frame; then thanks', async () => {
    const ui = mount('es');
    ui.$('launcher').click();
    await type(ui, 'hola');
    expect(ui.shown(ui.$('rating'))).toBe(false); // not while the conversation is open
    server.closeConversation('c1');
    await tick(5);
    const rating = ui.$('rating');
    expect(ui.shown(rating)).toBe(true);
    expect(rating.textContent).toContain('¿Qué tal ha ido el chat?');
    const group = ui.$('rating-group');
    expect(group.getAttribute('role')).toBe('radiogroup');
    expect(ui.root.getElementById(group.getAttribute('aria-labelledby')!)!.textContent).toBe('¿Qué tal ha ido el chat?');
    expect(ui.radios().map((r) => r.getAttribute('aria-label'))).toEqual(['1 de 5 — muy malo', '2 de 5 — malo', '3 de 5 — regular', '4 de 5 — bueno', '5 de 5 — excelente']);
    expect(ui.radios().every((r) => r.getAttribute('aria-checked') === 'false')).toBe(true);
    // The rating sits above the new-chat button, which stays usable.
    const closed = ui.$('closed');
    const order = Array.from(closed.querySelectorAll('[data-testid]')).map((e) => e.getAttribute('data-testid'));
    expect(order.indexOf('rating')).toBeLessThan(order.indexOf('new-chat'));
    expect(ui.shown(ui.$('new-chat'))).toBe(true);
    // Comment and Send only after a score.
    expect(ui.shown(ui.$('rating-comment'))).toBe(false);
    ui.$('rating-4').click();
    expect(ui.$('rating-4').getAttribute('aria-checked')).toBe('true');
    expect(ui.shown(ui.$('rating-comment'))).toBe(true);
    expect(ui.$('rating-send').textContent).toBe('Enviar');
    expect(ui.$('rating-skip').textContent).toBe('Omitir comentario');
    expect(csatFrames()).toHaveLength(0); // choosing sends nothing yet
    ui.$('rating-2').click(); // changing one's mind is fine before sending
    ui.$('rating-5').click();
    comment(ui, '  Muy amable, gracias  ');
    ui.$('rating-send').click();
    expect(csatFrames()).toEqual([{ type: 'csat', conversation_id: 'c1', score: 5, comment: 'Muy amable, gracias' }]);
    await tick(5);
    expect(ui.$('rating-thanks').textContent).toContain('¡Gracias por tu valoración!');
    expect(ui.$('rating-thanks').getAttribute('role')).toBe('status');
    expect(ui.shown(ui.$('rating-group'))).toBe(false);
    expect(JSON.parse(storage.getItem('calma:demo:rated')!)).toEqual(['c1']);
    expect(server.ratings.get('c1')).toMatchObject({ score: 5 });
    // Starting again is not blocked.
    ui.$('new-chat').click();
    expect(ui.shown(ui.$('rating'))).toBe(false);
    expect(ui.shown(ui.$('input'))).toBe(true);
  });

  it('"Skip comment" sends the score alone at once; the shopper ending the chat gets asked too (English)', async () => {
    const ui = mount('en');
    ui.$('launcher').click();
    await type(ui, 'hi');
    ui.$('end').click(); // conversation.close -> conversation.closed from the (fake) server
    await tick(5);
    expect(server.log.some((f) => f.type === 'conversation.close' && f.reason === 'shopper_ended')).toBe(true);
    expect(ui.$('rating').textContent).toContain('How was your chat?');
    expect(ui.radios()[0].getAttribute('aria-label')).toBe('1 of 5 — very bad');
    ui.$('rating-3').click();
    comment(ui, 'typed, then skipped');
    ui.$('rating-skip').click();
    expect(csatFrames()).toEqual([{ type: 'csat', conversation_id: 'c1', score: 3 }]);
    await tick(5);
    expect(ui.$('rating-thanks').textContent).toContain('Thank you for your rating!');
  });

  it('sends one rating only: no second frame from a double click, Enter and Send, or after the thanks', async () => {
    const ui = mount('en');
    server.dropCsat = true; // keep it "sending" for a moment
    await chatAndClose(ui);
    ui.$('rating-2').click();
    comment(ui, 'slow');
    ui.$('rating-send').click();
    ui.$('rating-send').click();
    key(ui.$('rating-comment'), 'Enter');
    ui.$('rating-skip').click();
    expect(csatFrames()).toHaveLength(1);
    expect(ui.$('rating-send').hasAttribute('disabled')).toBe(true);
    expect(ui.$('rating-send').textContent).toBe('Sending…');
    // The score cannot change while it is on its way.
    ui.$('rating-4').click();
    expect(ui.$('rating-2').getAttribute('aria-checked')).toBe('true');
    expect(ui.$('rating-4').getAttribute('aria-disabled')).toBe('true');
    server.current!.push({ type: 'csat.saved', conversation_id: 'c1' });
    await tick(5);
    expect(ui.$('rating-thanks').textContent).toContain('Thank you');
    ui.$('rating-5').click();
    (ui.$('rating-more') as HTMLFormElement).requestSubmit();
    ui.$('rating-skip').click();
    await tick(20000); // no timeout error after the thanks either
    expect(csatFrames()).toHaveLength(1);
    expect(ui.$('rating-error').textContent).toBe('');
  });

  it('shows an error and lets the shopper retry with the same choice; "already rated" is thanked', async () => {
    const ui = mount('pl');
    await chatAndClose(ui);
    expect(ui.$('rating').textContent).toContain('Jak oceniasz tę rozmowę?');
    ui.$('rating-1').click();
    comment(ui, 'Długo czekałem');
    server.csatError = { code: 'unavailable', message: 'store unavailable: rating not saved, retry' };
    ui.$('rating-send').click();
    await tick(5);
    const err = ui.$('rating-error');
    expect(err.getAttribute('role')).toBe('alert');
    expect(err.textContent).toContain('Nie udało się wysłać oceny. Spróbuj ponownie.');
    expect(err.textContent).toContain('store unavailable: rating not saved, retry'); // the server's own message
    expect(ui.$('rating-1').getAttribute('aria-checked')).toBe('true');
    expect((ui.$('rating-comment') as HTMLTextAreaElement).value).toBe('Długo czekałem');
    expect(ui.$('rating-send').hasAttribute('disabled')).toBe(false);
    expect(ui.$('rating-thanks').textContent).toBe('');
    expect(storage.getItem('calma:demo:rated')).toBeNull();
    ui.$('rating-send').click();
    await tick(5);
    expect(csatFrames()).toHaveLength(2);
    expect(csatFrames()[1]).toEqual({ type: 'csat', conversation_id: 'c1', score: 1, comment: 'Długo czekałem' });
    expect(ui.$('rating-error').textContent).toBe('');
    expect(ui.$('rating-thanks').textContent).toContain('Dziękujemy za ocenę!');

    // Rated already, but this browser does not know it (another tab, cleared storage):
    // the server refuses the second rating as "already rated", and that is a thank-you.
    server.dropAll();
    storage.removeItem('calma:demo:rated');
    document.body.innerHTML = '';
    const again = mount('pl');
    await tick(5);
    expect(again.shown(again.$('rating-group'))).toBe(true);
    again.$('rating-5').click();
    again.$('rating-skip').click();
    await tick(5);
    expect(csatFrames()).toHaveLength(3);
    expect(server.ratings.get('c1')).toMatchObject({ score: 1 }); // the first one stands
    expect(again.$('rating-error').textContent).toBe('');
    expect(again.$('rating-thanks').textContent).toContain('Dziękujemy za ocenę!');
    expect(JSON.parse(storage.getItem('calma:demo:rated')!)).toEqual(['c1']);
  });

  it('a rating left unanswered is reported after a while and can be sent again; too long a comment is refused here', async () => {
    const ui = mount('es');
    await chatAndClose(ui);
    ui.$('rating-4').click();
    comment(ui, 'ñ'.repeat(251)); // 502 bytes
    ui.$('rating-send').click();
    expect(csatFrames()).toHaveLength(0);
    expect(ui.$('rating-error').textContent).toContain('El comentario es demasiado largo (500 bytes como máximo).');
    expect(ui.$('rating-comment').getAttribute('aria-invalid')).toBe('true');
    comment(ui, 'ñ'.repeat(250)); // 500 bytes: fine
    expect(ui.$('rating-error').textContent).toBe('');
    server.dropCsat = true;
    ui.$('rating-send').click();
    expect(csatFrames()).toHaveLength(1);
    await tick(16000);
    expect(ui.$('rating-error').textContent).toContain('No pudimos enviar tu valoración. Inténtalo de nuevo.');
    server.dropCsat = false;
    ui.$('rating-send').click();
    await tick(5);
    expect(csatFrames()).toHaveLength(2);
    expect(ui.$('rating-thanks').textContent).toContain('¡Gracias');
  });

  it('a rating sent while the connection drops goes again after the reconnect', async () => {
    const ui = mount('en');
    await chatAndClose(ui);
    server.dropCsat = true;
    ui.$('rating-5').click();
    ui.$('rating-skip').click();
    expect(csatFrames()).toHaveLength(1);
    server.dropCsat = false;
    server.dropAll();
    await tick(40000); // reconnect (full-jitter backoff), welcome, the same frame again
    expect(csatFrames()).toHaveLength(2);
    expect(csatFrames()[1]).toEqual(csatFrames()[0]);
    expect(ui.$('rating-thanks').textContent).toContain('Thank you');
  });

  it('a reload does not ask again for a rated conversation; an unrated one and the next conversation are asked', async () => {
    const ui = mount('en');
    await chatAndClose(ui);
    ui.$('rating-4').click();
    ui.$('rating-send').click();
    await tick(5);
    expect(ui.$('rating-thanks').textContent).toContain('Thank you');

    // Reload: a new widget on the same storage; the server lists c1 as closed.
    server.dropAll();
    document.body.innerHTML = '';
    const again = mount('en');
    await tick(5);
    expect(again.shown(again.$('closed'))).toBe(true);
    expect(again.shown(again.$('rating-group'))).toBe(false);
    expect(again.radios().some((r) => again.shown(r))).toBe(false);
    expect(again.$('rating-thanks').textContent).toContain('Thank you for your rating!');
    expect(csatFrames()).toHaveLength(1);

    // A new conversation is asked again once it is closed.
    again.$('new-chat').click();
    await type(again, 'one more question');
    const c2 = storage.getItem('calma:demo:conversation')!;
    expect(c2).toBe('c2');
    expect(again.shown(again.$('rating'))).toBe(false);
    server.closeConversation(c2);
    await tick(5);
    expect(again.shown(again.$('rating-group'))).toBe(true);
    expect(again.$('rating-thanks').textContent).toBe('');
    expect(again.radios().every((r) => r.getAttribute('aria-checked') === 'false')).toBe(true);
    expect((again.$('rating-comment') as HTMLTextAreaElement).value).toBe('');

    // Not rated, then a reload: still asked (nothing was stored for c2).
    server.dropAll();
    document.body.innerHTML = '';
    const third = mount('en');
    await tick(5);
    expect(third.shown(third.$('rating-group'))).toBe(true);
    third.$('rating-2').click();
    third.$('rating-send').click();
    await tick(5);
    expect(csatFrames().at(-1)).toEqual({ type: 'csat', conversation_id: 'c2', score: 2 });
    expect(JSON.parse(storage.getItem('calma:demo:rated')!)).toEqual(['c1', 'c2']);
  });

  it('works from the keyboard: one tab stop, arrows move and select, Home/End, Enter, Enter in the comment sends', async () => {
    const ui = mount('en');
    await chatAndClose(ui);
    const r = ui.radios();
    // Roving tabindex: one stop in the group (the first while nothing is chosen).
    expect(r.map((b) => b.tabIndex)).toEqual([0, -1, -1, -1, -1]);
    r[0].focus();
    key(r[0], 'ArrowRight');
    expect(ui.root.activeElement).toBe(r[1]);
    expect(r[1].getAttribute('aria-checked')).toBe('true');
    expect(r.map((b) => b.tabIndex)).toEqual([-1, 0, -1, -1, -1]);
    expect(ui.shown(ui.$('rating-comment'))).toBe(true);
    key(r[1], 'ArrowDown');
    expect(ui.root.activeElement).toBe(r[2]);
    key(r[2], 'ArrowLeft');
    key(r[1], 'ArrowUp');
    expect(ui.root.activeElement).toBe(r[0]);
    key(r[0], 'ArrowLeft'); // wraps round
    expect(ui.root.activeElement).toBe(r[4]);
    expect(r[4].getAttribute('aria-checked')).toBe('true');
    key(r[4], 'Home');
    expect(r[0].getAttribute('aria-checked')).toBe('true');
    key(r[0], 'End');
    expect(r[4].getAttribute('aria-checked')).toBe('true');
    // Enter (and Space) select the focused score.
    r[3].focus();
    key(r[3], 'Enter');
    expect(r[3].getAttribute('aria-checked')).toBe('true');
    expect(r.filter((b) => b.getAttribute('aria-checked') === 'true')).toHaveLength(1);
    key(r[2], ' ');
    expect(r[2].getAttribute('aria-checked')).toBe('true');
    key(r[3], 'Enter');
    expect(csatFrames()).toHaveLength(0); // selecting never sends
    const c = ui.$('rating-comment') as HTMLTextAreaElement;
    c.focus();
    comment(ui, 'Quick and kind');
    key(c, 'Enter');
    expect(csatFrames()).toEqual([{ type: 'csat', conversation_id: 'c1', score: 4, comment: 'Quick and kind' }]);
    await tick(5);
    // Focus is not lost: it lands on the thank-you.
    expect(ui.root.activeElement).toBe(ui.$('rating-thanks'));
  });

  it('takes the shopper from the composer to the rating when the chat closes under them', async () => {
    const ui = mount('es');
    ui.$('launcher').click();
    await type(ui, 'hola');
    (ui.$('input') as HTMLTextAreaElement).focus();
    expect(ui.root.activeElement).toBe(ui.$('input'));
    server.closeConversation('c1');
    await tick(5);
    expect(ui.root.activeElement).toBe(ui.$('rating-1'));
  });

  it('has every rating string in every language', () => {
    for (const l of ['es', 'pl', 'en'] as const) {
      const t = STRINGS[l];
      for (let n = 1; n <= 5; n++) expect(t.ratingOption(n)).toMatch(new RegExp(`^${n} \\S+ 5 — \\S`));
      expect(new Set([1, 2, 3, 4, 5].map((n) => t.ratingOption(n))).size).toBe(5);
    }
    expect(STRINGS.pl.ratingOption(3)).toBe('3 z 5 — przeciętnie');
  });
});

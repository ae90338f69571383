// @vitest-environment jsdom
// v1.1 in the widget: data-context, the store's opening state, the offline contact form.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatWidget, configFromScript } from '../src/widget/widget';
import { STRINGS } from '../src/widget/i18n';
import { describeAvailability, openAt, parseContext, upcomingClosedDates, validateContact, weeklyRows } from '../src/widget/availability';
import { MemoryStorage } from '../src/protocol/storage';
import type { StoreWidgetInfo } from '../src/protocol/types';
import { FakeServer, fakeStoreApi } from './fake-server';

/** Intl puts narrow no-break spaces in "8:00 AM": compare with plain spaces. */
const norm = (s: string | null | undefined) => (s ?? '').replace(/\s/g, ' ');

// Sunday 5 January 2025, 21:00 in Warsaw.
const SUNDAY_EVENING = Date.UTC(2025, 0, 5, 20, 0);
const MONDAY_8_WARSAW = Date.UTC(2025, 0, 6, 7, 0);
const WEDNESDAY_8_WARSAW = Date.UTC(2025, 0, 8, 7, 0);
const TUESDAY_14_JAN_8_WARSAW = Date.UTC(2025, 0, 14, 7, 0);
const HOURS_PL = { tz: 'Europe/Warsaw', weekly: [{ days: [1, 2, 3, 4, 5, 6], from: '08:00', to: '22:00' }] };

function closedInfo(over: Partial<StoreWidgetInfo> = {}): StoreWidgetInfo {
  return { id: 'demo-pl', name: 'Sklep Demo Calma', languages: ['pl'], open: false, in_hours: false, agents_online: true, hours: HOURS_PL, next_open_ts: MONDAY_8_WARSAW, closes_ts: null, ...over };
}

describe('data-context', () => {
  it('keeps a valid context, normalising a numeric string value and the currency', () => {
    const warn = vi.fn();
    expect(parseContext('{"order_id":"PL-950","order_value":"950.50","currency":"pln","tier":"vip"}', warn)).toEqual({ order_id: 'PL-950', order_value: 950.5, currency: 'PLN', tier: 'vip' });
    expect(parseContext('{"order_id":1001,"order_value":0}', warn)).toEqual({ order_id: 1001, order_value: 0 });
    expect(warn).not.toHaveBeenCalled();
  });

  it('drops invalid JSON and non-objects whole, with a warning', () => {
    for (const raw of ['{order_id: 1}', '[1,2]', '"vip"', 'null', '42']) {
      const warn = vi.fn();
      expect(parseContext(raw, warn)).toBeUndefined();
      expect(warn).toHaveBeenCalledTimes(1);
    }
    const warn = vi.fn();
    expect(parseContext(undefined, warn)).toBeUndefined();
    expect(parseContext('  ', warn)).toBeUndefined();
    expect(warn).not.toHaveBeenCalled();
  });

  it('drops each unknown key and each value of the wrong type, never sending it', () => {
    const warn = vi.fn();
    const ctx = parseContext(
      JSON.stringify({ order_id: 'x'.repeat(65), order_value: -3, currency: 'EURO', tier: { gold: true }, email: 'a@b.c' }),
      warn,
    );
    expect(ctx).toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(5);
    expect(warn.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/order_value.*dropped/);
    const warn2 = vi.fn();
    expect(parseContext('{"order_id":"A-1","order_value":"12,5","tier":"' + 't'.repeat(33) + '"}', warn2)).toEqual({ order_id: 'A-1' });
    expect(warn2).toHaveBeenCalledTimes(2);
    expect(parseContext('{"order_value":true,"order_id":1.5}', vi.fn())).toBeUndefined();
  });

  it('is read from the script tag once, with the rest of the configuration', () => {
    const s = document.createElement('script');
    s.src = 'https://chat.example.com/widget.js';
    s.dataset.store = 'demo-pl';
    s.dataset.lang = 'pl';
    s.dataset.context = '{"order_id":"PL-2025-0950","order_value":950,"currency":"PLN","tier":"vip"}';
    expect(configFromScript(s)).toMatchObject({ store: 'demo-pl', lang: 'pl', context: { order_id: 'PL-2025-0950', order_value: 950, currency: 'PLN', tier: 'vip' } });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    s.dataset.context = '{"order_id": broken';
    expect(configFromScript(s).context).toBeUndefined();
    expect(warn).toHaveBeenCalled();
    warn.mockRestore();
  });
});

describe('opening hours text', () => {
  it('says when a closed store opens, in each language, in the store time zone', () => {
    const info = closedInfo();
    expect(norm(describeAvailability(info, STRINGS.en, 'en', SUNDAY_EVENING).text)).toBe('We’re closed now. We open tomorrow, Monday, at 8:00 AM (Europe/Warsaw).');
    expect(norm(describeAvailability(info, STRINGS.es, 'es', SUNDAY_EVENING).text)).toBe('Ahora estamos cerrados. Abrimos mañana, lunes, a las 8:00 (Europe/Warsaw).');
    expect(norm(describeAvailability(info, STRINGS.pl, 'pl', SUNDAY_EVENING).text)).toBe('Jesteśmy teraz zamknięci. Otwieramy jutro, w poniedziałek, o 8:00 (Europe/Warsaw).');
    const wed = closedInfo({ next_open_ts: WEDNESDAY_8_WARSAW });
    expect(norm(describeAvailability(wed, STRINGS.pl, 'pl', SUNDAY_EVENING).text)).toContain('Otwieramy w środę o 8:00 (Europe/Warsaw).');
    expect(norm(describeAvailability(wed, STRINGS.es, 'es', SUNDAY_EVENING).text)).toContain('Abrimos el miércoles a las 8:00 (Europe/Warsaw).');
    expect(norm(describeAvailability(wed, STRINGS.en, 'en-GB', SUNDAY_EVENING).text)).toContain('We open on Wednesday at 8:00 (Europe/Warsaw).');
    // More than six days away: the date too ("we wtorek": Polish needs "we" before "wtorek").
    const far = closedInfo({ next_open_ts: TUESDAY_14_JAN_8_WARSAW });
    expect(norm(describeAvailability(far, STRINGS.pl, 'pl', SUNDAY_EVENING).text)).toContain('Otwieramy we wtorek 14 stycznia o 8:00');
    expect(norm(describeAvailability(far, STRINGS.es, 'es', SUNDAY_EVENING).text)).toContain('Abrimos el martes 14 de enero a las 8:00');
    // Saturday and Sunday take the accusative in Polish too.
    const sat = openAt(Date.UTC(2025, 0, 11, 7, 0), 'Europe/Warsaw', 'pl', SUNDAY_EVENING);
    expect(STRINGS.pl.opensAt(sat)).toContain('w sobotę');
    expect(STRINGS.pl.opensAt({ ...sat, weekday: 'niedziela' })).toContain('w niedzielę');
    // The same instant seen from a store in Madrid is 08:00 there as well (same offset in winter), but not from New York.
    expect(norm(describeAvailability(closedInfo({ hours: { tz: 'America/New_York', weekly: [] } }), STRINGS.en, 'en', SUNDAY_EVENING).text)).toContain('at 2:00 AM (America/New_York)');
  });

  it('today, no next opening, nobody online within hours, and open', () => {
    const sundayMorning = Date.UTC(2025, 0, 6, 5, 0); // Monday 06:00 in Warsaw
    expect(norm(describeAvailability(closedInfo(), STRINGS.en, 'en', sundayMorning).text)).toBe('We’re closed now. We open today at 8:00 AM (Europe/Warsaw).');
    expect(describeAvailability(closedInfo({ next_open_ts: null }), STRINGS.es, 'es').text).toBe('Ahora estamos cerrados.');
    const noAgents = closedInfo({ in_hours: true, agents_online: false, next_open_ts: null });
    expect(describeAvailability(noAgents, STRINGS.en, 'en')).toMatchObject({ kind: 'no_agents', text: STRINGS.en.noAgents, short: 'Nobody online right now' });
    expect(describeAvailability(noAgents, STRINGS.pl, 'pl').text).toContain('nikt z zespołu nie jest teraz dostępny');
    const open = closedInfo({ open: true, in_hours: true, next_open_ts: null, closes_ts: Date.UTC(2025, 0, 6, 21, 0) });
    expect(describeAvailability(open, STRINGS.en, 'en')).toMatchObject({ kind: 'open', short: 'We usually answer within minutes' });
    expect(norm(describeAvailability(open, STRINGS.pl, 'pl').text)).toBe('Teraz otwarte, do 22:00. Zwykle odpowiadamy w kilka minut.');
  });

  it('lists the week, Monday first, with closed days and today marked', () => {
    const rows = weeklyRows({ tz: 'Europe/Warsaw', weekly: [{ days: [1, 2, 3, 4, 5], from: '09:00', to: '13:00' }, { days: [1], from: '15:00', to: '18:30' }] }, STRINGS.pl, 'pl', SUNDAY_EVENING);
    expect(rows.map((r) => r.label)).toEqual(['Poniedziałek', 'Wtorek', 'Środa', 'Czwartek', 'Piątek', 'Sobota', 'Niedziela']);
    expect(rows[0].ranges).toBe('9:00–13:00, 15:00–18:30');
    expect(rows[5]).toMatchObject({ ranges: 'nieczynne', open: false });
    expect(rows.filter((r) => r.today).map((r) => r.day)).toEqual([7]);
  });

  it('names the next closed dates (holidays), from today on', () => {
    const hours = { ...HOURS_PL, closed_dates: ['2025-12-25', '2025-01-05', '2024-12-31', '2025-01-06', 'garbage', '2025-05-01', '2025-05-03'] };
    expect(upcomingClosedDates(hours, 'pl', SUNDAY_EVENING)).toEqual(['5 stycznia', '6 stycznia', '1 maja']);
    expect(STRINGS.es.hoursClosedDates(upcomingClosedDates(hours, 'es', SUNDAY_EVENING, 2).join(', '))).toBe('También cerrado: 5 de enero, 6 de enero.');
  });
});

describe('contact validation (spec rules)', () => {
  const v = (email: string, phone: string, note = '', needNote = false) => validateContact({ email, phone, note }, needNote);
  it('needs an e-mail or a phone, each well formed', () => {
    expect(v('', '')).toEqual({ email: 'errNeedOne' });
    expect(v('ana@example.com', '')).toEqual({});
    expect(v('', '+48 600-100 (200)')).toEqual({});
    expect(v('ana@example', '')).toEqual({ email: 'errEmail' });
    expect(v('ana example.com', '')).toEqual({ email: 'errEmail' });
    expect(v('a@' + 'b'.repeat(250) + '.pl', '')).toEqual({ email: 'errEmail' });
    expect(v('', '12345')).toEqual({ phone: 'errPhone' });
    expect(v('', '600 100 200 ext 5')).toEqual({ phone: 'errPhone' });
    expect(v('', '1'.repeat(33))).toEqual({ phone: 'errPhone' });
    expect(v('ana@example.com', 'abc')).toEqual({ phone: 'errPhone' });
  });
  it('limits the note to 500 bytes and asks for it when it has to open the conversation', () => {
    expect(v('a@b.pl', '', 'ż'.repeat(251))).toEqual({ note: 'errNoteLong' });
    expect(v('a@b.pl', '', 'ż'.repeat(250))).toEqual({});
    expect(v('a@b.pl', '', '', true)).toEqual({ note: 'errNoteRequired' });
  });
});

// ---- the widget against the fake server ---------------------------------------------

let server: FakeServer;
let storage: MemoryStorage;
const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

function mount(lang: 'es' | 'pl' | 'en', info: Record<string, any> | null, extra: Partial<ConstructorParameters<typeof ChatWidget>[0]> = {}) {
  const api = fakeStoreApi(info);
  const w = new ChatWidget({ store: 'demo-pl', lang, server: 'http://shop.test', storage, createSocket: server.factory, fetch: api.fetch, ...extra });
  w.mount(document.body);
  const host = document.querySelectorAll('#calma-widget');
  const root = host[host.length - 1].shadowRoot!;
  const $ = (id: string) => root.querySelector(`[data-testid="${id}"]`) as HTMLElement;
  const $$ = (id: string) => Array.from(root.querySelectorAll(`[data-testid="${id}"]`)) as HTMLElement[];
  const fill = (id: string, value: string) => {
    const el = $(id) as HTMLInputElement;
    el.value = value;
    el.dispatchEvent(new Event('input'));
  };
  const visible = (id: string) => {
    for (let el: HTMLElement | null = $(id); el; el = el.parentElement) if (el.hidden) return false;
    return !!$(id);
  };
  return { w, api, root, $, $$, fill, visible };
}

async function type(ui: ReturnType<typeof mount>, text: string) {
  ui.fill('input', text);
  ui.$('input').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
  await tick(5);
}

async function submitContact(ui: ReturnType<typeof mount>) {
  (ui.$('contact-form') as HTMLFormElement).requestSubmit();
  await tick(5);
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(SUNDAY_EVENING);
  server = new FakeServer();
  storage = new MemoryStorage();
  document.body.innerHTML = '';
});
afterEach(() => vi.useRealTimers());

describe('widget: context in hello', () => {
  it('sends hello.context on a fresh hello only', async () => {
    const ctx = { order_id: 'PL-2025-0950', order_value: 950, currency: 'PLN', tier: 'vip' };
    const ui = mount('pl', null, { context: ctx });
    ui.$('launcher').click();
    await type(ui, 'Dzień dobry');
    expect(server.log.find((f) => f.type === 'hello')).toEqual({ type: 'hello', role: 'shopper', store: 'demo-pl', context: ctx });
    server.dropAll();
    await tick(3000);
    expect(server.log.filter((f) => f.type === 'hello').at(-1)).toEqual({ type: 'hello', role: 'shopper', token: 'tok' });
  });
});

describe('widget: opening state', () => {
  it('fetches the store state when the panel opens and every 60 s while open, then stops', async () => {
    const ui = mount('en', closedInfo({ open: true, in_hours: true, next_open_ts: null }));
    expect(ui.api.calls).toHaveLength(0);
    ui.$('launcher').click();
    await tick(1);
    expect(ui.api.calls).toEqual(['http://shop.test/api/v1/stores/demo-pl/widget']);
    await tick(60000);
    expect(ui.api.calls).toHaveLength(2);
    // The store closes meanwhile: the next refetch says so.
    ui.api.info = closedInfo();
    await tick(60000);
    expect(ui.api.calls).toHaveLength(3);
    expect(norm(ui.$('availability-text').textContent)).toContain('We’re closed now. We open tomorrow, Monday, at 8:00 AM (Europe/Warsaw).');
    ui.$('launcher').click(); // minimise
    await tick(180000);
    expect(ui.api.calls).toHaveLength(3);
    ui.$('launcher').click();
    await tick(1);
    expect(ui.api.calls).toHaveLength(4);
    expect(server.connects).toBe(0); // fetching the state opens no session
  });

  it('closed: the closed text, the next opening, the hours list and the form, in Polish', async () => {
    const ui = mount('pl', closedInfo());
    ui.$('launcher').click();
    await tick(1);
    expect(ui.visible('availability')).toBe(true);
    expect(norm(ui.$('availability-text').textContent)).toBe('Jesteśmy teraz zamknięci. Otwieramy jutro, w poniedziałek, o 8:00 (Europe/Warsaw).');
    expect(ui.$('subtitle').textContent).toBe('Teraz nieczynne');
    expect(ui.$('header').textContent).toContain('Sklep Demo Calma');
    const hours = ui.$('hours') as HTMLDetailsElement;
    expect(hours.open).toBe(false);
    expect(ui.$('hours-toggle').textContent).toBe('Godziny otwarcia');
    expect(hours.querySelectorAll('dl > div')).toHaveLength(7);
    expect(norm(hours.querySelector('[data-day="1"]')!.textContent)).toBe('Poniedziałek8:00–22:00');
    expect(hours.querySelector('[data-day="7"]')!.className).toContain('today');
    expect(hours.textContent).toContain('Strefa czasowa: Europe/Warsaw');
    // The form is there before the shopper writes; the note is then required.
    expect(ui.visible('contact-form')).toBe(true);
    const label = (id: string) => ui.root.querySelector(`label[for="${id}"]`)!.textContent;
    expect(label('calma-contact-email')).toBe('E-mail');
    expect(label('calma-contact-phone')).toBe('Telefon');
    expect(label('calma-contact-note')).toBe('W jakiej sprawie piszesz?');
    expect(ui.$('contact-email').getAttribute('type')).toBe('email');
    expect(ui.$('contact-phone').getAttribute('autocomplete')).toBe('tel');
  });

  it('nobody online within hours says so; an open store with hours shows them; always open shows nothing', async () => {
    const ui = mount('es', closedInfo({ in_hours: true, agents_online: false, next_open_ts: null }));
    ui.$('launcher').click();
    await tick(1);
    expect(ui.$('availability-text').textContent).toBe('Estamos en horario de atención, pero ahora mismo no hay nadie del equipo conectado.');
    expect(ui.visible('contact-form')).toBe(true);
    document.body.innerHTML = '';
    storage = new MemoryStorage();
    const open = mount('es', closedInfo({ open: true, in_hours: true, next_open_ts: null, closes_ts: Date.UTC(2025, 0, 6, 21, 0) }));
    open.$('launcher').click();
    await tick(1);
    expect(open.visible('availability')).toBe(true);
    expect(norm(open.$('availability-text').textContent)).toBe('Abierto ahora, hasta las 22:00');
    expect(open.$('subtitle').textContent).toBe('Solemos responder en pocos minutos');
    expect(open.visible('offline')).toBe(false);
    document.body.innerHTML = '';
    storage = new MemoryStorage();
    const always = mount('en', { id: 'demo', name: 'Calma Demo Store', languages: ['es', 'en'], open: true, in_hours: true, agents_online: true, hours: null, next_open_ts: null, closes_ts: null });
    always.$('launcher').click();
    await tick(1);
    expect(always.visible('availability')).toBe(false);
    expect(always.visible('offline')).toBe(false);
    expect(always.$('subtitle').textContent).toBe('We usually answer within minutes');
  });

  it('an unknown store or an older server (404) keeps the classic widget', async () => {
    const ui = mount('en', null);
    ui.$('launcher').click();
    await tick(1);
    expect(ui.api.calls).toHaveLength(1);
    expect(ui.visible('availability')).toBe(false);
    expect(ui.visible('offline')).toBe(false);
    expect(ui.$('subtitle').textContent).toBe('We usually answer within minutes');
  });
});

describe('widget: offline contact form', () => {
  it('validates on the client: one of e-mail or phone, a valid e-mail, a note to open the conversation', async () => {
    const ui = mount('en', closedInfo());
    ui.$('launcher').click();
    await tick(1);
    await submitContact(ui);
    expect(ui.$('contact-email-error').textContent).toBe('Enter an e-mail address or a phone number.');
    expect(ui.$('contact-email').getAttribute('aria-invalid')).toBe('true');
    expect(ui.$('contact-email').getAttribute('aria-describedby')).toBe('calma-contact-email-error');
    expect(ui.$('contact-note-error').textContent).toBe('Tell us briefly what it’s about.');
    expect(ui.root.activeElement).toBe(ui.$('contact-email'));
    ui.fill('contact-email', 'ana@example');
    expect(ui.$('contact-email-error').hidden).toBe(true); // typing clears the message
    await submitContact(ui);
    expect(ui.$('contact-email-error').textContent).toBe('This e-mail address doesn’t look right (e.g. name@example.com).');
    ui.fill('contact-phone', '12');
    await submitContact(ui);
    expect(ui.$('contact-phone-error').textContent).toContain('6 to 32 digits');
    expect(server.connects).toBe(0); // nothing was sent
  });

  it('without a conversation: sends the note as the first message, waits for its ack, then the contact; thanks', async () => {
    const ui = mount('en', closedInfo());
    ui.$('launcher').click();
    await tick(1);
    server.queueOnOpen = true;
    server.offline = { reason: 'closed', next_open_ts: MONDAY_8_WARSAW };
    server.dropAcks = true;
    ui.fill('contact-email', ' ana@example.com ');
    ui.fill('contact-note', 'My order PL-950 has not arrived');
    await submitContact(ui);
    const send = server.log.find((f) => f.type === 'chat.send')!;
    expect(send).toMatchObject({ text: 'My order PL-950 has not arrived' });
    expect(send.conversation_id).toBeUndefined();
    expect(ui.$$('msg-me').map((e) => e.querySelector('.bubble')!.textContent)).toEqual(['My order PL-950 has not arrived']);
    expect(server.log.some((f) => f.type === 'contact')).toBe(false); // not before the ack
    expect((ui.$('contact-submit') as HTMLButtonElement).disabled).toBe(true);
    expect(ui.$('contact-submit').textContent).toBe('Sending…');
    server.dropAcks = false;
    server.current!.push({ type: 'ack', client_msg_id: send.client_msg_id, conversation_id: 'c1', seq: 1 });
    await tick(5);
    const types = server.log.map((f) => f.type).filter((t) => t !== 'ping');
    expect(types).toEqual(['hello', 'chat.send', 'contact']);
    expect(server.log.find((f) => f.type === 'contact')).toEqual({ type: 'contact', conversation_id: 'c1', email: 'ana@example.com', note: 'My order PL-950 has not arrived' });
    expect(server.contacts.get('c1')).toBeTruthy();
    expect(ui.visible('contact-thanks')).toBe(true);
    expect(ui.visible('contact-form')).toBe(false);
    expect(ui.$('contact-thanks').textContent).toContain('Thank you! We’ll get back to you at ana@example.com.');
    expect(storage.getItem('calma:demo-pl:contact')).toContain('ana@example.com');
  });

  it('offline queued frame: the form appears under the chat; the contact goes straight to the conversation (Polish)', async () => {
    const ui = mount('pl', null); // no store info (older endpoint missing): the queued frame alone decides
    ui.$('launcher').click();
    await tick(1);
    expect(ui.visible('offline')).toBe(false);
    server.queueOnOpen = true;
    server.offline = { reason: 'closed', next_open_ts: MONDAY_8_WARSAW };
    await type(ui, 'Dzień dobry, gdzie moja paczka?');
    expect(ui.visible('contact-form')).toBe(true);
    // No store info: the next opening in the shopper's own time zone.
    const localTz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    expect(norm(ui.$('availability-text').textContent)).toMatch(new RegExp(`^Jesteśmy teraz zamknięci\\. Otwieramy .+ \\(${localTz}\\)\\.$`));
    expect(ui.$('status').hidden).toBe(true); // no queue position while nobody can answer
    expect(ui.root.querySelector('label[for="calma-contact-note"]')!.textContent).toBe('Wiadomość (opcjonalnie)');
    ui.fill('contact-phone', '+48 600 100 200');
    await submitContact(ui);
    expect(server.log.filter((f) => f.type === 'chat.send')).toHaveLength(1);
    expect(server.log.find((f) => f.type === 'contact')).toEqual({ type: 'contact', conversation_id: 'c1', phone: '+48 600 100 200' });
    expect(ui.$('contact-thanks').textContent).toContain('Dziękujemy! Oddzwonimy pod numer +48 600 100 200.');
    // An agent comes later: the chat goes on in the same conversation, the form goes away.
    server.current!.push({ type: 'conversation.assigned', conversation_id: 'c1', agent: { id: 'a1', name: 'Ana García' } });
    server.agentSays('c1', 'Dzień dobry, już sprawdzam.');
    expect(ui.visible('offline')).toBe(false);
    expect(ui.visible('availability')).toBe(false);
    expect(ui.$$('msg-them').map((e) => e.querySelector('.bubble')!.textContent)).toEqual(['Dzień dobry, już sprawdzam.']);
    expect(ui.visible('input')).toBe(true);
  });

  it("shows the server's error message next to the field it is about", async () => {
    const ui = mount('es', closedInfo());
    ui.$('launcher').click();
    await tick(1);
    await type(ui, 'Hola');
    server.contactError = { code: 'bad_request', message: 'contact.email is not a valid e-mail address' };
    ui.fill('contact-email', 'ana@ejemplo.com');
    await submitContact(ui);
    expect(ui.$('contact-email-error').textContent).toBe('contact.email is not a valid e-mail address');
    expect(ui.$('contact-email').getAttribute('aria-invalid')).toBe('true');
    expect((ui.$('contact-submit') as HTMLButtonElement).disabled).toBe(false);
    // Not about a field: next to the button.
    server.contactError = { code: 'not_found', message: 'no such conversation' };
    await submitContact(ui);
    expect(ui.$('contact-form-error').textContent).toBe('no such conversation');
    // Then it goes through.
    await submitContact(ui);
    expect(ui.$('contact-thanks').textContent).toContain('¡Gracias! Te escribiremos a ana@ejemplo.com.');
  });

  it('a contact left unanswered is reported after a while, and can be sent again', async () => {
    const ui = mount('en', closedInfo());
    ui.$('launcher').click();
    await tick(1);
    await type(ui, 'hello?');
    server.dropContact = true;
    ui.fill('contact-email', 'ana@example.com');
    await submitContact(ui);
    await tick(16000);
    expect(ui.$('contact-form-error').textContent).toBe('We couldn’t send your details. Please try again.');
    server.dropContact = false;
    await submitContact(ui);
    expect(ui.$('contact-thanks').textContent).toContain('ana@example.com');
    // "Change my details" shows the form again; a second contact replaces the first.
    ui.$('contact-change').click();
    expect(ui.visible('contact-form')).toBe(true);
    ui.fill('contact-phone', '+44 20 7946 0000');
    await submitContact(ui);
    expect(server.contacts.get('c1')).toMatchObject({ email: 'ana@example.com', phone: '+44 20 7946 0000' });
    expect(ui.$('contact-thanks').textContent).toContain('at ana@example.com or +44 20 7946 0000');
  });

  it('after a reload the thank-you stays with its conversation', async () => {
    const ui = mount('en', closedInfo());
    ui.$('launcher').click();
    await tick(1);
    server.queueOnOpen = true;
    server.offline = { reason: 'closed', next_open_ts: MONDAY_8_WARSAW };
    await type(ui, 'hello?');
    ui.fill('contact-email', 'ana@example.com');
    await submitContact(ui);
    expect(ui.visible('contact-thanks')).toBe(true);
    server.dropAll();
    document.body.innerHTML = '';
    const again = mount('en', closedInfo());
    await tick(5);
    expect(again.visible('contact-thanks')).toBe(true);
    expect(again.$('contact-thanks').textContent).toContain('ana@example.com');
  });
});

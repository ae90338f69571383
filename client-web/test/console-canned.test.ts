import { describe, expect, it, vi } from 'vitest';
import {
  CannedCache,
  cannedLangs,
  fillPlaceholders,
  filterCanned,
  fold,
  insertAnswer,
  insertAtSelection,
  pickerKey,
  pickerWanted,
  slashToken,
  suggestFor,
  type PickerState,
} from '../src/console/canned';
import { STRINGS } from '../src/console/i18n';
import type { CannedAnswer } from '../src/protocol/types';

const PL: CannedAnswer[] = [
  { id: 'greeting_hello', title: 'Powitanie', text: 'Dzień dobry, {name}! Nazywam się {agent}. W czym mogę pomóc?', category: 'greeting', stages: ['calm'] },
  { id: 'apology_delay', title: 'Przeprosiny za opóźnienie', text: 'Bardzo przepraszam za opóźnienie zamówienia {order}, {name}.', category: 'apology', stages: ['rising', 'peak'] },
  { id: 'refund_full', title: 'Zwrot pieniędzy', text: 'Zlecam pełny zwrot środków za zamówienie {order}.', category: 'refund', stages: ['peak', 'cooling'] },
  { id: 'escalate_manager', title: 'Przekazanie do przełożonego', text: 'Przekazuję sprawę do przełożonego – odezwie się w ciągu godziny.', category: 'escalation', stages: ['peak'] },
  { id: 'closing_thanks', title: 'Podziękowanie', text: 'Dziękuję za rozmowę, {name}. Miłego dnia!', category: 'closing', stages: ['cooling', 'closed'] },
];

describe('finding the /query at the caret', () => {
  it('opens at the start or after whitespace, with several words, on one line', () => {
    expect(slashToken('/', 1)).toEqual({ start: 0, end: 1, query: '' });
    expect(slashToken('/prze', 5)).toEqual({ start: 0, end: 5, query: 'prze' });
    expect(slashToken('Hola /perdon retraso', 20)).toEqual({ start: 5, end: 20, query: 'perdon retraso' });
    expect(slashToken('line one\n/zwrot', 15)).toEqual({ start: 9, end: 15, query: 'zwrot' });
  });

  it('is not a slash inside a word, a URL, on an earlier line or after the caret', () => {
    expect(slashToken('a/b', 3)).toBeNull();
    expect(slashToken('see https://shop.example/x', 26)).toBeNull();
    expect(slashToken('/zwrot\nnext', 11)).toBeNull();
    expect(slashToken('hello /x', 3)).toBeNull();
    expect(slashToken('no slash', 8)).toBeNull();
  });

  it('keeps the picker for several words only while something matches', () => {
    expect(pickerWanted(slashToken('/xyz', 4), 0)).toBe(true);
    expect(pickerWanted(slashToken('1 / 2 of them', 13), 0)).toBe(false);
    expect(pickerWanted(slashToken('/prze opo', 9), 1)).toBe(true);
    expect(pickerWanted(null, 3)).toBe(false);
  });
});

describe('filtering prepared answers', () => {
  it('folds case and accents, Polish ł included', () => {
    expect(fold('Opóźnienie ŁÓDŹ Perdón')).toBe('opoznienie lodz perdon');
  });

  it('matches title, id, category, translated category and text, accent-insensitive', () => {
    const ids = (q: string) => filterCanned(PL, q, (c) => STRINGS.pl.category[c]).map((a) => a.id);
    expect(ids('')).toHaveLength(PL.length);
    expect(ids('przep')).toEqual(['apology_delay']);
    expect(ids('prze')).toEqual(['apology_delay', 'escalate_manager']); // "Przeprosiny…", "Przekazanie…"
    expect(ids('opoznienie')).toEqual(['apology_delay']);
    expect(ids('OPÓŹ')).toEqual(['apology_delay']);
    expect(ids('refund_full')).toEqual(['refund_full']);
    expect(ids('closing')).toEqual(['closing_thanks']); // category id
    expect(ids('zakończenie')).toEqual(['closing_thanks']); // category in Polish
    expect(ids('godziny')).toEqual(['escalate_manager']); // text
    expect(ids('zwrot zamowienie')).toEqual(['refund_full']); // every word
    expect(ids('nothing-like-this')).toEqual([]);
  });

  it('ranks title matches before text-only matches', () => {
    const list: CannedAnswer[] = [
      { id: 'a', title: 'Other', text: 'we issue a refund' },
      { id: 'b', title: 'Refund', text: 'money back' },
    ];
    expect(filterCanned(list, 'refund').map((a) => a.id)).toEqual(['b', 'a']);
  });
});

describe('filling placeholders', () => {
  it('puts in the shopper name, the agent name and the order id', () => {
    expect(fillPlaceholders(PL[0].text, { name: 'Kasia', agent: 'Piotr Nowak' })).toBe('Dzień dobry, Kasia! Nazywam się Piotr Nowak. W czym mogę pomóc?');
    expect(fillPlaceholders(PL[1].text, { name: 'Kasia', order: 'PL-77' })).toBe('Bardzo przepraszam za opóźnienie zamówienia PL-77, Kasia.');
    expect(fillPlaceholders('Order {order}', { order: 1042 })).toBe('Order 1042');
  });

  it('tidies what an empty placeholder leaves: doubled spaces, space before punctuation, stray commas', () => {
    expect(fillPlaceholders('Hola {name}, ¿en qué te ayudo?', {})).toBe('Hola, ¿en qué te ayudo?');
    expect(fillPlaceholders('Dzień dobry, {name}! Nazywam się {agent}.', { agent: 'Ana' })).toBe('Dzień dobry! Nazywam się Ana.');
    expect(fillPlaceholders('Your order {order} is on its way', {})).toBe('Your order is on its way');
    expect(fillPlaceholders('Bardzo przepraszam za opóźnienie zamówienia {order}, {name}.', {})).toBe('Bardzo przepraszam za opóźnienie zamówienia.');
    expect(fillPlaceholders('{name}, thanks for waiting.', {})).toBe('thanks for waiting.');
    expect(fillPlaceholders('Thanks {name}!', { name: '  ' })).toBe('Thanks!');
    expect(fillPlaceholders('¡Hola {name}!', {})).toBe('¡Hola!');
  });

  it('leaves unknown placeholders and other text alone', () => {
    expect(fillPlaceholders('Use code {coupon} , ok', { name: 'x' })).toBe('Use code {coupon} , ok');
    expect(fillPlaceholders('Line one\n\nLine  two', {})).toBe('Line one\n\nLine  two');
  });
});

describe('inserting', () => {
  it('replaces the /query with the answer and puts the caret after it', () => {
    const v = 'Hi there /apol';
    const tok = slashToken(v, v.length)!;
    expect(insertAnswer(v, tok, 'I am sorry.')).toEqual({ value: 'Hi there I am sorry.', caret: 20 });
    const w = '/apol tail';
    expect(insertAnswer(w, slashToken(w, 5)!, 'Sorry.')).toEqual({ value: 'Sorry. tail', caret: 6 });
    const x = '/apolx';
    expect(insertAnswer(x, { start: 0, end: 5, query: 'apol' }, 'Sorry.')).toEqual({ value: 'Sorry. x', caret: 7 });
  });

  it('inserts a suggestion at the selection with spaces around it', () => {
    expect(insertAtSelection('', 0, 0, 'Sorry.')).toEqual({ value: 'Sorry.', caret: 6 });
    expect(insertAtSelection('Hello', 5, 5, 'Sorry.')).toEqual({ value: 'Hello Sorry.', caret: 12 });
    expect(insertAtSelection('Hello world', 6, 11, 'Sorry.')).toEqual({ value: 'Hello Sorry.', caret: 12 });
  });
});

describe('picker keyboard', () => {
  const open: PickerState = { open: true, index: 0 };
  it('moves with the arrows, wrapping', () => {
    let st = open;
    st = pickerKey(st, 3, 'ArrowDown').state;
    expect(st.index).toBe(1);
    st = pickerKey(st, 3, 'ArrowDown').state;
    st = pickerKey(st, 3, 'ArrowDown').state;
    expect(st.index).toBe(0);
    st = pickerKey(st, 3, 'ArrowUp').state;
    expect(st.index).toBe(2);
    expect(pickerKey(st, 3, 'ArrowUp')).toMatchObject({ action: 'move', handled: true });
  });

  it('Enter or Tab inserts, Escape closes; both close the picker', () => {
    expect(pickerKey({ open: true, index: 1 }, 3, 'Enter')).toEqual({ state: { open: false, index: 0 }, action: 'insert', handled: true });
    expect(pickerKey({ open: true, index: 1 }, 3, 'Tab')).toMatchObject({ action: 'insert', handled: true });
    expect(pickerKey(open, 3, 'Escape')).toEqual({ state: { open: false, index: 0 }, action: 'close', handled: true });
  });

  it('never sends by itself: Enter with no match does nothing, and a closed picker handles no key', () => {
    expect(pickerKey(open, 0, 'Enter')).toMatchObject({ action: 'none', handled: true });
    expect(pickerKey(open, 0, 'Tab')).toMatchObject({ action: 'none', handled: false });
    expect(pickerKey({ open: false, index: 0 }, 3, 'Enter')).toMatchObject({ action: 'none', handled: false });
    expect(pickerKey({ open: false, index: 0 }, 3, 'ArrowDown')).toMatchObject({ handled: false });
    expect(pickerKey(open, 3, 'a')).toMatchObject({ action: 'none', handled: false });
  });
});

describe('suggestion and languages', () => {
  it('suggests the first answer whose stages contain the coaching stage', () => {
    expect(suggestFor(PL, 'peak')?.id).toBe('apology_delay');
    expect(suggestFor(PL, 'closed')?.id).toBe('closing_thanks');
    expect(suggestFor(PL, 'unknown')).toBeUndefined();
    expect(suggestFor(PL, undefined)).toBeUndefined();
  });

  it("asks in the shopper's language, then the store's", () => {
    expect(cannedLangs('pl-PL', ['pl'])).toEqual(['pl']);
    expect(cannedLangs('en', ['es', 'en'])).toEqual(['en', 'es']);
    expect(cannedLangs(null, ['es', 'en'])).toEqual(['es', 'en']);
    expect(cannedLangs(undefined, [])).toEqual([]);
  });
});

describe('the (store, lang) cache', () => {
  it('fetches each (store, lang) once and falls back to the next language when empty', async () => {
    const fetcher = vi.fn(async (store: string, lang: string) => (lang === 'de' ? [] : [{ id: `${store}-${lang}`, title: 't', text: 'x' }]));
    const changed = vi.fn();
    const cache = new CannedCache(fetcher, changed);
    expect(cache.get('demo', ['de', 'es'])).toEqual({ status: 'loading' });
    await Promise.resolve();
    await Promise.resolve();
    expect(cache.get('demo', ['de', 'es'])).toEqual({ status: 'loading' }); // now "es" is on its way
    await new Promise((r) => setTimeout(r, 0));
    expect(cache.get('demo', ['de', 'es'])).toEqual({ status: 'ready', list: [{ id: 'demo-es', title: 't', text: 'x' }] });
    cache.get('demo', ['es']);
    cache.get('demo-pl', ['es']);
    expect(fetcher.mock.calls.map((c) => c.join('/'))).toEqual(['demo/de', 'demo/es', 'demo-pl/es']);
    expect(changed).toHaveBeenCalled();
  });

  it('reports a failed fetch, and tries again after retryFailed()', async () => {
    let fail = true;
    const cache = new CannedCache(async () => (fail ? null : [{ id: 'a', title: 'A', text: 'a' }]));
    cache.get('demo', ['es']);
    await new Promise((r) => setTimeout(r, 0));
    expect(cache.get('demo', ['es'])).toEqual({ status: 'error' });
    fail = false;
    cache.retryFailed();
    cache.get('demo', ['es']);
    await new Promise((r) => setTimeout(r, 0));
    expect(cache.get('demo', ['es'])).toMatchObject({ status: 'ready' });
  });
});

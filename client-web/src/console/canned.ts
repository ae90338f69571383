/**
 * Prepared ("canned") answers: the pure part of the reply box's `/` picker and of the
 * coaching suggestion — finding the `/query` being typed, filtering (accent-insensitive),
 * keyboard navigation, filling placeholders — and a per (store, lang) cache of
 * `GET /api/v1/canned`. No DOM here: unit-tested in test/console-canned.test.ts.
 */
import type { CannedAnswer } from '../protocol/types';

/** Lower case without diacritics: "Opóźnienie" and "opoznienie" match; so do "Łódź" and "lodz". */
export function fold(s: string): string {
  return s
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[łđøßæœ]/g, (ch) => ({ ł: 'l', đ: 'd', ø: 'o', ß: 'ss', æ: 'ae', œ: 'oe' })[ch] ?? ch);
}

/** The `/query` being typed: from the slash to the caret. */
export interface SlashToken {
  /** index of the `/` */
  start: number;
  /** the caret (end of the query) */
  end: number;
  /** what follows the slash, as typed */
  query: string;
}

const MAX_QUERY = 40;

/**
 * The `/query` that ends at the caret, if the slash is at the start of the text or
 * after whitespace, and the query stays on one line. `a/b` and `https://x` are not.
 */
export function slashToken(text: string, caret: number): SlashToken | null {
  const before = text.slice(0, caret);
  const line = before.slice(before.lastIndexOf('\n') + 1);
  const lineStart = before.length - line.length;
  for (let i = line.length - 1; i >= 0 && line.length - i <= MAX_QUERY + 1; i--) {
    if (line[i] !== '/') continue;
    if (i > 0 && !/\s/.test(line[i - 1])) return null;
    return { start: lineStart + i, end: caret, query: line.slice(i + 1) };
  }
  return null;
}

/**
 * Answers matching every word of the query in their title, id, category (also its
 * translated name) or text, accent- and case-insensitive; title matches first, then the
 * list's own order. An empty query lists them all.
 */
export function filterCanned(list: CannedAnswer[], query: string, categoryName?: (c: string) => string | undefined): CannedAnswer[] {
  const words = fold(query).split(/\s+/).filter(Boolean);
  if (!words.length) return list.slice();
  const scored: { a: CannedAnswer; rank: number; i: number }[] = [];
  list.forEach((a, i) => {
    const title = fold(a.title ?? '');
    const cat = a.category ?? '';
    const hay = [title, fold(a.id ?? ''), fold(cat), fold(cat.replace(/_/g, ' ')), fold((cat && categoryName?.(cat)) || ''), fold(a.text ?? '')].join('\n');
    if (!words.every((w) => hay.includes(w))) return;
    const rank = title.startsWith(words[0]) || title.split(/\s+/).some((tw) => tw.startsWith(words[0])) ? 0 : words.every((w) => title.includes(w)) ? 1 : 2;
    scored.push({ a, rank, i });
  });
  return scored.sort((x, y) => x.rank - y.rank || x.i - y.i).map((s) => s.a);
}

/** Whether the picker should be open for this token: a lone word always, several only while something matches. */
export function pickerWanted(token: SlashToken | null, matches: number): boolean {
  if (!token) return false;
  return matches > 0 || !/\s/.test(token.query.trim());
}

export interface PlaceholderValues {
  /** the shopper's name */
  name?: string | null;
  /** the logged-in staff member's name */
  agent?: string | null;
  /** the order id from the shopper's context */
  order?: string | number | null;
}

/**
 * Fills {name}, {agent} and {order}. A placeholder without a value becomes nothing and
 * the doubled space or the space before punctuation it leaves is tidied:
 * "Hola {name}, ..." → "Hola, ..."; "the order {order} is late" → "the order is late".
 * Unknown placeholders are left as they are.
 */
export function fillPlaceholders(text: string, values: PlaceholderValues): string {
  const known: Record<string, string> = {
    name: String(values.name ?? '').trim(),
    agent: String(values.agent ?? '').trim(),
    order: String(values.order ?? '').trim(),
  };
  let emptied = false;
  const filled = text.replace(/([ \t]*)\{(name|agent|order)\}([ \t]*)/g, (_m, pre: string, key: string, post: string, offset: number, whole: string) => {
    const v = known[key];
    if (v) return pre + v + post;
    emptied = true;
    const prev = whole[offset - 1];
    const next = whole[offset + _m.length];
    // At the end, before punctuation or a closing bracket: drop the spaces too.
    if (next === undefined || next === '\n' || /[,.;:!?)»”…]/.test(next)) return '';
    // At the start of the text/line or after an opening mark: drop the spaces after it.
    if (prev === undefined || prev === '\n' || /[(¿¡«„“]/.test(prev)) return '';
    return pre || post ? ' ' : '';
  });
  if (!emptied) return filled;
  return filled
    .replace(/^[ \t]*[,;:][ \t]*/gm, '') // "{name}, thanks" with no name: no leading comma
    .replace(/([,;:])[ \t]*([,.;:!?])/g, '$2'); // "Dzień dobry, {name}." with no name: "Dzień dobry."
}

/** The first answer that fits the coaching stage (anger.update's coaching_stage). */
export function suggestFor(list: CannedAnswer[], stage: string | undefined | null): CannedAnswer | undefined {
  if (!stage) return undefined;
  return list.find((a) => a.stages?.includes(stage));
}

/** Which languages to ask for: the shopper's, then the store's. */
export function cannedLangs(shopperLang: string | null | undefined, storeLangs: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const l of [shopperLang?.toLowerCase().split(/[-_]/)[0], ...storeLangs]) if (l && !out.includes(l)) out.push(l);
  return out;
}

/** Replace the `/query` with the answer's text; returns the new value and where the caret goes. */
export function insertAnswer(value: string, token: SlashToken, text: string): { value: string; caret: number } {
  const after = value.slice(token.end);
  const glue = after && !/^\s/.test(after) ? ' ' : '';
  const next = value.slice(0, token.start) + text + glue + after;
  return { value: next, caret: token.start + text.length + glue.length };
}

/** Insert text at the selection (the coaching suggestion button). */
export function insertAtSelection(value: string, selStart: number, selEnd: number, text: string): { value: string; caret: number } {
  const before = value.slice(0, selStart);
  const after = value.slice(selEnd);
  const pre = before && !/\s$/.test(before) ? ' ' : '';
  const post = after && !/^\s/.test(after) ? ' ' : '';
  return { value: before + pre + text + post + after, caret: before.length + pre.length + text.length };
}

export interface PickerState {
  open: boolean;
  /** highlighted option */
  index: number;
}

export type PickerAction = 'none' | 'move' | 'insert' | 'close';

/**
 * The picker's keyboard: ArrowDown/ArrowUp move (wrapping), Enter or Tab insert the
 * highlighted answer, Escape closes. `handled`: the key is the picker's (the caller
 * prevents its default, so Enter does not send the message). Closed: nothing is handled.
 */
export function pickerKey(state: PickerState, count: number, key: string): { state: PickerState; action: PickerAction; handled: boolean } {
  if (!state.open) return { state, action: 'none', handled: false };
  switch (key) {
    case 'ArrowDown':
      return { state: { open: true, index: count ? (state.index + 1) % count : 0 }, action: 'move', handled: true };
    case 'ArrowUp':
      return { state: { open: true, index: count ? (state.index - 1 + count) % count : 0 }, action: 'move', handled: true };
    case 'Enter':
    case 'Tab':
      // With nothing to insert, Enter stays with the picker (it never sends "/xyz" by itself).
      if (!count) return { state, action: 'none', handled: key === 'Enter' };
      return { state: { open: false, index: 0 }, action: 'insert', handled: true };
    case 'Escape':
      return { state: { open: false, index: 0 }, action: 'close', handled: true };
    default:
      return { state, action: 'none', handled: false };
  }
}

export type CannedEntry = { status: 'loading' } | { status: 'ready'; list: CannedAnswer[] } | { status: 'error' };
export type CannedFetcher = (store: string, lang: string) => Promise<CannedAnswer[] | null>;

/**
 * Answers per (store, lang), fetched once. `get` returns what is known now and starts
 * the fetch when needed; `onChange` runs when a fetch ends. With several candidate
 * languages the first one that has answers wins.
 */
export class CannedCache {
  private entries = new Map<string, CannedEntry>();

  constructor(
    private fetcher: CannedFetcher,
    private onChange: () => void = () => {},
  ) {}

  private key(store: string, lang: string): string {
    return `${store}\u0000${lang}`;
  }

  private entry(store: string, lang: string): CannedEntry {
    const k = this.key(store, lang);
    let e = this.entries.get(k);
    if (!e) {
      e = { status: 'loading' };
      this.entries.set(k, e);
      this.fetcher(store, lang).then(
        (list) => {
          this.entries.set(k, list ? { status: 'ready', list } : { status: 'error' });
          this.onChange();
        },
        () => {
          this.entries.set(k, { status: 'error' });
          this.onChange();
        },
      );
    }
    return e;
  }

  /** The answers for a conversation of this store, trying its languages in order. */
  get(store: string, langs: string[]): CannedEntry {
    let sawError = false;
    for (const lang of langs) {
      const e = this.entry(store, lang);
      if (e.status === 'loading') return e;
      if (e.status === 'ready' && e.list.length) return e;
      if (e.status === 'error') sawError = true;
    }
    return sawError ? { status: 'error' } : { status: 'ready', list: [] };
  }

  /** Forget failed fetches so they are tried again (after a reconnect). */
  retryFailed(): void {
    for (const [k, e] of this.entries) if (e.status === 'error') this.entries.delete(k);
  }
}

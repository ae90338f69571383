/**
 * v1.1 shopper-side logic without DOM: the `data-context` attribute, the store's
 * opening state (`GET /api/v1/stores/{id}/widget`) turned into honest sentences, and
 * the validation of the offline contact form (the same rules as the server's, see
 * /work/spec-v1.1.md "Offline, contact, follow-ups").
 */
import type { ShopperContext, StoreHours, StoreWidgetInfo } from '../protocol/types';
import type { OpenAt, Strings } from './i18n';

// ---- data-context ---------------------------------------------------------------

type Warn = (...args: unknown[]) => void;

const CONTEXT_KEYS = ['order_id', 'order_value', 'currency', 'tier'] as const;

/**
 * Parse the `data-context` attribute (JSON). Anything the server would refuse is
 * dropped with a console warning and never sent: invalid JSON or a non-object drops
 * the whole context; an unknown key or a value of the wrong type drops that key.
 * A numeric string order_value becomes a number; currency is upper-cased.
 */
export function parseContext(raw: string | null | undefined, warn: Warn = console.warn): ShopperContext | undefined {
  if (raw == null || raw.trim() === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    warn('[calma] data-context is not valid JSON; ignored');
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    warn('[calma] data-context must be a JSON object; ignored');
    return undefined;
  }
  const src = v as Record<string, unknown>;
  const out: ShopperContext = {};
  const drop = (key: string, why: string) => warn(`[calma] data-context.${key} ${why}; dropped`);
  for (const key of Object.keys(src)) {
    if (!(CONTEXT_KEYS as readonly string[]).includes(key)) drop(key, 'is not a known key (order_id, order_value, currency, tier)');
  }
  const id = src.order_id;
  if (id !== undefined && id !== null) {
    if ((typeof id === 'string' && id.length > 0 && id.length <= 64) || (typeof id === 'number' && Number.isSafeInteger(id) && String(id).length <= 64)) out.order_id = id;
    else drop('order_id', 'must be a string of at most 64 characters or an integer');
  }
  const val = src.order_value;
  if (val !== undefined && val !== null) {
    const n = typeof val === 'number' ? val : typeof val === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(val) ? Number(val) : NaN;
    if (Number.isFinite(n) && n >= 0) out.order_value = n;
    else drop('order_value', 'must be a number >= 0');
  }
  const cur = src.currency;
  if (cur !== undefined && cur !== null) {
    if (typeof cur === 'string' && /^[A-Za-z]{3}$/.test(cur)) out.currency = cur.toUpperCase();
    else drop('currency', 'must be a 3-letter code such as "EUR"');
  }
  const tier = src.tier;
  if (tier !== undefined && tier !== null) {
    if (typeof tier === 'string' && tier.length > 0 && tier.length <= 32) out.tier = tier;
    else drop('tier', 'must be a string of at most 32 characters');
  }
  return Object.keys(out).length ? out : undefined;
}

// ---- store info -----------------------------------------------------------------

export type FetchLike = (url: string, init?: { credentials?: 'omit'; cache?: 'no-store'; headers?: Record<string, string> }) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}>;

export function storeInfoUrl(server: string, store: string): string {
  return `${server.replace(/\/+$/, '')}/api/v1/stores/${encodeURIComponent(store)}/widget`;
}

/** The store's opening state, or null (unknown store, older server, network error). */
export async function fetchStoreInfo(server: string, store: string, fetchImpl: FetchLike): Promise<StoreWidgetInfo | null> {
  try {
    const res = await fetchImpl(storeInfoUrl(server, store), { credentials: 'omit', cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!res.ok) return null;
    const j = (await res.json()) as Partial<StoreWidgetInfo> | null;
    if (!j || typeof j !== 'object' || typeof j.open !== 'boolean') return null;
    return {
      id: String(j.id ?? store),
      name: typeof j.name === 'string' ? j.name : '',
      languages: Array.isArray(j.languages) ? j.languages : [],
      open: j.open,
      in_hours: typeof j.in_hours === 'boolean' ? j.in_hours : undefined,
      agents_online: typeof j.agents_online === 'boolean' ? j.agents_online : undefined,
      hours: j.hours && typeof j.hours === 'object' && typeof j.hours.tz === 'string' && Array.isArray(j.hours.weekly) ? j.hours : null,
      next_open_ts: typeof j.next_open_ts === 'number' ? j.next_open_ts : null,
      closes_ts: typeof j.closes_ts === 'number' ? j.closes_ts : null,
    };
  } catch {
    return null;
  }
}

export type AvailabilityKind = 'open' | 'closed' | 'no_agents';

/**
 * Why the store is (not) answering. `open` false with `in_hours` true means nobody is
 * online; without `in_hours` (older server) closed hours are assumed when a next
 * opening is announced, else nobody online.
 */
export function availabilityKind(info: Pick<StoreWidgetInfo, 'open' | 'in_hours' | 'agents_online' | 'next_open_ts'>): AvailabilityKind {
  if (info.open) return 'open';
  if (info.in_hours === false) return 'closed';
  if (info.in_hours === true) return 'no_agents';
  return info.next_open_ts ? 'closed' : 'no_agents';
}

// ---- time formatting -------------------------------------------------------------

const WEEKDAY_EN = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** Date parts of an instant in a time zone (1 = Monday … 7 = Sunday). */
export function zonedParts(ts: number, tz: string): { day: number; y: number; m: number; d: number; hour: number; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    weekday: 'short',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    hourCycle: 'h23',
  }).formatToParts(new Date(ts));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return {
    day: WEEKDAY_EN.indexOf(get('weekday')) + 1,
    y: Number(get('year')),
    m: Number(get('month')),
    d: Number(get('day')),
    hour: Number(get('hour')) % 24,
    minute: Number(get('minute')),
  };
}

function safeTz(tz: string | undefined): string {
  if (!tz) return 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz;
  } catch {
    return 'UTC';
  }
}

/** Days between two calendar dates (the store's local dates). */
function dayDiff(a: { y: number; m: number; d: number }, b: { y: number; m: number; d: number }): number {
  return Math.round((Date.UTC(b.y, b.m - 1, b.d) - Date.UTC(a.y, a.m - 1, a.d)) / 86400000);
}

/** The next opening as parts for the i18n sentence, formatted in `locale`, in the store's tz. */
export function openAt(ts: number, tzIn: string, locale: string, now = Date.now()): OpenAt {
  const tz = safeTz(tzIn);
  const at = zonedParts(ts, tz);
  const today = zonedParts(now, tz);
  const diff = dayDiff(today, at);
  const d = new Date(ts);
  return {
    weekday: new Intl.DateTimeFormat(locale, { weekday: 'long', timeZone: tz }).format(d),
    day: at.day,
    time: new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit', timeZone: tz }).format(d),
    hour: at.hour,
    date: diff > 6 ? new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'long', timeZone: tz }).format(d) : null,
    today: diff <= 0,
    tomorrow: diff === 1,
    tz: tzIn,
  };
}

/** "HH:MM" wall-clock time (store time) in the shopper's locale ("24:00" stays as is). */
export function wallTime(hhmm: string, locale: string): string {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm);
  if (!m) return hhmm;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h >= 24) return hhmm;
  return new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit', timeZone: 'UTC' }).format(new Date(Date.UTC(2024, 0, 1, h, min)));
}

export interface AvailabilityText {
  kind: AvailabilityKind;
  /** for the header's subtitle */
  short: string;
  /** the full sentence(s) */
  text: string;
  /** open: "Open now, until 22:00" when the closing time is known */
  until?: string;
}

/** What the widget says about the store before (and while) the shopper writes. */
export function describeAvailability(info: StoreWidgetInfo, t: Strings, locale: string, now = Date.now()): AvailabilityText {
  const kind = availabilityKind(info);
  if (kind === 'open') {
    const until = info.closes_ts && info.hours ? t.openUntil(new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit', timeZone: safeTz(info.hours.tz) }).format(new Date(info.closes_ts))) : null;
    return { kind, short: t.subtitleIdle, text: until ? `${until}. ${t.subtitleIdle}.` : t.subtitleIdle, until: until ?? undefined };
  }
  if (kind === 'no_agents') return { kind, short: t.noAgentsShort, text: t.noAgents };
  // No hours known (only a queued frame said so): the shopper's own time zone.
  const tz = info.hours?.tz ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const next = info.next_open_ts ? ' ' + t.opensAt(openAt(info.next_open_ts, tz, locale, now)) : '';
  return { kind, short: t.closedShort, text: t.closedNow + next };
}

export interface HoursRow {
  day: number;
  /** "Monday" (capitalised) */
  label: string;
  /** "8:00–22:00", several ranges joined with ", ", or the "closed" word */
  ranges: string;
  open: boolean;
  today: boolean;
}

/** The week, Monday first, for the expandable list. */
export function weeklyRows(hours: StoreHours, t: Strings, locale: string, now = Date.now()): HoursRow[] {
  const tz = safeTz(hours.tz);
  const today = zonedParts(now, tz).day;
  const fmt = new Intl.DateTimeFormat(locale, { weekday: 'long', timeZone: 'UTC' });
  const rows: HoursRow[] = [];
  for (let day = 1; day <= 7; day++) {
    const name = fmt.format(new Date(Date.UTC(2024, 0, day))); // 2024-01-01 was a Monday
    const ranges = (hours.weekly ?? [])
      .filter((r) => Array.isArray(r.days) && r.days.includes(day))
      .sort((a, b) => a.from.localeCompare(b.from))
      .map((r) => `${wallTime(r.from, locale)}–${wallTime(r.to, locale)}`);
    rows.push({
      day,
      label: name.charAt(0).toLocaleUpperCase(locale) + name.slice(1),
      ranges: ranges.length ? ranges.join(', ') : t.hoursClosedDay,
      open: ranges.length > 0,
      today: day === today,
    });
  }
  return rows;
}

/** The next few closed dates (holidays) from today on, in the shopper's locale ("25 December"). */
export function upcomingClosedDates(hours: StoreHours, locale: string, now = Date.now(), max = 3): string[] {
  const today = zonedParts(now, safeTz(hours.tz));
  const todayKey = Date.UTC(today.y, today.m - 1, today.d);
  const fmt = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'long', timeZone: 'UTC' });
  return (hours.closed_dates ?? [])
    .map((d) => /^(\d{4})-(\d{2})-(\d{2})$/.exec(d))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])))
    .filter((t) => t >= todayKey)
    .sort((a, b) => a - b)
    .slice(0, max)
    .map((t) => fmt.format(new Date(t)));
}

// ---- contact form ------------------------------------------------------------------

export interface ContactInput {
  email: string;
  phone: string;
  note: string;
}

export type ContactErrorKey = 'errNeedOne' | 'errEmail' | 'errPhone' | 'errNoteLong' | 'errNoteRequired';
export interface ContactErrors {
  email?: ContactErrorKey;
  phone?: ContactErrorKey;
  note?: ContactErrorKey;
}

export const EMAIL_RE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)*\.[^\s@.]{2,}$/;
export const PHONE_RE = /^[0-9 +\-().]{6,32}$/;
export const MAX_NOTE_BYTES = 500;

/**
 * The spec's rules: at least one of e-mail or phone; e-mail like name@domain.tld
 * (<= 254 chars); phone 6-32 chars of digits, spaces, + - ( ) .; note <= 500 bytes.
 * `needNote`: no conversation yet, so the note becomes the shopper's first message.
 */
export function validateContact(input: ContactInput, needNote: boolean): ContactErrors {
  const email = input.email.trim();
  const phone = input.phone.trim();
  const note = input.note.trim();
  const errs: ContactErrors = {};
  if (!email && !phone) errs.email = 'errNeedOne';
  if (email && (email.length > 254 || !EMAIL_RE.test(email))) errs.email = 'errEmail';
  if (phone && (!PHONE_RE.test(phone) || !/\d/.test(phone))) errs.phone = 'errPhone';
  if (new TextEncoder().encode(note).length > MAX_NOTE_BYTES) errs.note = 'errNoteLong';
  else if (needNote && !note) errs.note = 'errNoteRequired';
  return errs;
}

/** Which field a server `bad_request` message is about (its text names the field). */
export function fieldOfServerError(message: string | undefined): 'email' | 'phone' | 'note' | null {
  const m = (message ?? '').toLowerCase();
  if (/e-?mail/.test(m)) return 'email';
  if (/phone/.test(m)) return 'phone';
  if (/note/.test(m)) return 'note';
  return null;
}

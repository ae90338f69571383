/**
 * The reports view without the DOM (GET /api/v1/reports/summary and conversations.csv):
 * the date window (local dates → ms, at most 93 days), formatting of durations, numbers
 * and missing figures ("—", never 0), turning the summary's `days` and `categories`
 * into uPlot data, and sorting the agents' table. Unit-tested in test/console-report.test.ts.
 */
import type { ReportAgent, ReportDay, ReportSummary } from '../protocol/types';
import { CAUSES } from './causes';
import { fmtDuration } from './model';

export const MAX_DAYS = 93;
export const DAY_MS = 86_400_000;
/** What a figure nobody measured shows. */
export const NONE = '—';

export function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

// ---- the window ------------------------------------------------------------------

const pad = (n: number) => String(n).padStart(2, '0');

/** "YYYY-MM-DD" of a date in local time (what <input type="date"> holds). */
export function localDateString(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function ymd(s: string): [number, number, number] | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s ?? '');
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return null;
  return [y, mo, d];
}

/** Local midnight of "YYYY-MM-DD" in ms; null when it is not a date. */
export function parseLocalDate(s: string): number | null {
  const p = ymd(s);
  return p ? new Date(p[0], p[1] - 1, p[2]).getTime() : null;
}

/** The last 7 days: six days ago through today, as date-input values. */
export function defaultDates(now: Date = new Date()): { from: string; to: string } {
  const from = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 6);
  return { from: localDateString(from), to: localDateString(now) };
}

export type WindowCheck =
  | { ok: true; from: number; to: number; days: number }
  | { ok: false; error: 'invalid' | 'reversed' | 'too_long'; days?: number };

/**
 * Two inclusive local dates → [from, to) in ms: from the first day's local midnight to the
 * midnight after the last day. More than `maxDays` calendar days is refused before asking
 * the server; a window of exactly `maxDays` days that gains an hour across a daylight-saving
 * change is cut at `maxDays` × 24 h, which is what the server accepts.
 */
export function checkWindow(fromDate: string, toDate: string, maxDays = MAX_DAYS): WindowCheck {
  const a = ymd(fromDate);
  const b = ymd(toDate);
  if (!a || !b) return { ok: false, error: 'invalid' };
  const days = Math.round((Date.UTC(b[0], b[1] - 1, b[2]) - Date.UTC(a[0], a[1] - 1, a[2])) / DAY_MS) + 1;
  if (days < 1) return { ok: false, error: 'reversed' };
  if (days > maxDays) return { ok: false, error: 'too_long', days };
  const from = new Date(a[0], a[1] - 1, a[2]).getTime();
  const to = Math.min(new Date(b[0], b[1] - 1, b[2] + 1).getTime(), from + maxDays * DAY_MS);
  return { ok: true, from, to, days };
}

/** The query string of both report endpoints; no store = every store of the user. */
export function reportQuery(from: number, to: number, store?: string | null): string {
  const q = new URLSearchParams({ from: String(from), to: String(to) });
  if (store) q.set('store', store);
  return q.toString();
}

/** calma-conversations_2025-06-01_2025-06-07[_demo].csv */
export function csvFileName(fromDate: string, toDate: string, store?: string | null): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]+/g, '-');
  return `calma-conversations_${safe(fromDate)}_${safe(toDate)}${store ? '_' + safe(store) : ''}.csv`;
}

// ---- formatting ------------------------------------------------------------------

/** Seconds as "42 s" / "2 min 05 s" ("42s" / "2m 05s" in English); "—" when not measured. */
export function fmtSeconds(s: number | null | undefined, lang: string): string {
  if (!isNum(s) || s < 0) return NONE;
  if (s > 0 && s < 1) return lang === 'en' ? '<1s' : '<1 s';
  return fmtDuration(s * 1000, lang);
}

/** A number with at most `digits` decimals in the locale; "—" when missing. */
export function fmtNumber(n: number | null | undefined, locale: string, digits = 1): string {
  if (!isNum(n)) return NONE;
  return new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(n);
}

/** An average with exactly one decimal ("4.0", "4,0"); "—" when missing. */
export function fmtAverage(n: number | null | undefined, locale: string): string {
  if (!isNum(n)) return NONE;
  return new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(n);
}

/** A signed change in points: "+12.5", "−3", "0"; "—" when missing. */
export function fmtSigned(n: number | null | undefined, locale: string): string {
  if (!isNum(n)) return NONE;
  const abs = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(Math.abs(n));
  if (abs === new Intl.NumberFormat(locale).format(0)) return abs;
  return (n > 0 ? '+' : '−') + abs;
}

/** "3 Jun" for a UTC day "2025-06-03", in the locale. */
export function dayLabel(day: string, locale: string): string {
  const p = ymd(day);
  if (!p) return day;
  try {
    return new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', timeZone: 'UTC' }).format(Date.UTC(p[0], p[1] - 1, p[2]));
  } catch {
    return day;
  }
}

// ---- the summary -----------------------------------------------------------------

const numOr = (v: unknown, d: number) => (isNum(v) ? v : d);
const numOrNull = (v: unknown) => (isNum(v) ? v : null);

/** The server's summary with every field present (null where not measured), whatever was missing. */
export function normalizeSummary(raw: unknown): ReportSummary {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, any>;
  const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : {});
  const counts = (v: unknown) => {
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(obj(v))) if (isNum(n)) out[k] = n;
    return out;
  };
  const fr = obj(r.first_response_s);
  const csat = obj(r.csat);
  const anger = obj(r.anger);
  return {
    from: numOr(r.from, 0),
    to: numOr(r.to, 0),
    stores: Array.isArray(r.stores) ? r.stores.filter((s: unknown) => typeof s === 'string') : [],
    conversations: numOr(r.conversations, 0),
    escalations: numOr(r.escalations, 0),
    escalations_by_reason: counts(r.escalations_by_reason),
    categories: counts(r.categories),
    first_response_s: { median: numOrNull(fr.median), p90: numOrNull(fr.p90), count: numOr(fr.count, 0) },
    csat: { count: numOr(csat.count, 0), average: numOrNull(csat.average), scores: counts(csat.scores) },
    anger: { peak_median: numOrNull(anger.peak_median), closing_median: numOrNull(anger.closing_median) },
    agents: (Array.isArray(r.agents) ? r.agents : [])
      .filter((a: any) => a && typeof a.id === 'string')
      .map((a: any) => ({
        id: a.id,
        name: typeof a.name === 'string' && a.name ? a.name : a.id,
        conversations: numOr(a.conversations, 0),
        first_response_s_median: numOrNull(a.first_response_s_median),
        replies_measured: numOr(a.replies_measured, 0),
        deescalation: numOrNull(a.deescalation),
        csat_count: numOr(a.csat_count, 0),
        csat_average: numOrNull(a.csat_average),
      })),
    days: (Array.isArray(r.days) ? r.days : [])
      .filter((d: any) => d && typeof d.day === 'string')
      .map((d: any) => ({
        day: d.day,
        conversations: numOr(d.conversations, 0),
        escalations: numOr(d.escalations, 0),
        peak_median: numOrNull(d.peak_median),
        closing_median: numOrNull(d.closing_median),
      })),
  };
}

/** The 1–5 distribution of the ratings: count and share (0–1) of each score. */
export function csatDistribution(scores: Record<string, number> | undefined): { score: number; count: number; share: number }[] {
  const list = [1, 2, 3, 4, 5].map((score) => ({ score, count: numOr(scores?.[String(score)], 0) }));
  const total = list.reduce((a, b) => a + b.count, 0);
  return list.map((x) => ({ ...x, share: total ? x.count / total : 0 }));
}

// ---- chart data --------------------------------------------------------------------

/** Every UTC day of the window, one value per day: the server lists only days with conversations. */
export interface DaySeries {
  days: string[];
  conversations: number[];
  escalations: number[];
  peak: (number | null)[];
  closing: (number | null)[];
}

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The summary's `days` over every UTC day the window [from, to) touches (the server groups
 * by UTC day): a day without conversations counts 0 conversations and 0 escalations, and
 * its anger medians are null (a gap in the line, not a fall to 0).
 */
export function daySeries(days: ReportDay[], from: number, to: number): DaySeries {
  const byDay = new Map(days.map((d) => [d.day, d]));
  const keys = new Set<string>();
  if (isNum(from) && isNum(to) && to > from) {
    const last = utcDay(to - 1);
    let t = Date.parse(utcDay(from) + 'T00:00:00Z');
    for (let i = 0; i < MAX_DAYS + 2; i++, t += DAY_MS) {
      const k = utcDay(t);
      keys.add(k);
      if (k >= last) break;
    }
  }
  for (const d of days) keys.add(d.day);
  const sorted = [...keys].sort();
  const out: DaySeries = { days: sorted, conversations: [], escalations: [], peak: [], closing: [] };
  for (const k of sorted) {
    const d = byDay.get(k);
    out.conversations.push(d?.conversations ?? 0);
    out.escalations.push(d?.escalations ?? 0);
    out.peak.push(d && isNum(d.peak_median) ? d.peak_median : null);
    out.closing.push(d && isNum(d.closing_median) ? d.closing_median : null);
  }
  return out;
}

/** uPlot data: x is the index of the bar/day (labels drawn from the same index). */
export type ChartData = [number[], ...(number | null)[][]];

export function dayChartData(s: DaySeries): ChartData {
  return [s.days.map((_, i) => i), s.conversations, s.escalations];
}

export function angerChartData(s: DaySeries): ChartData {
  return [s.days.map((_, i) => i), s.peak, s.closing];
}

/** The seven causes in order (zeros too), then any other category the server counted. */
export function causeCounts(categories: Record<string, number>): { cause: string; count: number }[] {
  const known = CAUSES.map((cause) => ({ cause: cause as string, count: numOr(categories[cause], 0) }));
  const other = Object.entries(categories)
    .filter(([k, n]) => !(CAUSES as readonly string[]).includes(k) && isNum(n) && n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([cause, count]) => ({ cause, count }));
  return [...known, ...other];
}

/** One bar per value. */
export function barData(values: (number | null)[]): ChartData {
  return [values.map((_, i) => i), values.map((v) => (isNum(v) ? v : null))];
}

// ---- the agents' table -------------------------------------------------------------

export type AgentSortKey = 'name' | 'conversations' | 'first_response_s_median' | 'deescalation' | 'csat_average';
export type SortDir = 'asc' | 'desc';

/** The direction a column sorts in on its first click: best first (a fast first response is low). */
export function defaultDir(key: AgentSortKey): SortDir {
  return key === 'name' || key === 'first_response_s_median' ? 'asc' : 'desc';
}

/** Sorted by one column; agents without that figure always come last; ties by name. */
export function sortAgents(agents: readonly ReportAgent[], key: AgentSortKey, dir: SortDir): ReportAgent[] {
  const sign = dir === 'asc' ? 1 : -1;
  const name = (a: ReportAgent) => (a.name || a.id).toLocaleLowerCase();
  return [...agents].sort((a, b) => {
    if (key === 'name') return sign * name(a).localeCompare(name(b)) || a.id.localeCompare(b.id);
    const x = a[key];
    const y = b[key];
    const xn = isNum(x);
    const yn = isNum(y);
    if (xn !== yn) return xn ? -1 : 1;
    if (xn && yn && x !== y) return sign * ((x as number) - (y as number));
    return name(a).localeCompare(name(b));
  });
}

/** HTTP part of the protocol used by the console. */
import type { AuditEntry, CannedAnswer, CsatRating, FollowUp, Role, ShopperContext, ShopperInfo } from '../protocol/types';

export interface Session {
  token: string;
  role: Exclude<Role, 'shopper'>;
  user_id: string;
  name: string;
}

/** What went wrong, so the login view can say it in the console's language. */
export type LoginFailure = 'unreachable' | 'unauthorized' | 'rate_limited' | 'status' | 'unexpected';

export class LoginError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly kind: LoginFailure = 'status',
  ) {
    super(message);
  }
}

export async function login(username: string, password: string, base = ''): Promise<Session> {
  let res: Response;
  try {
    res = await fetch(base + '/api/v1/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
  } catch {
    throw new LoginError('Cannot reach the server. Check your connection and try again.', 0, 'unreachable');
  }
  if (res.status === 401) throw new LoginError('Wrong username or password.', 401, 'unauthorized');
  if (res.status === 429) throw new LoginError('Too many attempts. Wait a moment and try again.', 429, 'rate_limited');
  if (!res.ok) throw new LoginError(`The server answered ${res.status}. Try again in a moment.`, res.status, 'status');
  const body = (await res.json()) as Session;
  if (!body.token || !body.role) throw new LoginError('Unexpected answer from the server.', res.status, 'unexpected');
  return body;
}

export interface ConversationDetail {
  anger?: { ts: number; level: number; phase?: string; cues?: string[] }[];
  anger_timeline?: { ts: number; level: number; phase?: string; cues?: string[] }[];
  timeline?: { ts: number; level: number; phase?: string; cues?: string[] }[];
  /** v1.1: the store, the shopper's context (also under conversation.*) */
  store?: string;
  context?: ShopperContext;
  shopper?: ShopperInfo;
  conversation?: { store?: string; context?: ShopperContext; shopper?: ShopperInfo; [k: string]: unknown };
  /** Issue 9: the causes (also conversation.categories, with conversation.categories_corrected), the rating, the audit trail */
  categories?: string[];
  csat?: CsatRating | null;
  audit?: AuditEntry[];
  [k: string]: unknown;
}

/** GET /api/v1/conversations/{id}: used for the anger timeline so far. Null on any failure. */
export async function fetchConversation(token: string, id: string): Promise<ConversationDetail | null> {
  try {
    const res = await fetch('/api/v1/conversations/' + encodeURIComponent(id), {
      headers: { Authorization: 'Bearer ' + token },
    });
    if (!res.ok) return null;
    return (await res.json()) as ConversationDetail;
  } catch {
    return null;
  }
}

/** GET /api/v1/canned?store=S&lang=L → the prepared answers; null on any failure. */
export async function fetchCanned(token: string, store: string, lang: string): Promise<CannedAnswer[] | null> {
  try {
    const q = new URLSearchParams({ store, lang });
    const res = await fetch('/api/v1/canned?' + q.toString(), { headers: { Authorization: 'Bearer ' + token } });
    if (!res.ok) return null;
    const body = (await res.json()) as { responses?: CannedAnswer[] };
    return Array.isArray(body.responses) ? body.responses.filter((r) => r && typeof r.text === 'string') : null;
  } catch {
    return null;
  }
}

/** GET /api/v1/followups (every store of the user, or one) → the list; null on any failure. */
export async function fetchFollowups(token: string, store?: string): Promise<FollowUp[] | null> {
  try {
    const res = await fetch('/api/v1/followups' + (store ? '?store=' + encodeURIComponent(store) : ''), {
      headers: { Authorization: 'Bearer ' + token },
    });
    if (!res.ok) return null;
    const body = (await res.json()) as { followups?: FollowUp[] };
    return Array.isArray(body.followups) ? body.followups : null;
  } catch {
    return null;
  }
}

/** What a report request gave: the body, or why not (HTTP status, 0 when unreachable, and the server's message). */
export type ReportAnswer<T> = { ok: true; value: T } | { ok: false; status: number; message?: string };

async function errorOf(res: Response): Promise<{ ok: false; status: number; message?: string }> {
  try {
    const body = (await res.json()) as { error?: { message?: string } };
    return { ok: false, status: res.status, message: body?.error?.message };
  } catch {
    return { ok: false, status: res.status };
  }
}

/** GET /api/v1/reports/summary?<query> (supervisors, Bearer). The body is left to report.ts to normalise. */
export async function fetchReport(token: string, query: string): Promise<ReportAnswer<unknown>> {
  try {
    const res = await fetch('/api/v1/reports/summary?' + query, { headers: { Authorization: 'Bearer ' + token } });
    if (!res.ok) return errorOf(res);
    return { ok: true, value: await res.json() };
  } catch {
    return { ok: false, status: 0 };
  }
}

/** GET /api/v1/reports/conversations.csv?<query> with the Bearer header, as a Blob to save. */
export async function fetchReportCsv(token: string, query: string): Promise<ReportAnswer<Blob>> {
  try {
    const res = await fetch('/api/v1/reports/conversations.csv?' + query, { headers: { Authorization: 'Bearer ' + token } });
    if (!res.ok) return errorOf(res);
    return { ok: true, value: await res.blob() };
  } catch {
    return { ok: false, status: 0 };
  }
}

/** HTTP part of the protocol used by the console. */
import type { Role } from '../protocol/types';

export interface Session {
  token: string;
  role: Exclude<Role, 'shopper'>;
  user_id: string;
  name: string;
}

export class LoginError extends Error {
  constructor(
    message: string,
    readonly status: number,
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
    throw new LoginError('Cannot reach the server. Check your connection and try again.', 0);
  }
  if (res.status === 401) throw new LoginError('Wrong username or password.', 401);
  if (res.status === 429) throw new LoginError('Too many attempts. Wait a moment and try again.', 429);
  if (!res.ok) throw new LoginError(`The server answered ${res.status}. Try again in a moment.`, res.status);
  const body = (await res.json()) as Session;
  if (!body.token || !body.role) throw new LoginError('Unexpected answer from the server.', res.status);
  return body;
}

export interface ConversationDetail {
  anger?: { ts: number; level: number; phase?: string; cues?: string[] }[];
  anger_timeline?: { ts: number; level: number; phase?: string; cues?: string[] }[];
  timeline?: { ts: number; level: number; phase?: string; cues?: string[] }[];
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

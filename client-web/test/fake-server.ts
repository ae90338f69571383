/**
 * An in-process fake of the Calma server behind a fake WebSocket class: enough of
 * PROTOCOL.md to exercise the client (hello/welcome, chat.send -> ack with per
 * conversation seq and idempotency by client_msg_id, history with optional paging,
 * errors and closes injected by the test).
 */
import type { SocketFactory, WebSocketLike } from '../src/protocol/transport';

type Frame = Record<string, any>;

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: Frame[] = [];

  constructor(
    readonly url: string,
    private server: FakeServer,
  ) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    const f = JSON.parse(data);
    this.sent.push(f);
    this.server.receive(this, f);
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.server.sockets.delete(this);
    // Browsers deliver close asynchronously.
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }

  /** Server side: push a frame to the client. */
  push(f: Frame): void {
    if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(f) });
  }

  /** Server side: close with a code (as the real server would). */
  serverClose(code: number, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.server.sockets.delete(this);
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }
}

export interface StoredMsg {
  conversation_id: string;
  seq: number;
  ts: number;
  from: { role: string; id: string; name?: string };
  text: string;
  client_msg_id: string;
  visibility: 'all' | 'staff';
}

export class FakeServer {
  sockets = new Set<FakeSocket>();
  connects = 0;
  /** Refuse connections (server down). */
  down = false;
  /** Answer hello by closing with this code instead of a welcome (0: no). */
  closeOnHello = 0;
  /** Do not ack chat.send (store slow) but still store. */
  dropAcks = false;
  /** Answer chat.send with error{unavailable} this many times. */
  unavailableCount = 0;
  /** Page size for history (then more: true). */
  historyPage = 1000;
  convs = new Map<string, StoredMsg[]>();
  byClientId = new Map<string, StoredMsg>();
  log: Frame[] = [];
  private nextConv = 1;
  userId = 'shopper-1';
  // v1.1 (widget): stores, offline queue, contact
  /**
   * Push `conversation.queued` when a shopper's first chat.send opens a conversation
   * (after the ack). `offline` set: with `offline: true`, its reason and next opening.
   */
  queueOnOpen = false;
  offline: { reason: 'closed' | 'no_agents'; next_open_ts: number | null } | null = null;
  /** Contacts left per conversation (the last one wins, as on the real server). */
  contacts = new Map<string, Frame>();
  /** Answer the next `contact` with this error instead of validating it. */
  contactError: { code: string; message: string } | null = null;
  /** Do not answer `contact` at all (a lost frame). */
  dropContact = false;
  /** Conversation states listed in welcome (default: assigned). */
  states = new Map<string, string>();
  // Issue 9 (widget): the rating (CSAT)
  /** Ratings saved per conversation: one each, as on the real server. */
  ratings = new Map<string, Frame>();
  /** Answer the next `csat` with this error instead of checking it. */
  csatError: { code: string; message: string } | null = null;
  /** Do not answer `csat` at all (a lost frame). */
  dropCsat = false;

  factory: SocketFactory = (url) => {
    const s = new FakeSocket(url, this);
    this.connects++;
    setTimeout(() => {
      if (this.down) {
        s.readyState = 3;
        s.onclose?.({ code: 1006, reason: 'refused' });
        return;
      }
      s.readyState = 1;
      this.sockets.add(s);
      s.onopen?.({});
    }, 0);
    return s;
  };

  get current(): FakeSocket | undefined {
    return [...this.sockets].pop();
  }

  conversation(): string {
    const id = `c${this.nextConv++}`;
    this.convs.set(id, []);
    return id;
  }

  /** The agent (or the shopper's conversation.close) closes it: every socket hears conversation.closed. */
  closeConversation(convId: string, reason = 'resolved', by: Frame | string = { role: 'agent', id: 'agent-1', name: 'Ana' }): void {
    this.states.set(convId, 'closed');
    for (const s of this.sockets) s.push({ type: 'conversation.closed', conversation_id: convId, by, reason });
  }

  /** Store a message as if someone else (the agent) wrote it, and push it live. */
  agentSays(convId: string, text: string, live = true): StoredMsg {
    const m = this.store(convId, { role: 'agent', id: 'agent-1', name: 'Ana' }, text, `srv-${Math.random()}`);
    if (live) for (const s of this.sockets) s.push({ type: 'chat.message', ...m });
    return m;
  }

  store(convId: string, from: StoredMsg['from'], text: string, clientMsgId: string): StoredMsg {
    const list = this.convs.get(convId)!;
    const m: StoredMsg = {
      conversation_id: convId,
      seq: list.length + 1,
      ts: 1700000000000 + list.length,
      from,
      text,
      client_msg_id: clientMsgId,
      visibility: 'all',
    };
    list.push(m);
    this.byClientId.set(clientMsgId, m);
    return m;
  }

  receive(s: FakeSocket, f: Frame): void {
    this.log.push(f);
    switch (f.type) {
      case 'hello':
        if (this.closeOnHello) return s.serverClose(this.closeOnHello, 'try again');
        s.push({
          type: 'welcome',
          user_id: this.userId,
          role: 'shopper',
          token: 'tok',
          server_ts: 1,
          conversations: [...this.convs.entries()].map(([id, msgs]) => ({
            conversation_id: id,
            state: this.states.get(id) ?? 'assigned',
            agent_id: 'agent-1',
            last_seq: msgs.length,
            created_ts: 1,
          })),
        });
        return;
      case 'chat.send': {
        if (this.unavailableCount > 0) {
          this.unavailableCount--;
          s.push({ type: 'error', code: 'unavailable', message: 'store down', ref: f.client_msg_id });
          return;
        }
        let m = this.byClientId.get(f.client_msg_id);
        let opened = false;
        if (!m) {
          opened = !f.conversation_id;
          const convId = f.conversation_id ?? this.conversation();
          m = this.store(convId, { role: 'shopper', id: this.userId }, f.text, f.client_msg_id);
        }
        if (!this.dropAcks) s.push({ type: 'ack', client_msg_id: f.client_msg_id, conversation_id: m.conversation_id, seq: m.seq });
        if (opened && this.queueOnOpen) {
          this.states.set(m.conversation_id, 'queued');
          const q: Frame = { type: 'conversation.queued', conversation_id: m.conversation_id, position: 1, estimated_wait_s: 45 };
          if (this.offline) {
            q.offline = true;
            q.offline_reason = this.offline.reason;
            if (this.offline.reason === 'closed') q.next_open_ts = this.offline.next_open_ts;
          } else q.offline = false;
          s.push(q);
        }
        return;
      }
      case 'contact': {
        if (this.dropContact) return;
        if (this.contactError) {
          const e = this.contactError;
          this.contactError = null;
          s.push({ type: 'error', code: e.code, message: e.message, ref: 'contact' });
          return;
        }
        const problem = contactProblem(f);
        if (problem) return s.push({ type: 'error', code: 'bad_request', message: problem, ref: 'contact' });
        if (!this.convs.has(f.conversation_id)) return s.push({ type: 'error', code: 'not_found', message: 'no such conversation', ref: 'contact' });
        this.contacts.set(f.conversation_id, f);
        s.push({ type: 'contact.saved', conversation_id: f.conversation_id });
        return;
      }
      case 'conversation.close':
        if (!this.convs.has(f.conversation_id)) return s.push({ type: 'error', code: 'not_found', message: 'no such conversation', ref: 'conversation.close' });
        this.closeConversation(f.conversation_id, f.reason ?? 'shopper_ended', { role: 'shopper', id: this.userId });
        return;
      case 'csat': {
        if (this.dropCsat) return;
        if (this.csatError) {
          const e = this.csatError;
          this.csatError = null;
          return s.push({ type: 'error', code: e.code, message: e.message, ref: 'csat' });
        }
        const problem = csatProblem(f);
        if (problem) return s.push({ type: 'error', code: 'bad_request', message: problem, ref: 'csat' });
        if (!this.convs.has(f.conversation_id)) return s.push({ type: 'error', code: 'not_found', message: 'no such conversation', ref: 'csat' });
        if (this.states.get(f.conversation_id) !== 'closed') return s.push({ type: 'error', code: 'bad_request', message: 'the conversation is not closed yet', ref: 'csat' });
        if (this.ratings.has(f.conversation_id)) return s.push({ type: 'error', code: 'bad_request', message: 'this conversation is already rated', ref: 'csat' });
        this.ratings.set(f.conversation_id, f);
        s.push({ type: 'csat.saved', conversation_id: f.conversation_id });
        return;
      }
      case 'history': {
        const all = (this.convs.get(f.conversation_id) ?? []).filter((m) => m.seq > f.after_seq);
        const page = all.slice(0, this.historyPage);
        const frame: Frame = { type: 'history', conversation_id: f.conversation_id, messages: page.map((m) => ({ type: 'chat.message', ...m })) };
        if (all.length > page.length) frame.more = true;
        s.push(frame);
        return;
      }
      case 'ping':
        s.push({ type: 'pong' });
        return;
      default:
        return;
    }
  }

  /** Drop every connection abruptly (network loss / server restart). */
  dropAll(code = 1006): void {
    for (const s of [...this.sockets]) s.serverClose(code, 'gone');
  }
}

/** The spec's contact rules (spec-v1.1.md "Offline, contact, follow-ups"), as the server checks them. */
export function contactProblem(f: Frame): string | null {
  for (const k of Object.keys(f)) if (!['type', 'conversation_id', 'email', 'phone', 'note'].includes(k)) return `contact.${k}: unknown field`;
  if (typeof f.conversation_id !== 'string' || !f.conversation_id) return 'contact.conversation_id is required';
  if (f.email === undefined && f.phone === undefined) return 'contact needs an email or a phone';
  if (f.email !== undefined && (typeof f.email !== 'string' || f.email.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(f.email))) return 'contact.email is not a valid e-mail address';
  if (f.phone !== undefined && (typeof f.phone !== 'string' || !/^[0-9 +\-().]{6,32}$/.test(f.phone))) return 'contact.phone is not a valid phone number';
  if (f.note !== undefined && (typeof f.note !== 'string' || new TextEncoder().encode(f.note).length > 500)) return 'contact.note is longer than 500 bytes';
  return null;
}

/** The spec's csat rules (spec-v1.1.md "Rating (CSAT)"): score 1..5, comment <= 500 bytes, nothing else. */
export function csatProblem(f: Frame): string | null {
  for (const k of Object.keys(f)) if (!['type', 'conversation_id', 'score', 'comment'].includes(k)) return `csat.${k}: unknown field`;
  if (typeof f.conversation_id !== 'string' || !f.conversation_id) return 'csat.conversation_id is required';
  if (!Number.isInteger(f.score) || f.score < 1 || f.score > 5) return "field 'score' must be an integer from 1 to 5";
  if (f.comment !== undefined && (typeof f.comment !== 'string' || new TextEncoder().encode(f.comment).length > 500)) return "field 'comment' is longer than 500 bytes";
  return null;
}

/**
 * A fake `fetch` for GET /api/v1/stores/{id}/widget: `info` is what it answers
 * (null: 404), every call is recorded.
 */
export function fakeStoreApi(info: Record<string, any> | null) {
  const api = {
    info,
    calls: [] as string[],
    fetch: async (url: string) => {
      api.calls.push(url);
      const body = api.info;
      return {
        ok: body !== null,
        status: body === null ? 404 : 200,
        json: async () => (body === null ? { error: { code: 'not_found', message: 'unknown store' } } : JSON.parse(JSON.stringify(body))),
      };
    },
  };
  return api;
}

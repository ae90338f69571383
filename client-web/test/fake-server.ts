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
            state: 'assigned',
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
        if (!m) {
          const convId = f.conversation_id ?? this.conversation();
          m = this.store(convId, { role: 'shopper', id: this.userId }, f.text, f.client_msg_id);
        }
        if (!this.dropAcks) s.push({ type: 'ack', client_msg_id: f.client_msg_id, conversation_id: m.conversation_id, seq: m.seq });
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

/**
 * The protocol client: a state machine over one Transport.
 *
 *   disconnected --connect()--> connecting --open--> authenticating --welcome--> connected
 *        ^                                                                          |
 *        +------------------ close (backoff, full jitter) <-------------------------+
 *
 * Guarantees it gives the UI (PROTOCOL.md "Delivery guarantees"):
 *  - every chat.send goes through an outbox keyed by client_msg_id and stays there until
 *    `ack`; after each reconnect the outbox is resent with the same ids (the server is
 *    idempotent);
 *  - after each reconnect it asks `history` after the last contiguous seq it has for every
 *    tracked conversation, and follows `more: true`;
 *  - every chat.message is de-duplicated by (conversation_id, seq), so the UI's `message`
 *    event fires at most once per message; a gap in seq triggers a history request;
 *  - a `welcome` on an already open connection (a cluster's failover: the node kept us
 *    and said hello to the new leader) is a reconnect without the socket: history after
 *    the last seq, the outbox resent, the UI's `welcome` event again.
 */
import { backoffDelay } from './backoff';
import { CloseCode, ErrorCode, RESTART_RECONNECT_MAX_MS, isRetryable } from './codes';
import { Emitter } from './emitter';
import { newClientMsgId } from './ids';
import { Outbox, type OutboxEntry } from './outbox';
import type { StorageLike } from './storage';
import { Transport, browserSocketFactory, type SocketFactory } from './transport';
import type {
  Ack,
  ChatMessage,
  ErrorMsg,
  HelloMessage,
  HistoryMsg,
  Role,
  ServerMessage,
  Welcome,
} from './types';

export type ConnState = 'disconnected' | 'connecting' | 'authenticating' | 'connected' | 'stopped';

export interface ClientOptions {
  /** ws(s)://host/ws */
  url: string;
  /** Called before every connection attempt, so a token obtained later is used. */
  hello: () => HelloMessage;
  createSocket?: SocketFactory;
  /** Where to persist the outbox (localStorage for the shopper). */
  storage?: StorageLike;
  outboxKey?: string;
  minReconnectMs?: number;
  maxReconnectMs?: number;
  /** Application ping interval; the server closes idle connections (4408). */
  pingIntervalMs?: number;
  /** Give up on a connection that has not produced `welcome` in this time. */
  helloTimeoutMs?: number;
  /** Resend (same client_msg_id) a chat.send not acked after this long on a live connection. */
  ackTimeoutMs?: number;
  random?: () => number;
  /** Ask history for every conversation listed in `welcome` (shopper, agent). */
  syncWelcomeConversations?: boolean;
  now?: () => number;
}

export interface AckEvent {
  entry: OutboxEntry;
  message: ChatMessage;
}

export interface SendFailedEvent {
  entry: OutboxEntry;
  code: string;
  message?: string;
}

export interface HistoryEvent {
  conversation_id: string;
  /** Only the messages not seen before, in seq order. */
  messages: ChatMessage[];
  more: boolean;
}

export type ClientEvents = {
  state: ConnState;
  welcome: Welcome;
  /** A chat.message not seen before (live or from history). */
  message: ChatMessage;
  ack: AckEvent;
  sendFailed: SendFailedEvent;
  /** Transient send problem (unavailable, rate_limited): it will be retried. */
  sendRetry: { entry: OutboxEntry; code: string; delayMs: number };
  history: HistoryEvent;
  /** Every other server frame (typing, read, conversation.*, anger.*, escalation.*, ...). */
  event: ServerMessage;
  /** An `error` frame not tied to an outbox entry. */
  serverError: ErrorMsg;
  /** 4401: the credentials are not accepted; no automatic reconnect. */
  authFailed: { code: number; reason: string };
  closed: { code: number; reason: string; willRetryInMs: number | null };
};

interface ConvTrack {
  /** Highest seq such that every seq in 1..lastSeq has been seen. */
  lastSeq: number;
  seen: Set<number>;
  historyInFlight: boolean;
}

export class CalmaClient extends Emitter<ClientEvents> {
  readonly outbox: Outbox;
  private transport: Transport;
  private _state: ConnState = 'disconnected';
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private ackTimer: ReturnType<typeof setInterval> | null = null;
  private helloTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private lastFrameAt = 0;
  private convs = new Map<string, ConvTrack>();
  /** client_msg_id of the conversation-less send on the wire (only one at a time). */
  private convlessInFlight: string | null = null;
  private sentThisConnection = new Set<string>();
  /** When each outbox entry was last put on the wire (this connection). */
  private sentAt = new Map<string, number>();
  /** Ack timeouts per client_msg_id (in memory: a reload starts afresh). */
  private ackTimeouts = new Map<string, number>();
  /** Consecutive transient errors not tied to a message (for their backoff). */
  private transientErrors = 0;
  private opts: Required<Omit<ClientOptions, 'storage' | 'outboxKey'>> & ClientOptions;
  userId: string | null = null;
  role: Role | null = null;
  welcome: Welcome | null = null;

  constructor(options: ClientOptions) {
    super();
    this.opts = {
      createSocket: browserSocketFactory,
      minReconnectMs: 500,
      maxReconnectMs: 20000,
      pingIntervalMs: 25000,
      helloTimeoutMs: 10000,
      ackTimeoutMs: 15000,
      random: Math.random,
      syncWelcomeConversations: true,
      now: () => Date.now(),
      ...options,
    };
    this.outbox = new Outbox(options.storage, options.outboxKey);
    this.transport = new Transport(this.opts.createSocket, {
      onOpen: () => this.onOpen(),
      onFrame: (f) => this.onFrame(f as unknown as ServerMessage),
      onClose: (code, reason) => this.onClose(code, reason),
    });
  }

  get state(): ConnState {
    return this._state;
  }

  get connected(): boolean {
    return this._state === 'connected';
  }

  private setState(s: ConnState): void {
    if (this._state === s) return;
    this._state = s;
    this.emit('state', s);
  }

  // ---- connection lifecycle -------------------------------------------------

  connect(): void {
    if (this._state === 'connecting' || this._state === 'authenticating' || this._state === 'connected') return;
    this.clearReconnect();
    this.setState('connecting');
    this.transport.open(this.opts.url);
  }

  /** Drop any pending backoff and connect now (e.g. on `online` or after fixing credentials). */
  reconnectNow(): void {
    this.clearReconnect();
    this.transport.close(1000, 'reconnect');
    this.teardownConnection();
    this.setState('disconnected');
    this.attempt = 0;
    this.connect();
  }

  /** Close for good (logout, widget removed). The outbox is kept in storage. */
  stop(): void {
    this.clearReconnect();
    this.transport.close(1000, 'bye');
    this.teardownConnection();
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    this.setState('stopped');
  }

  private onOpen(): void {
    this.setState('authenticating');
    this.lastFrameAt = this.opts.now();
    // Arm the timer before sending: the welcome may be handled synchronously.
    this.helloTimer = setTimeout(() => {
      // No welcome: treat as a dead connection.
      this.transport.close(4000, 'hello timeout');
      this.onClose(4000, 'hello timeout');
    }, this.opts.helloTimeoutMs);
    this.transport.send(this.opts.hello());
  }

  private onClose(code: number, reason: string): void {
    this.teardownConnection();
    if (this._state === 'stopped') return;
    this.setState('disconnected');
    if (code === CloseCode.Unauthorized) {
      this.emit('closed', { code, reason, willRetryInMs: null });
      this.emit('authFailed', { code, reason });
      return;
    }
    let delay = backoffDelay(this.attempt++, {
      minMs: this.opts.minReconnectMs,
      maxMs: this.opts.maxReconnectMs,
      random: this.opts.random,
    });
    if (code === CloseCode.Flood) delay = Math.max(delay, 5000);
    // The server asked us to come back (a cluster changing leader): soon,
    // whatever the backoff has grown to, still with jitter.
    if (code === CloseCode.ServiceRestart || code === CloseCode.TryAgainLater)
      delay = Math.min(delay, RESTART_RECONNECT_MAX_MS);
    this.emit('closed', { code, reason, willRetryInMs: delay });
    this.clearReconnect();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private teardownConnection(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.ackTimer) clearInterval(this.ackTimer);
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.pingTimer = this.ackTimer = this.helloTimer = null;
    this.convlessInFlight = null;
    this.sentThisConnection.clear();
    this.sentAt.clear();
    for (const c of this.convs.values()) c.historyInFlight = false;
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private startPing(): void {
    const every = this.opts.pingIntervalMs;
    this.pingTimer = setInterval(() => {
      if (this.opts.now() - this.lastFrameAt > every * 2.5) {
        // Nothing (not even pong) for a long time: the connection is dead but TCP did not notice.
        this.transport.close(4000, 'ping timeout');
        this.onClose(4000, 'ping timeout');
        return;
      }
      this.transport.send({ type: 'ping' });
    }, every);
    this.ackTimer = setInterval(() => this.resendOverdue(), Math.max(1000, this.opts.ackTimeoutMs / 3));
  }

  // ---- incoming ---------------------------------------------------------------

  private onFrame(msg: ServerMessage): void {
    this.lastFrameAt = this.opts.now();
    switch (msg.type) {
      case 'welcome':
        return this.onWelcome(msg);
      case 'ack':
        return this.onAck(msg);
      case 'chat.message':
        return this.onChatMessage(msg);
      case 'history':
        return this.onHistory(msg);
      case 'error':
        return this.onError(msg);
      case 'pong':
        return;
      default:
        this.emit('event', msg);
    }
  }

  private onWelcome(w: Welcome): void {
    if (this._state === 'connected') {
      // A second welcome on this open connection: a cluster changed leader and
      // our node said hello again for us (PROTOCOL.md v1.1, "Failover"). The
      // new leader knows nothing of what we sent the old one: sends not acked
      // and histories not answered go again (same client_msg_id: stored once),
      // now rather than after their retry backoff.
      this.teardownConnection();
      for (const t of this.retryTimers.values()) clearTimeout(t);
      this.retryTimers.clear();
    }
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.welcome = w;
    this.userId = w.user_id;
    this.role = w.role;
    this.attempt = 0;
    this.setState('connected');
    this.startPing();
    this.emit('welcome', w);
    // Catch up: every conversation we track, plus (optionally) every one the server lists.
    const ids = new Set(this.convs.keys());
    if (this.opts.syncWelcomeConversations) for (const c of w.conversations ?? []) ids.add(c.conversation_id);
    for (const id of ids) this.requestHistory(id);
    this.flushOutbox();
  }

  private track(convId: string): ConvTrack {
    let c = this.convs.get(convId);
    if (!c) this.convs.set(convId, (c = { lastSeq: 0, seen: new Set(), historyInFlight: false }));
    return c;
  }

  /** Record (conversation_id, seq); false if it was already seen. */
  private ingest(m: ChatMessage): boolean {
    const c = this.track(m.conversation_id);
    if (typeof m.seq !== 'number' || c.seen.has(m.seq)) return false;
    c.seen.add(m.seq);
    while (c.seen.has(c.lastSeq + 1)) c.lastSeq++;
    return true;
  }

  /** If the message is the echo of one of ours still in the outbox, settle it as acked. */
  private settleOwn(m: ChatMessage): boolean {
    if (!m.client_msg_id) return false;
    const entry = this.outbox.get(m.client_msg_id);
    if (!entry || (this.userId && m.from?.id && m.from.id !== this.userId)) return false;
    this.outbox.remove(entry.client_msg_id);
    this.afterSettled(entry, m.conversation_id);
    this.emit('ack', { entry, message: m });
    return true;
  }

  private afterSettled(entry: OutboxEntry, conversationId: string): void {
    this.clearRetry(entry.client_msg_id);
    this.sentAt.delete(entry.client_msg_id);
    this.ackTimeouts.delete(entry.client_msg_id);
    if (!entry.conversation_id || this.convlessInFlight === entry.client_msg_id) {
      if (this.convlessInFlight === entry.client_msg_id) this.convlessInFlight = null;
      // The first send opened the conversation: the held sends go into it.
      this.outbox.assignConversation(conversationId);
      this.flushOutbox();
    }
  }

  private onChatMessage(m: ChatMessage): void {
    const c = this.track(m.conversation_id);
    const gapBefore = m.seq > c.lastSeq + 1;
    if (!this.ingest(m)) return;
    if (!this.settleOwn(m)) this.emit('message', m);
    if (gapBefore) this.requestHistory(m.conversation_id);
  }

  private onAck(a: Ack): void {
    const entry = this.outbox.remove(a.client_msg_id);
    const message: ChatMessage = {
      conversation_id: a.conversation_id,
      seq: a.seq,
      ts: entry?.created_ts ?? this.opts.now(),
      from: { id: this.userId ?? '', role: this.role ?? undefined },
      text: entry?.text ?? '',
      client_msg_id: a.client_msg_id,
    };
    const c = this.track(a.conversation_id);
    const gapBefore = a.seq > c.lastSeq + 1;
    this.ingest(message);
    this.transientErrors = 0;
    if (!entry) return; // duplicate ack of a resend already settled
    this.afterSettled(entry, a.conversation_id);
    this.emit('ack', { entry, message });
    if (gapBefore) this.requestHistory(a.conversation_id);
  }

  private onHistory(h: HistoryMsg): void {
    const c = this.track(h.conversation_id);
    c.historyInFlight = false;
    const fresh: ChatMessage[] = [];
    const msgs = [...(h.messages ?? [])].sort((a, b) => a.seq - b.seq);
    for (const m of msgs) {
      if (!this.ingest(m)) continue;
      if (!this.settleOwn(m)) fresh.push(m);
    }
    const more = !!h.more;
    this.emit('history', { conversation_id: h.conversation_id, messages: fresh, more });
    if (more && msgs.length) this.requestHistory(h.conversation_id, msgs[msgs.length - 1].seq);
  }

  private onError(e: ErrorMsg): void {
    const entry = e.ref ? this.outbox.get(e.ref) : undefined;
    if (!entry) {
      // The error does not say which conversation: let every pending history be asked again.
      const historiesPending = [...this.convs.entries()].filter(([, c]) => c.historyInFlight).map(([id]) => id);
      if (e.ref === 'history' || (!e.ref && isRetryable(e.code))) for (const c of this.convs.values()) c.historyInFlight = false;
      if (isRetryable(e.code) && (!e.ref || e.ref === 'history' || e.ref === 'chat.send')) {
        // A transient error we cannot pin on one frame (e.g. rate_limited without a ref):
        // later, resend whatever is still unacked (idempotent by client_msg_id) and ask
        // again the histories that were pending.
        this.scheduleRetry('transient', e.code, this.transientErrors++, () => {
          for (const id of historiesPending) this.requestHistory(id);
          this.resendUnacked(() => true);
        });
      }
      this.emit('serverError', e);
      return;
    }
    if (entry.client_msg_id === this.convlessInFlight) this.convlessInFlight = null;
    this.sentThisConnection.delete(entry.client_msg_id);
    if (isRetryable(e.code)) {
      const delay = this.scheduleRetry(entry.client_msg_id, e.code, entry.attempts, () => this.transmit(entry));
      this.emit('sendRetry', { entry, code: e.code, delayMs: delay });
      return;
    }
    this.outbox.remove(entry.client_msg_id);
    this.emit('sendFailed', { entry, code: e.code, message: e.message });
    if (!entry.conversation_id) this.flushOutbox();
  }

  private scheduleRetry(key: string, code: string, attempt: number, fn: () => void): number {
    this.clearRetry(key);
    const minMs = code === ErrorCode.RateLimited ? 2000 : 1000;
    const delay = backoffDelay(attempt, { minMs, maxMs: 30000, random: this.opts.random });
    this.retryTimers.set(
      key,
      setTimeout(() => {
        this.retryTimers.delete(key);
        fn();
      }, delay),
    );
    return delay;
  }

  private clearRetry(key: string): void {
    const t = this.retryTimers.get(key);
    if (t) clearTimeout(t);
    this.retryTimers.delete(key);
  }

  // ---- outgoing -------------------------------------------------------------

  /**
   * Queue a chat message; it is sent now if connected, else after the next welcome.
   * A shopper omits conversationId for the first message (it opens a conversation).
   */
  send(text: string, conversationId?: string): OutboxEntry {
    const entry: OutboxEntry = {
      client_msg_id: newClientMsgId(),
      conversation_id: conversationId,
      text,
      created_ts: this.opts.now(),
      attempts: 0,
    };
    this.outbox.add(entry);
    this.transmit(entry);
    return entry;
  }

  /** Give up on an unacked send (the UI's "discard"). */
  discard(clientMsgId: string): void {
    this.clearRetry(clientMsgId);
    this.outbox.remove(clientMsgId);
  }

  private transmit(entry: OutboxEntry): void {
    if (this._state !== 'connected') return;
    if (!this.outbox.get(entry.client_msg_id)) return;
    if (this.sentThisConnection.has(entry.client_msg_id)) return;
    if (this.retryTimers.has(entry.client_msg_id)) return;
    if (!entry.conversation_id) {
      // Only one conversation-opening send on the wire at a time, so that two quick
      // first messages do not open two conversations.
      if (this.convlessInFlight && this.convlessInFlight !== entry.client_msg_id) return;
      this.convlessInFlight = entry.client_msg_id;
    }
    const frame: Record<string, unknown> = { type: 'chat.send', client_msg_id: entry.client_msg_id, text: entry.text };
    if (entry.conversation_id) frame.conversation_id = entry.conversation_id;
    // Book-keeping before the send: the answer may be handled re-entrantly.
    this.sentThisConnection.add(entry.client_msg_id);
    this.sentAt.set(entry.client_msg_id, this.opts.now());
    this.outbox.update(entry.client_msg_id, { attempts: entry.attempts + 1 });
    if (!this.transport.send(frame)) {
      this.sentThisConnection.delete(entry.client_msg_id);
      if (this.convlessInFlight === entry.client_msg_id) this.convlessInFlight = null;
    }
  }

  /** Put again on the wire the unacked entries that match (same client_msg_id: idempotent). */
  private resendUnacked(which: (sentAt: number) => boolean): void {
    if (!this.connected) return;
    for (const e of this.outbox.list()) {
      const at = this.sentAt.get(e.client_msg_id);
      if (at === undefined || !which(at)) continue;
      this.sentThisConnection.delete(e.client_msg_id);
      this.sentAt.delete(e.client_msg_id);
    }
    this.flushOutbox();
  }

  /**
   * A send with neither ack nor error for too long was lost somewhere: send it again.
   * After MAX_ACK_TIMEOUTS such resends on live connections it is reported as failed
   * (e.g. an over-size frame whose too_large error carried no ref), not resent forever.
   */
  private resendOverdue(): void {
    const limit = this.opts.now() - this.opts.ackTimeoutMs;
    for (const e of [...this.outbox.list()]) {
      const at = this.sentAt.get(e.client_msg_id);
      if (at === undefined || at >= limit) continue;
      const n = (this.ackTimeouts.get(e.client_msg_id) ?? 0) + 1;
      this.ackTimeouts.set(e.client_msg_id, n);
      if (n > CalmaClient.MAX_ACK_TIMEOUTS) {
        this.ackTimeouts.delete(e.client_msg_id);
        this.sentAt.delete(e.client_msg_id);
        this.sentThisConnection.delete(e.client_msg_id);
        if (this.convlessInFlight === e.client_msg_id) this.convlessInFlight = null;
        this.outbox.remove(e.client_msg_id);
        this.emit('sendFailed', { entry: e, code: 'timeout', message: 'no answer from the server' });
      }
    }
    this.resendUnacked((at) => at < limit);
  }

  static readonly MAX_ACK_TIMEOUTS = 4;

  private flushOutbox(): void {
    for (const e of [...this.outbox.list()]) this.transmit(e);
  }

  /** Ask the messages after `afterSeq` (default: the last contiguous seq seen). */
  requestHistory(conversationId: string, afterSeq?: number): void {
    const c = this.track(conversationId);
    if (!this.connected) return; // done on the next welcome
    if (afterSeq === undefined) {
      if (c.historyInFlight) return;
      afterSeq = c.lastSeq;
    }
    c.historyInFlight = true;
    this.transport.send({ type: 'history', conversation_id: conversationId, after_seq: afterSeq });
  }

  /** Start following a conversation: fetch what is missing now and after every reconnect. */
  follow(conversationId: string): void {
    this.requestHistory(conversationId);
  }

  /** Forget a conversation (e.g. transferred away). */
  unfollow(conversationId: string): void {
    this.convs.delete(conversationId);
  }

  lastSeq(conversationId: string): number {
    return this.convs.get(conversationId)?.lastSeq ?? 0;
  }

  /** Send any other client frame (typing, read, close, presence.set, ...). False when offline. */
  sendFrame(frame: { type: string; [k: string]: unknown }): boolean {
    if (!this.connected) return false;
    return this.transport.send(frame);
  }
}

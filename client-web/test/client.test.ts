import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CalmaClient, type ClientOptions } from '../src/protocol/client';
import { backoffDelay } from '../src/protocol/backoff';
import { CloseCode, ErrorCode, isRetryable } from '../src/protocol/codes';
import { MemoryStorage } from '../src/protocol/storage';
import { newClientMsgId } from '../src/protocol/ids';
import { wsUrlFor } from '../src/protocol/index';
import type { ChatMessage } from '../src/protocol/types';
import { FakeServer } from './fake-server';

let server: FakeServer;
let storage: MemoryStorage;

function makeClient(extra: Partial<ClientOptions> = {}) {
  const c = new CalmaClient({
    url: 'ws://test/ws',
    hello: () => ({ type: 'hello', role: 'shopper', store: 'demo' }),
    createSocket: server.factory,
    storage,
    outboxKey: 'outbox',
    minReconnectMs: 100,
    maxReconnectMs: 1000,
    random: () => 0.5,
    ...extra,
  });
  const messages: ChatMessage[] = [];
  const acks: ChatMessage[] = [];
  c.on('message', (m) => messages.push(m));
  c.on('history', (h) => messages.push(...h.messages));
  c.on('ack', (a) => acks.push(a.message));
  return { c, messages, acks };
}

const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

beforeEach(() => {
  vi.useFakeTimers();
  server = new FakeServer();
  storage = new MemoryStorage();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('connection', () => {
  it('sends hello first and becomes connected on welcome', async () => {
    const { c } = makeClient();
    const states: string[] = [];
    c.on('state', (s) => states.push(s));
    c.connect();
    await tick(1);
    expect(server.log[0]).toEqual({ type: 'hello', role: 'shopper', store: 'demo' });
    expect(c.state).toBe('connected');
    expect(c.userId).toBe('shopper-1');
    expect(states).toEqual(['connecting', 'authenticating', 'connected']);
  });

  it('reconnects after a drop and uses the hello provider again', async () => {
    let token: string | undefined;
    const { c } = makeClient({
      hello: () => (token ? { type: 'hello', role: 'shopper', token } : { type: 'hello', role: 'shopper', store: 'demo' }),
    });
    c.on('welcome', (w) => (token = w.token));
    c.connect();
    await tick(1);
    server.dropAll();
    await tick(1);
    expect(c.state).toBe('disconnected');
    await tick(1000);
    expect(c.state).toBe('connected');
    expect(server.connects).toBe(2);
    const hellos = server.log.filter((f) => f.type === 'hello');
    expect(hellos[1]).toEqual({ type: 'hello', role: 'shopper', token: 'tok' });
  });

  it('does not reconnect on 4401 and reports authFailed', async () => {
    const { c } = makeClient();
    const failed = vi.fn();
    c.on('authFailed', failed);
    c.connect();
    await tick(1);
    server.current!.serverClose(CloseCode.Unauthorized, 'bad token');
    await tick(60000);
    expect(failed).toHaveBeenCalledOnce();
    expect(server.connects).toBe(1);
    c.reconnectNow();
    await tick(1);
    expect(c.state).toBe('connected');
  });

  it('backs off at least 5 s after a 4429 flood close', async () => {
    const { c } = makeClient();
    const closed: (number | null)[] = [];
    c.on('closed', (e) => closed.push(e.willRetryInMs));
    c.connect();
    await tick(1);
    server.current!.serverClose(CloseCode.Flood);
    await tick(1);
    expect(closed[0]).toBeGreaterThanOrEqual(5000);
    await tick(4000);
    expect(server.connects).toBe(1);
    await tick(1100);
    expect(server.connects).toBe(2);
  });

  it('comes back within 2 s when a cluster asks it to (1012, 1013), however long the backoff has grown', async () => {
    // random() = 1: every delay is its backoff's cap, so the growth shows.
    const { c } = makeClient({ maxReconnectMs: 60000, random: () => 0.999 });
    const delays: number[] = [];
    c.on('closed', (e) => delays.push(e.willRetryInMs!));
    server.closeOnHello = CloseCode.TryAgainLater;  // a cluster with no leader yet
    c.connect();
    await tick(12000);
    expect(delays.length).toBeGreaterThan(5);
    expect(Math.max(...delays)).toBeLessThanOrEqual(2000);
    server.closeOnHello = 0;
    await tick(2100);
    expect(c.state).toBe('connected');
    // Another drop keeps the growing backoff: refused connections, no close code.
    const before = delays.length;
    server.down = true;
    server.current!.serverClose(1006);
    await tick(30000);
    expect(Math.max(...delays.slice(before))).toBeGreaterThan(2000);
  });

  it('keeps retrying while the server is down, with growing delays', async () => {
    const { c } = makeClient();
    const delays: number[] = [];
    c.on('closed', (e) => delays.push(e.willRetryInMs!));
    server.down = true;
    c.connect();
    await tick(10000);
    expect(delays.length).toBeGreaterThan(4);
    expect(delays[1]).toBeGreaterThan(delays[0]);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1000);
    server.down = false;
    await tick(2000);
    expect(c.state).toBe('connected');
  });

  it('pings every interval so the server does not close it as idle, and drops a dead link', async () => {
    const { c } = makeClient({ pingIntervalMs: 25000 });
    c.connect();
    await tick(1);
    await tick(25000);
    expect(server.log.filter((f) => f.type === 'ping')).toHaveLength(1);
    await tick(50000);
    expect(server.log.filter((f) => f.type === 'ping')).toHaveLength(3);
    expect(c.state).toBe('connected');
    // Server stops answering entirely (half-open TCP): the client must notice.
    const sock = server.current!;
    sock.push = () => {};
    server.receive = () => {};
    await tick(25000 * 3 + 1000);
    expect(server.connects).toBeGreaterThan(1);
  });

  it('gives up a connection with no welcome', async () => {
    const { c } = makeClient({ helloTimeoutMs: 3000 });
    server.receive = () => {};
    c.connect();
    await tick(3001);
    expect(c.state).toBe('disconnected');
  });
});

describe('outbox', () => {
  it('keeps an unacked send and resends it after reconnect with the same client_msg_id', async () => {
    const { c, acks } = makeClient();
    c.connect();
    await tick(1);
    // The frame is lost on the way (connection dies before the server reads it).
    const orig = server.receive.bind(server);
    server.receive = (s, f) => (f.type === 'chat.send' ? undefined : orig(s, f));
    const e = c.send('hola');
    expect(c.outbox.size).toBe(1);
    expect(storage.getItem('outbox')).toContain(e.client_msg_id);
    server.dropAll();
    server.receive = orig;
    await tick(2000);
    expect(c.state).toBe('connected');
    const sends = server.log.filter((f) => f.type === 'chat.send');
    expect(sends).toHaveLength(1);
    expect(sends[0].client_msg_id).toBe(e.client_msg_id);
    expect(c.outbox.size).toBe(0);
    expect(server.convs.get('c1')).toHaveLength(1);
    expect(acks).toHaveLength(1);
    expect(acks[0].seq).toBe(1);
  });

  it('a resend of a message that was stored but not acked is stored once and acked with the same seq', async () => {
    const { c, acks, messages } = makeClient({ syncWelcomeConversations: false });
    c.connect();
    await tick(1);
    c.send('hola');
    await tick(1);
    server.dropAcks = true;
    const e = c.send('otra vez', 'c1');
    server.dropAll();
    server.dropAcks = false;
    // History is answered empty so that only the resend settles the entry.
    const orig = server.receive.bind(server);
    server.receive = (s, f) => (f.type === 'history' ? s.push({ type: 'history', conversation_id: f.conversation_id, messages: [] }) : orig(s, f));
    await tick(2000);
    const sends = server.log.filter((f) => f.type === 'chat.send' && f.client_msg_id === e.client_msg_id);
    expect(sends).toHaveLength(2);
    expect(server.convs.get('c1')).toHaveLength(2);
    expect(acks.map((a) => a.seq)).toEqual([1, 2]);
    expect(messages).toHaveLength(0);
    expect(c.outbox.size).toBe(0);
  });

  it('queues sends made while offline and sends them in order on welcome', async () => {
    const { c } = makeClient();
    c.send('uno');
    c.send('dos');
    c.send('tres');
    expect(server.log).toHaveLength(0);
    c.connect();
    await tick(5);
    const texts = server.convs.get('c1')!.map((m) => m.text);
    expect(texts).toEqual(['uno', 'dos', 'tres']);
    expect(server.convs.size).toBe(1); // one conversation, not three
    expect(c.outbox.size).toBe(0);
  });

  it('survives a page reload through storage', async () => {
    const a = makeClient();
    a.c.send('sin conexión');
    a.c.stop();
    const b = makeClient();
    expect(b.c.outbox.size).toBe(1);
    b.c.connect();
    await tick(5);
    expect(server.convs.get('c1')![0].text).toBe('sin conexión');
    expect(storage.getItem('outbox')).toBeNull();
  });

  it('holds later first-messages until the conversation exists', async () => {
    const { c } = makeClient();
    c.connect();
    await tick(1);
    server.dropAcks = true;
    c.send('a');
    c.send('b');
    expect(server.log.filter((f) => f.type === 'chat.send')).toHaveLength(1);
    server.dropAcks = false;
    server.dropAll();
    await tick(2000);
    const sends = server.log.filter((f) => f.type === 'chat.send');
    expect(sends.at(-1)).toMatchObject({ text: 'b', conversation_id: 'c1' });
    expect(server.convs.get('c1')!.map((m) => m.text)).toEqual(['a', 'b']);
  });

  it('retries a send answered with unavailable, and fails one answered with too_large', async () => {
    const { c, acks } = makeClient();
    const retries = vi.fn();
    const failed = vi.fn();
    c.on('sendRetry', retries);
    c.on('sendFailed', failed);
    c.connect();
    await tick(1);
    server.unavailableCount = 2;
    c.send('hola');
    await tick(1);
    expect(retries).toHaveBeenCalledTimes(1);
    expect(retries.mock.calls[0][0].code).toBe(ErrorCode.Unavailable);
    expect(c.outbox.size).toBe(1);
    await tick(60000);
    expect(acks).toHaveLength(1);
    expect(c.outbox.size).toBe(0);

    const orig = server.receive.bind(server);
    server.receive = (s, f) => {
      if (f.type === 'chat.send') s.push({ type: 'error', code: 'too_large', ref: f.client_msg_id });
      else orig(s, f);
    };
    c.send('x'.repeat(20000), 'c1');
    await tick(1);
    expect(failed).toHaveBeenCalledOnce();
    expect(failed.mock.calls[0][0].code).toBe('too_large');
    expect(c.outbox.size).toBe(0);
  });

  it('a second welcome on the open connection (a cluster failover) resends the outbox and catches up once', async () => {
    const { c, messages, acks } = makeClient();
    const welcomes = vi.fn();
    c.on('welcome', welcomes);
    c.connect();
    await tick(1);
    c.send('hola');
    await tick(1);
    expect(acks).toHaveLength(1); // c1 seq 1
    server.agentSays('c1', 'buenas'); // seq 2, live
    await tick(1);
    expect(messages.map((m) => m.seq)).toEqual([2]);
    // The leader dies: a send reaches nobody (no answer), another is answered
    // unavailable (retry pending), and the agent writes meanwhile (not live).
    server.dropAcks = true;
    c.send('¿sigue ahí?', 'c1'); // stored as seq 3, never acked
    server.dropAcks = false;
    server.unavailableCount = 1;
    c.send('¿hola?', 'c1'); // not stored: retry in >= 1 s
    await tick(1);
    server.agentSays('c1', 'sí, aquí', false); // seq 4, missed
    const sock = server.current!;
    const before = server.log.length;
    // The node said hello again for us: the new leader's welcome, same socket.
    server.receive(sock, { type: 'hello' });
    await tick(1);
    expect(server.connects).toBe(1);
    expect(c.state).toBe('connected');
    expect(welcomes).toHaveBeenCalledTimes(2);
    const after = server.log.slice(before + 1);
    // History after the last seq seen (its echo of our stored send settles that
    // one), and the send that was answered unavailable again at once, same id.
    expect(after.filter((f) => f.type === 'chat.send').map((f) => f.text)).toEqual(['¿hola?']);
    expect(after.find((f) => f.type === 'history')).toMatchObject({ conversation_id: 'c1', after_seq: 2 });
    expect(c.outbox.size).toBe(0);
    expect(acks.map((m) => m.seq)).toEqual([1, 3, 5]);
    // Each message once: the agent's missed one from history, our own not shown as someone else's.
    expect(messages.map((m) => m.seq)).toEqual([2, 4]);
    expect(server.convs.get('c1')!.map((m) => m.text)).toEqual(['hola', 'buenas', '¿sigue ahí?', 'sí, aquí', '¿hola?']);
    // One ping timer, not two.
    const pings = server.log.length;
    await tick(25000);
    expect(server.log.slice(pings).filter((f) => f.type === 'ping')).toHaveLength(1);
  });

  it('reports errors not tied to a send', async () => {
    const { c } = makeClient();
    const errs = vi.fn();
    c.on('serverError', errs);
    c.connect();
    await tick(1);
    server.current!.push({ type: 'error', code: 'forbidden', message: 'no', ref: 'conversation.close' });
    expect(errs).toHaveBeenCalledWith(expect.objectContaining({ code: 'forbidden' }));
    expect(c.state).toBe('connected');
  });
});

describe('history and de-duplication', () => {
  it('asks history with the last seq seen after every reconnect', async () => {
    const { c, messages } = makeClient();
    c.connect();
    await tick(1);
    c.send('hola');
    await tick(1);
    server.agentSays('c1', '¿En qué puedo ayudarle?');
    expect(messages.map((m) => m.seq)).toEqual([2]);
    server.dropAll();
    await tick(1);
    // While offline the agent writes twice.
    server.agentSays('c1', 'uno', false);
    server.agentSays('c1', 'dos', false);
    await tick(2000);
    const hist = server.log.filter((f) => f.type === 'history');
    expect(hist.at(-1)).toEqual({ type: 'history', conversation_id: 'c1', after_seq: 2 });
    expect(messages.map((m) => m.text)).toEqual(['¿En qué puedo ayudarle?', 'uno', 'dos']);
    expect(c.lastSeq('c1')).toBe(4);
  });

  it('never delivers the same (conversation_id, seq) twice', async () => {
    const { c, messages } = makeClient();
    c.connect();
    await tick(1);
    const conv = server.conversation();
    const m = server.agentSays(conv, 'hola');
    server.current!.push({ type: 'chat.message', ...m });
    server.current!.push({ type: 'history', conversation_id: conv, messages: [{ type: 'chat.message', ...m }] });
    c.requestHistory(conv, 0);
    await tick(1);
    expect(messages).toHaveLength(1);
  });

  it('a history that contains our own unacked message settles it as acked, not as a new message', async () => {
    const { c, messages, acks } = makeClient();
    c.connect();
    await tick(1);
    c.send('primero');
    await tick(1);
    server.dropAcks = true;
    c.send('segundo', 'c1');
    server.dropAll();
    await tick(1);
    server.receive = ((orig) => (s, f) => {
      // After reconnect: the history comes before the resend is acked.
      if (f.type === 'chat.send') return;
      orig(s, f);
    })(server.receive.bind(server));
    await tick(2000);
    expect(acks.map((a) => a.text)).toEqual(['primero', 'segundo']);
    expect(messages).toHaveLength(0);
    expect(c.outbox.size).toBe(0);
  });

  it('follows more:true until the history is complete', async () => {
    const { c, messages } = makeClient();
    const conv = server.conversation();
    for (let i = 0; i < 7; i++) server.agentSays(conv, `m${i}`, false);
    server.historyPage = 3;
    c.connect();
    await tick(5);
    expect(messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const afters = server.log.filter((f) => f.type === 'history').map((f) => f.after_seq);
    expect(afters).toEqual([0, 3, 6]);
  });

  it('asks history when a live message reveals a gap', async () => {
    const { c, messages } = makeClient();
    c.connect();
    await tick(1);
    const conv = server.conversation();
    c.requestHistory(conv, 0);
    server.agentSays(conv, 'lost', false);
    server.agentSays(conv, 'live');
    await tick(1);
    expect(messages.map((m) => m.text)).toEqual(['live', 'lost']);
    expect(c.lastSeq(conv)).toBe(2);
  });
});

describe('helpers', () => {
  it('full-jitter backoff stays within [min/2, min(max, min*2^n)]', () => {
    for (let n = 0; n < 20; n++) {
      const cap = Math.min(20000, 500 * 2 ** n);
      expect(backoffDelay(n, { minMs: 500, maxMs: 20000, random: () => 0 })).toBe(250);
      expect(backoffDelay(n, { minMs: 500, maxMs: 20000, random: () => 0.999999 })).toBeLessThanOrEqual(cap);
      expect(backoffDelay(n, { minMs: 500, maxMs: 20000, random: () => 0.999999 })).toBeGreaterThan(cap - 2);
    }
    const samples = Array.from({ length: 200 }, () => backoffDelay(10, { minMs: 500, maxMs: 20000 }));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(250);
    expect(Math.max(...samples)).toBeLessThanOrEqual(20000);
    expect(new Set(samples).size).toBeGreaterThan(50); // jittered, not constant
  });

  it('codes mirror the protocol', () => {
    expect(Object.values(ErrorCode).sort()).toEqual(
      ['bad_request', 'forbidden', 'not_found', 'rate_limited', 'too_large', 'unauthorized', 'unavailable'],
    );
    expect([CloseCode.ProtocolViolation, CloseCode.Unauthorized, CloseCode.Idle, CloseCode.Flood]).toEqual([4400, 4401, 4408, 4429]);
    expect(isRetryable('unavailable')).toBe(true);
    expect(isRetryable('bad_request')).toBe(false);
  });

  it('client_msg_id is unique and UUID-shaped, also without randomUUID', () => {
    const ids = new Set(Array.from({ length: 1000 }, newClientMsgId));
    expect(ids.size).toBe(1000);
    // An insecure context (no randomUUID), and no Web Crypto at all (Node 18 without flags).
    const shape = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    try {
      vi.stubGlobal('crypto', { getRandomValues: (a: Uint8Array) => a.fill(7) });
      expect(newClientMsgId()).toMatch(shape);
      vi.stubGlobal('crypto', undefined);
      expect(newClientMsgId()).toMatch(shape);
      expect(newClientMsgId()).not.toBe(newClientMsgId());
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('derives the ws URL from an origin', () => {
    expect(wsUrlFor('http://localhost:8080')).toBe('ws://localhost:8080/ws');
    expect(wsUrlFor('https://chat.example.com/widget.js')).toBe('wss://chat.example.com/ws');
  });
});

describe('history errors', () => {
  it('a failed history request does not block later ones, and unavailable is retried', async () => {
    const { c, messages } = makeClient({ syncWelcomeConversations: false });
    c.connect();
    await tick(1);
    const conv = server.conversation();
    server.agentSays(conv, 'hola', false);
    const orig = server.receive.bind(server);
    let fail = 1;
    server.receive = (s, f) => {
      if (f.type === 'history' && fail > 0) {
        fail--;
        s.push({ type: 'error', code: 'unavailable', message: 'store down', ref: 'history' });
        return;
      }
      orig(s, f);
    };
    c.follow(conv);
    await tick(1);
    expect(messages).toHaveLength(0);
    await tick(31000);
    expect(messages.map((m) => m.text)).toEqual(['hola']);
  });
});

describe('lost and throttled sends', () => {
  it('rate_limited without a ref: the unacked sends are resent later and acked once', async () => {
    const { c, acks } = makeClient();
    c.connect();
    await tick(1);
    c.send('uno');
    await tick(1);
    const orig = server.receive.bind(server);
    // Both later sends are refused once; they come back in their original order.
    // (Under a sustained flood order could still invert: a human does not type that fast.)
    let limited = 2;
    server.receive = (s, f) => {
      if (f.type === 'chat.send' && limited > 0) {
        limited--;
        s.push({ type: 'error', code: 'rate_limited', message: 'too many frames; slow down' });
        return;
      }
      orig(s, f);
    };
    c.send('dos', 'c1');
    c.send('tres', 'c1');
    await tick(1);
    expect(c.outbox.size).toBe(2);
    await tick(60000);
    expect(c.outbox.size).toBe(0);
    expect(acks.map((a) => a.text)).toEqual(['uno', 'dos', 'tres']);
    expect(server.convs.get('c1')!.map((m) => m.text)).toEqual(['uno', 'dos', 'tres']);
  });

  it('a send with neither ack nor error is resent after the ack timeout', async () => {
    const { c, acks } = makeClient({ ackTimeoutMs: 15000 });
    c.connect();
    await tick(1);
    const orig = server.receive.bind(server);
    let drop = 1;
    let sends = 0;
    server.receive = (s, f) => {
      if (f.type === 'chat.send') sends++;
      if (f.type === 'chat.send' && drop > 0) {
        drop--;
        return; // silently lost
      }
      orig(s, f);
    };
    const e = c.send('¿hola?');
    await tick(10000);
    expect(acks).toHaveLength(0);
    await tick(11000);
    expect(acks).toHaveLength(1);
    expect(sends).toBe(2);
    expect(server.log.filter((f) => f.type === 'chat.send')[0].client_msg_id).toBe(e.client_msg_id);
  });
});

describe('give up', () => {
  it('a send that never gets any answer is reported failed after a few ack timeouts, not resent forever', async () => {
    const { c } = makeClient({ ackTimeoutMs: 15000 });
    const failed = vi.fn();
    c.on('sendFailed', failed);
    c.connect();
    await tick(1);
    let sends = 0;
    const orig = server.receive.bind(server);
    server.receive = (s, f) => (f.type === 'chat.send' ? void sends++ : orig(s, f));
    c.send('x');
    await tick(200000);
    expect(failed).toHaveBeenCalledOnce();
    expect(failed.mock.calls[0][0].code).toBe('timeout');
    expect(sends).toBe(1 + CalmaClient.MAX_ACK_TIMEOUTS);
    expect(c.outbox.size).toBe(0);
  });
});

#!/usr/bin/env node
// Soak: connection churn and chat on both shipped stores (demo, demo-pl) for a
// long while against a real calma-server, sampling the server's RSS and open
// file descriptors from /proc every 10 s. It passes when, after the warm-up,
// both end within 10% of where they were (medians of the first and the last
// minute after the warm-up), and chat kept working (under 2% of the shopper
// sessions failed). It prints the curve. A program, not a ctest test: see
// tests/soak/README.md.
//
//   node tests/soak/soak.mjs --server build/server/calma-server [--redis] [--minutes 30] [--warmup 5]
//   node tests/soak/soak.mjs --url http://127.0.0.1:8080 --pid PID      (a server already running)
//
// What runs (all on raw WebSockets, tests/e2e/ws.mjs):
//  - `--shoppers` lanes (default 12), each a loop of shopper sessions: a new shopper of demo
//    or demo-pl (Spanish or Polish, a VIP context now and then, from one of 127.0.0.2-254)
//    says hello, writes 2-4 messages (calm or angry) and waits for each ack and the agent's
//    answer; 15% drop the connection mid-way and come back with their token and `history`;
//    then the agent closes and they rate it (csat), or they close it, or they just leave.
//    A store that is closed (demo-pl outside its hours) gets an offline contact instead.
//  - the demo agents `agent` and `agent2` answer every shopper message and close after three
//    answers (or 20 s of silence); they reconnect every ~2-3 min and log in again every 10 min.
//  - the supervisor acks and resolves every escalation, reconnects every ~5 min, and every
//    30 s reads the report summary, a conversation, the follow-ups, /metrics and /healthz.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { connectWs } from '../e2e/ws.mjs';
import { repoRoot, startServer } from '../e2e/lib.mjs';

// ---- arguments ----------------------------------------------------------------

function parseArgs(argv) {
  const o = { server: '', url: '', pid: 0, redis: false, redisUrl: '', minutes: 30, warmup: 5, interval: 10,
              shoppers: 12, tolerance: 0.1, seed: Date.now() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--server') o.server = v();
    else if (a === '--url') o.url = v();
    else if (a === '--pid') o.pid = Number(v());
    else if (a === '--redis') o.redis = true;
    else if (a === '--redis-url') o.redisUrl = v();
    else if (a === '--minutes') o.minutes = Number(v());
    else if (a === '--warmup') o.warmup = Number(v());
    else if (a === '--interval') o.interval = Number(v());
    else if (a === '--shoppers') o.shoppers = Number(v());
    else if (a === '--tolerance') o.tolerance = Number(v());
    else if (a === '--seed') o.seed = Number(v());
    else if (a === '--help' || a === '-h') {
      console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1, 24).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
      process.exit(0);
    } else {
      console.error(`soak: unknown argument ${a} (--help)`);
      process.exit(2);
    }
  }
  if (!o.server && !(o.url && o.pid)) {
    console.error('soak: give --server PATH (it starts one), or --url URL --pid PID (one already running)');
    process.exit(2);
  }
  if (!(o.warmup >= 0 && o.minutes > o.warmup + 2)) {
    console.error('soak: --minutes must exceed --warmup by more than 2 (a minute to compare at each end)');
    process.exit(2);
  }
  return o;
}

const opt = parseArgs(process.argv.slice(2));

// A small seeded PRNG, so a run's choices can be repeated (--seed).
let rngState = opt.seed >>> 0 || 1;
function rnd() {
  rngState ^= rngState << 13;
  rngState ^= rngState >>> 17;
  rngState ^= rngState << 5;
  return (rngState >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
const chance = (p) => rnd() < p;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const between = (a, b) => a + Math.floor(rnd() * (b - a));

// ---- what people say -------------------------------------------------------------

const WORDS = {
  es: {
    calm: ['Hola, ¿cuándo llega mi pedido?', '¿Puedo cambiar la talla de las zapatillas?', 'Gracias, espero noticias.',
           '¿Hacéis envíos a Canarias?', 'Mi pedido es el A-1042, ¿me ayudas?'],
    angry: ['ESTO ES UNA VERGÜENZA!!! quiero hablar con el gerente', 'Llevo dos semanas esperando, es la tercera vez que escribo',
            'Sois unos inútiles, voy a poner una reseña de una estrella', 'Quiero mi dinero YA o voy a denunciaros'],
    agent: ['Lo siento mucho, lo reviso ahora mismo.', 'Entiendo tu frustración, ya he pedido el reembolso.',
            'Tu pedido sale hoy, te envío el seguimiento.'],
  },
  pl: {
    calm: ['Dzień dobry, kiedy dotrze moja paczka?', 'Czy mogę zmienić adres dostawy?', 'Dziękuję, czekam na informację.',
           'Zamówienie A-1042, proszę o pomoc.'],
    angry: ['TO SKANDAL!!! chcę rozmawiać z kierownikiem', 'Paczka nie dotarła już trzeci raz, złożę reklamację',
            'Jesteście beznadziejni, wystawię opinię jedna gwiazdka', 'Oddajcie pieniądze albo idę do sądu'],
    agent: ['Bardzo przepraszam, już sprawdzam.', 'Rozumiem, zwrot jest już zlecony.', 'Paczka wyjdzie dziś, wyślę numer.'],
  },
};

// ---- the server, Redis, /proc ------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`redis-server did not start:\n${log}`)), 10000);
    const on = (d) => {
      log += d;
      if (/Ready to accept connections/.test(log)) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('error', (e) => reject(new Error(`cannot run redis-server: ${e.message}`)));
    child.on('exit', (c) => reject(new Error(`redis-server exited (${c}):\n${log}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

function sample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  const threads = Number(/Threads:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  return { rssKb, fds, threads };
}

// ---- tallies -----------------------------------------------------------------------

const stats = {
  sessions: 0, sessions_ok: 0, sessions_failed: 0, connects: 0, resumes: 0, offline_contacts: 0,
  sent: 0, acked: 0, answers: 0, closed_by_agent: 0, closed_by_shopper: 0, left: 0, csat: 0,
  agent_replies: 0, agent_closes: 0, agent_reconnects: 0, logins: 0, escalations: 0, escalations_resolved: 0, followups_done: 0,
  http: 0, http_failed: 0,
};
const failures = new Map();  // reason -> count
function failed(why) {
  const k = String(why).replace(/[0-9a-f]{8,}|\d+/g, '#').slice(0, 120);
  failures.set(k, (failures.get(k) || 0) + 1);
}

let stopping = false;
let base = '';   // http://127.0.0.1:PORT
let wsUrl = '';
let origin = '';
const recentConversations = [];

async function http(pathname, { method = 'GET', token, body } = {}) {
  stats.http++;
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  try {
    const res = await fetch(base + pathname, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                                               signal: AbortSignal.timeout(15000) });
    const text = await res.text();
    if (res.status >= 500) {
      stats.http_failed++;
      failed(`HTTP ${res.status} ${pathname.split('?')[0]}`);
    }
    return { status: res.status, text };
  } catch (e) {
    stats.http_failed++;
    failed(`HTTP ${pathname.split('?')[0]}: ${e.message}`);
    return { status: 0, text: '' };
  }
}

async function login(username) {
  const r = await http('/api/v1/login', { method: 'POST', body: { username, password: username } });
  if (r.status !== 200) throw new Error(`login ${username}: HTTP ${r.status} ${r.text}`);
  stats.logins++;
  return JSON.parse(r.text).token;
}

// ---- shoppers ------------------------------------------------------------------------

let addressCursor = 0;
function nextAddress() {
  addressCursor = (addressCursor % 253) + 1;
  return `127.0.0.${addressCursor + 1}`;  // 127.0.0.2 .. 127.0.0.254
}

const sockets = new Set();  // every client connection, cut when the load stops
function track(ws) {
  sockets.add(ws);
  ws.socket.on('close', () => sockets.delete(ws));
  return ws;
}

async function shopperConnect(localAddress) {
  stats.connects++;
  return track(await connectWs(wsUrl, { origin, localAddress, timeout: 10000 }));
}

async function shopperSession(lane, n) {
  const store = chance(0.5) ? 'demo' : 'demo-pl';
  const lang = store === 'demo' ? 'es' : 'pl';
  const words = WORDS[lang];
  const id = `l${lane}n${n}`;
  const addr = nextAddress();
  let ws = await shopperConnect(addr);
  const hello = { type: 'hello', role: 'shopper', store, name: `Soak ${id}`, language: lang };
  if (store === 'demo-pl' && chance(0.3)) hello.context = { order_id: `A-${n}`, order_value: between(100, 2000), currency: 'PLN' };
  try {
    ws.send(hello);
    const welcome = await ws.next((f) => f.type === 'welcome', 10000, 'welcome');
    const token = welcome.token;
    let conv = null;
    let lastSeq = 0;
    let closed = false;  // seen closed (a frame, or gone from welcome after a drop)
    let offline = false;
    const isClosed = (f) => f.type === 'conversation.closed' && f.conversation_id === conv;
    const angry = chance(0.35);
    const count = between(2, 5);
    for (let i = 0; i < count && !stopping; i++) {
      if (conv && (closed || ws.frames.some(isClosed))) {
        closed = true;
        break;
      }
      const cmid = `${id}-${i}`;
      const text = angry && i > 0 ? pick(words.angry) : pick(words.calm);
      ws.send(conv ? { type: 'chat.send', client_msg_id: cmid, text, conversation_id: conv } : { type: 'chat.send', client_msg_id: cmid, text });
      stats.sent++;
      const ack = await ws.next((f) => (f.type === 'ack' || f.type === 'error') && (f.client_msg_id === cmid || f.ref === cmid),
                                15000, `ack of ${cmid}`);
      if (ack.type === 'error') {
        // Only expected when the agent closed it a moment before this message.
        if (conv && ws.frames.some(isClosed)) {
          closed = true;
          break;
        }
        throw new Error(`chat.send refused: ${ack.code} ${ack.message}`);
      }
      stats.acked++;
      conv = ack.conversation_id;
      lastSeq = Math.max(lastSeq, ack.seq);
      if (i === 0) {
        recentConversations.push(conv);
        if (recentConversations.length > 50) recentConversations.shift();
        const q = await ws.next((f) => f.type === 'conversation.queued' || f.type === 'conversation.assigned', 15000, 'queued or assigned');
        if (q.type === 'conversation.queued' && q.offline) {
          // Outside the store's hours (or nobody of it online): leave a way to be reached.
          ws.send({ type: 'contact', conversation_id: conv, email: `${id}@example.pl`, note: 'soak' });
          await ws.next((f) => f.type === 'contact.saved', 10000, 'contact.saved');
          stats.offline_contacts++;
          offline = true;
          break;
        }
      }
      // The agent's answer to this message.
      const seqBefore = lastSeq;
      const answer = await ws.next((f) => (f.type === 'chat.message' && f.conversation_id === conv && f.from?.role !== 'shopper' &&
                                           f.seq > seqBefore) || isClosed(f), 30000, `an answer in ${conv}`);
      if (isClosed(answer)) {
        closed = true;
        break;
      }
      stats.answers++;
      lastSeq = Math.max(lastSeq, answer.seq);
      // Now and then the connection drops; the shopper comes back with its token and asks what it missed.
      if (chance(0.15)) {
        ws.socket.destroy();
        await sleep(between(200, 1500));
        ws = await shopperConnect(addr);
        ws.send({ type: 'hello', role: 'shopper', token });
        const again = await ws.next((f) => f.type === 'welcome', 10000, 'welcome after a drop');
        const mine = (again.conversations || []).find((c) => c.conversation_id === conv);
        ws.send({ type: 'history', conversation_id: conv, after_seq: lastSeq });
        const h = await ws.next((f) => f.type === 'history' && f.conversation_id === conv, 10000, 'history after a drop');
        for (const m of h.messages || []) lastSeq = Math.max(lastSeq, m.seq);
        if (!mine || mine.state === 'closed') closed = true;  // closed while away
        stats.resumes++;
      }
      await sleep(between(300, 1500));
    }
    if (conv && !offline && !stopping) {
      const r = rnd();
      if (closed || r < 0.6) {
        // The agent closes it (after three answers, or on silence): rate it.
        if (!closed) await ws.next(isClosed, 40000, `close of ${conv}`);
        stats.closed_by_agent++;
        ws.send({ type: 'csat', conversation_id: conv, score: angry ? between(1, 3) : between(4, 6), comment: angry ? 'mal' : 'bien' });
        await ws.next((f) => f.type === 'csat.saved', 10000, 'csat.saved');
        stats.csat++;
      } else if (r < 0.85) {
        ws.send({ type: 'conversation.close', conversation_id: conv, reason: 'ya está' });
        await ws.next(isClosed, 10000, `close of ${conv}`);
        stats.closed_by_shopper++;
      } else {
        stats.left++;  // just goes away; the agent closes it on silence
      }
    }
    stats.sessions_ok++;
  } finally {
    if (chance(0.5)) ws.close(1000);
    else ws.socket.destroy();
  }
}

async function shopperLane(lane) {
  for (let n = 0; !stopping; n++) {
    stats.sessions++;
    try {
      await shopperSession(lane, n);
    } catch (e) {
      if (stopping) return;
      stats.sessions_failed++;
      failed(e.message);
      await sleep(1000);
    }
    await sleep(between(100, 1000));
  }
}

// ---- staff ------------------------------------------------------------------------------

// A long-lived connection: frames are handled as they come and not kept.
async function staffConnection(token, onFrame) {
  const ws = track(await connectWs(wsUrl, { origin, timeout: 10000 }));
  const wake = ws.wake.bind(ws);
  ws.wake = () => {
    const frames = ws.frames.splice(0);
    for (const f of frames) {
      try {
        onFrame(ws, f);
      } catch (e) {
        failed(`staff frame ${f.type}: ${e.message}`);
      }
    }
    wake();
  };
  ws.send({ type: 'hello', token });
  return ws;
}

async function agentLoop(username) {
  let token = await login(username);
  let loggedAt = Date.now();
  const convs = new Map();  // id -> {replies, lastActivity, timer}
  let ws = null;
  let cmid = 0;
  const reply = (conv) => {
    const c = convs.get(conv);
    if (!c || !ws || ws.closed) return;
    const lang = c.lang === 'pl' ? 'pl' : 'es';
    ws.send({ type: 'chat.send', conversation_id: conv, client_msg_id: `${username}-${Date.now()}-${cmid++}`, text: pick(WORDS[lang].agent) });
    stats.agent_replies++;
    c.replies++;
    c.lastActivity = Date.now();
    if (c.replies >= 3) close(conv);
  };
  const close = (conv) => {
    if (!ws || ws.closed) return;
    ws.send({ type: 'conversation.close', conversation_id: conv, reason: 'resolved' });
    stats.agent_closes++;
    convs.delete(conv);
  };
  const onFrame = (sock, f) => {
    if (f.type === 'welcome') {
      sock.send({ type: 'presence.set', status: 'online', capacity: 20 });
      for (const s of f.conversations || []) {
        if (s.state !== 'assigned') continue;
        if (!convs.has(s.conversation_id)) convs.set(s.conversation_id, { replies: 0, lastActivity: Date.now(), lang: s.shopper?.language });
        // What came while it was away: answered below if the shopper spoke last.
        sock.send({ type: 'history', conversation_id: s.conversation_id, after_seq: 0 });
      }
    } else if (f.type === 'conversation.assigned' && f.agent?.id === username) {
      convs.set(f.conversation_id, { replies: 0, lastActivity: Date.now(), lang: f.shopper?.language });
    } else if (f.type === 'chat.message' && f.from?.role === 'shopper' && convs.has(f.conversation_id)) {
      const c = convs.get(f.conversation_id);
      c.lastActivity = Date.now();
      setTimeout(() => reply(f.conversation_id), between(200, 1200));
    } else if (f.type === 'history' && convs.has(f.conversation_id)) {
      // Assigned with messages already waiting: answer the last one if it is the shopper's.
      const last = (f.messages || []).at(-1);
      if (last && last.from?.role === 'shopper') setTimeout(() => reply(f.conversation_id), between(200, 1200));
    } else if (f.type === 'conversation.closed') {
      convs.delete(f.conversation_id);
    }
  };
  const silence = setInterval(() => {
    for (const [id, c] of convs) if (Date.now() - c.lastActivity > 20000) close(id);
  }, 5000);
  try {
    while (!stopping) {
      if (Date.now() - loggedAt > 10 * 60000) {
        token = await login(username);
        loggedAt = Date.now();
      }
      try {
        ws = await staffConnection(token, onFrame);
      } catch (e) {
        failed(`${username} connect: ${e.message}`);
        await sleep(2000);
        continue;
      }
      const until = Date.now() + between(120000, 180000);
      while (!stopping && !ws.closed && Date.now() < until) await sleep(500);
      if (ws.closed && !stopping) failed(`${username} closed by the server (${ws.closed.code})`);
      ws.close(1000);
      stats.agent_reconnects++;
      await sleep(between(200, 2000));  // within the disconnect grace: it keeps its conversations
    }
  } finally {
    clearInterval(silence);
    if (ws) ws.close(1000);
  }
}

async function supervisorLoop() {
  let token = await login('supervisor');
  const from = Date.now() - 3600000;
  let ws = null;
  const onFrame = (sock, f) => {
    if (f.type === 'escalation.raised' && !f.update) {
      stats.escalations++;
      setTimeout(() => sock.closed || sock.send({ type: 'escalation.ack', escalation_id: f.escalation_id }), 1000);
      setTimeout(() => {
        if (sock.closed) return;
        sock.send({ type: 'escalation.resolve', escalation_id: f.escalation_id, note: 'soak' });
        stats.escalations_resolved++;
      }, 3000);
    }
  };
  const reads = setInterval(async () => {
    if (stopping) return;
    await http(`/api/v1/reports/summary?from=${from}&to=${Date.now() + 60000}`, { token });
    if (recentConversations.length) await http(`/api/v1/conversations/${pick(recentConversations)}`, { token });
    // Offline contacts (demo-pl outside its hours): called back, done, closed.
    const fu = await http('/api/v1/followups', { token });
    if (fu.status === 200 && ws && !ws.closed) {
      for (const e of JSON.parse(fu.text).followups || []) {
        ws.send({ type: 'followup.done', conversation_id: e.conversation_id, note: 'soak: called back' });
        if (e.state !== 'closed') ws.send({ type: 'conversation.close', conversation_id: e.conversation_id, reason: 'called back' });
        stats.followups_done++;
      }
    }
    await http('/metrics');
    await http('/healthz');
    await http(chance(0.5) ? '/' : '/pl/');
  }, 30000);
  try {
    while (!stopping) {
      try {
        ws = await staffConnection(token, onFrame);
      } catch (e) {
        failed(`supervisor connect: ${e.message}`);
        await sleep(2000);
        continue;
      }
      const until = Date.now() + between(240000, 360000);
      while (!stopping && !ws.closed && Date.now() < until) await sleep(500);
      ws.close(1000);
      await sleep(500);
    }
  } finally {
    clearInterval(reads);
    if (ws) ws.close(1000);
  }
}

// ---- the run ------------------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const mb = (kb) => (kb / 1024).toFixed(1);

async function main() {
  let server = null;
  let redis = null;
  let pid = opt.pid;
  if (opt.server) {
    const args = ['--config', path.join(repoRoot, 'config', 'calma.json'), '--users', path.join(repoRoot, 'config', 'users.json')];
    if (opt.redis || opt.redisUrl) {
      const url = opt.redisUrl || (redis = await startRedis()).url;
      args.push('--redis', url);
    }
    server = await startServer(path.resolve(opt.server), args);
    pid = server.child.pid;
    base = server.url;
  } else {
    base = opt.url.replace(/\/$/, '');
  }
  const u = new URL(base);
  wsUrl = `ws://${u.host}/ws`;
  origin = `http://${u.host}`;
  const idle = sample(pid);
  console.log(`soak: ${base} (pid ${pid}, ${opt.redis || opt.redisUrl ? 'Redis store' : server ? 'memory store' : 'its own store'}); ` +
              `${opt.minutes} min, warm-up ${opt.warmup} min, ${opt.shoppers} shopper lanes, seed ${opt.seed}`);
  console.log(`idle: rss ${mb(idle.rssKb)} MB, ${idle.fds} fds, ${idle.threads} threads`);

  const t0 = Date.now();
  const samples = [];
  const workers = [agentLoop('agent'), agentLoop('agent2'), supervisorLoop()];
  await sleep(1000);  // staff online first
  for (let l = 0; l < opt.shoppers; l++) workers.push(shopperLane(l));

  console.log('   t(s)  rss(MB)  fds  thr  sessions  ok  failed  sent  acked  resumes  offline  escal  http');
  let serverGone = false;
  await new Promise((resolve) => {
    const tick = () => {
      const t = Math.round((Date.now() - t0) / 1000);
      let s;
      try {
        s = sample(pid);
      } catch {
        serverGone = true;
        console.log(`${String(t).padStart(7)}  the server is gone`);
        return resolve();
      }
      samples.push({ t, ...s });
      console.log(`${String(t).padStart(7)} ${mb(s.rssKb).padStart(8)} ${String(s.fds).padStart(4)} ${String(s.threads).padStart(4)}` +
                  ` ${String(stats.sessions).padStart(9)} ${String(stats.sessions_ok).padStart(5)} ${String(stats.sessions_failed).padStart(6)}` +
                  ` ${String(stats.sent).padStart(6)} ${String(stats.acked).padStart(6)} ${String(stats.resumes).padStart(8)}` +
                  ` ${String(stats.offline_contacts).padStart(8)} ${String(stats.escalations).padStart(6)} ${String(stats.http).padStart(5)}`);
      if (Date.now() - t0 >= opt.minutes * 60000) return resolve();
      setTimeout(tick, opt.interval * 1000);
    };
    setTimeout(tick, opt.interval * 1000);
  });
  stopping = true;
  await Promise.race([Promise.allSettled(workers), sleep(15000)]);
  for (const ws of sockets) ws.socket.destroy();  // what is still waiting for a frame
  await sleep(5000);
  let after = null;
  try {
    after = sample(pid);
  } catch {
    serverGone = true;
  }

  // The verdict: medians of the minute right after the warm-up and of the last minute.
  const perMinute = Math.max(1, Math.round(60 / opt.interval));
  const afterWarm = samples.filter((s) => s.t > opt.warmup * 60).slice(0, perMinute);
  const last = samples.slice(-perMinute);
  const verdicts = [];
  let pass = !serverGone && afterWarm.length > 0 && last.length > 0;
  for (const [key, label, fmt] of [['rssKb', 'RSS', (v) => `${mb(v)} MB`], ['fds', 'open fds', (v) => `${v}`]]) {
    const a = median(afterWarm.map((s) => s[key]));
    const b = median(last.map((s) => s[key]));
    const change = (b - a) / a;
    const ok = Math.abs(change) <= opt.tolerance;
    pass &&= ok;
    verdicts.push(`${label}: ${fmt(a)} after the warm-up -> ${fmt(b)} at the end (${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}%): ` +
                  `${ok ? 'within' : 'NOT within'} ${(opt.tolerance * 100).toFixed(0)}%`);
  }
  const failRate = stats.sessions ? stats.sessions_failed / stats.sessions : 1;
  const chatOk = failRate < 0.02 && stats.acked > 0;
  pass &&= chatOk;

  // The curve, one point a minute.
  console.log('\ncurve (one sample a minute):');
  console.log('  min  rss(MB)  fds');
  for (let i = 0; i < samples.length; i += perMinute) {
    const s = samples[i];
    const bar = '#'.repeat(Math.round(s.rssKb / 1024));
    console.log(`${String((s.t / 60).toFixed(0)).padStart(5)} ${mb(s.rssKb).padStart(8)} ${String(s.fds).padStart(4)}  ${bar}`);
  }
  console.log(`\ntotals: ${JSON.stringify(stats)}`);
  if (failures.size) {
    console.log('failures (by kind):');
    for (const [k, n] of [...failures].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${n} x ${k}`);
  }
  if (after) console.log(`after the load stopped (its connections cut, 5 s later): rss ${mb(after.rssKb)} MB, ${after.fds} fds (idle before the load: ${mb(idle.rssKb)} MB, ${idle.fds} fds)`);
  for (const v of verdicts) console.log(v);
  console.log(`shopper sessions: ${stats.sessions_failed} of ${stats.sessions} failed (${(failRate * 100).toFixed(2)}%): ${chatOk ? 'chat kept working' : 'TOO MANY FAILURES'}`);
  if (serverGone) console.log(`the server died; its last output:\n${server ? server.log().slice(-4000) : ''}`);
  console.log(pass ? 'PASS' : 'FAIL');

  if (server) await server.stop();
  if (redis) redis.stop();
  process.exit(pass ? 0 : 1);
}

main().catch((e) => {
  console.error(`soak: ${e.stack || e.message}`);
  process.exit(2);
});

// Repeated SIGKILLs of a cluster's leader with open conversations: for
// failover-kills.sh (which starts Redis and writes the users and config files).
//
// Spawns three calma-server nodes, opens SHOPPERS conversations (shoppers and
// AGENTS agents all on followers), then ROUNDS times: SIGKILLs the leader and
// has PROBES shoppers on the surviving nodes send a message at once, sending
// it again (same client_msg_id) when answered `unavailable`, when a new
// `welcome` arrives on their open connection, or after 3 s of silence, until
// acked. Prints p50/p99 of the time from the kill to each probe's ack, and how
// many connections of the surviving nodes were dropped (the goal: none). The
// killed leader's own clients drop (their process died): counted apart, then
// reconnected to a follower; the killed node is restarted before the next round.
//
// MODE (the fifth argument) says how the leader goes each round:
//   KILL  SIGKILL, as above (the default);
//   TERM  SIGTERM: it gives its lease up (a compare-and-delete) and tells the
//         followers, which ask for it at once; timed from the signal;
//   STOP  SIGSTOP until another node holds the lease (it may still be
//         loading), then SIGCONT: the paused leader steps down alive. Clients are on all three nodes; the
//         paused node's own probes send at SIGCONT and are timed from it
//         (their connections should all stay open), the others' from SIGSTOP.
//   SHARD three stores on three hub shards, a lease each (the users file gives
//         each store its own agents: CALMA_STORES names them), so each node leads
//         one; clients on every node; each round SIGKILLs the next node: the
//         probes of the shard it led (on the surviving nodes) are timed from the
//         kill to their ack, and so are those of the other shards, which should
//         not notice (no new welcome, no `unavailable`). The killed node is
//         restarted and, once it has settled, gets a shard back (a hand-over).
//
// env: CALMA_SERVER, CALMA_CONFIG, CALMA_USERS, CALMA_REDIS, CALMA_LOGDIR
// args: SHOPPERS AGENTS PROBES ROUNDS MODE  (defaults 1000 20 100 10 KILL)
// Needs a global WebSocket: Node 22, or Node 20 with --experimental-websocket.
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';

const [SHOPPERS = 1000, AGENTS = 20, PROBES = 100, ROUNDS = 10] = process.argv.slice(2, 6).map(Number);
const MODE = process.argv[6] ?? 'KILL';
if (!['KILL', 'TERM', 'STOP', 'SHARD'].includes(MODE)) throw new Error(`mode ${MODE}: KILL, TERM, STOP or SHARD`);
const STORES = (process.env.CALMA_STORES ?? '').split(',').filter(Boolean);
const env = process.env;
const ports = { n1: 8311, n2: 8312, n3: 8313 };
const procs = {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

function startNode(id) {
  const log = openSync(`${env.CALMA_LOGDIR}/${id}.log`, 'a');
  procs[id] = spawn(env.CALMA_SERVER, ['--config', env.CALMA_CONFIG, '--users', env.CALMA_USERS, '--redis', env.CALMA_REDIS,
    '--node-id', id, '--port', String(ports[id]), '--bind', '127.0.0.1'], { stdio: ['ignore', log, log] });
}

async function health(id) {
  try {
    const r = await fetch(`http://127.0.0.1:${ports[id]}/healthz`);
    return await r.json();
  } catch {
    return null;
  }
}

/** Waits until every live node names one leader that serves; returns its node id. */
async function settledLeader(live, within = 20000) {
  const until = now() + within;
  while (now() < until) {
    const hs = await Promise.all(live.map(health));
    const leaders = new Set(hs.map((h) => h?.cluster?.leader?.split('@')[0] ?? ''));
    if (hs.every((h) => h && h.status === 'ok') && leaders.size === 1 && !leaders.has('')) {
      const l = [...leaders][0];
      if (hs.some((h) => h.cluster.leading)) return l;
    }
    await sleep(50);
  }
  throw new Error('the cluster did not settle');
}

/** SHARD: waits until every live node sees each store's shard led by the same node, no node leading two
 * (with fewer nodes than shards, some lead two); returns store -> node id. */
async function settledShards(live, within = 30000) {
  const until = now() + within;
  while (now() < until) {
    const hs = await Promise.all(live.map(health));
    if (hs.every((h) => h && h.status === 'ok' && h.cluster?.shards)) {
      const views = hs.map((h) => JSON.stringify(h.cluster.shards.map((s) => s.leader.split('@')[0])));
      const leaders = hs[0].cluster.shards.map((s) => s.leader.split('@')[0]);
      const counts = {};
      for (const l of leaders) counts[l] = (counts[l] ?? 0) + 1;
      const most = Math.ceil(leaders.length / live.length);
      if (new Set(views).size === 1 && leaders.every((l) => live.includes(l)) && Object.values(counts).every((c) => c <= most)) {
        const of = {};
        for (const s of hs[0].cluster.shards) for (const st of s.stores) of[st] = s.leader.split('@')[0];
        return of;
      }
    }
    await sleep(50);
  }
  throw new Error('the shards did not settle');
}

async function login(port, user) {
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user, password: 'loadpass' }),
  });
  if (!r.ok) throw new Error(`login ${user}: ${r.status}`);
  return (await r.json()).token;
}

let seq = 0;
class Client {
  constructor(kind, hello) {
    this.kind = kind;
    this.hello = hello;
    this.token = hello.token ?? null;
    this.welcomes = 0;
    this.closes = [];
    this.probe = null; // {cmid, frame, resolve, timer}
    this.unavailable = 0;
  }
  connect(node) {
    this.node = node;
    this.welcomes = 0;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${ports[node]}/ws`);
      this.ws = ws;
      let first = true;
      const fail = setTimeout(() => reject(new Error(`${this.kind} on ${node}: no welcome`)), 20000);
      ws.onopen = () => ws.send(JSON.stringify(this.token ? { type: 'hello', token: this.token, ...(this.kind === 'shopper' ? { role: 'shopper' } : {}) } : this.hello));
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type === 'welcome') {
          this.welcomes++;
          if (m.token) this.token = m.token;
          if (first) {
            first = false;
            clearTimeout(fail);
            // As the web client does: a ping now and then, or the server closes an idle connection (4408).
            clearInterval(this.keepalive);
            this.keepalive = setInterval(() => this.send({ type: 'ping' }), 30000);
            resolve(m);
          } else if (this.probe) this.resend(0); // a new leader: the outbox goes again
        } else if (m.type === 'ack') {
          if (this.pendingOpen && m.client_msg_id === this.pendingOpen.cmid) {
            this.conv = m.conversation_id;
            this.pendingOpen.resolve();
            this.pendingOpen = null;
          }
          if (this.probe && m.client_msg_id === this.probe.cmid) {
            clearTimeout(this.probe.timer);
            const p = this.probe;
            this.probe = null;
            p.resolve(now());
          }
        } else if (m.type === 'error' && this.probe && m.ref === this.probe.cmid) {
          this.unavailable += m.code === 'unavailable';
          this.resend(100);
        }
      };
      ws.onclose = (e) => {
        clearInterval(this.keepalive);
        this.closes.push({ t: now(), code: e.code, node: this.node });
        clearTimeout(fail);
        if (first) reject(new Error(`${this.kind} on ${node}: closed ${e.code} before welcome`));
        if (this.probe) {
          clearTimeout(this.probe.timer);
          const p = this.probe;
          this.probe = null;
          p.resolve(null);
        }
      };
    });
  }
  get open() {
    return this.ws && this.ws.readyState === 1;
  }
  send(f) {
    if (this.open) this.ws.send(JSON.stringify(f));
  }
  openConversation() {
    const cmid = `open-${++seq}`;
    return new Promise((resolve) => {
      this.pendingOpen = { cmid, resolve };
      this.send({ type: 'chat.send', client_msg_id: cmid, text: 'Hello, where is my order?' });
    });
  }
  resend(delay) {
    if (!this.probe) return;
    clearTimeout(this.probe.timer);
    this.probe.timer = setTimeout(() => {
      if (!this.probe) return;
      this.send(this.probe.frame);
      this.probe.timer = setTimeout(() => this.resend(0), 3000);
    }, delay);
  }
  /** Sends one message until acked; resolves with the time of the ack (null if the connection dropped). */
  sendUntilAcked(text) {
    const cmid = `p-${++seq}`;
    return new Promise((resolve) => {
      this.probe = { cmid, frame: { type: 'chat.send', client_msg_id: cmid, conversation_id: this.conv, text }, resolve, timer: null };
      this.resend(0);
    });
  }
}

function pct(xs, p) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function inBatches(items, n, f) {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(f));
}

const all = ['n1', 'n2', 'n3'];

/** SHARD mode: each node leads one shard; each round one node is SIGKILLed. */
async function shardRounds() {
  for (const id of all) startNode(id);
  let of = await settledShards(all);
  console.log(`shards led: ${JSON.stringify(of)}; opening ${SHOPPERS} conversations (${AGENTS} agents) on every node`);
  const agents = [];
  for (let i = 1; i <= AGENTS; i++) {
    const home = all[i % all.length];
    const a = new Client('agent', { type: 'hello', token: await login(ports[home], `loadagent${i}`) });
    await a.connect(home);
    agents.push(a);
  }
  const shoppers = [];
  for (let i = 0; i < SHOPPERS; i++) {
    const s = new Client('shopper', { type: 'hello', role: 'shopper', store: STORES[i % STORES.length], name: `S${i}`, language: 'en' });
    s.store = STORES[i % STORES.length];
    shoppers.push(s);
  }
  await inBatches(shoppers, 50, async (s) => {
    await s.connect(all[Math.floor(shoppers.indexOf(s) / STORES.length) % all.length]);
    await s.openConversation();
  });
  const clients = [...agents, ...shoppers];
  console.log(`${shoppers.filter((s) => s.conv).length} conversations open`);
  await sleep(1000);
  const moved = [], stayed = [];
  let droppedOnSurvivors = 0, stayedRewelcomed = 0, stayedUnavailable = 0, movedRewelcomed = 0, unanswered = 0;
  const probe = (list, round) =>
    Promise.all(list.map((p) => Promise.race([p.sendUntilAcked(`round ${round}`), sleep(20000).then(() => undefined)])));
  for (let round = 1; round <= ROUNDS; round++) {
    const victim = all[(round - 1) % all.length];
    const live = all.filter((n) => n !== victim);
    const movedStores = STORES.filter((st) => of[st] === victim);
    const survivors = clients.filter((c) => c.node !== victim);
    const onVictim = clients.filter((c) => c.node === victim);
    const mine = shoppers.filter((s) => s.node !== victim && movedStores.includes(s.store)).slice(0, PROBES);
    const others = shoppers.filter((s) => s.node !== victim && !movedStores.includes(s.store)).slice(0, PROBES);
    for (const c of clients) {
      c.closes = [];
      c.welcomes = 1;
      c.unavailable = 0;
    }
    const t0 = now();
    procs[victim].kill('SIGKILL');
    const [a1, a2] = await Promise.all([probe(mine, round), probe(others, round)]);
    const tm = [], ts = [];
    for (const t of a1) (typeof t === 'number' ? tm.push(t - t0) : unanswered++);
    for (const t of a2) (typeof t === 'number' ? ts.push(t - t0) : unanswered++);
    moved.push(...tm);
    stayed.push(...ts);
    of = await settledShards(live);
    await sleep(300); // the last welcomes
    const dropped = survivors.filter((c) => c.closes.length).length;
    droppedOnSurvivors += dropped;
    const otherClients = survivors.filter((c) => c.kind === 'shopper' && !movedStores.includes(c.store));
    const again = otherClients.filter((c) => c.welcomes > 1).length;
    stayedRewelcomed += again;
    stayedUnavailable += others.reduce((n, p) => n + p.unavailable, 0);
    movedRewelcomed += survivors.filter((c) => c.kind === 'shopper' && movedStores.includes(c.store) && c.welcomes > 1).length;
    console.log(`round ${round}: SIGKILL ${victim} (led ${movedStores.join(',')}; ${onVictim.length} own clients); ` +
      `its shard's probes acked ${Math.round(pct(tm, 50))} ms p50, ${Math.round(Math.max(...tm))} ms last; ` +
      `other shards' probes ${Math.round(pct(ts, 50))} ms p50, ${Math.round(Math.max(...ts))} ms last, ${again} of their shoppers welcomed again; ${dropped} survivors dropped`);
    // The killed node comes back and, once settled, leads a shard again (handed over).
    await new Promise((r) => (procs[victim].exitCode !== null || procs[victim].signalCode ? r() : procs[victim].once('exit', r)));
    startNode(victim);
    of = await settledShards(all);
    await sleep(500);
    await inBatches(onVictim, 50, (c) => c.connect(live[Math.floor(Math.random() * live.length)]).catch(() => c.connect(live[0])));
    await sleep(1000);
  }
  const r = (x) => Math.round(x);
  console.log('');
  console.log(`SHARD rounds: ${ROUNDS}; open conversations: ${SHOPPERS} over ${STORES.length} stores; probes a round: ${PROBES} + ${PROBES}`);
  console.log(`kill -> the killed node's shard, a surviving node's probe ack (ms): p50 ${r(pct(moved, 50))}  p99 ${r(pct(moved, 99))}  max ${r(Math.max(...moved))}  (${moved.length} samples)`);
  console.log(`kill -> the other shards' probe ack (ms): p50 ${r(pct(stayed, 50))}  p99 ${r(pct(stayed, 99))}  max ${r(Math.max(...stayed))}  (${stayed.length} samples; ${stayedUnavailable} unavailable answers; ${stayedRewelcomed} of their shoppers welcomed again)`);
  console.log(`connections of surviving nodes dropped: ${droppedOnSurvivors}; the moved shard's shoppers welcomed again on their open connection: ${movedRewelcomed}; never acked: ${unanswered}`);
}

try {
  if (MODE === 'SHARD') {
    await shardRounds();
    for (const p of Object.values(procs)) p.kill('SIGKILL');
    process.exit(0);
  }
  startNode('n1');
  await settledLeader(['n1']);
  startNode('n2');
  startNode('n3');
  let leader = await settledLeader(all);
  const followers = () => all.filter((n) => n !== leader);
  // STOP: clients on every node (the paused leader's own are the point); else on the followers.
  const homes = () => (MODE === 'STOP' ? all : followers());
  console.log(`leader ${leader}; opening ${SHOPPERS} conversations (${AGENTS} agents), on ${MODE === 'STOP' ? 'every node' : 'the followers'}`);

  const agents = [];
  for (let i = 1; i <= AGENTS; i++) {
    const f = homes()[i % homes().length];
    const a = new Client('agent', { type: 'hello', token: await login(ports[f], `loadagent${i}`) });
    await a.connect(f);
    agents.push(a);
  }
  const shoppers = [];
  for (let i = 0; i < SHOPPERS; i++) shoppers.push(new Client('shopper', { type: 'hello', role: 'shopper', name: `S${i}`, language: 'en' }));
  await inBatches(shoppers, 50, async (s) => {
    await s.connect(homes()[shoppers.indexOf(s) % homes().length]);
    await s.openConversation();
  });
  const clients = [...agents, ...shoppers];
  console.log(`${shoppers.filter((s) => s.conv).length} conversations open`);
  await sleep(1000);

  const samples = [], perRound = [], ownSamples = [];
  const closeCodes = {};
  let droppedOnSurvivors = 0, droppedOnVictim = 0, unanswered = 0, unavailable = 0, rewelcomed = 0, ownRewelcomed = 0;
  const probe = (list, round) =>
    Promise.all(list.map((p) => Promise.race([p.sendUntilAcked(`round ${round}`), sleep(20000).then(() => undefined)])));
  for (let round = 1; round <= ROUNDS; round++) {
    const victim = leader;
    const survivors = clients.filter((c) => c.node !== victim);
    const onVictim = clients.filter((c) => c.node === victim);
    const probes = shoppers.filter((s) => s.node !== victim).slice(0, PROBES);
    for (const c of clients) c.closes = [];
    for (const c of clients) c.welcomes = 1;
    for (const p of probes) p.unavailable = 0;
    const live = all.filter((n) => n !== victim);
    const t0 = now();
    procs[victim].kill(`SIG${MODE}`);
    const pending = probe(probes, round);
    let ownTimes = [];
    if (MODE === 'STOP') {
      // Paused until another node holds the lease (maybe still loading), then resumed: it steps down alive.
      leader = await settledLeader(live);
      const tc = now();
      procs[victim].kill('SIGCONT');
      const own = shoppers.filter((s) => s.node === victim).slice(0, PROBES);
      for (const t of await probe(own, round)) {
        if (typeof t === 'number') ownTimes.push(t - tc);
        else unanswered++;
      }
      ownSamples.push(...ownTimes);
    }
    const acks = await pending;
    const times = [];
    for (const t of acks) {
      if (typeof t === 'number') times.push(t - t0);
      else unanswered++;
    }
    samples.push(...times);
    leader = await settledLeader(MODE === 'STOP' ? all : live);
    await sleep(300); // the last welcomes
    const dropped = survivors.filter((c) => c.closes.length).length;
    for (const c of clients) for (const x of c.closes) closeCodes[x.code] = (closeCodes[x.code] ?? 0) + 1;
    droppedOnSurvivors += dropped;
    if (MODE === 'STOP') {
      droppedOnVictim += onVictim.filter((c) => c.closes.length).length;
      ownRewelcomed += onVictim.filter((c) => c.welcomes > 1).length;
    } else droppedOnVictim += onVictim.length;
    unavailable += probes.reduce((n, p) => n + p.unavailable, 0);
    const again = survivors.filter((c) => c.welcomes > 1).length;
    rewelcomed += again;
    perRound.push({ first: Math.min(...times), p50: pct(times, 50), last: Math.max(...times) });
    console.log(`round ${round}: ${MODE} ${victim} (${onVictim.length} own clients), new leader ${leader}; ` +
      `probe acks after ${Math.round(pct(times, 50))} ms p50, ${Math.round(Math.max(...times))} ms last; ` +
      `${again}/${survivors.length} survivors welcomed again, ${dropped} dropped` +
      (MODE === 'STOP' ? `; own probes acked ${Math.round(pct(ownTimes, 50))} ms p50 after SIGCONT, ` +
        `${onVictim.filter((c) => c.closes.length).length} own clients dropped` : ''));
    if (MODE === 'STOP') {
      await sleep(1000);
      continue; // the resumed node follows; its clients stay where they are
    }
    // The stopped node comes back as a follower; its clients reconnect to a follower.
    await new Promise((r) => (procs[victim].exitCode !== null || procs[victim].signalCode ? r() : procs[victim].once('exit', r)));
    startNode(victim);
    await settledLeader(all);
    await sleep(500);
    const fs = followers();
    await inBatches(onVictim, 50, (c) => c.connect(fs[Math.floor(Math.random() * fs.length)]).catch(() => c.connect(fs[0])));
    await sleep(1000);
  }
  const r = (x) => Math.round(x);
  console.log('');
  console.log(`${MODE} rounds: ${ROUNDS}; open conversations: ${SHOPPERS}; probes a round: ${PROBES}`);
  console.log(`${MODE === 'STOP' ? 'SIGSTOP' : MODE === 'TERM' ? 'SIGTERM' : 'kill'} -> surviving nodes' probe ack (ms): p50 ${r(pct(samples, 50))}  p99 ${r(pct(samples, 99))}  max ${r(Math.max(...samples))}  (${samples.length} samples, ${unanswered} never acked)`);
  console.log(`per kill, first ack (ms): p50 ${r(pct(perRound.map((x) => x.first), 50))}  p99 ${r(pct(perRound.map((x) => x.first), 99))}; last ack: p50 ${r(pct(perRound.map((x) => x.last), 50))}  p99 ${r(pct(perRound.map((x) => x.last), 99))}`);
  console.log(`connections of surviving nodes dropped: ${droppedOnSurvivors}; welcomed again on their open connection: ${rewelcomed}`);
  console.log(`close codes seen: ${JSON.stringify(closeCodes)}`);
  if (MODE === 'STOP') {
    console.log(`SIGCONT -> the paused leader's own probe ack (ms): p50 ${r(pct(ownSamples, 50))}  p99 ${r(pct(ownSamples, 99))}  max ${r(Math.max(...ownSamples))}  (${ownSamples.length} samples)`);
    console.log(`the paused leaders' own clients dropped: ${droppedOnVictim}; welcomed again on their open connection: ${ownRewelcomed}; unavailable answers to probes: ${unavailable}`);
  } else console.log(`the stopped leaders' own clients (dropped, reconnected): ${droppedOnVictim}; unavailable answers to probes: ${unavailable}`);
} finally {
  for (const p of Object.values(procs)) p.kill('SIGKILL');
  process.exit(0);
}

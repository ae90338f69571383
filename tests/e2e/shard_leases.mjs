#!/usr/bin/env node
// Browser end-to-end test of hub shards leased one by one across two nodes on
// one real Redis (issue 12): the demo stores with agents of their own (agent:
// demo, agent2: demo-pl) are two shards, and each node leads one. The
// supervisor of both works in the console in Chromium on one node; the node
// leading the other store's shard is SIGKILLed: the console stays connected
// (one new merged welcome on its open WebSocket), still lists both stores'
// conversations once each and the inbox's escalation, and shows what the
// moved store's shopper writes after the kill, once.
//
//   node tests/e2e/shard_leases.mjs --server build/server/calma-server [--shots DIR]
//
// Needs what cluster.mjs needs. Prints "N passed, M failed".
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  assert,
  checkDist,
  CHROMIUM_ARGS,
  twoShardsConfig,
  countPageErrors,
  crashResult,
  findChromium,
  loadPlaywright,
  parseArgs,
  reportAndExit,
  Runner,
  startRedis,
  startServer,
  teardown,
  until,
  apiLogin,
  consoleLogin,
} from './lib.mjs';
import { connectWs } from './ws.mjs';

const ES_NAME = 'Lucía Fernández';
const PL_NAME = 'Zofia Wiśniewska';
const ES_FIRST = 'Quiero hablar con un responsable ahora mismo';
const PL_FIRST = 'Dzień dobry, gdzie jest moja paczka?';
const PL_AFTER = 'Czy ktoś tam jest? Czekam na odpowiedź';

/** Each store's shard's leader (node name), as `base` sees it. */
async function leaders(base) {
  const h = await (await fetch(base + '/healthz')).json();
  const of = {};
  for (const s of h.cluster?.shards ?? []) for (const st of s.stores) of[st] = (s.leader ?? '').split('@')[0];
  return of;
}

/** Sends a chat.send until acked, as the widget does across a leader change (same client_msg_id). */
async function sendUntilAcked(ws, frame, within = 20000) {
  const end = Date.now() + within;
  while (Date.now() < end) {
    const from = ws.frames.length;
    ws.send(frame);
    const f = await ws
      .next((x) => ws.frames.indexOf(x) >= from && ((x.type === 'ack' && x.client_msg_id === frame.client_msg_id) ||
        (x.type === 'error' && x.ref === frame.client_msg_id) || x.type === 'welcome'), 3000, 'an answer')
      .catch(() => null);
    if (f?.type === 'ack') return f;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${frame.client_msg_id} never acked`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const runner = new Runner({ shotsDir: args.shots, only: args.only });
  if (args.shots) mkdirSync(args.shots, { recursive: true });
  let redis = null;
  const nodes = {};
  let browser = null;
  const sockets = [];
  let result = { passed: 0, failed: 1 };
  try {
    const { chromium } = loadPlaywright();
    const executablePath = findChromium();
    checkDist();
    redis = await startRedis();
    process.env.CALMA_TOKEN_SECRET = 'e2e-shard-leases-secret-0123456789abcd';
    const extra = twoShardsConfig('shard-leases');
    const bin = args.server ? path.resolve(args.server) : '';
    nodes.a = await startServer(bin, [...extra, '--redis', redis.url, '--node-id', 'a']);
    nodes.b = await startServer(bin, [...extra, '--redis', redis.url, '--node-id', 'b']);
    browser = await chromium.launch({ executablePath, headless: !args.headed, args: CHROMIUM_ARGS, timeout: 60000 });
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    const sup = await ctx.newPage();
    sup.setDefaultTimeout(15000);
    runner.pages.push({ label: 'supervisor', page: sup });
    const pageErrors = [];
    sup.on('pageerror', (e) => pageErrors.push(e.message));
    const tid = (id) => sup.locator(`[data-testid="${id}"]`);
    let victim = '';
    let home = '';
    let shopperPl = null;
    let convPl = '';
    let killedAt = 0;
    let consoleCloses = 0;
    sup.on('websocket', (ws) => ws.on('close', () => killedAt && consoleCloses++));

    runner.test('each node leads one store\'s shard', async () => {
      let of = {};
      await until(async () => {
        of = await leaders(nodes.a.url);
        return of.demo && of['demo-pl'] && of.demo !== of['demo-pl'] &&
          JSON.stringify(await leaders(nodes.b.url)) === JSON.stringify(of);
      }, () => `the shards did not spread: ${JSON.stringify(of)}`, 30000);
      victim = of['demo-pl'];
      home = of.demo;
      console.log(`  demo led by ${home}, demo-pl by ${victim}`);
    });

    runner.test('every client on one node: agents, shoppers (the Spanish one asks for a manager), the supervisor\'s console', async () => {
      const base = nodes[home].url;
      const wsUrl = base.replace('http://', 'ws://') + '/ws';
      let agentPl = null;
      for (const user of ['agent', 'agent2']) {
        const ws = await connectWs(wsUrl, { origin: base });
        sockets.push(ws);
        ws.send({ type: 'hello', token: (await apiLogin(base, user, user)).token });
        await ws.next((f) => f.type === 'welcome', 10000, `${user}'s welcome`);
        if (user === 'agent2') agentPl = ws;
      }
      for (const [store, name, lang, text] of [['demo', ES_NAME, 'es', ES_FIRST], ['demo-pl', PL_NAME, 'pl', PL_FIRST]]) {
        const ws = await connectWs(wsUrl, { origin: base });
        sockets.push(ws);
        ws.send({ type: 'hello', role: 'shopper', store, name, language: lang });
        await ws.next((f) => f.type === 'welcome', 10000, `${name}'s welcome`);
        ws.send({ type: 'chat.send', client_msg_id: `${store}-1`, text });
        const ack = await ws.next((f) => f.type === 'ack', 10000, `${name}'s ack`);
        if (store === 'demo-pl') {
          convPl = ack.conversation_id;
          shopperPl = ws;
        }
      }
      await agentPl.next((f) => f.type === 'conversation.assigned' && f.conversation_id === convPl, 10000, 'agent2 assigned');
      await consoleLogin(sup, base, 'supervisor');
      await tid('conv-item').filter({ hasText: ES_NAME }).waitFor();
      await tid('conv-item').filter({ hasText: PL_NAME }).waitFor();
      await tid('esc-count').filter({ hasText: '1' }).waitFor();
      await until(async () => (await tid('queue').count()) >= 2, async () => `queues on the board: ${await tid('queue').count()}`);
      await runner.snap(sup, '01-supervisor-two-leaders');
    }, { needs: ['each node leads one store\'s shard'] });

    runner.test('the other store\'s leader is SIGKILLed: the console stays connected and shows both stores and what comes after', async () => {
      killedAt = Date.now();
      nodes[victim].child.kill('SIGKILL');
      await sendUntilAcked(shopperPl, { type: 'chat.send', client_msg_id: 'demo-pl-2', conversation_id: convPl, text: PL_AFTER });
      console.log(`  (the moved store's shopper acked ${Date.now() - killedAt} ms after the kill)`);
      await tid('conv-item').filter({ hasText: PL_NAME }).click();
      await tid('msg-shopper').filter({ hasText: PL_AFTER }).waitFor({ timeout: 15000 });
      await new Promise((r) => setTimeout(r, 500)); // any late duplicate would have arrived
      assert((await tid('conv-item').filter({ hasText: ES_NAME }).count()) === 1, 'the Spanish conversation not listed once');
      assert((await tid('conv-item').filter({ hasText: PL_NAME }).count()) === 1, 'the Polish conversation not listed once');
      assert((await tid('msg-shopper').filter({ hasText: PL_FIRST }).count()) === 1, 'the first Polish message not shown once');
      assert((await tid('msg-shopper').filter({ hasText: PL_AFTER }).count()) === 1, 'the message after the kill not shown once');
      await tid('esc-count').filter({ hasText: '1' }).waitFor();
      assert(consoleCloses === 0, `the console's WebSocket closed ${consoleCloses} times after the kill`);
      await tid('conn').filter({ hasText: 'Connected' }).waitFor();
      await until(async () => (await leaders(nodes[home].url))['demo-pl'] === home, 'the survivor does not lead the moved shard');
      await runner.snap(sup, '02-after-the-kill');
    }, { needs: ['every client on one node: agents, shoppers (the Spanish one asks for a manager), the supervisor\'s console'] });

    result = await runner.run();
    result = countPageErrors(result, pageErrors, Object.entries(nodes));
  } catch (e) {
    result = crashResult(runner, e);
    for (const [label, n] of Object.entries(nodes)) console.log(`--- node ${label} output (tail) ---\n${n.log().slice(-3000)}`);
  } finally {
    await teardown({ sockets, browser, servers: Object.values(nodes) });
    redis?.stop();
  }
  reportAndExit(result);
}

main();

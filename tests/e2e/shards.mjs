#!/usr/bin/env node
// Browser end-to-end test of hub shards (issue 12): the two demo stores with agents of
// their own (agent: demo, agent2: demo-pl), so the server decides them on two hubs; the
// supervisor of both works in the console in Chromium as with one: both stores'
// conversations in one list, one board with both queues and both agents, escalations of
// either hub in the inbox, acked from the console; a whisper into the other hub's
// conversation reaches its agent.
//
//   node tests/e2e/shards.mjs --server build/server/calma-server [--shots DIR] [--only a]
//
// Needs what run.mjs needs. Prints "N passed, M failed".
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
const WHISPER = 'Zaproponuj darmową wysyłkę';

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const runner = new Runner({ shotsDir: args.shots, only: args.only });
  if (args.shots) mkdirSync(args.shots, { recursive: true });
  let server = null;
  let browser = null;
  const sockets = [];
  let result = { passed: 0, failed: 1 };
  try {
    const { chromium } = loadPlaywright();
    const executablePath = findChromium();
    checkDist();
    const extra = twoShardsConfig('shards');
    server = await startServer(args.server ? path.resolve(args.server) : '', extra);
    const base = server.url;
    const wsUrl = base.replace('http://', 'ws://') + '/ws';
    console.log(`server: ${base}`);
    browser = await chromium.launch({ executablePath, headless: !args.headed, args: CHROMIUM_ARGS, timeout: 60000 });
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    const sup = await ctx.newPage();
    sup.setDefaultTimeout(15000);
    runner.pages.push({ label: 'supervisor', page: sup });
    const pageErrors = [];
    sup.on('pageerror', (e) => pageErrors.push(e.message));
    const tid = (id) => sup.locator(`[data-testid="${id}"]`);
    let agentEs = null;
    let agentPl = null;
    let convPl = '';

    runner.test('the server runs two hub shards', async () => {
      await until(async () => server.log().includes('2 hub shard(s)'), () => `no "2 hub shard(s)" in the log:\n${server.log().slice(-2000)}`);
    });

    runner.test('an agent in each store, a shopper in each: the Spanish one asks for a manager', async () => {
      for (const [user, store] of [['agent', 'demo'], ['agent2', 'demo-pl']]) {
        const ws = await connectWs(wsUrl, { origin: base });
        sockets.push(ws);
        ws.send({ type: 'hello', token: (await apiLogin(base, user, user)).token });
        await ws.next((f) => f.type === 'welcome', 10000, `${user}'s welcome`);
        if (store === 'demo') agentEs = ws;
        else agentPl = ws;
      }
      for (const [store, name, lang, text] of [['demo', ES_NAME, 'es', ES_FIRST], ['demo-pl', PL_NAME, 'pl', PL_FIRST]]) {
        const ws = await connectWs(wsUrl, { origin: base });
        sockets.push(ws);
        ws.send({ type: 'hello', role: 'shopper', store, name, language: lang });
        await ws.next((f) => f.type === 'welcome', 10000, `${name}'s welcome`);
        ws.send({ type: 'chat.send', client_msg_id: `${store}-1`, text });
        const ack = await ws.next((f) => f.type === 'ack', 10000, `${name}'s ack`);
        if (store === 'demo-pl') convPl = ack.conversation_id;
      }
      await agentPl.next((f) => f.type === 'conversation.assigned' && f.conversation_id === convPl, 10000, 'agent2 assigned');
    }, { needs: ['the server runs two hub shards'] });

    runner.test('the supervisor sees both hubs in one console: list, board, agents, inbox', async () => {
      await consoleLogin(sup, base, 'supervisor');
      await tid('conv-item').filter({ hasText: ES_NAME }).waitFor();
      await tid('conv-item').filter({ hasText: PL_NAME }).waitFor();
      await tid('agents').filter({ hasText: 'Ana García' }).waitFor();
      await tid('agents').filter({ hasText: 'Piotr Nowak' }).waitFor();
      await until(async () => (await tid('queue').count()) >= 2, async () => `queues on the board: ${await tid('queue').count()}`);
      await tid('esc-card').filter({ hasText: ES_NAME }).waitFor();
      await tid('esc-count').filter({ hasText: '1' }).waitFor();
      await runner.snap(sup, '01-supervisor-two-shards');
    }, { needs: ['an agent in each store, a shopper in each: the Spanish one asks for a manager'] });

    runner.test('acked from the console: the agent of that hub hears it', async () => {
      const card = tid('esc-card').filter({ hasText: ES_NAME });
      await card.locator('[data-testid="esc-ack"]').click();
      await agentEs.next((f) => f.type === 'escalation.acked', 10000, 'escalation.acked at the Spanish agent');
    }, { needs: ['the supervisor sees both hubs in one console: list, board, agents, inbox'] });

    runner.test('a whisper into the other hub\'s conversation reaches its agent, staff only', async () => {
      await tid('conv-item').filter({ hasText: PL_NAME }).click();
      await tid('msg-shopper').filter({ hasText: PL_FIRST }).waitFor();
      await tid('join-whisper').click();
      await sup.locator('[data-testid="join-whisper"][aria-pressed="true"]').waitFor();
      await tid('reply').fill(WHISPER);
      await tid('reply').press('Enter');
      await tid('msg-whisper').filter({ hasText: WHISPER }).waitFor();
      const m = await agentPl.next((f) => f.type === 'chat.message' && f.text === WHISPER, 10000, 'the whisper at agent2');
      assert(m.visibility === 'staff', `whisper visibility ${m.visibility}`);
    }, { needs: ['the supervisor sees both hubs in one console: list, board, agents, inbox'] });

    result = await runner.run();
    result = countPageErrors(result, pageErrors, [['shards', server]]);
  } catch (e) {
    result = crashResult(runner, e);
    if (server) console.log('--- server output (tail) ---\n' + server.log().slice(-4000));
  } finally {
    await teardown({ sockets, browser, servers: [server] });
  }
  reportAndExit(result);
}

main();

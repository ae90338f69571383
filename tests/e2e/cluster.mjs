#!/usr/bin/env node
// Browser end-to-end test of three calma-server nodes on one real Redis: the
// shopper's widget is served by node A, the agent's console by node B (the
// follower relays to the leader), in Debian's Chromium driven by playwright-core.
// Then the leader is SIGKILLed with a widget on node C and the console on node
// B: both stay connected (a new welcome on their open WebSocket), the message
// written in the gap is sent once, every message is shown once.
//
//   node tests/e2e/cluster.mjs --server build/server/calma-server
//
// Needs what run.mjs needs, plus redis-server on PATH (or REDIS_SERVER).
// Prints "N passed, M failed" last; exits non-zero if anything failed.
import path from 'node:path';
import {
  CHROMIUM_ARGS,
  Runner,
  crashResult,
  assert,
  checkDist,
  findChromium,
  loadPlaywright,
  parseArgs,
  startRedis,
  startServer,
  until,
} from './lib.mjs';

const SHOPPER_NAME = 'Zofia Kowalska';
const FIRST = 'Dzień dobry, zamówienie 7781 nie dotarło';
const REPLY = 'Dzień dobry Pani Zofio, już sprawdzam przesyłkę.';
const SHOPPER2_NAME = 'Marek Nowak';
const FIRST2 = 'Dzień dobry, paczka 9902 jest uszkodzona';
const GAP = 'Czy ktoś tam jest?';
const REPLY2 = 'Tak, jestem. Bardzo przepraszam za kłopot.';

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const runner = new Runner({ shotsDir: args.shots, only: args.only });
  let redis = null;
  const nodes = [];
  let browser = null;
  let result = { passed: 0, failed: 1 };
  try {
    const { chromium } = loadPlaywright();
    const executablePath = findChromium();
    checkDist();
    redis = await startRedis();
    // Every node of a cluster needs the same token secret (the children inherit it).
    process.env.CALMA_TOKEN_SECRET = 'e2e-cluster-secret-0123456789abcdefghij';
    const bin = path.resolve(args.server || '');
    nodes.push(await startServer(bin, ['--redis', redis.url, '--node-id', 'a']));
    nodes.push(await startServer(bin, ['--redis', redis.url, '--node-id', 'b']));
    nodes.push(await startServer(bin, ['--redis', redis.url, '--node-id', 'c']));
    const [a, b, c] = nodes.map((n) => n.url);
    console.log(`node a (leader): ${a}, node b: ${b}`);
    assert(/leading the cluster/.test(nodes[0].log()), 'node a should lead');
    browser = await chromium.launch({ executablePath, headless: !args.headed, args: CHROMIUM_ARGS, timeout: 60000 });
    const shopper = await (await browser.newContext({ locale: 'pl-PL' })).newPage();
    const agent = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    runner.pages.push({ label: 'shopper', page: shopper }, { label: 'agent', page: agent });
    const pageErrors = [];
    for (const [label, p] of [['shopper', shopper], ['agent', agent]]) {
      p.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
      p.setDefaultTimeout(10000);
    }
    const widget = (sel) => shopper.locator(`#calma-widget [data-testid="${sel}"]`);
    const openConversation = async (page, name = SHOPPER_NAME) => {
      const item = page.locator('[data-testid="conv-item"]').filter({ hasText: name });
      await item.waitFor({ timeout: 15000 });
      await item.click();
    };
    const login = async (page, base) => {
      await page.goto(base + '/console');
      await page.locator('[data-testid="username"]').fill('agent');
      await page.locator('[data-testid="password"]').fill('agent');
      await page.locator('[data-testid="login"]').click();
      await page.locator('[data-testid="conn"]').filter({ hasText: 'Connected' }).waitFor();
    };

    runner.test('shopper writes through node A', async () => {
      await shopper.goto(a + '/');
      await widget('launcher').click();
      await widget('panel').waitFor({ state: 'visible' });
      await shopper.locator('#calma-widget #calma-name').fill(SHOPPER_NAME);
      await widget('input').fill(FIRST);
      await widget('input').press('Enter');
      const mine = widget('msg-me').filter({ hasText: FIRST });
      await until(async () => ['sent', 'read'].includes(await mine.getAttribute('data-status')), 'message never acked');
    });

    runner.test('agent logs in on node B and gets the conversation', async () => {
      await login(agent, b);
      await openConversation(agent);
      await agent.locator('[data-testid="msg-shopper"]').filter({ hasText: FIRST }).waitFor();
      assert((await agent.locator('[data-testid="msg-shopper"]').count()) === 1, 'shopper message shown more than once');
    }, { needs: ['shopper writes through node A'] });

    runner.test('agent replies from node B and the shopper on node A sees it', async () => {
      await agent.locator('[data-testid="reply"]').fill(REPLY);
      await widget('typing').filter({ hasText: 'está escribiendo' }).waitFor();  // typing crosses nodes too
      await agent.locator('[data-testid="reply"]').press('Enter');
      await widget('msg-them').filter({ hasText: REPLY }).waitFor();
    }, { needs: ['agent logs in on node B and gets the conversation'] });

    runner.test('agent opens the console on node A instead: same conversation, every message once', async () => {
      await login(agent, a);
      await openConversation(agent);
      await agent.locator('[data-testid="msg-staff"]').filter({ hasText: REPLY }).waitFor();
      assert((await agent.locator('[data-testid="msg-shopper"]').filter({ hasText: FIRST }).count()) === 1, 'first message not shown exactly once');
      assert((await agent.locator('[data-testid="msg-staff"]').filter({ hasText: REPLY }).count()) === 1, 'reply not shown exactly once');
    }, { needs: ['agent replies from node B and the shopper on node A sees it'] });

    // The failover: a second shopper on node C, the agent's console on node B.
    const shopper2 = await (await browser.newContext({ locale: 'pl-PL' })).newPage();
    const agent2 = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    runner.pages.push({ label: 'shopper2', page: shopper2 }, { label: 'agent2', page: agent2 });
    for (const [label, p] of [['shopper2', shopper2], ['agent2', agent2]]) {
      p.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
      p.setDefaultTimeout(10000);
    }
    const widget2 = (sel) => shopper2.locator(`#calma-widget [data-testid="${sel}"]`);
    let killedAt = 0;
    const closedAfterKill = { shopper2: 0, agent2: 0 };
    for (const [label, p] of [['shopper2', shopper2], ['agent2', agent2]])
      p.on('websocket', (ws) => ws.on('close', () => killedAt && closedAfterKill[label]++));

    runner.test('a second shopper writes through node C and the agent on node B gets it', async () => {
      await shopper2.goto(c + '/');
      await widget2('launcher').click();
      await widget2('panel').waitFor({ state: 'visible' });
      await shopper2.locator('#calma-widget #calma-name').fill(SHOPPER2_NAME);
      await widget2('input').fill(FIRST2);
      await widget2('input').press('Enter');
      const mine = widget2('msg-me').filter({ hasText: FIRST2 });
      await until(async () => ['sent', 'read'].includes(await mine.getAttribute('data-status')), 'message never acked');
      await login(agent2, b);
      await openConversation(agent2, SHOPPER2_NAME);
      await agent2.locator('[data-testid="msg-shopper"]').filter({ hasText: FIRST2 }).waitFor();
    }, { needs: ['agent opens the console on node A instead: same conversation, every message once'] });

    runner.test('the leader is SIGKILLed: widget and console on the followers stay connected - every message once', async () => {
      killedAt = Date.now();
      nodes[0].child.kill('SIGKILL');
      // Written in the gap: answered unavailable, resent on the new welcome, acked once.
      await widget2('input').fill(GAP);
      await widget2('input').press('Enter');
      const gap = widget2('msg-me').filter({ hasText: GAP });
      await until(async () => ['sent', 'read'].includes(await gap.getAttribute('data-status')), 'the message written in the gap was never acked', 20000);
      console.log(`  (acked ${Date.now() - killedAt} ms after the kill)`);
      await agent2.locator('[data-testid="msg-shopper"]').filter({ hasText: GAP }).waitFor({ timeout: 15000 });
      await agent2.locator('[data-testid="reply"]').fill(REPLY2);
      await agent2.locator('[data-testid="reply"]').press('Enter');
      await widget2('msg-them').filter({ hasText: REPLY2 }).waitFor({ timeout: 15000 });
      await agent2.locator('[data-testid="msg-staff"]').filter({ hasText: REPLY2 }).waitFor();
      await new Promise((r) => setTimeout(r, 500)); // any late duplicate would have arrived
      for (const [what, loc] of [
        ['first message (console)', agent2.locator('[data-testid="msg-shopper"]').filter({ hasText: FIRST2 })],
        ['gap message (console)', agent2.locator('[data-testid="msg-shopper"]').filter({ hasText: GAP })],
        ['reply (console)', agent2.locator('[data-testid="msg-staff"]').filter({ hasText: REPLY2 })],
        ['first message (widget)', widget2('msg-me').filter({ hasText: FIRST2 })],
        ['gap message (widget)', widget2('msg-me').filter({ hasText: GAP })],
        ['reply (widget)', widget2('msg-them').filter({ hasText: REPLY2 })],
      ])
        assert((await loc.count()) === 1, `${what} not shown exactly once`);
      assert(closedAfterKill.shopper2 === 0, `the widget's WebSocket closed ${closedAfterKill.shopper2} times after the kill`);
      assert(closedAfterKill.agent2 === 0, `the console's WebSocket closed ${closedAfterKill.agent2} times after the kill`);
      await agent2.locator('[data-testid="conn"]').filter({ hasText: 'Connected' }).waitFor();
    }, { needs: ['a second shopper writes through node C and the agent on node B gets it'] });

    result = await runner.run();
    if (pageErrors.length) {
      console.log('page errors:\n  ' + pageErrors.join('\n  '));
      result.failed++;
    }
    if (result.failed) for (const [i, n] of nodes.entries()) console.log(`--- node ${'abc'[i]} output (tail) ---\n${n.log().slice(-3000)}`);
  } catch (e) {
    result = crashResult(runner, e);
  } finally {
    try {
      await browser?.close();
    } catch {
      /* ignore */
    }
    for (const n of nodes) await n.stop();
    redis?.stop();
  }
  console.log(`${result.passed} passed, ${result.failed} failed`);
  process.exit(result.failed ? 1 : 0);
}

main();

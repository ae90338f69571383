#!/usr/bin/env node
// A support agent's day in the console, end to end: the real calma-server with the
// repo's config/calma.json and config/users.json, a shopper played by a raw WebSocket
// from node (store demo-pl, Polish, a VIP order context), the agent in Chromium.
//
//   node tests/e2e/console_day.mjs --server build/server/calma-server [--shots DIR]
//
// The agent switches the console to Polish, opens the conversation (order id and VIP
// badge in the header), answers with a Polish apology from the `/` picker (keyboard
// only), closes it as "needs follow-up", finds it in the follow-ups tab and marks it
// done. Needs client-web/node_modules and client-web/dist, and /usr/bin/chromium.
// Prints "N passed, M failed" last; exits non-zero if anything failed.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  assert,
  checkDist,
  CHROMIUM_ARGS,
  countPageErrors,
  crashResult,
  findChromium,
  loadPlaywright,
  parseArgs,
  repoRoot,
  reportAndExit,
  Runner,
  startServer,
  teardown,
  until,
} from './lib.mjs';
import { connectWs } from './ws.mjs';

const STORE = 'demo-pl';
const STORE_NAME = 'Sklep Demo Calma';
// agent2 (Piotr Nowak) serves demo and demo-pl and is senior: a VIP goes to him.
const AGENT = { user: 'agent2', pass: 'agent2', name: 'Piotr Nowak' };
const SHOPPER = 'Katarzyna Wiśniewska';
const CONTEXT = { order_id: 'PL-77', order_value: 950, currency: 'PLN', tier: 'vip' };
const FIRST = 'Dzień dobry, zamówienie PL-77 miało przyjść tydzień temu i nadal go nie ma.';
const NBSP = '\u00a0';

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const runner = new Runner({ shotsDir: args.shots, only: args.only });
  if (args.shots) mkdirSync(args.shots, { recursive: true });
  let server = null;
  let browser = null;
  let shopper = null;
  let result = { passed: 0, failed: 1 };
  try {
    const { chromium } = loadPlaywright();
    const executablePath = findChromium();
    checkDist();
    server = await startServer(args.server ? path.resolve(args.server) : '', [
      '--config',
      path.join(repoRoot, 'config', 'calma.json'),
      '--users',
      path.join(repoRoot, 'config', 'users.json'),
    ]);
    const base = server.url;
    const wsUrl = base.replace('http://', 'ws://') + '/ws';
    console.log(`server: ${base}`);
    browser = await chromium.launch({ executablePath, headless: !args.headed, args: CHROMIUM_ARGS, timeout: 60000 });
    // The agent's browser says English: the console starts in English and is switched by hand.
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const page = await ctx.newPage();
    page.setDefaultTimeout(10000);
    runner.pages.push({ label: 'agent', page });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const tid = (id) => page.locator(`[data-testid="${id}"]`);
    let convId = '';
    let token = '';
    let sentText = '';

    runner.test('the demo-pl store is configured', async () => {
      const res = await fetch(`${base}/api/v1/stores/${STORE}/widget`);
      assert(res.status === 200, `GET /api/v1/stores/${STORE}/widget: ${res.status}`);
      const body = await res.json();
      assert(body.name === STORE_NAME, `store name ${JSON.stringify(body.name)}`);
      assert((body.languages ?? []).includes('pl'), `store languages ${JSON.stringify(body.languages)}`);
    });

    runner.test('shopper connects to demo-pl in Polish with a VIP order context and writes', async () => {
      shopper = await connectWs(wsUrl, { origin: base });
      shopper.send({ type: 'hello', role: 'shopper', store: STORE, name: SHOPPER, language: 'pl', context: CONTEXT });
      const welcome = await shopper.next((f) => f.type === 'welcome' || f.type === 'error', 10000, 'the shopper\'s welcome');
      assert(welcome.type === 'welcome', `shopper hello answered ${JSON.stringify(welcome)}`);
      shopper.send({ type: 'chat.send', client_msg_id: 'e2e-day-1', text: FIRST });
      const ack = await shopper.next((f) => f.type === 'ack' || (f.type === 'error' && f.ref === 'e2e-day-1'), 10000, 'the ack of the first message');
      assert(ack.type === 'ack', `chat.send answered ${JSON.stringify(ack)}`);
      convId = ack.conversation_id;
    }, { needs: ['the demo-pl store is configured'] });

    runner.test('agent signs in and switches the console to Polish with the menu', async () => {
      await page.goto(base + '/console');
      await tid('username').fill(AGENT.user);
      await tid('password').fill(AGENT.pass);
      await tid('login').click();
      await tid('conn').filter({ hasText: 'Connected' }).waitFor();
      await tid('me').filter({ hasText: AGENT.name }).waitFor();
      await tid('lang').selectOption('pl');
      await tid('conn').filter({ hasText: 'Połączono' }).waitFor();
      await tid('tab-conversations').filter({ hasText: 'Rozmowy' }).waitFor();
      await tid('tab-followups').filter({ hasText: 'Kontakt zwrotny' }).waitFor();
      assert((await page.getAttribute('html', 'lang')) === 'pl', 'html lang is not pl');
      assert((await page.title()).includes('Konsola Calma'), `title ${await page.title()}`);
      token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('calma:console:session') || '{}').token || '');
      assert(token, 'no session token in the console');
    }, { needs: ['shopper connects to demo-pl in Polish with a VIP order context and writes'] });

    runner.test('agent opens the conversation: order id, value, VIP badge and store in the header', async () => {
      const item = tid('conv-item').filter({ hasText: SHOPPER });
      await item.waitFor({ timeout: 15000 });
      assert((await item.getAttribute('data-conv')) === convId, 'the listed conversation is not the shopper\'s');
      await item.click();
      await tid('msg-shopper').filter({ hasText: FIRST }).waitFor();
      await tid('pane-title').filter({ hasText: SHOPPER }).waitFor();
      await tid('ctx-order').filter({ hasText: 'Zamówienie PL-77' }).waitFor();
      const vip = tid('pane').locator('[data-testid="vip-badge"]');
      await vip.waitFor({ state: 'visible' });
      assert((await vip.textContent()) === 'VIP', 'VIP badge text');
      const value = await tid('ctx-value').textContent();
      assert(value === `950,00${NBSP}zł`, `order value shown as ${JSON.stringify(value)}`);
      await tid('store-name').filter({ hasText: STORE_NAME }).waitFor();
      await tid('pane').filter({ hasText: 'Przydzielona Tobie' }).waitFor();
      await runner.snap(page, '01-console-pl-conversation');
    }, { needs: ['agent signs in and switches the console to Polish with the menu'] });

    runner.test('agent answers with a Polish apology from the / picker, by keyboard; the shopper gets it filled in', async () => {
      const reply = tid('reply');
      await reply.click();
      await reply.pressSequentially('/przepr', { delay: 30 });
      const picker = tid('canned-picker');
      await picker.waitFor({ state: 'visible' });
      const options = tid('canned-option');
      await until(async () => (await options.count()) >= 2, async () => `picker options: ${JSON.stringify(await options.allTextContents())}`);
      assert((await tid('canned-list').getAttribute('role')) === 'listbox', 'picker is not a listbox');
      assert((await reply.getAttribute('aria-activedescendant')) === 'canned-opt-0', 'first option not active');
      const chosenId = await options.nth(1).getAttribute('data-id');
      await runner.snap(page, '02-console-pl-picker');
      await reply.press('ArrowDown');
      assert((await reply.getAttribute('aria-activedescendant')) === 'canned-opt-1', 'ArrowDown did not move to the second option');
      assert((await options.nth(1).getAttribute('aria-selected')) === 'true', 'second option not selected');
      await reply.press('Enter');
      await picker.waitFor({ state: 'hidden' });
      const filled = await reply.inputValue();
      assert(filled && !filled.includes('/przepr'), `reply box after insert: ${JSON.stringify(filled)}`);
      assert(!filled.includes('{'), `placeholder left in ${JSON.stringify(filled)}`);
      // The picker only fills the box: nothing reached the shopper yet.
      await page.waitForTimeout(300);
      assert(!shopper.frames.some((f) => f.type === 'chat.message' && f.from?.role !== 'shopper'), 'the picker sent the answer by itself');
      // What the server ships for that answer, filled the same way.
      const res = await fetch(`${base}/api/v1/canned?store=${STORE}&lang=pl`, { headers: { Authorization: 'Bearer ' + token } });
      assert(res.status === 200, `GET /api/v1/canned: ${res.status}`);
      const answer = ((await res.json()).responses ?? []).find((r) => r.id === chosenId);
      assert(answer, `answer ${chosenId} not in /api/v1/canned`);
      const expected = answer.text.replaceAll('{order}', CONTEXT.order_id).replaceAll('{agent}', AGENT.name).replaceAll('{name}', SHOPPER);
      assert(filled === expected, `inserted ${JSON.stringify(filled)}, expected ${JSON.stringify(expected)}`);
      await reply.press('Enter');
      const msg = await shopper.next((f) => f.type === 'chat.message' && f.from?.role !== 'shopper', 15000, 'the agent\'s answer');
      sentText = msg.text;
      assert(sentText === filled, `shopper got ${JSON.stringify(sentText)}`);
      assert(!sentText.includes('{'), 'a placeholder reached the shopper');
      assert(/[ąćęłńóśźż]/i.test(sentText), `not Polish: ${JSON.stringify(sentText)}`);
      assert(msg.from?.name === AGENT.name, `answer from ${JSON.stringify(msg.from)}`);
      await tid('msg-staff').filter({ hasText: sentText.slice(0, 30) }).waitFor();
    }, { needs: ['agent opens the conversation: order id, value, VIP badge and store in the header'] });

    runner.test('agent closes with "needs follow-up" and the follow-ups tab lists it', async () => {
      await tid('close-followup').check();
      await tid('close-conv').click();
      const closed = await shopper.next((f) => f.type === 'conversation.closed', 10000, 'conversation.closed');
      assert(closed.conversation_id === convId, 'closed another conversation');
      await tid('closed-line').waitFor();
      await tid('tab-followups').click();
      const row = page.locator(`[data-testid="followup-row"][data-conv="${convId}"]`);
      await row.waitFor({ timeout: 15000 });
      await row.filter({ hasText: SHOPPER }).waitFor();
      await row.filter({ hasText: 'Prośba o kontakt zwrotny' }).waitFor();
      await row.filter({ hasText: STORE_NAME }).waitFor();
      await tid('followups-count').filter({ hasNotText: /^0$/ }).waitFor();
      await runner.snap(page, '03-console-pl-followups');
    }, { needs: ['agent answers with a Polish apology from the / picker, by keyboard; the shopper gets it filled in'] });

    runner.test('"Done" takes it off the follow-up list', async () => {
      const row = page.locator(`[data-testid="followup-row"][data-conv="${convId}"]`);
      await row.locator('[data-testid="followup-done"]').click();
      await row.waitFor({ state: 'detached' });
      await page.waitForTimeout(800); // the refetch after followup.done must not bring it back
      assert((await row.count()) === 0, 'the follow-up came back after the refetch');
      const res = await fetch(`${base}/api/v1/followups`, { headers: { Authorization: 'Bearer ' + token } });
      assert(res.status === 200, `GET /api/v1/followups: ${res.status}`);
      const list = (await res.json()).followups ?? [];
      assert(!list.some((f) => f.conversation_id === convId), 'the server still lists it as a follow-up');
    }, { needs: ['agent closes with "needs follow-up" and the follow-ups tab lists it'] });

    result = countPageErrors(await runner.run(), pageErrors, [['', server]]);
  } catch (e) {
    result = crashResult(runner, e);
  } finally {
    await teardown({ sockets: [shopper], browser, servers: [server] });
  }
  reportAndExit(result);
}

main();

#!/usr/bin/env node
// Browser end-to-end test of the rating (CSAT) after a conversation (spec-v1.1.md
// "Issue 9 additions" -> "Rating (CSAT)"), on the real server and Chromium:
//   on / (store demo, Spanish) on a 390x844 phone a shopper writes in the widget; an agent
//   (HTTP login as agent/agent, then a raw WebSocket) answers and closes; the widget asks
//   "¿Qué tal ha ido el chat?"; the shopper taps 5, writes a comment and sends; the
//   thank-you shows; exactly one csat frame went out; GET /api/v1/conversations/{id} with a
//   supervisor token has csat {score 5, comment} and a `csat` entry in its audit; a reload
//   thanks again instead of asking.
//
//   node tests/e2e/rating.mjs --server build/server/calma-server [--shots DIR]
//
// Needs what run.mjs needs (client-web built, Chromium). Prints "N passed, M failed".
import { mkdirSync } from 'node:fs';
import {
  assert,
  checkDist,
  CHROMIUM_ARGS,
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
} from './lib.mjs';
import { connectWs } from './ws.mjs';
import path from 'node:path';

const SHOPPER = 'Lucía Fernández';
const FIRST = 'Hola, ¿el molinillo manual sirve para espresso?';
const ANSWER = 'Sí, tiene ajuste fino para espresso. ¿Te ayudo con algo más?';
const COMMENT = 'Muy clara y rápida, ¡gracias!';
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, locale: 'es-ES' };

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.log(`FAIL setup: ${e.message}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  const runner = new Runner({ shotsDir: args.shots, only: args.only });
  if (args.shots) mkdirSync(args.shots, { recursive: true });
  let server = null;
  let browser = null;
  let agentWs = null;
  let result = { passed: 0, failed: 1 };
  try {
    const { chromium } = loadPlaywright();
    const executablePath = findChromium();
    checkDist();
    server = await startServer(args.server ? path.resolve(args.server) : '');
    console.log(`server: ${server.url}`);
    browser = await chromium.launch({ executablePath, headless: !args.headed, args: CHROMIUM_ARGS, timeout: 60000 });
    const pageErrors = [];
    const ctx = await browser.newContext(PHONE);
    const page = await ctx.newPage();
    page.setDefaultTimeout(10000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    runner.pages.push({ label: 'phone-shopper', page });
    // Every frame the widget sends and receives.
    const sent = [];
    const received = [];
    page.on('websocket', (ws) => {
      const keep = (list) => (f) => {
        try {
          list.push(JSON.parse(String(f.payload)));
        } catch {
          /* not JSON */
        }
      };
      ws.on('framesent', keep(sent));
      ws.on('framereceived', keep(received));
    });
    const w = (id) => page.locator(`#calma-widget [data-testid="${id}"]`);
    let conv = null;

    const CHAT = 'on / a shopper writes, the agent answers and closes: the widget asks for a rating in Spanish';
    runner.test(CHAT, async () => {
      const me = await apiLogin(server.url, 'agent', 'agent');
      agentWs = await connectWs(server.url.replace('http://', 'ws://') + '/ws', { origin: server.url });
      agentWs.send({ type: 'hello', token: me.token });
      await agentWs.next((f) => f.type === 'welcome', 10000, 'welcome for the agent');
      agentWs.send({ type: 'presence.set', status: 'online' });
      await agentWs.next((f) => f.type === 'presence', 10000, 'presence for the agent');

      await page.goto(server.url + '/');
      await w('launcher').click();
      await w('panel').waitFor({ state: 'visible' });
      await page.locator('#calma-widget #calma-name').fill(SHOPPER);
      await w('input').fill(FIRST);
      await w('input').press('Enter');
      const mine = w('msg-me').filter({ hasText: FIRST });
      await until(async () => ['sent', 'read'].includes(await mine.getAttribute('data-status')), async () => `message never acked (status ${await mine.getAttribute('data-status')})`, 15000);
      const assigned = await agentWs.next((f) => f.type === 'conversation.assigned' && f.shopper?.name === SHOPPER, 15000, `conversation.assigned for ${SHOPPER}`);
      conv = assigned.conversation_id;
      assert(conv === (await page.evaluate(() => localStorage.getItem('calma:demo:conversation'))), 'the agent got another conversation than the widget has');
      agentWs.send({ type: 'chat.send', conversation_id: conv, client_msg_id: 'agent-answer-1', text: ANSWER });
      await w('msg-them').filter({ hasText: ANSWER }).waitFor();
      assert(await w('rating').isHidden(), 'the rating shows while the conversation is open');
      agentWs.send({ type: 'conversation.close', conversation_id: conv, reason: 'resolved' });
      await agentWs.next((f) => f.type === 'conversation.closed' && f.conversation_id === conv, 10000, 'conversation.closed for the agent');

      await w('rating').waitFor({ state: 'visible' });
      await w('rating').filter({ hasText: '¿Qué tal ha ido el chat?' }).waitFor();
      const group = page.locator('#calma-widget [role="radiogroup"]');
      assert((await group.count()) === 1, 'no radiogroup');
      const labels = await page.locator('#calma-widget [role="radio"]').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
      assert(JSON.stringify(labels) === JSON.stringify(['1 de 5 — muy malo', '2 de 5 — malo', '3 de 5 — regular', '4 de 5 — bueno', '5 de 5 — excelente']), `radio labels: ${JSON.stringify(labels)}`);
      // Big enough for a finger, and all five on the phone's screen.
      for (let n = 1; n <= 5; n++) {
        const bb = await w(`rating-${n}`).boundingBox();
        assert(bb && bb.height >= 44 && bb.width >= 44, `rating-${n} is ${bb && `${bb.width}x${bb.height}`} px on a phone (< 44)`);
        assert(bb.x >= 0 && bb.x + bb.width <= 390 && bb.y + bb.height <= 844, `rating-${n} off screen: ${JSON.stringify(bb)}`);
      }
      // Above the new-chat button, which stays there.
      const rb = await w('rating').boundingBox();
      const nb = await w('new-chat').boundingBox();
      assert(rb && nb && rb.y + rb.height <= nb.y + 1, `the rating is not above "Iniciar un nuevo chat": ${JSON.stringify({ rb, nb })}`);
      assert(await w('new-chat').isVisible(), 'the new-chat button is hidden');
      assert(await w('rating-comment').isHidden(), 'the comment shows before a score is chosen');
      await runner.snap(page, 'rating-1-asked');
    });

    const RATE = 'the shopper taps 5, writes a comment and sends: one csat frame, then the thank-you';
    runner.test(RATE, async () => {
      await w('rating-5').tap();
      assert((await w('rating-5').getAttribute('aria-checked')) === 'true', 'rating-5 not checked after a tap');
      await w('rating-comment').waitFor({ state: 'visible' });
      assert(!sent.some((f) => f.type === 'csat'), 'a tap on a score sent the rating before Send');
      await w('rating-comment').fill(COMMENT);
      await runner.snap(page, 'rating-2-chosen');
      await w('rating-send').tap();
      await w('rating-thanks').filter({ hasText: '¡Gracias por tu valoración!' }).waitFor();
      await until(() => received.some((f) => f.type === 'csat.saved' && f.conversation_id === conv), 'no csat.saved reached the widget', 5000);
      const csats = sent.filter((f) => f.type === 'csat');
      assert(csats.length === 1, `the widget sent ${csats.length} csat frames`);
      assert(JSON.stringify(csats[0]) === JSON.stringify({ type: 'csat', conversation_id: conv, score: 5, comment: COMMENT }), `csat frame: ${JSON.stringify(csats[0])}`);
      assert(await page.locator('#calma-widget [role="radio"]').first().isHidden(), 'the scores still show after the thank-you');
      assert(await w('new-chat').isVisible(), 'the new-chat button is gone after rating');
      await runner.snap(page, 'rating-3-thanks');
    }, { needs: [CHAT] });

    runner.test('GET /api/v1/conversations/{id} (supervisor) has csat 5 with the comment, and a csat audit entry', async () => {
      const sup = await apiLogin(server.url, 'supervisor', 'supervisor');
      let last = null;
      const body = await until(async () => {
        const res = await fetch(`${server.url}/api/v1/conversations/${encodeURIComponent(conv)}`, { headers: { Authorization: `Bearer ${sup.token}` } });
        const text = await res.text();
        last = `HTTP ${res.status} ${text.slice(0, 2000)}`;
        if (res.status !== 200) return null;
        const j = JSON.parse(text);
        return Array.isArray(j.audit) && j.audit.some((a) => a.action === 'csat') ? j : null;
      }, () => `no csat entry in the audit: ${last}`, 10000, 200);
      assert(body.csat && body.csat.score === 5, `csat: ${JSON.stringify(body.csat)}`);
      assert(body.csat.comment === COMMENT, `csat.comment: ${JSON.stringify(body.csat.comment)}`);
      const entry = body.audit.find((a) => a.action === 'csat');
      assert(entry.score === 5, `audit csat entry: ${JSON.stringify(entry)}`);
      assert(entry.by && entry.by.role === 'shopper', `audit csat entry by: ${JSON.stringify(entry.by)}`);
    }, { needs: [RATE] });

    runner.test('a reload does not ask again: the thank-you, no second csat', async () => {
      const before = sent.filter((f) => f.type === 'csat').length;
      await page.reload();
      await w('closed').waitFor({ state: 'visible' });
      await w('rating-thanks').filter({ hasText: '¡Gracias por tu valoración!' }).waitFor();
      assert(await page.locator('#calma-widget [role="radio"]').first().isHidden(), 'the scores show again after a reload');
      await page.waitForTimeout(500);
      assert(sent.filter((f) => f.type === 'csat').length === before, 'a csat frame went out after the reload');
    }, { needs: [RATE] });

    result = countPageErrors(await runner.run(), pageErrors, [['', server]]);
  } catch (e) {
    result = crashResult(runner, e);
  } finally {
    await teardown({ sockets: [agentWs], browser, servers: [server] });
  }
  reportAndExit(result);
}

main();

#!/usr/bin/env node
// Reports, the audit trail and the causes (Issue 9), end to end: the real calma-server
// with the repo's config/calma.json and config/users.json; a shopper and agent2 played by
// raw WebSockets from node (agent2 logged in over HTTP), the supervisor in Chromium.
//
//   node tests/e2e/report.mjs --server build/server/calma-server [--shots DIR]
//
// The shopper writes an angry message to store demo; the supervisor opens the
// conversation in /console and sees its audit timeline ("Opened") and corrects its causes;
// agent2 answers with an apology and closes (the timeline gains "Closed"); the shopper
// rates it 4. In Reports the supervisor sees 1 conversation, CSAT 4.0 and the charts drawn,
// downloads the CSV (a header and one row), then switches to Spanish: the figures, and the
// timeline ("Abierta", "Cerrada"), follow. Needs client-web/node_modules and client-web/dist,
// and /usr/bin/chromium. Prints "N passed, M failed" last; exits non-zero if anything failed.
import { mkdirSync, readFileSync } from 'node:fs';
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
  tempDir,
  until,
} from './lib.mjs';
import { connectWs } from './ws.mjs';

const STORE = 'demo';
// agent2 (Piotr Nowak) serves demo and demo-pl; `agent` stays offline, so agent2 gets the chat.
const AGENT = { user: 'agent2', pass: 'agent2', name: 'Piotr Nowak' };
const SUPERVISOR = { user: 'supervisor', pass: 'supervisor' };
const SHOPPER = 'Lucía Fernández';
const ANGRY = '¡Esto es INACEPTABLE! Llevo DOS SEMANAS esperando mi pedido, nadie me contesta y quiero mi dinero YA. ¡Es una vergüenza!';
const APOLOGY = 'Lo siento muchísimo, Lucía, entiendo perfectamente su enfado. Le hago ahora mismo el reembolso completo y le confirmo por correo en unos minutos.';

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const runner = new Runner({ shotsDir: args.shots, only: args.only });
  if (args.shots) mkdirSync(args.shots, { recursive: true });
  let server = null;
  let browser = null;
  let shopper = null;
  let agent = null;
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
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', acceptDownloads: true });
    const page = await ctx.newPage();
    page.setDefaultTimeout(10000);
    runner.pages.push({ label: 'supervisor', page });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const tid = (id) => page.locator(`[data-testid="${id}"]`);
    const entry = (action) => page.locator(`[data-testid="audit-entry"][data-action="${action}"]`);
    let convId = '';
    let supToken = '';

    const login = async (who) => {
      const res = await fetch(`${base}/api/v1/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: who.user, password: who.pass }) });
      assert(res.status === 200, `login ${who.user}: HTTP ${res.status}`);
      return res.json();
    };

    runner.test('agent2 logs in over HTTP and goes online on a raw WebSocket', async () => {
      const me = await login(AGENT);
      assert(me.role === 'agent' && me.token, `agent2 login answered ${JSON.stringify(me)}`);
      agent = await connectWs(wsUrl, { origin: base });
      agent.send({ type: 'hello', token: me.token });
      const welcome = await agent.next((f) => f.type === 'welcome' || f.type === 'error', 10000, "agent2's welcome");
      assert(welcome.type === 'welcome', `agent2 hello answered ${JSON.stringify(welcome)}`);
      agent.send({ type: 'presence.set', status: 'online' });
      await agent.next((f) => f.type === 'presence', 10000, 'the presence answer');
    });

    runner.test('a shopper writes an angry message to store demo and agent2 gets it', async () => {
      shopper = await connectWs(wsUrl, { origin: base });
      shopper.send({ type: 'hello', role: 'shopper', store: STORE, name: SHOPPER, language: 'es' });
      const welcome = await shopper.next((f) => f.type === 'welcome' || f.type === 'error', 10000, "the shopper's welcome");
      assert(welcome.type === 'welcome', `shopper hello answered ${JSON.stringify(welcome)}`);
      shopper.send({ type: 'chat.send', client_msg_id: 'e2e-report-1', text: ANGRY });
      const ack = await shopper.next((f) => f.type === 'ack' || (f.type === 'error' && f.ref === 'e2e-report-1'), 10000, 'the ack');
      assert(ack.type === 'ack', `chat.send answered ${JSON.stringify(ack)}`);
      convId = ack.conversation_id;
      const assigned = await agent.next((f) => f.type === 'conversation.assigned' && f.conversation_id === convId, 15000, 'conversation.assigned to agent2');
      assert(assigned.agent?.id === AGENT.user, `assigned to ${JSON.stringify(assigned.agent)}`);
    }, { needs: ['agent2 logs in over HTTP and goes online on a raw WebSocket'] });

    runner.test('agent2 answers with an apology', async () => {
      agent.send({ type: 'chat.send', client_msg_id: 'e2e-report-a1', conversation_id: convId, text: APOLOGY });
      const ack = await agent.next((f) => (f.type === 'ack' && f.client_msg_id === 'e2e-report-a1') || (f.type === 'error' && f.ref === 'e2e-report-a1'), 10000, "the ack of agent2's answer");
      assert(ack.type === 'ack', `agent2's chat.send answered ${JSON.stringify(ack)}`);
      await shopper.next((f) => f.type === 'chat.message' && f.text === APOLOGY, 10000, 'the apology at the shopper');
    }, { needs: ['a shopper writes an angry message to store demo and agent2 gets it'] });

    runner.test('the supervisor signs in to /console: a Reports tab, and the open conversation with its audit timeline', async () => {
      await page.goto(base + '/console');
      await tid('username').fill(SUPERVISOR.user);
      await tid('password').fill(SUPERVISOR.pass);
      await tid('login').click();
      await tid('conn').filter({ hasText: 'Connected' }).waitFor();
      await tid('tab-reports').filter({ hasText: 'Reports' }).waitFor();
      supToken = await page.evaluate(() => JSON.parse(sessionStorage.getItem('calma:console:session') || '{}').token || '');
      assert(supToken, 'no session token in the console');
      const item = page.locator(`[data-testid="conv-item"][data-conv="${convId}"]`);
      await item.waitFor({ timeout: 15000 });
      await item.click();
      await tid('pane-title').filter({ hasText: SHOPPER }).waitFor();
      await entry('opened').waitFor();
      const opened = await entry('opened').textContent();
      assert(opened.includes('Opened') && opened.includes(SHOPPER), `opened entry: ${JSON.stringify(opened)}`);
      await entry('assigned').filter({ hasText: 'Calma' }).waitFor();
      await tid('causes').waitFor();
    }, { needs: ['agent2 answers with an apology'] });

    runner.test('the supervisor corrects the causes: chips, the "corrected" mark and an audit entry', async () => {
      await tid('causes-edit').click();
      await tid('causes-editor').waitFor();
      const boxes = tid('causes-editor').locator('input[type="checkbox"]');
      assert((await boxes.count()) === 7, `${await boxes.count()} cause checkboxes`);
      // Exactly delivery and refund, whatever the server tagged by itself before.
      for (const c of ['delivery', 'damaged', 'wrong_item', 'refund', 'payment', 'service', 'other']) {
        await tid('cause-opt-' + c).setChecked(c === 'delivery' || c === 'refund');
      }
      await tid('causes-save').click();
      await tid('causes-corrected').waitFor();
      await until(async () => JSON.stringify(await tid('cause-chip').allTextContents()) === JSON.stringify(['Delivery', 'Refund']), async () => `chips ${JSON.stringify(await tid('cause-chip').allTextContents())}`);
      // (a server that tags causes itself may have sent corrected: false ones before)
      const fixed = await agent.next((f) => f.type === 'causes.updated' && f.conversation_id === convId && f.corrected === true, 10000, 'the corrected causes.updated at agent2');
      assert(fixed.corrected === true && JSON.stringify([...fixed.causes].sort()) === '["delivery","refund"]', `causes.updated ${JSON.stringify(fixed)}`);
      await entry('causes_corrected').filter({ hasText: 'Delivery, Refund' }).waitFor();
    }, { needs: ['the supervisor signs in to /console: a Reports tab, and the open conversation with its audit timeline'] });

    runner.test('agent2 closes; the timeline gains "Closed"; the shopper rates it 4', async () => {
      agent.send({ type: 'conversation.close', conversation_id: convId, reason: 'resolved' });
      await shopper.next((f) => f.type === 'conversation.closed' && f.conversation_id === convId, 10000, 'conversation.closed at the shopper');
      await tid('closed-line').waitFor();
      await entry('closed').waitFor();
      const closed = await entry('closed').textContent();
      assert(closed.includes('Closed') && closed.includes(AGENT.name) && closed.includes('resolved'), `closed entry: ${JSON.stringify(closed)}`);
      shopper.send({ type: 'csat', conversation_id: convId, score: 4 });
      const saved = await shopper.next((f) => f.type === 'csat.saved' || (f.type === 'error' && f.ref === 'csat'), 10000, 'csat.saved');
      assert(saved.type === 'csat.saved', `csat answered ${JSON.stringify(saved)}`);
      await tid('audit-card').scrollIntoViewIfNeeded();
      await runner.snap(page, '01-conversation-audit-en');
    }, { needs: ['the supervisor signs in to /console: a Reports tab, and the open conversation with its audit timeline'] });

    runner.test('Reports: 1 conversation, CSAT 4.0, the charts drawn on a canvas', async () => {
      await tid('tab-reports').click();
      await tid('reports-panel').waitFor({ state: 'visible' });
      await tid('fig-conversations-value').filter({ hasText: /^1$/ }).waitFor({ timeout: 15000 });
      await tid('fig-csat-value').filter({ hasText: /^4\.0$/ }).waitFor();
      assert((await tid('fig-csat-count').textContent()).includes('1 rating'), `csat count: ${await tid('fig-csat-count').textContent()}`);
      const fr = await tid('fig-first-response-value').textContent();
      assert(fr && fr !== '—' && /\d/.test(fr), `first response shown as ${JSON.stringify(fr)}`);
      for (const chart of ['chart-days', 'chart-causes', 'chart-anger', 'chart-deesc']) {
        const canvas = page.locator(`[data-testid="${chart}"] canvas`);
        await canvas.first().waitFor({ state: 'visible' });
        const box = await canvas.first().boundingBox();
        assert(box && box.width > 200 && box.height > 100, `${chart} canvas is ${JSON.stringify(box)}`);
      }
      const row = page.locator(`[data-testid="report-agent"][data-agent="${AGENT.user}"]`);
      await row.waitFor();
      assert((await row.textContent()).includes(AGENT.name), 'agent2 not in the agents table');
      // The same figures as the server's own summary.
      const now = Date.now();
      const res = await fetch(`${base}/api/v1/reports/summary?from=${now - 86400000}&to=${now + 86400000}`, { headers: { Authorization: 'Bearer ' + supToken } });
      assert(res.status === 200, `summary: HTTP ${res.status}`);
      const body = await res.json();
      assert(body.conversations === 1 && body.csat.average === 4, `summary ${JSON.stringify(body)}`);
      assert(body.categories.delivery === 1 && body.categories.refund === 1, `corrected causes not counted: ${JSON.stringify(body.categories)}`);
      await runner.snap(page, '02-reports-en');
    }, { needs: ['agent2 closes; the timeline gains "Closed"; the shopper rates it 4'] });

    runner.test('Download CSV saves a file with a header and one row', async () => {
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15000 }), tid('report-csv').click()]);
      const name = download.suggestedFilename();
      assert(/^calma-conversations_\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}\.csv$/.test(name), `file name ${name}`);
      const file = path.join(tempDir('calma-e2e-csv-'), name);
      await download.saveAs(file);
      const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.length);
      assert(lines.length === 2, `CSV has ${lines.length} lines:\n${lines.join('\n')}`);
      assert(lines[0].startsWith('conversation_id,store,'), `CSV header ${lines[0]}`);
      assert(lines[1].startsWith(convId + ',' + STORE + ','), `CSV row ${lines[1]}`);
      await tid('report-csv').filter({ hasText: 'Download CSV' }).waitFor();
    }, { needs: ['Reports: 1 conversation, CSAT 4.0, the charts drawn on a canvas'] });

    runner.test('more than 93 days is refused in the page, before asking', async () => {
      let asked = 0;
      const count = (req) => {
        if (req.url().includes('/api/v1/reports/')) asked++;
      };
      page.on('request', count);
      const from = await tid('report-from').inputValue();
      await tid('report-from').fill('2020-01-01');
      await tid('report-refresh').click();
      await tid('report-message').filter({ hasText: 'at most 93 days' }).waitFor();
      await page.waitForTimeout(300);
      page.off('request', count);
      assert(asked === 0, `${asked} report requests for a refused window`);
      await tid('report-from').fill(from);
      await tid('report-refresh').click();
      await tid('report-message').waitFor({ state: 'hidden' });
      await tid('fig-conversations-value').filter({ hasText: /^1$/ }).waitFor();
    }, { needs: ['Reports: 1 conversation, CSAT 4.0, the charts drawn on a canvas'] });

    runner.test('in Spanish: the reports, and the audit timeline of the closed conversation', async () => {
      await tid('lang').selectOption('es');
      await tid('tab-reports').filter({ hasText: 'Informes' }).waitFor();
      await tid('fig-csat-value').filter({ hasText: /^4,0$/ }).waitFor();
      await tid('fig-conversations').filter({ hasText: 'Conversaciones' }).waitFor();
      await tid('report-refresh').filter({ hasText: 'Actualizar' }).waitFor();
      await page.locator('[data-testid="chart-days"] canvas').first().waitFor({ state: 'visible' });
      await runner.snap(page, '03-reports-es');
      await page.locator('[data-testid="reports-panel"]').evaluate((el) => el.scrollTo(0, el.scrollHeight));
      await runner.snap(page, '03b-reports-es-agents');
      await tid('tab-conversations').click();
      const item = page.locator(`[data-testid="conv-item"][data-conv="${convId}"]`);
      await item.click();
      await entry('opened').filter({ hasText: 'Abierta' }).waitFor();
      await entry('closed').filter({ hasText: 'Cerrada' }).waitFor();
      await entry('causes_corrected').filter({ hasText: 'Entrega, Reembolso' }).waitFor();
      await tid('causes-corrected').filter({ hasText: 'corregidas' }).waitFor();
      await tid('audit-card').scrollIntoViewIfNeeded();
      await runner.snap(page, '04-conversation-audit-es');
    }, { needs: ['Download CSV saves a file with a header and one row'] });

    result = countPageErrors(await runner.run(), pageErrors, [['', server]]);
  } catch (e) {
    result = crashResult(runner, e);
  } finally {
    await teardown({ sockets: [shopper, agent], browser, servers: [server] });
  }
  reportAndExit(result);
}

main();

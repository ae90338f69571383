#!/usr/bin/env node
// Browser end-to-end tests of Calma: the real calma-server (started here on a free
// port) and Debian's Chromium driven by playwright-core.
//
//   node tests/e2e/run.mjs --server build/server/calma-server [--shots DIR]
//
// Needs: client-web/node_modules (npm ci) and client-web/dist (npm run build),
// /usr/bin/chromium. Anything missing is a failure, not a skip.
// Prints "N passed, M failed" last; exits non-zero if anything failed.
import { mkdirSync } from 'node:fs';
import http from 'node:http';
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
  readDist,
  startServer,
  texts,
  until,
} from './lib.mjs';

const SHOPPER_NAME = 'Lucía Fernández';
const FIRST = 'Hola, mi pedido 4521 no ha llegado todavía';
const REPLY = 'Hola Lucía, lo siento mucho. Ahora mismo reviso el envío.';
const WHISPER = 'Ofrécele el reenvío urgente gratis';
const SECOND = 'Gracias, espero';

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let server = null;
  let browser = null;
  const runner = new Runner({ shotsDir: args.shots, only: args.only });
  if (args.shots) mkdirSync(args.shots, { recursive: true });
  let result = { passed: 0, failed: 1 };
  try {
    const { chromium } = loadPlaywright();
    const executablePath = findChromium();
    checkDist();
    server = await startServer(args.server ? path.resolve(args.server) : '');
    const base = server.url;
    console.log(`server: ${base}`);
    // playwright creates a fresh temporary profile (user-data dir) for every launch.
    browser = await chromium.launch({ executablePath, headless: !args.headed, args: CHROMIUM_ARGS, timeout: 60000 });

    const shopperCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'es-ES' });
    const shopper = await shopperCtx.newPage();
    const agentCtx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const agent = await agentCtx.newPage();
    const supCtx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const sup = await supCtx.newPage();
    runner.pages.push({ label: 'shopper', page: shopper }, { label: 'agent', page: agent }, { label: 'supervisor', page: sup });
    const consoleErrors = [];
    for (const [label, p] of [['shopper', shopper], ['agent', agent], ['supervisor', sup]]) {
      p.on('pageerror', (e) => consoleErrors.push(`${label}: ${e.message}`));
      p.setDefaultTimeout(10000);
    }

    // Every frame the agent's console receives, to compare what the UI shows with what came.
    const agentFrames = [];
    agent.on('websocket', (ws) =>
      ws.on('framereceived', (f) => {
        try {
          agentFrames.push(JSON.parse(String(f.payload)));
        } catch {
          /* not JSON */
        }
      }),
    );

    const widget = (sel) => shopper.locator(`#calma-widget [data-testid="${sel}"]`);

    const login = async (page, user, pass) => {
      await page.goto(base + '/console');
      await page.locator('[data-testid="username"]').fill(user);
      await page.locator('[data-testid="password"]').fill(pass);
      await page.locator('[data-testid="login"]').click();
      await page.locator('[data-testid="conn"]').filter({ hasText: 'Connected' }).waitFor();
    };

    runner.test('server serves the built client at /, /widget.js and /console', async () => {
      for (const [p, type, file] of [
        ['/', 'text/html', 'index.html'],
        ['/widget.js', 'javascript', 'widget.js'],
        ['/console', 'text/html', 'console.html'],
      ]) {
        const res = await fetch(base + p);
        assert(res.status === 200, `GET ${p}: ${res.status}`);
        assert((res.headers.get('content-type') || '').includes(type), `GET ${p}: content-type ${res.headers.get('content-type')}`);
        const body = await res.text();
        assert(body === readDist(file), `GET ${p} does not serve client-web/dist/${file} (stale or other static dir?)`);
      }
    });

    runner.test('shopper opens the widget on the demo store and writes', async () => {
      await shopper.goto(base + '/');
      await shopper.locator('h1').waitFor();
      const launcher = widget('launcher');
      await launcher.waitFor();
      assert((await launcher.getAttribute('aria-label')) === 'Abrir chat', 'launcher label should be Spanish (data-lang="es")');
      await launcher.click();
      await widget('panel').waitFor({ state: 'visible' });
      await shopper.locator('#calma-widget #calma-name').fill(SHOPPER_NAME);
      await widget('input').fill(FIRST);
      await widget('input').press('Enter');
      const mine = widget('msg-me').filter({ hasText: FIRST });
      await mine.waitFor();
      await until(async () => (await mine.getAttribute('data-status')) === 'sent' || (await mine.getAttribute('data-status')) === 'read', async () => `message never acked (status ${await mine.getAttribute('data-status')})`);
      await runner.snap(shopper, '01-shopper-sent');
    }, { needs: ['server serves the built client at /, /widget.js and /console'] });

    runner.test('agent logs in and sees the conversation assigned', async () => {
      await login(agent, 'agent', 'agent');
      await agent.locator('[data-testid="me"]').filter({ hasText: 'Ana García' }).waitFor();
      const item = agent.locator('[data-testid="conv-item"]').filter({ hasText: SHOPPER_NAME });
      await item.waitFor({ timeout: 15000 });
      await item.click();
      await agent.locator('[data-testid="msg-shopper"]').filter({ hasText: FIRST }).waitFor();
      assert((await agent.locator('[data-testid="msg-shopper"]').count()) === 1, 'shopper message shown more than once in the console');
      await agent.locator('[data-testid="anger-card"]').waitFor();
      await runner.snap(agent, '02-agent-assigned');
    }, { needs: ['shopper opens the widget on the demo store and writes'] });

    runner.test('agent replies and the shopper sees the reply and the agent name', async () => {
      await agent.locator('[data-testid="reply"]').fill(REPLY);
      await widget('typing').filter({ hasText: 'está escribiendo' }).waitFor();
      await agent.locator('[data-testid="reply"]').press('Enter');
      await agent.locator('[data-testid="msg-staff"]').filter({ hasText: REPLY }).waitFor();
      await widget('msg-them').filter({ hasText: REPLY }).waitFor();
      await widget('header').filter({ hasText: 'Ana García' }).waitFor();
      await runner.snap(shopper, '03-shopper-got-reply');
      await runner.snap(agent, '03-agent-replied');
    }, { needs: ['agent logs in and sees the conversation assigned'] });

    runner.test('shopper reloads: same conversation, every message exactly once', async () => {
      await widget('input').fill(SECOND);
      await agent.locator('[data-testid="shopper-typing"]').filter({ hasText: 'is typing' }).waitFor();
      await widget('send').click();
      const second = widget('msg-me').filter({ hasText: SECOND });
      await until(async () => (await second.getAttribute('data-status')) === 'sent' || (await second.getAttribute('data-status')) === 'read', 'second message never acked');
      await agent.locator('[data-testid="msg-shopper"]').filter({ hasText: SECOND }).waitFor();
      await shopper.reload();
      // The panel was open before the reload, so it reopens by itself.
      await widget('panel').waitFor({ state: 'visible' });
      await widget('msg-them').filter({ hasText: REPLY }).waitFor({ timeout: 15000 });
      await widget('msg-me').filter({ hasText: SECOND }).waitFor();
      // Give late duplicates (live + history) a chance to show up.
      await shopper.waitForTimeout(1000);
      const mine = await texts(shopper, '#calma-widget [data-testid="msg-me"] .bubble');
      const theirs = await texts(shopper, '#calma-widget [data-testid="msg-them"] .bubble');
      assert(JSON.stringify(mine) === JSON.stringify([FIRST, SECOND]), `shopper messages after reload: ${JSON.stringify(mine)}`);
      assert(JSON.stringify(theirs) === JSON.stringify([REPLY]), `agent messages after reload: ${JSON.stringify(theirs)}`);
      await runner.snap(shopper, '04-shopper-after-reload');
    }, { needs: ['agent replies and the shopper sees the reply and the agent name'] });

    runner.test('agent reloads the console: still signed in, same conversation, every message once', async () => {
      await agent.reload();
      await agent.locator('[data-testid="conn"]').filter({ hasText: 'Connected' }).waitFor();
      const item = agent.locator('[data-testid="conv-item"]').filter({ hasText: SHOPPER_NAME });
      await item.click();
      await agent.locator('[data-testid="msg-shopper"]').filter({ hasText: SECOND }).waitFor();
      await agent.waitForTimeout(800);
      const all = await texts(agent, '[data-testid="transcript"] .bubble');
      assert(JSON.stringify(all) === JSON.stringify([FIRST, REPLY, SECOND]), `console transcript after reload: ${JSON.stringify(all)}`);
      assert(!(await agent.locator('[data-testid="reply"]').isDisabled()), 'cannot reply after a reload');
    }, { needs: ['shopper reloads: same conversation, every message exactly once'] });

    runner.test('supervisor logs in and sees the queue snapshot', async () => {
      await login(sup, 'supervisor', 'supervisor');
      await sup.locator('[data-testid="queue"]').first().waitFor({ timeout: 15000 });
      await sup.locator('[data-testid="agents"]').filter({ hasText: 'Ana García' }).waitFor();
      await sup.locator('[data-testid="conv-item"]').filter({ hasText: SHOPPER_NAME }).waitFor();
      await runner.snap(sup, '05-supervisor');
    }, { needs: ['server serves the built client at /, /widget.js and /console'] });

    runner.test('agent presence (away, back online) shows in the supervisor view', async () => {
      const row = (status) => sup.locator('[data-testid="agents"] tr').filter({ hasText: 'Ana García' }).filter({ hasText: status });
      await agent.locator('[data-testid="presence"]').selectOption('away');
      await until(async () => (await agent.locator('[data-testid="presence"]').getAttribute('data-status')) === 'away', 'agent never got its presence confirmed');
      await row('away').waitFor({ timeout: 15000 });
      await agent.locator('[data-testid="presence"]').selectOption('online');
      await row('online').waitFor({ timeout: 15000 });
    }, { needs: ['supervisor logs in and sees the queue snapshot', 'agent logs in and sees the conversation assigned'] });

    runner.test('supervisor whispers: the agent sees it marked staff-only, the shopper never', async () => {
      await sup.locator('[data-testid="conv-item"]').filter({ hasText: SHOPPER_NAME }).click();
      await sup.locator('[data-testid="msg-shopper"]').filter({ hasText: FIRST }).waitFor();
      await sup.locator('[data-testid="join-whisper"]').click();
      await sup.locator('[data-testid="join-whisper"][aria-pressed="true"]').waitFor();
      await sup.locator('[data-testid="reply"]').fill(WHISPER);
      await sup.locator('[data-testid="reply"]').press('Enter');
      await sup.locator('[data-testid="msg-whisper"]').filter({ hasText: WHISPER }).waitFor();
      await agent.locator('[data-testid="msg-whisper"]').filter({ hasText: WHISPER }).waitFor();
      await shopper.waitForTimeout(1500);
      const all = (await texts(shopper, '#calma-widget [data-testid="log"]')).join(' ');
      assert(!all.includes(WHISPER), 'the shopper can see a staff-only whisper');
      await runner.snap(agent, '06-agent-whisper');
      await runner.snap(sup, '06-supervisor-whisper');
    }, { needs: ['supervisor logs in and sees the queue snapshot', 'agent logs in and sees the conversation assigned'] });

    runner.test('agent closes the conversation and the shopper sees it closed', async () => {
      await agent.locator('[data-testid="conv-item"]').filter({ hasText: SHOPPER_NAME }).click();
      await agent.locator('[data-testid="close-conv"]').click();
      await agent.locator('[data-testid="closed-line"]').waitFor();
      await widget('closed').waitFor({ state: 'visible' });
      assert(await widget('input').isHidden(), 'composer still visible in a closed conversation');
      await runner.snap(shopper, '07-shopper-closed');
      // "Start a new chat" gives a fresh, empty conversation view.
      await widget('new-chat').click();
      await widget('input').waitFor({ state: 'visible' });
      assert((await widget('msg-me').count()) === 0, 'new chat still shows the old messages');
      // Writing again opens a second conversation, which reaches an agent.
      await widget('input').fill('Otra consulta: ¿hacéis envíos a Canarias?');
      await widget('input').press('Enter');
      const again = widget('msg-me').filter({ hasText: 'Canarias' });
      await until(async () => ['sent', 'read'].includes(await again.getAttribute('data-status')), 'message in the new conversation never acked');
      await agent.locator('[data-testid="conv-item"]').filter({ hasText: 'Canarias' }).waitFor();
      assert((await agent.locator('[data-testid="conv-item"]').filter({ hasText: SHOPPER_NAME }).count()) === 2, 'agent should list the closed and the new conversation');
    }, { needs: ['shopper reloads: same conversation, every message exactly once'] });

    runner.test('supervisor barges in: the shopper sees the supervisor\'s message', async () => {
      const item = sup.locator('[data-testid="conv-item"]:not(.dim)').filter({ hasText: SHOPPER_NAME });
      await item.first().click();
      await sup.locator('[data-testid="msg-shopper"]').filter({ hasText: 'Canarias' }).waitFor();
      await sup.locator('[data-testid="join-barge"]').click();
      await sup.locator('[data-testid="join-barge"][aria-pressed="true"]').waitFor();
      const BARGE = 'Hola Lucía, soy Sofía, la supervisora: sí, enviamos a Canarias.';
      await sup.locator('[data-testid="reply"]').fill(BARGE);
      await sup.locator('[data-testid="reply"]').press('Enter');
      const seen = widget('msg-them').filter({ hasText: 'enviamos a Canarias' });
      await seen.waitFor();
      assert((await seen.locator('.who').textContent()) === 'Sofía Ruiz', 'the barge message is not shown with the supervisor name');
      await agent.locator('[data-testid="conv-item"]').filter({ hasText: 'enviamos a Canarias' }).waitFor();
    }, { needs: ['agent closes the conversation and the shopper sees it closed', 'supervisor logs in and sees the queue snapshot'] });

    runner.test('markup typed by a shopper is shown as text everywhere, never run', async () => {
      const EVIL = '<b>negrita</b><img src=x onerror="window.__pwned=1">';
      await widget('input').fill(EVIL);
      await widget('input').press('Enter');
      await widget('msg-me').filter({ hasText: '<b>negrita</b>' }).waitFor();
      const item = agent.locator('[data-testid="conv-item"]:not(.dim)').filter({ hasText: SHOPPER_NAME });
      await item.first().click();
      await agent.locator('[data-testid="msg-shopper"]').filter({ hasText: '<b>negrita</b>' }).waitFor();
      for (const [label, page, root] of [['agent', agent, '[data-testid="transcript"]'], ['shopper', shopper, '#calma-widget [data-testid="log"]']]) {
        assert((await page.locator(`${root} b, ${root} img`).count()) === 0, `${label}: the text became markup`);
        assert(!(await page.evaluate(() => window.__pwned)), `${label}: the script ran`);
      }
    }, { needs: ['supervisor barges in: the shopper sees the supervisor\'s message'] });

    runner.test('console draws anger.update and escalation.raised frames (injected into the live stream)', async () => {
      // A second shopper opens a conversation (assigned to the agent still online).
      const sctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      const sp = await sctx.newPage();
      runner.pages.push({ label: 'angry-shopper', page: sp });
      await sp.goto(base + '/');
      await sp.locator('#calma-widget [data-testid="launcher"]').click();
      await sp.locator('#calma-widget #calma-name').fill('Marta Kowalska');
      await sp.locator('#calma-widget [data-testid="input"]').fill('LLEVO UNA SEMANA ESPERANDO!!! Quiero hablar con un responsable');
      await sp.locator('#calma-widget [data-testid="input"]').press('Enter');
      await until(async () => ['sent', 'read'].includes(await sp.locator('#calma-widget [data-testid="msg-me"]').first().getAttribute('data-status')), 'angry message never acked');

      // The server does not send anger/escalation events yet everywhere: inject them
      // into a supervisor's real WebSocket (everything else is forwarded both ways).
      const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const page = await ctx.newPage();
      runner.pages.push({ label: 'supervisor-injected', page });
      const fromPage = [];
      let toPage = null;
      await ctx.routeWebSocket(/\/ws$/, (ws) => {
        const srv = ws.connectToServer();
        ws.onMessage((m) => {
          fromPage.push(m);
          srv.send(m);
        });
        // The server's own anger/escalation data is held back so that the page shows
        // exactly what the test injects.
        srv.onMessage((m) => {
          let f;
          try {
            f = JSON.parse(m);
          } catch {
            return ws.send(m);
          }
          if (f.type === 'anger.update' || f.type === 'agent.alert' || String(f.type).startsWith('escalation.')) return;
          if (f.type === 'welcome') {
            for (const c of f.conversations ?? []) c.anger = [];
            f.escalations = [];
            return ws.send(JSON.stringify(f));
          }
          ws.send(m);
        });
        toPage = (obj) => ws.send(JSON.stringify(obj));
      });
      await ctx.route('**/api/v1/conversations/**', (route) => route.fulfill({ status: 404, body: '' }));
      await login(page, 'supervisor', 'supervisor');
      const item = page.locator('[data-testid="conv-item"]').filter({ hasText: 'Marta Kowalska' });
      await item.waitFor();
      const conv = await item.getAttribute('data-conv');
      await item.click();
      await page.locator('[data-testid="anger-nodata"]').waitFor({ state: 'visible' });
      const t0 = Date.now() - 120000;
      const phases = ['calm', 'calm', 'rising', 'rising', 'rising', 'peak', 'peak'];
      const levels = [8, 12, 35, 52, 66, 81, 86];
      levels.forEach((level, i) =>
        toPage({ type: 'anger.update', conversation_id: conv, ts: t0 + i * 15000, level, phase: phases[i], trend: 14.5, cues: ['caps', 'manager_request'] }),
      );
      await page.locator('[data-testid="anger-level"]').filter({ hasText: '86' }).waitFor();
      await page.locator('[data-testid="anger-phase"]').filter({ hasText: 'Peak' }).waitFor();
      await page.locator('[data-testid="anger-card"] canvas').first().waitFor();
      assert(await page.locator('[data-testid="anger-nodata"]').isHidden(), '"no data" still shown with data');
      await page.locator('[data-testid="coaching"]').filter({ hasText: 'Apologise' }).waitFor();
      await item.locator('[data-testid="anger-pill"]').filter({ hasText: '86' }).waitFor();

      toPage({
        type: 'escalation.raised',
        escalation_id: 'esc-e2e-1',
        conversation_id: conv,
        reasons: ['manager_request', 'level_high'],
        severity: 'high',
        level: 86,
        curve: levels.map((level, i) => ({ ts: t0 + i * 15000, level })),
        transcript_tail: [{ type: 'chat.message', conversation_id: conv, seq: 1, ts: t0, from: { role: 'shopper', id: 'x', name: 'Marta Kowalska' }, text: 'LLEVO UNA SEMANA ESPERANDO!!! Quiero hablar con un responsable', visibility: 'all' }],
        raised_ts: Date.now() - 5000,
      });
      const card = page.locator('[data-testid="esc-card"]').filter({ hasText: 'manager_request' });
      await card.waitFor();
      await page.locator('[data-testid="esc-count"]').filter({ hasText: '1' }).waitFor();
      await runner.snap(page, '09-supervisor-anger-escalation');
      await card.locator('[data-testid="esc-ack"]').click();
      await until(() => fromPage.some((m) => JSON.parse(m).type === 'escalation.ack' && JSON.parse(m).escalation_id === 'esc-e2e-1'), 'no escalation.ack sent');
      toPage({ type: 'escalation.acked', escalation_id: 'esc-e2e-1', conversation_id: conv, by: 'supervisor' });
      await card.filter({ hasText: 'Acked' }).waitFor();
      await card.locator('[data-testid="esc-note"]').fill('Reenvío urgente + cupón');
      await card.locator('[data-testid="esc-resolve"]').click();
      await until(() => fromPage.some((m) => { const f = JSON.parse(m); return f.type === 'escalation.resolve' && f.note === 'Reenvío urgente + cupón'; }), 'no escalation.resolve with the note sent');
      toPage({ type: 'escalation.resolved', escalation_id: 'esc-e2e-1', conversation_id: conv, by: 'supervisor', note: 'Reenvío urgente + cupón' });
      await card.filter({ hasText: 'Resolved' }).waitFor();
      await page.locator('[data-testid="esc-count"]').filter({ hasText: '0' }).waitFor();
      // The shopper's widget never shows any of it.
      const shown = (await texts(sp, '#calma-widget [data-testid="panel"]')).join(' ');
      assert(!/86|peak|manager_request/i.test(shown), 'anger data leaked into the widget');
      await ctx.close();
      await sctx.close();
    }, { needs: ['agent logs in and sees the conversation assigned'] });

    runner.test("agent console shows the server's anger level for an angry shopper (or 'no data' while the server sends none)", async () => {
      const item = agent.locator('[data-testid="conv-item"]').filter({ hasText: 'Marta Kowalska' });
      await item.click();
      const conv = await item.getAttribute('data-conv');
      await agent.waitForTimeout(1500);
      const updates = agentFrames.filter((f) => f.type === 'anger.update' && f.conversation_id === conv);
      const level = agent.locator('[data-testid="anger-level"]');
      if (!updates.length) {
        console.log('     note: the server sent no anger.update for the angry conversation: the console shows "no data"');
        await level.filter({ hasText: 'no data' }).waitFor();
        return;
      }
      // The UI shows the newest point (the server may add decay points meanwhile).
      const newest = () => {
        const u = agentFrames.filter((f) => f.type === 'anger.update' && f.conversation_id === conv);
        return u.reduce((a, b) => (b.ts >= a.ts ? b : a));
      };
      await until(async () => (await level.textContent()) === String(Math.round(newest().level)), async () => `anger level shown ${await level.textContent()}, newest from the server ${newest().level}`);
      await agent.locator('[data-testid="anger-card"] canvas').first().waitFor();
      if (newest().coaching) {
        await until(async () => (await agent.locator('[data-testid="coaching"]').textContent()).includes(newest().coaching), 'the server coaching hint is not shown');
      }
      if (agentFrames.some((f) => f.type === 'escalation.raised' && f.conversation_id === conv)) {
        await item.locator('.sev').waitFor(); // the escalation mark on the conversation
      }
      await runner.snap(agent, '11-agent-live-anger');
    }, { needs: ['console draws anger.update and escalation.raised frames (injected into the live stream)'] });

    runner.test('supervisor acknowledges and resolves the server\'s escalation of the angry conversation', async () => {
      const card = sup.locator('[data-testid="esc-card"]').filter({ hasText: 'Marta Kowalska' });
      await card.waitFor({ timeout: 15000 });
      await sup.locator('[data-testid="esc-count"]').filter({ hasNotText: /^0$/ }).waitFor();
      await runner.snap(sup, '12-supervisor-real-escalation');
      const ack = card.locator('[data-testid="esc-ack"]');
      if (await ack.count()) await ack.click();
      await card.filter({ hasText: 'Acked' }).waitFor();
      await card.locator('[data-testid="esc-note"]').fill('Llamada al cliente, reenvío urgente');
      await card.locator('[data-testid="esc-resolve"]').click();
      await card.filter({ hasText: 'Resolved' }).waitFor();
      await card.filter({ hasText: 'reenvío urgente' }).waitFor();
    }, { needs: ["agent console shows the server's anger level for an angry shopper (or 'no data' while the server sends none)", 'supervisor logs in and sees the queue snapshot'] });

    runner.test('a message written while the connection is down is delivered once after reconnect', async () => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      const p = await ctx.newPage();
      runner.pages.push({ label: 'flaky-shopper', page: p });
      // Route the widget's WebSocket through the test so it can drop frames and the connection.
      let routes = [];
      let blackhole = false;
      await ctx.routeWebSocket(/\/ws$/, (ws) => {
        const srv = ws.connectToServer();
        ws.onMessage((m) => {
          if (!blackhole) srv.send(m);
        });
        srv.onMessage((m) => ws.send(m));
        routes.push(ws);
      });
      const w = (id) => p.locator(`#calma-widget [data-testid="${id}"]`);
      await p.goto(base + '/');
      await w('launcher').click();
      await p.locator('#calma-widget #calma-name').fill('Piotr Zieliński');
      await w('input').fill('Dzień dobry, pierwsza wiadomość');
      await w('input').press('Enter');
      await until(async () => ['sent', 'read'].includes(await w('msg-me').first().getAttribute('data-status')), 'first message never acked');
      // The network goes silent: the next message is not acked, it stays pending.
      blackhole = true;
      const LOST = 'Wiadomość wysłana bez połączenia';
      await w('input').fill(LOST);
      await w('input').press('Enter');
      const row = w('msg-me').filter({ hasText: LOST });
      await p.waitForTimeout(700);
      assert((await row.getAttribute('data-status')) === 'pending', 'unacked message not shown as pending');
      // The connection drops; the client reconnects (backoff), resends from its outbox.
      blackhole = false;
      const before = routes.length;
      await routes[routes.length - 1].close({ code: 4000, reason: 'test drop' });
      await until(() => routes.length > before, 'widget did not reconnect', 15000);
      await until(async () => ['sent', 'read'].includes(await row.getAttribute('data-status')), 'resent message never acked', 15000);
      assert((await w('msg-me').filter({ hasText: LOST }).count()) === 1, 'resent message shown twice to the shopper');
      const item = agent.locator('[data-testid="conv-item"]').filter({ hasText: 'Piotr Zieliński' });
      await item.click();
      await agent.locator('[data-testid="msg-shopper"]').filter({ hasText: LOST }).waitFor();
      await agent.waitForTimeout(500);
      assert((await agent.locator('[data-testid="msg-shopper"]').filter({ hasText: LOST }).count()) === 1, 'resent message stored or shown twice');
      await ctx.close();
    }, { needs: ['agent logs in and sees the conversation assigned'] });

    runner.test('agent transfers a conversation to another agent, who gets it with its history', async () => {
      const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const a2 = await ctx.newPage();
      runner.pages.push({ label: 'agent2', page: a2 });
      await login(a2, 'agent2', 'agent2');
      await a2.locator('[data-testid="me"]').filter({ hasText: 'Piotr Nowak' }).waitFor();
      const item = agent.locator('[data-testid="conv-item"]').filter({ hasText: 'Piotr Zieliński' });
      await item.click();
      // Colleagues come on request (agents.list, asked on opening a conversation): the new one is offered.
      const offered = agent.locator('[data-testid="transfer-select"] option').filter({ hasText: 'Piotr Nowak' });
      await until(async () => (await offered.count()) > 0 || (await item.click(), false), 'the transfer list never offered agent2 (agents.list)', 15000, 1200);
      agent.once('dialog', (d) => d.accept('agent2'));
      await agent.locator('[data-testid="transfer-select"]').selectOption('other');
      const moved = a2.locator('[data-testid="conv-item"]').filter({ hasText: 'Piotr Zieliński' });
      await moved.waitFor();
      await moved.click();
      await a2.locator('[data-testid="msg-shopper"]').filter({ hasText: 'pierwsza wiadomość' }).waitFor();
      await item.filter({ hasText: 'Transferred to' }).waitFor();
      assert(await agent.locator('[data-testid="reply"]').isDisabled(), 'the previous agent can still write in a transferred conversation');
      await runner.snap(a2, '10-agent2-after-transfer');
      await ctx.close();
    }, { needs: ['a message written while the connection is down is delivered once after reconnect'] });

    runner.test('supervisor takes over a conversation and talks to the shopper', async () => {
      const item = sup.locator('[data-testid="conv-item"]').filter({ hasText: 'Piotr Zieliński' });
      await item.click();
      await sup.locator('[data-testid="msg-shopper"]').filter({ hasText: 'pierwsza wiadomość' }).waitFor();
      await sup.locator('[data-testid="takeover"]').click();
      await sup.locator('[data-testid="pane"]').filter({ hasText: 'Assigned to you' }).waitFor();
      await sup.locator('[data-testid="reply"]').fill('Soy la supervisora, me encargo yo.');
      await sup.locator('[data-testid="reply"]').press('Enter');
      await sup.locator('[data-testid="msg-staff"]').filter({ hasText: 'me encargo yo' }).waitFor();
      await sup.locator('[data-testid="msg-staff"]').filter({ hasText: 'me encargo yo' }).locator('.msg-meta').filter({ hasNotText: 'Sending' }).waitFor();
    }, { needs: ['agent transfers a conversation to another agent, who gets it with its history', 'supervisor logs in and sees the queue snapshot'] });

    runner.test('widget embedded on another site talks to the server it was loaded from', async () => {
      const ctx = await browser.newContext();
      const p = await ctx.newPage();
      runner.pages.push({ label: 'foreign-site', page: p });
      // A store on another origin; the widget's script comes from the Calma server.
      // A store on another origin (another port on loopback: a page faked by routing would
      // count as public for Chrome's local network access rules and be refused the script).
      // It also has a strict Content-Security-Policy: no inline styles but its own (nonce).
      const csp = `default-src 'none'; script-src ${base}; connect-src ${base.replace('http://', 'ws://')}; style-src 'nonce-shop'; img-src data:`;
      const shop = http.createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': csp });
        res.end(`<!doctype html><html><head><style nonce="shop">button{all:unset} *{font-family:serif!important;color:red!important}</style></head>
                 <body><h1>Other shop</h1><script src="${base}/widget.js" data-store="demo" data-lang="pl"></script></body></html>`);
      });
      await new Promise((r) => shop.listen(0, '127.0.0.1', r));
      const foreign = `http://127.0.0.1:${shop.address().port}/`;
      ctx.on('close', () => shop.close());
      const sockets = [];
      p.on('websocket', (ws) => sockets.push(ws.url()));
      await p.goto(foreign);
      const launcher = p.locator('#calma-widget [data-testid="launcher"]');
      await launcher.waitFor();
      assert((await launcher.getAttribute('aria-label')) === 'Otwórz czat', 'data-lang="pl" not applied');
      // The store's aggressive CSS must not reach into the Shadow DOM.
      const bg = await launcher.evaluate((el) => getComputedStyle(el).backgroundColor);
      assert(bg === 'rgb(15, 118, 110)', `widget styles missing (CSP?) or store CSS leaked in: launcher background ${bg}`);
      await launcher.click();
      await p.locator('#calma-widget [data-testid="input"]').fill('Dzień dobry');
      await p.locator('#calma-widget [data-testid="input"]').press('Enter');
      await until(() => sockets.length > 0, 'widget opened no WebSocket');
      const expected = base.replace('http://', 'ws://') + '/ws';
      assert(sockets[0] === expected, `widget connected to ${sockets[0]}, expected ${expected}`);
      await ctx.close();
    }, { needs: ['server serves the built client at /, /widget.js and /console'] });

    runner.test('wrong password shows an error on the login form', async () => {
      const ctx = await browser.newContext();
      const p = await ctx.newPage();
      runner.pages.push({ label: 'bad-login', page: p });
      await p.goto(base + '/console');
      await p.locator('[data-testid="username"]').fill('agent');
      await p.locator('[data-testid="password"]').fill('wrong');
      await p.locator('[data-testid="login"]').click();
      await p.locator('[data-testid="login-error"]').filter({ hasText: 'Wrong username or password' }).waitFor();
      await ctx.close();
    }, { needs: ['server serves the built client at /, /widget.js and /console'] });

    runner.test('widget fits a 390 px phone screen', async () => {
      const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, locale: 'pl-PL' });
      const p = await ctx.newPage();
      runner.pages.push({ label: 'phone', page: p });
      await p.goto(base + '/');
      await p.locator('#calma-widget [data-testid="launcher"]').click();
      const panel = p.locator('#calma-widget [data-testid="panel"]');
      await panel.waitFor({ state: 'visible' });
      const box = await panel.boundingBox();
      assert(box && box.x >= 0 && box.width <= 390 && box.width >= 380, `panel box on phone: ${JSON.stringify(box)}`);
      const input = p.locator('#calma-widget [data-testid="input"]');
      const ib = await input.boundingBox();
      assert(ib && ib.y + ib.height <= 844, 'composer is off screen on a phone');
      await input.fill('Dzień dobry, mam pytanie');
      await runner.snap(p, '08-phone');
      await ctx.close();
    }, { needs: ['server serves the built client at /, /widget.js and /console'] });

    result = await runner.run();
    if (consoleErrors.length) {
      console.log('page errors:\n  ' + consoleErrors.join('\n  '));
      result.failed++;
      console.log('FAIL no uncaught errors in the pages');
    } else {
      result.passed++;
    }
    if (result.failed && server) console.log('--- server output (tail) ---\n' + server.log().slice(-4000));
  } catch (e) {
    result = crashResult(runner, e);
  } finally {
    try {
      await browser?.close();
    } catch {
      /* ignore */
    }
    await server?.stop();
  }
  console.log(`${result.passed} passed, ${result.failed} failed`);
  process.exit(result.failed ? 1 : 0);
}

main();

#!/usr/bin/env node
// Browser end-to-end tests of the two demo stores and the v1.1 widget (spec-v1.1.md):
//   (a) the Polish store /pl/ on a phone: the widget in Polish, the shopper writes, and a
//       raw WebSocket agent receives conversation.assigned with the page's data-context;
//   (b) a second server whose demo-pl is closed now: the widget says so and when it opens,
//       the shopper writes, leaves an e-mail in the offline form, sees the thank-you, and
//       GET /api/v1/followups?store=demo-pl lists the conversation with that e-mail.
//
//   node tests/e2e/stores.mjs --server build/server/calma-server [--shots DIR] [--only a]
//
// Needs what run.mjs needs. Each server gets a copy of config/calma.json in a temp dir
// (the config's sibling directories are linked beside it). Prints "N passed, M failed".
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  assert,
  checkDist,
  CHROMIUM_ARGS,
  clientDir,
  configCopy,
  countPageErrors,
  crashResult,
  findChromium,
  loadPlaywright,
  parseArgs,
  reportAndExit,
  Runner,
  SetupError,
  startServer,
  teardown,
  until,
  apiLogin,
} from './lib.mjs';
import { connectWs } from './ws.mjs';

const PL_CONTEXT = { order_id: 'PL-2025-0950', order_value: 950, currency: 'PLN', tier: 'vip' };
const SHOPPER_A = 'Zofia Wiśniewska';
const FIRST_A = 'Dzień dobry, gdzie jest moja paczka z zamówienia PL-2025-0950?';
const SHOPPER_B = 'Tomasz Lewandowski';
const FIRST_B = 'Dzień dobry, czy wysyłacie kubki do Niemiec?';
const EMAIL_B = 'tomasz.lewandowski@example.pl';
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, locale: 'pl-PL' };

/** 1 = Monday … 7 = Sunday, of an instant in a time zone. */
function weekdayIn(ts, tz) {
  const wd = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short' }).format(new Date(ts));
  return ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(wd) + 1;
}

/**
 * config/calma.json with demo-pl changed by `edit`, written to a temp dir; the config's
 * other files and directories (lexicons, canned answers, ...) are linked beside it, except
 * users.json: a copy where `agent` serves demo-pl too (the shipped file keeps `agent` on
 * `demo`; the scenarios log in as agent/agent). Returns the server's extra arguments.
 */
function configWith(label, edit) {
  return configCopy(`stores-${label}`, {
    config: (cfg) => {
      const pl = Array.isArray(cfg.stores) ? cfg.stores.find((s) => s.id === 'demo-pl') : null;
      if (!pl) throw new SetupError('config/calma.json has no store "demo-pl" (spec-v1.1 "Stores": the server side of stores has not landed on this branch; git merge main)');
      edit(pl, cfg);
    },
    users: (users) => {
      const agent = users.find((u) => u.username === 'agent');
      if (!agent) throw new SetupError('config/users.json has no user "agent"');
      if (Array.isArray(agent.stores) && !agent.stores.includes('demo-pl')) agent.stores.push('demo-pl');
    },
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const runner = new Runner({ shotsDir: args.shots, only: args.only });
  if (args.shots) mkdirSync(args.shots, { recursive: true });
  const servers = [];
  let browser = null;
  let agentWs = null;
  let result = { passed: 0, failed: 1 };
  try {
    const { chromium } = loadPlaywright();
    const executablePath = findChromium();
    checkDist();
    try {
      statSync(path.join(clientDir, 'dist', 'pl', 'index.html'));
    } catch {
      throw new SetupError('client-web/dist/pl/index.html is missing: run "npm run build" in client-web');
    }
    const binary = args.server ? path.resolve(args.server) : '';

    // Server A: demo-pl always open (no hours), so scenario (a) does not depend on the clock.
    const cfgOpen = configWith('open', (pl) => delete pl.hours);
    // Server B: demo-pl opens only 10:00-11:00 three days from now (Warsaw): closed now,
    // and the next opening is a weekday the widget has to name.
    const tz = 'Europe/Warsaw';
    const openDay = weekdayIn(Date.now() + 3 * 86400000, tz);
    const cfgClosed = configWith('closed', (pl) => {
      pl.hours = { tz, weekly: [{ days: [openDay], from: '10:00', to: '11:00' }] };
    });
    const a = await startServer(binary, cfgOpen);
    servers.push(a);
    const b = await startServer(binary, cfgClosed);
    servers.push(b);
    console.log(`server A (demo-pl open): ${a.url}\nserver B (demo-pl closed): ${b.url}`);
    browser = await chromium.launch({ executablePath, headless: !args.headed, args: CHROMIUM_ARGS, timeout: 60000 });
    const pageErrors = [];
    const newPhone = async (label) => {
      const ctx = await browser.newContext(PHONE);
      const page = await ctx.newPage();
      page.setDefaultTimeout(10000);
      page.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
      runner.pages.push({ label, page });
      const frames = [];
      page.on('websocket', (ws) =>
        ws.on('framereceived', (f) => {
          try {
            frames.push(JSON.parse(String(f.payload)));
          } catch {
            /* not JSON */
          }
        }),
      );
      const w = (id) => page.locator(`#calma-widget [data-testid="${id}"]`);
      return { ctx, page, frames, w };
    };

    runner.test('the server serves both demo stores: / (demo) and /pl/ (demo-pl), with a switcher between them', async () => {
      for (const [p, file, store] of [['/', 'index.html', 'demo'], ['/pl/', path.join('pl', 'index.html'), 'demo-pl']]) {
        const res = await fetch(a.url + p);
        assert(res.status === 200, `GET ${p}: HTTP ${res.status}`);
        assert((res.headers.get('content-type') || '').includes('text/html'), `GET ${p}: content-type ${res.headers.get('content-type')}`);
        const body = await res.text();
        assert(body === readFileSync(path.join(clientDir, 'dist', file), 'utf8'), `GET ${p} does not serve client-web/dist/${file}`);
        assert(body.includes(`data-store="${store}"`), `${p} does not embed the widget for store ${store}`);
      }
      const info = await fetch(a.url + '/api/v1/stores/demo-pl/widget');
      assert(info.status === 200, `GET /api/v1/stores/demo-pl/widget: HTTP ${info.status}`);
      const j = await info.json();
      assert(j.name === 'Sklep Demo Calma', `demo-pl name: ${j.name}`);
      const { page } = await newPhone('switcher');
      await page.goto(a.url + '/');
      await page.locator('[data-testid="store-switch"]').click();
      await page.waitForURL(/\/pl\/$/);
      await page.locator('h1').filter({ hasText: 'Kawa, herbata i ceramika' }).waitFor();
      await page.locator('[data-testid="store-switch"]').click();
      await page.waitForURL((u) => new URL(u).pathname === '/');
      await page.locator('h1').filter({ hasText: 'Café y té' }).waitFor();
      await page.context().close();
    });

    runner.test('(a) /pl/ on a phone: Polish widget; the agent gets the VIP context of the page', async () => {
      // The agent: HTTP login, then a raw WebSocket with the token.
      const me = await apiLogin(a.url, 'agent', 'agent');
      agentWs = await connectWs(a.url.replace('http://', 'ws://') + '/ws', { origin: a.url });
      agentWs.send({ type: 'hello', token: me.token });
      await agentWs.next((f) => f.type === 'welcome', 10000, 'welcome for the agent');
      agentWs.send({ type: 'presence.set', status: 'online' });

      const { page, w } = await newPhone('phone-pl-open');
      await page.goto(a.url + '/pl/');
      await page.locator('h1').filter({ hasText: 'Kawa, herbata i ceramika' }).waitFor();
      const launcher = w('launcher');
      await launcher.waitFor();
      assert((await launcher.getAttribute('aria-label')) === 'Otwórz czat', `launcher label: ${await launcher.getAttribute('aria-label')}`);
      await launcher.click();
      const panel = w('panel');
      await panel.waitFor({ state: 'visible' });
      const box = await panel.boundingBox();
      assert(box && box.x >= 0 && box.width <= 390 && box.width >= 380, `panel box on the phone: ${JSON.stringify(box)}`);
      assert((await w('input').getAttribute('placeholder')) === 'Napisz wiadomość…', 'composer placeholder not Polish');
      // The store's state came from GET /api/v1/stores/demo-pl/widget: open, its name in the header.
      await w('header').filter({ hasText: 'Sklep Demo Calma' }).waitFor();
      await w('subtitle').filter({ hasText: 'Zwykle odpowiadamy w kilka minut' }).waitFor();
      assert(await w('offline').isHidden(), 'the offline form shows although the store is open with an agent online');
      await page.locator('#calma-widget #calma-name').fill(SHOPPER_A);
      await w('input').fill(FIRST_A);
      await w('input').press('Enter');
      const mine = w('msg-me').filter({ hasText: FIRST_A });
      await until(async () => ['sent', 'read'].includes(await mine.getAttribute('data-status')), async () => `message never acked (status ${await mine.getAttribute('data-status')})`, 15000);

      const assigned = await agentWs.next((f) => f.type === 'conversation.assigned' && f.shopper?.name === SHOPPER_A, 15000, `conversation.assigned for ${SHOPPER_A}`);
      const ctx = assigned.shopper.context;
      assert(ctx && typeof ctx === 'object', `conversation.assigned.shopper.context missing: ${JSON.stringify(assigned.shopper)}`);
      assert(ctx.order_id === PL_CONTEXT.order_id, `context.order_id ${JSON.stringify(ctx.order_id)}, expected ${PL_CONTEXT.order_id}`);
      assert(ctx.tier === 'vip', `context.tier ${JSON.stringify(ctx.tier)}, expected vip`);
      assert(Number(ctx.order_value) === 950 && ctx.currency === 'PLN', `context value/currency: ${JSON.stringify(ctx)}`);
      const conv = await page.evaluate(() => localStorage.getItem('calma:demo-pl:conversation'));
      assert(assigned.conversation_id === conv, `assigned ${assigned.conversation_id}, the widget's conversation ${conv}`);
      await w('header').filter({ hasText: 'Ana García' }).waitFor();
      await runner.snap(page, 'stores-a-phone-pl-assigned');
    }, { needs: ['the server serves both demo stores: / (demo) and /pl/ (demo-pl), with a switcher between them'] });

    runner.test('(b) /pl/ closed: the widget names the next opening, takes an e-mail, and it is a follow-up', async () => {
      const { page, frames, w } = await newPhone('phone-pl-closed');
      await page.goto(b.url + '/pl/');
      await w('launcher').click();
      await w('panel').waitFor({ state: 'visible' });
      // The next opening, as the widget must phrase it in Polish ("w środę", "we wtorek").
      const nextOpen = Date.now() + 3 * 86400000;
      const weekday = new Intl.DateTimeFormat('pl', { weekday: 'long', timeZone: tz }).format(new Date(nextOpen));
      const acc = weekday.replace(/a$/, 'ę');
      const phrase = `Otwieramy ${/^wt/.test(acc) ? 'we' : 'w'} ${acc} o 10:00 (Europe/Warsaw).`;
      const text = w('availability-text');
      await text.filter({ hasText: 'Jesteśmy teraz zamknięci.' }).waitFor();
      const shown = (await text.textContent()).replace(/\s/g, ' ');
      assert(shown === `Jesteśmy teraz zamknięci. ${phrase}`, `closed text: "${shown}", expected "Jesteśmy teraz zamknięci. ${phrase}"`);
      await w('subtitle').filter({ hasText: 'Teraz nieczynne' }).waitFor();
      await w('hours-toggle').click();
      const day = page.locator(`#calma-widget [data-testid="hours"] [data-day="${openDay}"]`);
      await day.filter({ hasText: '10:00–11:00' }).waitFor({ state: 'visible' });
      await runner.snap(page, 'stores-b-phone-pl-closed');

      await page.locator('#calma-widget #calma-name').fill(SHOPPER_B);
      await w('input').fill(FIRST_B);
      await w('input').press('Enter');
      const mine = w('msg-me').filter({ hasText: FIRST_B });
      await until(async () => ['sent', 'read'].includes(await mine.getAttribute('data-status')), async () => `message never acked (status ${await mine.getAttribute('data-status')})`, 15000);
      const queued = await until(() => frames.find((f) => f.type === 'conversation.queued'), 'no conversation.queued reached the widget', 10000);
      assert(queued.offline === true, `conversation.queued outside hours: ${JSON.stringify(queued)}`);
      const form = w('contact-form');
      await form.waitFor({ state: 'visible' });
      // The note is optional now: the conversation exists.
      await page.locator('#calma-widget label[for="calma-contact-note"]').filter({ hasText: 'Wiadomość (opcjonalnie)' }).waitFor();
      // Client-side validation first: a broken address is refused next to its field.
      await w('contact-email').fill('tomasz@');
      await w('contact-submit').click();
      await w('contact-email-error').filter({ hasText: 'Ten adres e-mail wygląda na niepoprawny' }).waitFor();
      assert(!frames.some((f) => f.type === 'contact.saved'), 'an invalid contact was saved');
      // Touch targets big enough for a finger.
      for (const id of ['contact-email', 'contact-phone', 'contact-submit']) {
        const bb = await w(id).boundingBox();
        assert(bb && bb.height >= 44, `${id} is ${bb && bb.height} px high on a phone (< 44)`);
      }
      await w('contact-email').fill(EMAIL_B);
      await w('contact-note').fill('Najlepiej po południu.');
      await w('contact-submit').click();
      await w('contact-thanks').filter({ hasText: `Dziękujemy! Odpowiemy na adres ${EMAIL_B}.` }).waitFor();
      assert(await w('input').isVisible(), 'the chat is not usable any more after leaving a contact');
      await runner.snap(page, 'stores-b-phone-pl-thanks');
      const conv = await page.evaluate(() => localStorage.getItem('calma:demo-pl:conversation'));
      assert(conv, 'the widget has no conversation id');

      const me = await apiLogin(b.url, 'agent', 'agent');
      const res = await fetch(b.url + '/api/v1/followups?store=demo-pl', { headers: { Authorization: `Bearer ${me.token}` } });
      const body = await res.text();
      assert(res.status === 200, `GET /api/v1/followups?store=demo-pl: HTTP ${res.status} ${body}`);
      const list = JSON.parse(body).followups;
      assert(Array.isArray(list), 'followups is not an array');
      const entry = list.find((f) => f.conversation_id === conv);
      assert(entry, `conversation ${conv} not in the follow-ups: ${JSON.stringify(list)}`);
      assert(entry.contact && entry.contact.email === EMAIL_B, `follow-up contact: ${JSON.stringify(entry.contact)}`);
      assert(entry.reason === undefined || entry.reason === 'contact', `follow-up reason: ${entry.reason}`);
    }, { needs: ['the server serves both demo stores: / (demo) and /pl/ (demo-pl), with a switcher between them'] });

    result = countPageErrors(await runner.run(), pageErrors, [['A', servers[0]], ['B', servers[1]]]);
  } catch (e) {
    result = crashResult(runner, e);
  } finally {
    await teardown({ sockets: [agentWs], browser, servers: servers });
  }
  reportAndExit(result);
}

main();

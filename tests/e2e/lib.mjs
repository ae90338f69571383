// Shared helpers of the browser end-to-end tests: find playwright-core and Chromium,
// start and stop the real calma-server, a tiny test runner that prints
// "N passed, M failed", and DOM-wait helpers (playwright-core has no `expect`).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const clientDir = path.join(repoRoot, 'client-web');

export class SetupError extends Error {}

export function parseArgs(argv) {
  const out = { server: process.env.CALMA_SERVER || '', shots: '', headed: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--server') out.server = argv[++i];
    else if (a === '--shots') out.shots = argv[++i];
    else if (a === '--headed') out.headed = true;
    else if (a === '--only') out.only = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log('usage: node tests/e2e/run.mjs --server /path/to/calma-server [--shots DIR] [--only SUBSTRING]');
      process.exit(0);
    } else throw new SetupError(`unknown argument: ${a}`);
  }
  return out;
}

/** playwright-core is a devDependency of client-web: resolve it from there. */
export function loadPlaywright() {
  const req = createRequire(path.join(clientDir, 'package.json'));
  try {
    return req('playwright-core');
  } catch {
    throw new SetupError(`playwright-core is not installed: run "npm ci" in ${clientDir}`);
  }
}

export function findChromium() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
  for (const c of candidates) if (existsSync(c)) return c;
  throw new SetupError('Chromium not found at /usr/bin/chromium: install Debian\'s package ("apt-get install -y chromium") or set CHROMIUM_PATH');
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export function checkDist() {
  for (const f of ['index.html', 'widget.js', 'console.html']) {
    if (!existsSync(path.join(clientDir, 'dist', f))) {
      throw new SetupError(`client-web/dist/${f} is missing: run "npm ci && npm run build" in ${clientDir}`);
    }
  }
  // Warn (only) when the sources are newer than the build: the test would run old code.
  const built = statSync(path.join(clientDir, 'dist', 'widget.js')).mtimeMs;
  const newest = newestMtime([path.join(clientDir, 'src'), path.join(clientDir, 'index.html'), path.join(clientDir, 'console.html')]);
  if (newest > built + 1000) console.log('warning: client-web sources are newer than client-web/dist: run "npm run build" in client-web');
}

function newestMtime(paths) {
  let max = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) max = Math.max(max, newestMtime(readdirSync(p).map((n) => path.join(p, n))));
    else max = Math.max(max, st.mtimeMs);
  }
  return max;
}

/**
 * Start the real server on a free port (--port 0) and wait for its
 * "listening on http://127.0.0.1:PORT" line.
 */
export async function startServer(binary, extraArgs = []) {
  if (!binary) throw new SetupError('no server binary given: pass --server /path/to/calma-server');
  if (!existsSync(binary)) throw new SetupError(`server binary not found: ${binary}`);
  if (!statSync(binary).isFile()) throw new SetupError(`server binary is not a file: ${binary}`);
  const child = spawn(binary, ['--port', '0', ...extraArgs], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const onData = (d) => {
    log += d.toString();
    if (log.length > 200000) log = log.slice(-100000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new SetupError(`server did not print "listening on" within 15 s; output:\n${log}`)), 15000);
    const check = () => {
      const m = log.match(/listening on (http:\/\/[0-9.]+:(\d+))/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new SetupError(`server exited (${code ?? sig}) before listening; output:\n${log}`));
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new SetupError(`cannot start the server ${binary}: ${e.message}`));
    });
  });
  return {
    url,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode) return;
      child.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 5000);
        child.on('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    },
  };
}

/**
 * config/calma.json and config/users.json, changed by `config(cfg)` and `users(list)`,
 * written to a temp dir; the config's other files and directories (lexicons, canned
 * answers, ...) are linked beside them. Returns the server's extra arguments.
 */
export function configCopy(label, { config = () => {}, users = () => {} } = {}) {
  const src = path.join(repoRoot, 'config');
  const cfg = JSON.parse(readFileSync(path.join(src, 'calma.json'), 'utf8'));
  config(cfg);
  const dir = tempDir(`calma-e2e-${label}-`);
  for (const name of readdirSync(src)) {
    if (name === 'calma.json' || name === 'users.json') continue;
    symlinkSync(path.join(src, name), path.join(dir, name), statSync(path.join(src, name)).isDirectory() ? 'dir' : 'file');
  }
  const file = path.join(dir, 'calma.json');
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  const list = JSON.parse(readFileSync(path.join(src, 'users.json'), 'utf8'));
  users(list);
  const usersFile = path.join(dir, 'users.json');
  writeFileSync(usersFile, JSON.stringify(list, null, 2));
  return ['--config', file, '--users', usersFile];
}

export function tempDir(prefix) {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function readDist(file) {
  return readFileSync(path.join(clientDir, 'dist', file), 'utf8');
}

/** Poll fn until it returns truthy (or throw with msg after timeout). */
export async function until(fn, msg, timeout = 10000, every = 100) {
  const end = Date.now() + timeout;
  let last;
  let lastErr;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out after ${timeout} ms: ${typeof msg === 'function' ? await msg() : msg}${lastErr ? ` (last error: ${lastErr.message})` : ''}`);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Texts of all elements matching a selector (pierces open shadow roots). */
export async function texts(page, selector) {
  return page.locator(selector).allTextContents();
}

/** Reports a setup error or an unexpected throw; the result counts it as one more failure. */
export function crashResult(runner, e) {
  if (e instanceof SetupError) console.log(`FAIL setup: ${e.message}`);
  else console.log(`FAIL unexpected: ${e && e.stack ? e.stack : e}`);
  return {
    passed: runner.results.filter((r) => r.ok).length,
    failed: Math.max(1, runner.results.filter((r) => !r.ok).length + 1),
  };
}

/**
 * Uncaught errors in the pages count as one more check; on any failure the
 * servers' output tails are printed. `servers` is [[label, server], ...].
 */
export function countPageErrors(result, pageErrors, servers = []) {
  if (pageErrors.length) {
    console.log('FAIL no uncaught errors in the pages\n  ' + pageErrors.join('\n  '));
    result.failed++;
  } else {
    result.passed++;
  }
  if (result.failed)
    for (const [label, s] of servers) if (s) console.log(`--- server ${label} output (tail) ---\n` + s.log().slice(-4000));
  return result;
}

/** Closes sockets, then the browser, then stops the servers; nothing here may fail the run. */
export async function teardown({ sockets = [], browser, servers = [] }) {
  for (const ws of sockets) {
    try {
      ws?.close();
    } catch {
      /* ignore */
    }
  }
  try {
    await browser?.close();
  } catch {
    /* ignore */
  }
  for (const s of servers) await s?.stop();
}

/** The last line every e2e script prints, and its exit status. */
export function reportAndExit(result) {
  console.log(`${result.passed} passed, ${result.failed} failed`);
  process.exit(result.failed ? 1 : 0);
}

/** Minimal sequential runner: a failing test makes later tests that depend on it fail too. */
export class Runner {
  constructor({ shotsDir, only }) {
    this.tests = [];
    this.results = [];
    this.shotsDir = shotsDir;
    this.only = only;
    this.failureShots = null;
    this.pages = [];
  }
  test(name, fn, { needs = [] } = {}) {
    this.tests.push({ name, fn, needs });
  }
  async run() {
    const status = new Map();
    // --only runs the matching tests and, before them, everything they need.
    const include = new Set();
    const add = (name) => {
      if (include.has(name)) return;
      include.add(name);
      for (const n of this.tests.find((t) => t.name === name)?.needs ?? []) add(n);
    };
    for (const t of this.tests) if (!this.only || t.name.includes(this.only)) add(t.name);
    for (const t of this.tests) {
      if (!include.has(t.name)) continue;
      const missing = t.needs.filter((n) => status.get(n) !== 'pass');
      const started = Date.now();
      if (missing.length) {
        status.set(t.name, 'fail');
        this.results.push({ name: t.name, ok: false, error: `not run: needs "${missing.join('", "')}"` });
        console.log(`FAIL ${t.name}\n     not run: depends on "${missing.join('", "')}"`);
        continue;
      }
      try {
        await t.fn();
        status.set(t.name, 'pass');
        this.results.push({ name: t.name, ok: true });
        console.log(`ok   ${t.name} (${Date.now() - started} ms)`);
      } catch (e) {
        status.set(t.name, 'fail');
        this.results.push({ name: t.name, ok: false, error: e });
        console.log(`FAIL ${t.name} (${Date.now() - started} ms)\n     ${String(e && e.stack ? e.stack : e).split('\n').slice(0, 6).join('\n     ')}`);
        await this.screenshotAll(t.name);
      }
    }
    const passed = this.results.filter((r) => r.ok).length;
    const failed = this.results.length - passed;
    return { passed, failed };
  }
  async screenshotAll(testName) {
    if (!this.failureShots) this.failureShots = tempDir('calma-e2e-failure-');
    const slug = testName.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    for (const { label, page } of this.pages) {
      if (page.isClosed()) continue;
      const file = path.join(this.failureShots, `${slug}--${label}.png`);
      try {
        await page.screenshot({ path: file, fullPage: false, timeout: 5000 });
        console.log(`     screenshot: ${file}`);
      } catch {
        /* page gone */
      }
    }
  }
  async snap(page, name) {
    if (!this.shotsDir) return;
    await page.screenshot({ path: path.join(this.shotsDir, name + '.png'), timeout: 5000 });
  }
}

/** A free TCP port on 127.0.0.1 (for a child that cannot take port 0). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server of its own on a free port (append-only, fsync always); `stop()` kills it. */
export async function startRedis() {
  const bin = process.env.REDIS_SERVER || ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
  if (!bin) throw new SetupError('redis-server not found: apt-get install -y redis-server (or set REDIS_SERVER)');
  const port = await freePort();
  const dir = tempDir('calma-e2e-redis-');
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes',
    '--appendfsync', 'always', '--logfile', '', '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new SetupError(`redis-server not ready within 10 s:\n${log}`)), 10000);
    const on = (d) => {
      log += d.toString();
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', (code) => reject(new SetupError(`redis-server exited (${code}):\n${log}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/** POST /api/v1/login's answer ({token, ...}; fails the test on anything but 200 with a token). */
export async function apiLogin(base, username, password) {
  const res = await fetch(base + '/api/v1/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = await res.text();
  assert(res.status === 200, `login ${username}: HTTP ${res.status} ${body}`);
  const j = JSON.parse(body);
  assert(j.token, `login ${username}: no token`);
  return j;
}

/** Logs `user` into the console at `base` in `page` and waits until it is connected. */
export async function consoleLogin(page, base, user, password = user) {
  const tid = (id) => page.locator(`[data-testid="${id}"]`);
  await page.goto(base + '/console');
  await tid('username').fill(user);
  await tid('password').fill(password);
  await tid('login').click();
  await tid('conn').filter({ hasText: 'Connected' }).waitFor();
}

/** The demo config and users with the two stores' agents apart (agent: demo, agent2:
 * demo-pl) on two hub shards, always open: arguments for startServer. */
export function twoShardsConfig(label) {
  return configCopy(label, {
    config: (cfg) => {
      cfg.server = { ...(cfg.server ?? {}), threads: 2, shards: 2 };
      for (const st of cfg.stores ?? []) delete st.hours;  // always open: not the clock's test
    },
    users: (users) => {
      const a2 = users.find((u) => u.username === 'agent2');
      if (a2) a2.stores = ['demo-pl'];
    },
  });
}

// Shared helpers of the browser end-to-end tests: find playwright-core and Chromium,
// start and stop the real calma-server, a tiny test runner that prints
// "N passed, M failed", and DOM-wait helpers (playwright-core has no `expect`).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/**
 * A raw WebSocket client (RFC 6455, text frames, JSON) for tests that play a shopper
 * from node without a browser: `await openWebSocket(url, { origin })`, then
 * `ws.send(obj)`, `await ws.waitFor((f) => f.type === 'welcome', 'no welcome')`,
 * `ws.frames` (everything received, parsed), `ws.closed` ({code, reason} once closed).
 */
export function openWebSocket(url, { origin, timeout = 10000 } = {}) {
  const u = new URL(url);
  const key = crypto.randomBytes(16).toString('base64');
  const expect = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      timeout,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': key,
        ...(origin ? { Origin: origin } : {}),
      },
    });
    req.on('upgrade', (res, socket, head) => {
      if (res.headers['sec-websocket-accept'] !== expect) {
        socket.destroy();
        return reject(new Error('WebSocket upgrade: bad Sec-WebSocket-Accept'));
      }
      resolve(new RawWebSocket(socket, head));
    });
    req.on('response', (res) => reject(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`)));
    req.on('timeout', () => req.destroy(new Error('WebSocket upgrade timed out')));
    req.on('error', reject);
    req.end();
  });
}

class RawWebSocket {
  constructor(socket, head) {
    this.socket = socket;
    this.buf = Buffer.from(head ?? []);
    this.frames = [];
    this.closed = null;
    this.fragments = null;
    socket.setNoDelay(true);
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    socket.on('close', () => {
      if (!this.closed) this.closed = { code: 1006, reason: 'connection lost' };
    });
    socket.on('error', () => {});
  }

  parse() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const op = b[0] & 0x0f;
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      const masked = (b[1] & 0x80) !== 0;
      const maskAt = at;
      if (masked) at += 4;
      if (b.length < at + len) return;
      let payload = Buffer.from(b.subarray(at, at + len));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= b[maskAt + (i % 4)];
      this.buf = b.subarray(at + len);
      if (op === 0x8) {
        this.closed = { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString('utf8') };
        this.sendRaw(0x8, payload.subarray(0, 2));
        this.socket.end();
        return;
      }
      if (op === 0x9) {
        this.sendRaw(0xa, payload);
        continue;
      }
      if (op === 0xa) continue;
      if (op === 0x1 || op === 0x2) this.fragments = [];
      if (!this.fragments) continue;
      this.fragments.push(payload);
      if (!fin) continue;
      payload = Buffer.concat(this.fragments);
      this.fragments = null;
      const text = payload.toString('utf8');
      try {
        this.frames.push(JSON.parse(text));
      } catch {
        this.frames.push({ type: '(not json)', text });
      }
    }
  }

  sendRaw(op, payload) {
    if (this.socket.destroyed) return;
    const len = payload.length;
    const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    head[0] = 0x80 | op;
    if (len < 126) head[1] = 0x80 | len;
    else if (len < 65536) {
      head[1] = 0x80 | 126;
      head.writeUInt16BE(len, 2);
    } else {
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
    const mask = crypto.randomBytes(4);
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i % 4];
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  send(obj) {
    this.sendRaw(0x1, Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj), 'utf8'));
  }

  /** The first frame received (before or after the call) that matches. */
  async waitFor(pred, msg = 'frame never came', timeout = 10000) {
    return until(() => this.frames.find(pred), () => `${typeof msg === 'function' ? msg() : msg}; frames so far: ${JSON.stringify(this.frames.map((f) => f.type))}${this.closed ? `; closed ${this.closed.code} ${this.closed.reason}` : ''}`, timeout, 50);
  }

  close() {
    if (this.closed || this.socket.destroyed) return;
    const p = Buffer.alloc(2);
    p.writeUInt16BE(1000, 0);
    this.sendRaw(0x8, p);
    this.closed = { code: 1000, reason: 'client closed' };
    setTimeout(() => this.socket.destroy(), 200);
  }
}

// A minimal WebSocket client (RFC 6455, text frames) for the end-to-end tests: Node 20
// has no global WebSocket without a flag, and the tests need a raw protocol client (an
// agent speaking JSON frames) next to the browser. Client frames are masked; server pings
// are answered; every received JSON frame is kept in `frames`.
import crypto from 'node:crypto';
import http from 'node:http';

/**
 * Open ws://host/path. Resolves once the upgrade is done.
 *   const ws = await connectWs('ws://127.0.0.1:8080/ws', { origin: 'http://127.0.0.1:8080' });
 *   ws.send({ type: 'hello', token });
 *   const welcome = await ws.next((f) => f.type === 'welcome');
 * `localAddress` (e.g. '127.0.0.2'): the client address to connect from (tests/soak spreads its shoppers).
 */
export function connectWs(url, { origin, timeout = 10000, localAddress } = {}) {
  const u = new URL(url);
  const key = crypto.randomBytes(16).toString('base64');
  const headers = {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': key,
  };
  if (origin) headers.Origin = origin;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port || 80, path: u.pathname + u.search, headers, timeout, localAddress });
    req.on('timeout', () => req.destroy(new Error(`WebSocket upgrade to ${url} timed out`)));
    req.on('error', reject);
    req.on('response', (res) => reject(new Error(`WebSocket upgrade to ${url} refused: HTTP ${res.statusCode}`)));
    req.on('upgrade', (res, socket, head) => {
      const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      if (res.headers['sec-websocket-accept'] !== accept) {
        socket.destroy();
        return reject(new Error('bad Sec-WebSocket-Accept'));
      }
      resolve(new RawWs(socket, head));
    });
    req.end();
  });
}

class RawWs {
  constructor(socket, head) {
    this.socket = socket;
    this.frames = [];
    this.closed = null; // {code, reason} once closed
    this.buf = Buffer.alloc(0);
    this.parts = [];
    this.waiters = new Set();
    socket.setNoDelay(true);
    socket.on('data', (d) => this.onData(d));
    socket.on('close', () => {
      if (!this.closed) this.closed = { code: 1006, reason: '' };
      this.wake();
    });
    socket.on('error', () => {});
    if (head && head.length) this.onData(head);
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const fin = (this.buf[0] & 0x80) !== 0;
      const op = this.buf[0] & 0x0f;
      const masked = (this.buf[1] & 0x80) !== 0;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (this.buf.length < off + len) return;
      let payload = this.buf.subarray(off, off + len);
      if (masked) {
        const m = this.buf.subarray(maskOff, maskOff + 4);
        payload = Buffer.from(payload.map((b, i) => b ^ m[i % 4]));
      }
      this.buf = this.buf.subarray(off + len);
      if (op === 0x8) {
        this.closed = { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString('utf8') };
        this.writeFrame(0x8, payload.subarray(0, 2));
        this.socket.end();
        this.wake();
        return;
      }
      if (op === 0x9) {
        this.writeFrame(0xa, payload);
        continue;
      }
      if (op === 0xa) continue;
      if (op === 0x1 || op === 0x2 || op === 0x0) {
        this.parts.push(Buffer.from(payload));
        if (!fin) continue;
        const text = Buffer.concat(this.parts).toString('utf8');
        this.parts = [];
        try {
          this.frames.push(JSON.parse(text));
        } catch {
          this.frames.push({ type: '(not json)', text });
        }
        this.wake();
      }
    }
  }

  writeFrame(op, payload) {
    if (this.socket.destroyed) return;
    const mask = crypto.randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x80 | op, 0x80 | len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    if (len >= 126 && len < 65536) {
      head[0] = 0x80 | op;
      head[1] = 0x80 | 126;
      head.writeUInt16BE(len, 2);
    } else if (len >= 65536) {
      head[0] = 0x80 | op;
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
    const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  /** Send a JSON object as one text frame. */
  send(obj) {
    this.writeFrame(0x1, Buffer.from(JSON.stringify(obj), 'utf8'));
  }

  wake() {
    for (const w of [...this.waiters]) w();
  }

  /** The first frame (already received or to come) matching pred, within timeout ms. */
  next(pred, timeout = 10000, what = 'a matching frame') {
    return new Promise((resolve, reject) => {
      const check = () => {
        const f = this.frames.find(pred);
        if (f) {
          done();
          resolve(f);
        } else if (this.closed) {
          done();
          reject(new Error(`WebSocket closed (${this.closed.code} ${this.closed.reason}) before ${what}; got: ${this.frames.map((x) => x.type).join(', ')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} within ${timeout} ms; got: ${this.frames.map((x) => x.type).join(', ')}`));
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  close(code = 1000) {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code, 0);
    this.writeFrame(0x8, p);
    setTimeout(() => this.socket.destroy(), 200);
  }
}

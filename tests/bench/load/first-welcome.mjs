// Polls ws://127.0.0.1:PORT/ws with a shopper hello until welcomed; prints ms waited.
// For failover-bench.sh. Needs a global WebSocket: Node 22, or Node 20 with --experimental-websocket.
const port = process.argv[2];
const t0 = Date.now();
function once() {
  return new Promise((res) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const done = (ok) => { try { ws.close(); } catch {} res(ok); };
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', role: 'shopper', name: 'x' }));
    ws.onmessage = (e) => done(JSON.parse(e.data).type === 'welcome');
    ws.onclose = () => done(false);
    ws.onerror = () => done(false);
  });
}
while (!(await once())) await new Promise((r) => setTimeout(r, 20));
console.log(Date.now() - t0);
process.exit(0);

// The peer calma-server is measured against: a minimal chat relay on Node's
// `ws` package that does only what a relay must (README.md beside this file).
// It speaks just enough of PROTOCOL.md for calma-load's chat and idle
// scenarios to drive it exactly as they drive calma-server:
//   hello                     -> welcome {user_id}  (shoppers "s<N>", staff "a<N>"; no token check)
//   chat.send (no conv id)    -> a conversation with the least loaded agent: ack (seq 1) to the
//                                shopper, conversation.assigned to both, the message to the agent
//   chat.send {conversation_id} -> chat.message to the other side, then ack to the sender
//   ping                      -> pong
// Nothing is stored, scored, routed by rules, rate-limited or logged: it forwards.
// Prints "listening on http://127.0.0.1:PORT" (the line calma-load waits for).
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(opt('--port', '0'));
const bind = opt('--bind', '127.0.0.1');

let nextId = 1;
let nextConv = 1;
const agents = [];          // connected agents: { ws, id, load }
const convs = new Map();    // conversation id -> { shopper, agent, seq }
const waiting = [];         // opening chat.sends with no agent yet: { ws, m }

const send = (ws, obj) => ws.send(JSON.stringify(obj));
const partyOf = (ws) => ({ role: ws.role, id: ws.userId, name: ws.userName });

function open(ws, m) {
  if (agents.length === 0) return waiting.push({ ws, m });
  let a = agents[0];
  for (const x of agents) if (x.load < a.load) a = x;
  a.load++;
  const id = `c${nextConv++}`;
  const c = { id, shopper: ws, agent: a.ws, seq: 1 };
  convs.set(id, c);
  ws.conv = c;
  const ts = Date.now();
  send(ws, { type: 'ack', client_msg_id: m.client_msg_id, conversation_id: id, seq: 1 });
  const assigned = { type: 'conversation.assigned', conversation_id: id, shopper: { id: ws.userId, name: ws.userName },
                     agent: { id: a.ws.userId, name: a.ws.userName } };
  send(ws, assigned);
  send(a.ws, assigned);
  send(a.ws, { type: 'chat.message', conversation_id: id, seq: 1, from: partyOf(ws), text: m.text,
               client_msg_id: m.client_msg_id, ts });
}

function onFrame(ws, data) {
  let m;
  try { m = JSON.parse(data); } catch { return send(ws, { type: 'error', code: 'bad_request', message: 'not JSON' }); }
  if (!ws.userId) {
    if (m.type !== 'hello') return ws.close(4401, 'the first frame must be a hello');
    ws.role = m.role === 'shopper' || !m.token ? 'shopper' : 'agent';
    ws.userId = (ws.role === 'shopper' ? 's' : 'a') + nextId++;
    ws.userName = m.name || ws.userId;
    send(ws, { type: 'welcome', user_id: ws.userId, role: ws.role, name: ws.userName });
    if (ws.role === 'agent') {
      const a = { ws, id: ws.userId, load: 0 };
      ws.agent = a;
      agents.push(a);
      while (waiting.length) { const w = waiting.shift(); open(w.ws, w.m); }
    }
    return;
  }
  if (m.type === 'ping') return send(ws, { type: 'pong' });
  if (m.type !== 'chat.send') return;
  if (!m.conversation_id) {
    if (ws.role !== 'shopper') return send(ws, { type: 'error', code: 'bad_request', ref: m.client_msg_id });
    if (ws.conv) m.conversation_id = ws.conv.id;
    else return open(ws, m);
  }
  const c = convs.get(m.conversation_id);
  if (!c || (c.shopper !== ws && c.agent !== ws))
    return send(ws, { type: 'error', code: 'not_found', ref: m.client_msg_id });
  const seq = ++c.seq;
  const peer = c.shopper === ws ? c.agent : c.shopper;
  if (peer.readyState === 1)
    send(peer, { type: 'chat.message', conversation_id: c.id, seq, from: partyOf(ws), text: m.text,
                 client_msg_id: m.client_msg_id, ts: Date.now() });
  send(ws, { type: 'ack', client_msg_id: m.client_msg_id, conversation_id: c.id, seq });
}

const wss = new WebSocketServer({ host: bind, port, path: '/ws', maxPayload: 64 * 1024, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data) => onFrame(ws, data));
  ws.on('close', () => {
    if (ws.agent) agents.splice(agents.indexOf(ws.agent), 1);
  });
  ws.on('error', () => {});
});
wss.on('listening', () => {
  console.log(`listening on http://${bind}:${wss.address().port}`);
});
const stop = () => { for (const ws of wss.clients) ws.terminate(); wss.close(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

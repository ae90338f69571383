// The side-by-side driver: calma-server and the Node ws relay (relay.mjs), each
// started by the same load generator (calma-load, same clients, same checks),
// the server pinned to one core and calma-load to the other, at the same
// offered loads; prints one table. See README.md beside this file.
//
//   node tests/bench/peer/compare.mjs [--build DIR] [--rates 10000,20000] [--saturate 60000]
//        [--pairs 1000] [--agents 100] [--duration 10] [--words 16] [--runs 1] [--only calma|relay]
//        [--server-cpu 0] [--load-cpu 1] [--server PATH] [--json FILE]
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const build = resolve(opt('--build', resolve(root, 'build')));
const load = resolve(build, 'tests/bench/load/calma-load');
const server = resolve(opt('--server', resolve(build, 'server/calma-server')));  // another calma-server (an older build) to compare
const rates = opt('--rates', '10000,20000').split(',').filter(Boolean).map(Number);
const saturate = Number(opt('--saturate', '60000'));
const pairs = Number(opt('--pairs', '1000'));
const agents = Number(opt('--agents', '100'));  // 1000 agents: see README (staff fan-out)
const duration = Number(opt('--duration', '10'));
const words = Number(opt('--words', '16'));
const runs = Number(opt('--runs', '1'));
const only = opt('--only', '');
const serverCpu = opt('--server-cpu', '0');
const loadCpu = opt('--load-cpu', '1');
const jsonOut = opt('--json', '');
for (const f of [load, server]) if (!existsSync(f)) { console.error(`missing ${f}: build it first`); process.exit(2); }
if (!existsSync(resolve(here, 'node_modules/ws'))) { console.error(`run 'npm ci' in ${here} first`); process.exit(2); }

// What else runs on the machine: the figures are only as quiet as it is.
function busy() {
  try {
    // top's second frame: CPU over the last half second (ps would give lifetime averages).
    const out = execFileSync('top', ['-b', '-n', '2', '-d', '0.5', '-w', '200'], { encoding: 'utf8' });
    const frame = out.slice(out.lastIndexOf('PID USER'));
    return frame.split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 12)
      .map((f) => [parseFloat(f[8]), f.slice(11).join(' ')])
      .filter(([c, n]) => c >= 10 && !/^(top|calma-load|calma-server|node)$/.test(n))
      .slice(0, 6).map(([c, n]) => `${n} ${c.toFixed(0)}%`).join(', ') || 'nothing over 10%';
  } catch { return '?'; }
}

function runOne(target, rate) {
  const a = ['-c', loadCpu, load, '--scenario', 'chat', '--target', target, '--server-cpus', serverCpu,
             '--agents', String(agents), '--shoppers', String(pairs), '--rate', String(rate),
             '--duration', String(duration), '--words', String(words), '--setup-timeout', '300',
             '--drain-timeout', '30', '--json'];
  if (target === 'calma') a.push('--server', server, '--server-threads', '1');
  const t0 = Date.now();
  const r = spawnSync('/usr/bin/taskset', a, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    console.error(`calma-load ${target} @ ${rate} failed (${r.status}):\n${(r.stderr || '').slice(-3000)}`);
    return null;
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop());
  j.wall_s = (Date.now() - t0) / 1000;
  return j;
}

const fmt = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Number(x).toFixed(d));
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const rows = [];
const all = [];
console.error(`[compare] ${os.cpus().length} cpus, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; busy: ${busy()}`);
const plan = [...rates.map((r) => [r, false]), ...(saturate > 0 ? [[saturate, true]] : [])];
for (let k = 0; k < runs; ++k)
  for (const [rate, sat] of plan)
    for (const target of ['relay', 'calma']) {
      if (only && only !== target) continue;
      console.error(`[compare] ${target} @ ${rate} msg/s (${pairs} pairs, ${agents} agents, ${duration} s) ... busy: ${busy()}`);
      const j = runOne(target, rate);
      if (!j) continue;
      all.push(j);
      const w = j.window, d = j.delivery_latency, m = j.memory, c = j.correctness;
      rows.push({
        target: target === 'calma' ? 'calma-server' : 'Node ws relay', offered: rate, sat,
        delivered: w.delivered_per_s, pct: (100 * w.delivered_within_window) / Math.max(1, w.sent),
        p50: d.p50_ms, p99: d.p99_ms, p999: d.p999_ms,
        // Each second's p99, then their median and worst: whether the tail is the whole run or a few seconds of it.
        secs: j.delivery_p99_ms_by_second || [], cpu: 100 * w.server_cpu_cores_used,
        us: w.server_cpu_us_per_delivered, kib: m.server_kib_per_connection_setup, loadcpu: 100 * w.loadgen_cpu_cores_used,
        ok: c.ok, frame: w.mean_chat_send_frame_bytes, skipped: w.skipped_inflight_cap,
        // Each second's server CPU and its threads' wait on a run queue (ms): a slow second
        // with the core near 1000 ms is the server saturated; with a long wait, the machine.
        cpusecs: (j.sched_by_second || []).map((x) => x.server_cpu_ms),
        waitsecs: (j.sched_by_second || []).map((x) => x.server_runqueue_wait_ms),
        // calma-load's own: a slow second it lagged in is partly the load generator's.
        lagsecs: (j.sched_by_second || []).map((x) => x.loadgen_max_loop_lag_ms),
        busy: busy(),
      });
    }

const head = '| server | offered msg/s | delivered msg/s | delivery p50 / p99 / p99.9 (ms) | p99 by second: median / worst (ms) | server CPU | by second: min-max (ms) | run-queue wait: worst second (ms) | calma-load: worst loop lag (ms) | CPU µs / msg | RSS / conn (KiB) | calma-load CPU | checks |';
const out = [head, '| --- | ---: | ---: | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |'];
const range = (xs) => (xs.length ? `${fmt(Math.min(...xs), 0)}-${fmt(Math.max(...xs), 0)}` : '-');
for (const r of rows)
  out.push(`| ${r.target} | ${r.offered}${r.sat ? ' (saturation)' : ''} | ${fmt(r.delivered, 0)} (${fmt(r.pct, 1)}%) | ` +
           `${fmt(r.p50)} / ${fmt(r.p99)} / ${fmt(r.p999)} | ` +
           `${r.secs.length ? `${fmt(median(r.secs))} / ${fmt(Math.max(...r.secs))}` : '-'} | ${fmt(r.cpu, 0)}% | ${range(r.cpusecs)} | ` +
           `${r.waitsecs.length ? fmt(Math.max(...r.waitsecs), 0) : '-'} | ${r.lagsecs.length ? fmt(Math.max(...r.lagsecs), 0) : '-'} | ` +
           `${fmt(r.us, 1)} | ${fmt(r.kib, 1)} | ` +
           `${fmt(r.loadcpu, 0)}% | ${r.ok ? 'OK' : 'FAILED'}${r.skipped ? `, ${r.skipped} skipped` : ''} |`);
console.log(out.join('\n'));
console.log(`\n${pairs} shopper-agent conversations, ${agents} agent connections, ${duration} s per run, ` +
            `chat.send frames ${fmt(rows[0]?.frame, 0)} bytes on average; server on cpu ${serverCpu} (calma-server --threads 1), ` +
            `calma-load on cpu ${loadCpu}; ${os.cpus().length} cpus. Busy during the runs: ${[...new Set(rows.map((r) => r.busy))].join(' | ')}`);
// Several runs: the median of each (server, offered rate) and, run by run,
// whether calma's p99 was at or below the relay's in the same round (p99 of a
// 10 s run on 2 shared cores moves by several times from run to run).
if (runs > 1) {
  const lines = ['', '| server | offered msg/s | runs | median delivered | median p50 / p99 (ms) | p99 range (ms) | median CPU µs / msg |',
                 '| --- | ---: | ---: | ---: | --- | --- | ---: |'];
  for (const [rate, sat] of plan)
    for (const target of ['Node ws relay', 'calma-server']) {
      const rs = rows.filter((r) => r.target === target && r.offered === rate && r.sat === sat);
      if (!rs.length) continue;
      const p99 = rs.map((r) => r.p99);
      lines.push(`| ${target} | ${rate}${sat ? ' (saturation)' : ''} | ${rs.length} | ${fmt(median(rs.map((r) => r.delivered)), 0)} | ` +
                 `${fmt(median(rs.map((r) => r.p50)))} / ${fmt(median(p99))} | ${fmt(Math.min(...p99))}-${fmt(Math.max(...p99))} | ` +
                 `${fmt(median(rs.map((r) => r.us)), 1)} |`);
    }
  for (const [rate, sat] of plan) {
    const relay = rows.filter((r) => r.target === 'Node ws relay' && r.offered === rate && r.sat === sat);
    const calma = rows.filter((r) => r.target === 'calma-server' && r.offered === rate && r.sat === sat);
    const n = Math.min(relay.length, calma.length);
    if (!n) continue;
    let at = 0;
    for (let k = 0; k < n; ++k) if (calma[k].p99 <= relay[k].p99) ++at;
    lines.push(`\n${rate} msg/s${sat ? ' (saturation)' : ''}: calma's p99 at or below the relay's in ${at} of ${n} rounds.`);
  }
  console.log(lines.join('\n'));
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(all, null, 1));

import { readdirSync, rmSync, mkdirSync } from 'node:fs';
import { GatewayProcess } from './lib/gateway.js';
import { WorkerProcess } from './lib/ipc.js';
import type { GantryLoadProtocol } from './lib/protocols.js';
import { ProcMonitor } from './lib/procstat.js';
import { nowUs } from './lib/clock.js';
import { summariseProfile } from './lib/profile.js';
const rate = Number(process.argv[2] ?? 3000);
const prof = process.argv[3] === 'prof';
const dir = '/tmp/cost/gprof';
rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true });
const gateway = await GatewayProcess.start({ name: 'gcost', adapters: ['gantry'], logDir: '/tmp/cost', env: { GATE2MQTT_GANTRY_MAX_REQUESTS_PER_MINUTE: '0' }, ...(prof ? { cpuProfDir: dir } : {}) });
const load = await WorkerProcess.start<GantryLoadProtocol>('gantry-load', 'gantry-load');
const monitor = new ProcMonitor(gateway.pid, 250);
let from = 0, to = 0;
try {
  await load.call('setup', { target: 'gantry', url: `http://127.0.0.1:${gateway.httpPort}/monitor.do`, gantries: 64, auth: 'bench-auth', connections: 64 });
  for (let r = 0; r < 2; r++) {
    const startAtUs = nowUs() + 300_000;
    const report = await load.call('run', { target: 'gantry', tag: `g-${startAtUs}`, ratePerSec: rate, durationMs: 6000, startAtUs, bucketMs: 100, settleMs: 10_000 });
    const w = monitor.window(startAtUs + 1_000_000, startAtUs + 6_000_000);
    if (r === 1) { from = startAtUs + 1_000_000; to = startAtUs + 6_000_000; }
    console.log(`ok ${report.ok} cpu ${w.cpuPercent.toFixed(0)}% => ${(w.cpuPercent / 100 * 1e6 / rate).toFixed(1)} us/upload; gen cpu ${report.loop.cpuPercent.toFixed(0)}%`);
  }
} finally { monitor.stop(); await load.stop(); await gateway.stop(); }
if (prof) {
  const file = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => `${dir}/${f}`).sort((a, b) => 0)[0]!;
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  let best = { s: summariseProfile(`${dir}/${files[0]}`, 40, { fromUs: from, toUs: to }) };
  for (const f of files) { const s = summariseProfile(`${dir}/${f}`, 40, { fromUs: from, toUs: to }); if (s.busyPercentOfWall > best.s.busyPercentOfWall) best = { s }; }
  console.log(`busy ${best.s.busyPercentOfWall}%`);
  for (const f of best.s.topFunctions) console.log(f.selfPercent.toFixed(1).padStart(5), f.fn, f.where);
  for (const p of best.s.byPackage.slice(0, 20)) console.log(p.selfPercent.toFixed(1).padStart(5), p.pkg);
}

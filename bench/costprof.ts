import { readdirSync, rmSync, mkdirSync } from 'node:fs';
import { UplinkRig } from './lib/uplink.js';
import { summariseProfile } from './lib/profile.js';
import type { RunContext } from './lib/context.js';
const rate = Number(process.argv[2] ?? 5000);
const dir = '/tmp/cost/prof';
rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true });
const ctx: RunContext = { smoke: false, profile: false, outDir: '/tmp/cost', rawDir: '/tmp/cost', shared: {}, log: (m) => console.log(m) };
const url = process.argv[4] ?? '';
const rig = await UplinkRig.start(ctx, { name: 'cost', devices: 100, generators: 1, cpuProfDir: dir, ...(url ? { brokerUrl: url } : {}) });
let from = 0, to = 0;
try {
  from = Number(process.hrtime.bigint() / 1000n);
  const x = await rig.run((process.argv[3] ?? 'qyzn') as 'qyzn', rate, 8000, 1000);
  to = Number(process.hrtime.bigint() / 1000n);
  console.log(`delivered ${x.deliveredPerSec}/s cpu ${x.gateway.cpuPercent}%`);
} finally { await rig.stop(); }
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
const s = summariseProfile(`${dir}/${file}`, 40, { fromUs: from, toUs: to });
console.log(`busy ${s.busyPercentOfWall}%`);
for (const f of s.topFunctions) console.log(f.selfPercent.toFixed(1).padStart(5), f.fn, f.where);
for (const p of s.byPackage) console.log(p.selfPercent.toFixed(1).padStart(5), p.pkg);

import { UplinkRig } from './lib/uplink.js';
import type { RunContext } from './lib/context.js';
const rate = Number(process.argv[2] ?? 5000);
const ctx: RunContext = { smoke: false, profile: false, outDir: '/tmp/cost', rawDir: '/tmp/cost', shared: {}, log: (m) => console.log(m) };
const rig = await UplinkRig.start(ctx, { name: 'cost1', devices: 100, generators: 1 });
try {
  const x = await rig.run('qyzn', rate, 5000, 1500);
  console.log(`qyzn: delivered ${x.deliveredPerSec}/s cpu ${x.gateway.cpuPercent}% p50 ${x.latencyMs.p50} p99 ${x.latencyMs.p99} max ${x.latencyMs.max} answer p99 ${x.answerMs.p99} gens ${JSON.stringify(x.generators.map((g) => [g.lagP99Ms, g.cpuPercent]))}`);
} finally { await rig.stop(); }

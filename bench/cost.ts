// Gateway CPU per event at a fixed, unsaturated rate (both arms): a steadier figure than maximum rates.
import { UplinkRig } from './lib/uplink.js';
import type { RunContext } from './lib/context.js';
const rate = Number(process.argv[2] ?? 5000);
const url = process.argv[3] ?? '';
const ctx: RunContext = { smoke: false, profile: false, outDir: '/tmp/cost', rawDir: '/tmp/cost', shared: {}, log: (m) => console.log(m) };
const rig = await UplinkRig.start(ctx, { name: 'cost', devices: 100, generators: 1, ...(url ? { brokerUrl: url } : {}) });
try {
  for (let r = 0; r < 3; r++) {
    for (const arm of ['baseline', 'qyzn'] as const) {
      const x = await rig.run(arm, rate, 5000, 1500);
      const us = (x.gateway.cpuPercent / 100) * 1e6 / x.deliveredPerSec;
      console.log(`${arm}: delivered ${x.deliveredPerSec}/s cpu ${x.gateway.cpuPercent}% => ${us.toFixed(1)} us/event; p50 ${x.latencyMs.p50} p99 ${x.latencyMs.p99} ms; from send p50 ${x.latencyFromSendMs.p50} p99 ${x.latencyFromSendMs.p99}; lag ${x.generators.map((g) => g.lagP99Ms)}`);
    }
  }
} finally {
  await rig.stop();
}

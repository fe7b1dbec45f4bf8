// The bench runner: `npm run bench` (full, judged) and `npm run bench:smoke` (every scenario
// briefly, not judged; CI runs it so the suite cannot rot).
//   node --import tsx bench/run.ts [--smoke] [--only T1,T4] [--no-profile]
// T1D (disk vs memory store), T9 (scale-out, multi mode) and T11 (the second core) run only when
// --only names them.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RunContext, Scenario, ScenarioResult } from './lib/context.js';
import { ROOT } from './lib/gateway.js';
import { machine, noise } from './lib/machine.js';
import { markdown, type Results } from './lib/report.js';
import { t1 } from './scenarios/t1-embedded.js';
import { t2 } from './scenarios/t2-mosquitto.js';
import { t3 } from './scenarios/t3-websocket-gantry.js';
import { t4 } from './scenarios/t4-latency.js';
import { t5 } from './scenarios/t5-integrity.js';
import { t6 } from './scenarios/t6-idle-devices.js';
import { t7 } from './scenarios/t7-commands.js';
import { t8 } from './scenarios/t8-stall.js';
import { t1disk } from './scenarios/t1-disk.js';
import { t9 } from './scenarios/t9-scale-out.js';
import { t10 } from './scenarios/t10-cpu.js';
import { t11 } from './scenarios/t11-second-core.js';

/** T1 first: T4, T5, T8 and T10 run at shares of its maximum. */
const SCENARIOS: Scenario[] = [t1, t10, t2, t3, t4, t5, t6, t7, t8, t1disk, t9, t11];

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { smoke: { type: 'boolean' }, only: { type: 'string' }, 'no-profile': { type: 'boolean' }, out: { type: 'string' } },
  });
  const smoke = values.smoke ?? false;
  const only = values.only ? new Set(values.only.toUpperCase().split(',')) : undefined;
  const started = new Date();
  const day = started.toISOString().slice(0, 10);
  // The smoke run's output is scratch (git-ignored raw/); the full run's is the record.
  const outDir = values.out ?? join(ROOT, 'bench', 'results', day);
  const rawDir = join(outDir, 'raw', smoke ? 'smoke' : 'full');
  mkdirSync(rawDir, { recursive: true });
  const log = (message: string): void => {
    process.stdout.write(`${message}\n`);
  };
  const ctx: RunContext = { smoke, profile: !smoke && !values['no-profile'], outDir, rawDir, shared: {}, log };
  const results: Results = { kind: smoke ? 'smoke' : 'full', startedAt: started.toISOString(), seconds: 0, machine: machine(), scenarios: [] };
  const m = results.machine;
  // The smoke run must stay under a minute: a shorter look.
  const noiseMs = smoke ? 500 : 2000;
  m.noise = { start: await noise(noiseMs) };
  log(`machine noise: 1 ms timer lag p99 ${m.noise.start.timerLagP99Ms} ms, max ${m.noise.start.timerLagMaxMs} ms`);
  log(`gate2mqtt bench (${results.kind}): ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, commit ${m.commit}${m.dirty ? '+' : ''}, open files ${m.openFiles}`);

  // `--only` re-runs some scenarios of today's full run: the others' results are kept.
  const earlier: ScenarioResult[] = [];
  const resultsFile = join(outDir, 'results.json');
  if (!smoke && only && existsSync(resultsFile)) {
    const previous = JSON.parse(readFileSync(resultsFile, 'utf8')) as Results;
    earlier.push(...previous.scenarios.filter((s) => !only.has(s.id)));
  }
  const write = (): void => {
    results.seconds = (Date.now() - started.getTime()) / 1000;
    const order = SCENARIOS.map((s) => s.id);
    const merged = { ...results, scenarios: [...earlier, ...results.scenarios].sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id)) };
    const json = JSON.stringify(merged, null, 2);
    if (smoke) {
      writeFileSync(join(rawDir, 'smoke.json'), json);
      writeFileSync(join(rawDir, 'smoke.md'), markdown(results));
    } else {
      writeFileSync(resultsFile, json);
      writeFileSync(join(outDir, 'results.md'), markdown(merged));
    }
  };

  for (const scenario of SCENARIOS) {
    if (only ? !only.has(scenario.id) : scenario.optional) continue;
    log(`${scenario.id} ${scenario.title}`);
    const t0 = Date.now();
    let result: ScenarioResult;
    try {
      const outcome = await scenario.run(ctx);
      result = { id: scenario.id, title: scenario.title, seconds: (Date.now() - t0) / 1000, ...outcome };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      result = { id: scenario.id, title: scenario.title, status: 'error', summary: message.split('\n')[0] ?? message, checks: [], generators: [], notes: [message], details: {}, seconds: (Date.now() - t0) / 1000 };
    }
    // The machine is shared: say when others were loading it (1-minute load average above the cores).
    const load = loadavg()[0] ?? 0;
    result.details.loadAverageAfter = Math.round(load * 100) / 100;
    if (load > cpus().length) result.notes.push(`the machine was busy: load average ${load.toFixed(1)} on ${cpus().length} cores at the end of this scenario (other processes compete for the CPU; ratios are interleaved to cancel that out, absolute figures are not)`);
    results.scenarios.push(result);
    log(`${scenario.id} ${result.status}: ${result.summary} (${Math.round(result.seconds)} s)`);
    write();
  }
  m.noise.end = await noise(noiseMs);
  write();
  log(`wrote ${smoke ? join(rawDir, 'smoke.json') : join(outDir, 'results.json')} and .md (${Math.round(results.seconds)} s)`);
  // The smoke run fails only when a scenario could not run at all (CI: the suite must not rot).
  const broken = results.scenarios.filter((s) => s.status === 'error');
  if (smoke) return broken.length > 0 ? 1 : 0;
  return broken.length > 0 || results.scenarios.some((s) => s.status === 'missed') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

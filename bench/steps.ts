// Where the gateway's CPU per qyzn event goes, step by step, beside the floor's: each arm runs at
// one rate under `node --cpu-prof`, and every sample of its main thread is charged to the step
// that asked for the work. Walking up from the sampled frame, native and node: frames are skipped
// (a writev is charged to whoever wrote), and the first frame of a package or of the project names
// the step; a socket write's system call is a step of its own (answers, deliveries alike). The profile gives the shares, /proc the CPU: µs per event = step's share x the
// process's CPU over the window / events delivered.
//   node --import tsx bench/steps.ts [--rate 8000] [--seconds 8] [--arms gateway,floor] [--by-function] [--broker mqtt://127.0.0.1:1883]
// (--by-function: the project's own frames by file and function instead of by step; --broker: an
// external broker such as the machine's Mosquitto instead of the embedded one, as T2)
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RunContext } from './lib/context.js';
import { ROOT } from './lib/gateway.js';
import { round } from './lib/stats.js';
import { UplinkRig } from './lib/uplink.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The step a project file or package belongs to; what is not listed is named by its file. */
const STEPS: Array<[RegExp, string]> = [
  [/^(mqtt|number-allocator|rfdc|worker-timers)\//, 'MQTT.js client (publish, acks; an external broker)'],
  [/^(aedes|aedes-packet|qlobber|mqemitter|mqtt-packet|bl|fastfall|fastparallel|fastseries|reusify|retimer|uuid|debug|ms)\//, 'broker (aedes: route, encode, write to the subscriber)'],
  [/^secure-json-parse\//, 'JSON parse (secure-json-parse)'],
  [/^(adapters\/qyzn\/body|src\/json)\.ts$/, 'JSON bounds, keys trimmed'],
  [/^adapters\/qyzn\/parser\.ts$/, 'frame: header, length, body'],
  [/^adapters\/qyzn\/(encoder|answers)\.ts$/, 'answer: encode'],
  [/^adapters\/qyzn\/(handlers|tables|auth|sign)\.ts$/, 'handler: the message type, its data'],
  [/^adapters\/qyzn\/connection\.ts$/, 'connection: dispatch, answer writes'],
  [/^src\/devices\.ts$/, 'envelope and device bookkeeping'],
  [/^src\/(window|buffer|inprocess|mqtt|writes)\.ts$/, 'hand-over to the broker (window, buffer check)'],
  [/^src\/recent\.ts$/, 'retransmission check (ring)'],
  [/^src\/inbox\.ts$/, 'per-device order (inbox)'],
  [/^src\/(metrics|clock|leniency|errors)\.ts$/, 'metrics, clock'],
  [/^prom-client\//, 'metrics, clock'],
  [/^bench\/floor\.ts$/, 'the floor\'s own code (frame, envelope, answer)'],
];

/** Native leaves that are the kernel's share of a socket write, whoever asked for it. */
const SYSCALLS = /^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString|writeUcs2String)$/;

function stepOf(key: string): string {
  for (const [pattern, step] of STEPS) if (pattern.test(key)) return step;
  return key;
}

/** A frame's package (`aedes/lib/client.js`) or project file (`src/devices.ts`); undefined for native and node: frames. */
function ownerOf(url: string): string | undefined {
  if (url === '' || url.startsWith('node:')) return undefined;
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
  if (path.startsWith(ROOT)) return path.slice(ROOT.length).replace(/^\//, '');
  return undefined;
}

/** Samples per step inside the window (monotonic µs), and the busy samples in all. */
export function steps(file: string, window: { fromUs: number; toUs: number }, byFunction = false): { byStep: Map<string, number>; busy: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stepOfNode = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = stepOfNode.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    let step: string;
    if (!node) step = '(unknown)';
    else if (node.callFrame.url === '' && SYSCALLS.test(node.callFrame.functionName)) step = 'socket writes (the system calls)';
    else {
      const owner = ownerOf(node.callFrame.url);
      const up = parent.get(id);
      if (owner !== undefined) step = byFunction && !owner.includes('/node_modules/') && /\.ts$/.test(owner) ? `${owner} ${node.callFrame.functionName || '(anonymous)'}` : stepOf(owner);
      else if (up !== undefined && byId.get(up)?.callFrame.functionName !== '(root)') step = resolve(up);
      else step = node.callFrame.functionName.startsWith('(') ? node.callFrame.functionName : 'node: event loop, sockets (no project frame above)';
    }
    stepOfNode.set(id, step);
    return step;
  };
  const byStep = new Map<string, number>();
  let busy = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at < window.fromUs || at > window.toUs) return;
    const step = resolve(id);
    if (step === '(idle)') return;
    busy += 1;
    byStep.set(step, (byStep.get(step) ?? 0) + 1);
  });
  return { byStep, busy };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rate: { type: 'string', default: '8000' }, seconds: { type: 'string', default: '8' }, arms: { type: 'string', default: 'gateway,floor' }, 'by-function': { type: 'boolean', default: false }, broker: { type: 'string' } } });
  const rate = Number(values.rate);
  const durationMs = Number(values.seconds) * 1000;
  const warmupMs = 1000;
  const out = '/tmp/gate2mqtt-steps';
  const ctx = { smoke: false, profile: false, outDir: out, rawDir: out, shared: {}, log: (line: string) => console.log(line) } as unknown as RunContext;
  const results: Array<{ arm: string; perEvent: Map<string, number>; total: number }> = [];
  for (const arm of (values.arms ?? '').split(',')) {
    const dir = join(out, arm);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const rig = await UplinkRig.start(ctx, { name: `steps-${arm}`, devices: 100, generators: 1, baseline: false, cpuProfDir: dir, entry: arm === 'floor' ? 'floor' : 'gateway', ...(values.broker ? { brokerUrl: values.broker } : {}) });
    let run;
    try {
      run = await rig.run('qyzn', rate, durationMs, warmupMs, { settleMs: 3000 });
    } finally {
      await rig.stop();
    }
    // The main thread's profile is the one with the most samples (the others: tsx's loader, a broker thread).
    const file = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0];
    if (!file) throw new Error(`${arm}: no profile written`);
    const { byStep, busy } = steps(file, { fromUs: run.startAtUs + warmupMs * 1000, toUs: run.startAtUs + durationMs * 1000 }, values['by-function']);
    const total = ((run.gateway.mainThreadCpuPercent / 100) * 1e6) / Math.max(1, run.deliveredPerSec);
    const perEvent = new Map([...byStep].map(([step, n]) => [step, (n / Math.max(1, busy)) * total]));
    console.log(`${arm}: delivered ${run.deliveredPerSec}/s, main thread ${run.gateway.mainThreadCpuPercent}% of a core = ${round(total, 1)} µs per event`);
    results.push({ arm, perEvent, total });
  }
  const all = [...new Set(results.flatMap((r) => [...r.perEvent.keys()]))].sort((a, b) => (results[0]?.perEvent.get(b) ?? 0) - (results[0]?.perEvent.get(a) ?? 0));
  console.log(`\n| step | ${results.map((r) => `${r.arm} µs/event`).join(' | ')} |`);
  console.log(`| --- | ${results.map(() => '---:').join(' | ')} |`);
  for (const step of all) {
    const cells = results.map((r) => round(r.perEvent.get(step) ?? 0, 1));
    if (cells.every((c) => c < 0.3)) continue;
    console.log(`| ${step} | ${cells.join(' | ')} |`);
  }
  console.log(`| all (main thread) | ${results.map((r) => round(r.total, 1)).join(' | ')} |`);
}

await main();

// Where a target is missed: the gateway run again under `node --cpu-prof`, and the V8 profile
// read back into the functions and packages that take the most self time.
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunContext } from './context.js';
import { ROOT } from './gateway.js';
import { round } from './stats.js';
import { UplinkRig } from './uplink.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Monotonic µs (V8's TimeTicks: CLOCK_MONOTONIC on Linux, the same clock as clock.ts). */
  startTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  file: string;
  /** Share of the busy (non-idle) samples. */
  busyPercentOfWall: number;
  topFunctions: Array<{ fn: string; where: string; selfPercent: number }>;
  byPackage: Array<{ pkg: string; selfPercent: number }>;
}

function where(url: string): string {
  if (url === '') return '';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
  if (path.startsWith(ROOT)) return path.slice(ROOT.length);
  return path;
}

function packageOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)';
  if (url.startsWith('node:')) return 'node (built-in modules)';
  const rel = where(url);
  if (url.includes('/node_modules/')) {
    const parts = rel.split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? rel);
  }
  return rel;
}

/** Self time by function and by package, as shares of the non-idle samples; with `window`
 *  (monotonic µs), only the samples taken under load count, not the start and the logins. */
export function summariseProfile(file: string, top = 15, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, number>();
  if (profile.samples) {
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      at += profile.timeDeltas?.[i] ?? 0;
      if (window && (at < window.fromUs || at > window.toUs)) return;
      hits.set(id, (hits.get(id) ?? 0) + 1);
    });
  } else {
    for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0);
  }
  let total = 0;
  let idle = 0;
  const fns = new Map<string, { fn: string; where: string; n: number }>();
  const pkgs = new Map<string, number>();
  for (const [id, n] of hits) {
    const node = byId.get(id);
    if (!node) continue;
    total += n;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += n;
      continue;
    }
    const fn = functionName || '(anonymous)';
    // tsx compiles each TypeScript file to one line: a line number there says nothing.
    const at = url ? (url.endsWith('.ts') ? where(url) : `${where(url)}:${lineNumber + 1}`) : '';
    const key = `${fn}@${at}`;
    const entry = fns.get(key) ?? { fn, where: at, n: 0 };
    entry.n += n;
    fns.set(key, entry);
    const pkg = packageOf(url, fn);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + n);
  }
  const busy = Math.max(1, total - idle);
  return {
    file,
    busyPercentOfWall: round(((total - idle) / Math.max(1, total)) * 100, 1),
    topFunctions: [...fns.values()]
      .sort((a, b) => b.n - a.n)
      .slice(0, top)
      .map((e) => ({ fn: e.fn, where: e.where, selfPercent: round((e.n / busy) * 100, 1) })),
    byPackage: [...pkgs.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([pkg, n]) => ({ pkg, selfPercent: round((n / busy) * 100, 1) })),
  };
}

export interface ProfilePlan {
  name: string;
  brokerUrl: string;
  devices: number;
  ratePerSec: number;
  durationMs: number;
}

/** One gateway run at `ratePerSec` with the gateway under --cpu-prof; the profile is written at its exit. */
export async function profileGateway(ctx: RunContext, plan: ProfilePlan): Promise<ProfileSummary | { error: string }> {
  const dir = join(ctx.rawDir, 'profiles', plan.name);
  // A profile of an earlier run in the same folder would be taken for this one.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  ctx.log(`  profiling the gateway (node --cpu-prof) at ${plan.ratePerSec}/s for ${plan.durationMs / 1000} s`);
  const rig = await UplinkRig.start(ctx, { name: plan.name, brokerUrl: plan.brokerUrl, devices: plan.devices, generators: 1, cpuProfDir: dir });
  let window: { fromUs: number; toUs: number } | undefined;
  try {
    const warmupMs = 1000;
    const run = await rig.run('qyzn', plan.ratePerSec, plan.durationMs, warmupMs, { settleMs: 5000 });
    window = { fromUs: run.startAtUs + warmupMs * 1000, toUs: run.startAtUs + plan.durationMs * 1000 };
    ctx.log(`  profiled run: offered ${run.offeredPerSec}/s, delivered ${run.deliveredPerSec}/s, gateway CPU ${run.gateway.cpuPercent}%`);
  } finally {
    await rig.stop();
  }
  // The main thread's profile is the one with the most samples (the other is tsx's loader thread).
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  const file = files[0];
  if (!file) return { error: 'no profile written' };
  const summary = summariseProfile(file, 20, window);
  ctx.log(`  profile: ${summary.topFunctions.slice(0, 5).map((f) => `${f.fn} ${f.selfPercent}%`).join(', ')}`);
  return summary;
}

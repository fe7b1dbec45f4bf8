// What a scenario gets from the runner and gives back to it.

export interface Check {
  name: string;
  value: number | string;
  unit: string;
  /** The target as written in the issue, e.g. ">= 85% of baseline". */
  target: string;
  /** null in the smoke run, which does not judge. */
  met: boolean | null;
}

/** One load generator's line in the output: asked for a rate, shown to carry it. */
export interface GeneratorLine {
  scenario: string;
  name: string;
  askedPerSec: number;
  sentPerSec: number;
  /** Schedule lag, p99, ms: near 0 means every message left on time. */
  lagP99Ms: number;
  /** CPU of the generator process during its schedule, % of one core. */
  cpuPercent: number;
  /** How many times the asked rate one core of this generator could send (100 / cpu%). */
  headroom: number;
}

export type Status = 'met' | 'missed' | 'measured' | 'not available yet' | 'error';

export interface ScenarioResult {
  id: string;
  title: string;
  status: Status;
  /** The headline figure for the table. */
  summary: string;
  checks: Check[];
  generators: GeneratorLine[];
  notes: string[];
  details: Record<string, unknown>;
  seconds: number;
}

export interface Shared {
  /** T1's maximum gateway rate (events/s), for T4, T5 and T8. */
  maxRate?: number;
}

export interface RunContext {
  smoke: boolean;
  /** Profile the gateway with node --cpu-prof where a target is missed. */
  profile: boolean;
  outDir: string;
  rawDir: string;
  shared: Shared;
  log(message: string): void;
}

export interface Scenario {
  id: string;
  title: string;
  /** Run only when `--only` names it. */
  optional?: boolean;
  run(ctx: RunContext): Promise<Omit<ScenarioResult, 'id' | 'title' | 'seconds'>>;
}

export function check(name: string, value: number | string, unit: string, target: string, met: boolean, ctx: RunContext): Check {
  return { name, value, unit, target, met: ctx.smoke ? null : met };
}

/** met / missed from the checks; the smoke run only measures. */
export function verdict(checks: readonly Check[], ctx: RunContext): Status {
  if (ctx.smoke) return 'measured';
  return checks.every((c) => c.met !== false) ? 'met' : 'missed';
}

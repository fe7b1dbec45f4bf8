// Runs the shell examples of the docs as a user pastes them, in order, each in bash: the gateway in
// a shell of its own (a new `npm start` replaces it), simulators and watching subscribers left
// running in theirs, every other command run to its end and held to its exit code and to the
// output its comment shows. It waits the way a user does, for what the page says happens (the
// gateway started, a simulated device connected), never for a fixed time.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../src/paths.js';
import type { Block, Expectation, Step } from './doc-examples.js';
import { within } from './harness.js';

const COMMAND_MS = 60_000;
const START_MS = 30_000;
/** Simulators back off up to 10 s between attempts, and a gantry uploads every --interval (10 s in the docs). */
const RECONNECT_MS = 40_000;

interface Running {
  child: ChildProcess;
  step: Step;
  where: string;
  output: () => string;
  exit: Promise<number | null>;
}

interface Simulator extends Running {
  adapter: string;
  devices: string[];
}

interface DeviceView {
  deviceId: string;
  online: boolean;
  connectedAt?: string;
  lastMessageAt?: string;
}

export interface RunnerOptions {
  /** The environment every shell starts with: the ports, the broker. */
  env: Record<string, string>;
  /** Where the gateway's HTTP server listens (the examples' GATE2MQTT_HTTP_PORT). */
  httpPort: number;
  log: (line: string) => void;
}

export class DocRunner {
  readonly dir = mkdtempSync(join(tmpdir(), 'g2m-docs-'));
  private gateway: Running | undefined;
  private readonly backgrounds: Running[] = [];
  private readonly simulators: Simulator[] = [];
  private vars = new Map<string, string>();
  private readonly exported = new Map<string, string>();
  readonly failures: string[] = [];
  private readonly began = Date.now();
  ran = 0;

  constructor(private readonly options: RunnerOptions) {
    // The user's checkout, without touching it: everything linked, config/ copied (an example
    // writes into it), data/ made fresh by the gateway in this directory.
    for (const entry of readdirSync(ROOT)) {
      if (['.git', 'data', '.tap', 'config'].includes(entry)) continue;
      symlinkSync(join(ROOT, entry), join(this.dir, entry));
    }
    cpSync(join(ROOT, 'config'), join(this.dir, 'config'), { recursive: true });
    // Each shell is a process group of its own (so that a stop reaches npm's child too), which
    // outlives this process unless killed: also when tap ends it on a timeout.
    process.once('exit', () => {
      for (const running of this.all()) this.kill(running.child, 'SIGKILL');
    });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(1));
  }

  private all(): Running[] {
    return [...this.simulators, ...this.backgrounds, ...(this.gateway ? [this.gateway] : [])];
  }

  /** A new page: a new shell's variables; the gateway and what runs in the other shells stay. */
  newPage(): void {
    this.vars = new Map();
  }

  async run(block: Block): Promise<void> {
    for (const step of block.steps) {
      const where = `${block.page}:${step.line}`;
      try {
        await this.step(step, where);
        this.ran++;
      } catch (err) {
        this.failures.push(`${where}: ${(err as Error).message}\n    $ ${step.text}`);
        this.options.log(`FAIL ${where}: ${(err as Error).message}`);
      }
    }
  }

  private async step(step: Step, where: string): Promise<void> {
    this.options.log(`${((Date.now() - this.began) / 1000).toFixed(1)} s ${where} [${step.kind}] ${step.text.slice(0, 140)}`);
    if (step.kind === 'assign') return this.assign(step);
    if (step.kind === 'gateway') return this.startGateway(step, where);
    if (step.kind === 'background') return this.startBackground(step, where);
    // What the command names, with the variables it uses (`$T/open_door`) expanded.
    const used = [...this.vars].filter(([name]) => new RegExp(`\\$\\{?${name}\\b`).test(step.text)).map(([, value]) => value);
    await this.simulatedDevicesOnline([step.text, ...used].join(' '));
    const done = this.shell(step, where);
    const code = await within(done.exit, `the end of the command`, COMMAND_MS).catch((err: unknown) => {
      this.kill(done.child, 'SIGKILL');
      throw err;
    });
    if (code !== 0) throw new Error(`exit code ${String(code)}; output:\n${done.output().slice(-2000)}`);
    if (step.kind === 'run' && step.expect) expectOutput(step.expect, done.output());
  }

  /** `T=...`: evaluated once, as the shell does, and kept for the page's later commands. */
  private async assign(step: Extract<Step, { kind: 'assign' }>): Promise<void> {
    const script = `${step.text}\n${step.names.map((n) => `printf '%s\\0' "$${n}"`).join('\n')}`;
    const done = this.shell({ ...step, text: script }, 'assign');
    const code = await within(done.exit, 'an assignment', COMMAND_MS);
    if (code !== 0) throw new Error(`exit code ${String(code)}: ${done.output()}`);
    const values = done.stdout().split('\0');
    step.names.forEach((name, i) => {
      this.vars.set(name, values[i] ?? '');
      if (step.exported) this.exported.set(name, values[i] ?? '');
    });
  }

  private async startGateway(step: Step, where: string): Promise<void> {
    await this.stopGateway();
    const started = this.shell(step, where);
    this.gateway = started;
    const exited = started.exit.then((code) => {
      throw new Error(`the gateway exited (code ${String(code)}) before it started:\n${started.output().slice(-2000)}`);
    });
    exited.catch(() => undefined); // it matters only during the wait below; a later stop ends it too
    await Promise.race([waitFor(() => /gate2mqtt started/.test(started.output()), '"gate2mqtt started"', START_MS), exited]);
  }

  /** A command on a simulated device's topics runs once that device is online, as a user waits for
   *  it: after a restart of the gateway the simulators reconnect by themselves, as devices do. */
  private async simulatedDevicesOnline(text: string): Promise<void> {
    for (const sim of this.simulators.filter((s) => s.child.exitCode === null)) {
      // Its topics (`qyzn/<id>/command/...`), not an upload that carries the id and brings it online.
      for (const deviceId of sim.devices.filter((id) => text.includes(`${sim.adapter}/${id}/`))) {
        await waitFor(
          async () => (await this.devices(sim.adapter)).some((d) => d.deviceId === deviceId && d.online),
          `${sim.adapter} ${deviceId} (the simulator of ${sim.where}) online`,
          RECONNECT_MS,
        );
      }
    }
  }

  private async startBackground(step: Extract<Step, { kind: 'background' }>, where: string): Promise<void> {
    if (!step.simulator) {
      this.backgrounds.push(this.shell(step, where));
      return;
    }
    // The same simulator again: the user stopped the one in that shell and runs this one.
    for (const old of this.simulators.filter((s) => s.adapter === step.simulator && s.child.exitCode === null)) await this.stop(old);
    const since = new Date().toISOString();
    const sim: Simulator = { ...this.shell(step, where), adapter: step.simulator, devices: [] };
    this.simulators.push(sim);
    const exited = sim.exit.then((code) => {
      throw new Error(`the simulator exited (code ${String(code)}):\n${sim.output().slice(-2000)}`);
    });
    exited.catch(() => undefined);
    const fresh = async (): Promise<boolean> => {
      const found = (await this.devices(sim.adapter)).filter((d) => d.online && ((d.connectedAt ?? '') > since || (d.lastMessageAt ?? '') > since));
      sim.devices = found.map((d) => d.deviceId);
      return found.length > 0;
    };
    await Promise.race([waitFor(fresh, `device of ${where}'s simulator connected`, RECONNECT_MS), exited]);
  }

  /** The gateway's own view of its devices, from the console's API (where http.auth and TLS are read from its environment). */
  private async devices(adapter: string): Promise<DeviceView[]> {
    const env = this.gatewayEnv();
    const tls = Boolean(env.GATE2MQTT_HTTP_CERT);
    const headers: Record<string, string> = env.GATE2MQTT_HTTP_TOKEN ? { authorization: `Bearer ${env.GATE2MQTT_HTTP_TOKEN}` } : {};
    const url = `${tls ? 'https' : 'http'}://127.0.0.1:${env.GATE2MQTT_HTTP_PORT ?? this.options.httpPort}/console/api/state?adapter=${adapter}`;
    try {
      const body = tls ? await insecureGet(url, headers) : await (await fetch(url, { headers })).text();
      const state = JSON.parse(body) as { adapters?: { id: string; devices: DeviceView[] }[] };
      return state.adapters?.find((a) => a.id === adapter)?.devices ?? [];
    } catch {
      return [];
    }
  }

  /** The environment of the gateway's node process (below bash and npm), as /proc shows it. */
  private gatewayEnv(): Record<string, string> {
    const root = this.gateway?.child.pid;
    if (root === undefined) return {};
    const queue = [root];
    while (queue.length > 0) {
      const pid = queue.shift() as number;
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dist/src/main.js')) {
          return Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
        }
        for (const task of readdirSync(`/proc/${pid}/task`)) queue.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
      } catch {
        // the process ended meanwhile
      }
    }
    return {};
  }

  private shell(step: Step, where: string): Running & { stdout: () => string } {
    const prelude = [...this.vars].map(([k, v]) => `${k}=${quote(v)}`).join('\n');
    const child = spawn('bash', ['-c', `${prelude}\n${step.text}`], {
      cwd: this.dir,
      env: { ...this.options.env, ...Object.fromEntries(this.exported) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    return { child, step, where, output: () => out, stdout: () => stdout, exit };
  }

  private kill(child: ChildProcess, signal: NodeJS.Signals): void {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  }

  private async stop(running: Running): Promise<void> {
    if (running.child.exitCode !== null || running.child.signalCode !== null) return;
    this.kill(running.child, 'SIGTERM');
    await within(running.exit, `${running.where} to stop`, 15_000).catch(() => this.kill(running.child, 'SIGKILL'));
  }

  private async stopGateway(): Promise<void> {
    if (this.gateway) await this.stop(this.gateway);
    this.gateway = undefined;
  }

  /** What ran in the other shells: a simulator must still run, a watching subscriber must have printed something. */
  check(): void {
    for (const sim of this.simulators.filter((s) => s.child.exitCode !== null && s.child.signalCode === null)) {
      this.failures.push(`${sim.where}: the simulator exited by itself (code ${String(sim.child.exitCode)}):\n${sim.output().slice(-1500)}`);
    }
    for (const bg of this.backgrounds) {
      if (bg.output().trim() === '') this.failures.push(`${bg.where}: printed nothing while the examples after it ran\n    $ ${bg.step.text}`);
      if (bg.child.exitCode !== null && bg.child.exitCode !== 0) this.failures.push(`${bg.where}: exited with code ${String(bg.child.exitCode)}:\n${bg.output().slice(-1500)}`);
    }
  }

  async close(): Promise<void> {
    for (const running of [...this.simulators, ...this.backgrounds]) this.kill(running.child, 'SIGTERM');
    await this.stopGateway();
    for (const running of this.all()) this.kill(running.child, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function expectOutput(expect: Expectation, output: string): void {
  if ('text' in expect) {
    if (!output.split('\n').some((l) => l.trim() === expect.text)) throw new Error(`printed no line "${expect.text}":\n${output.slice(-1500)}`);
    return;
  }
  const line = output.split('\n').find((l) => l.trim().startsWith('{'));
  if (line === undefined) throw new Error(`printed no JSON, expected ${JSON.stringify(expect.json)}:\n${output.slice(-1500)}`);
  const problem = subsetProblem(expect.json, JSON.parse(line) as unknown, '');
  if (problem) throw new Error(`${problem}\n    printed:  ${line}\n    the docs: ${JSON.stringify(expect.json)}`);
}

/** Every value the docs show is in the output, at the same place (objects may hold more). */
function subsetProblem(expected: unknown, actual: unknown, path: string): string | undefined {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${path || 'the output'} is not an object`;
    for (const [key, value] of Object.entries(expected)) {
      if (!(key in actual)) return `${path}${path ? '.' : ''}${key} is missing`;
      const problem = subsetProblem(value, (actual as Record<string, unknown>)[key], `${path}${path ? '.' : ''}${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return JSON.stringify(expected) === JSON.stringify(actual) ? undefined : `${path} is ${JSON.stringify(actual)}, the docs say ${JSON.stringify(expected)}`;
}

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Checks `condition` every 100 ms until it holds; past `ms` it stops checking and fails, naming what it waited for. */
async function waitFor(condition: () => boolean | Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function insecureGet(url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    // The docs' own self-signed certificate: the test checks the gateway's state, not the certificate.
    const req = httpsRequest(url, { headers, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

// `npm start` as a user (or a service manager) runs it: a signal to the npm process must reach
// the gateway, not leave it running orphaned and holding its ports. And `gate2mqtt --version`.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, VERSION } from '../../src/paths.js';
import { PORTS_ZERO, connectClient, exited, externalBroker, uniqueBase, until, type Teardown } from '../helpers/harness.js';

// `npm ci` builds dist/ (the prepare script); a tree installed with --ignore-scripts has none.
if (!existsSync(join(ROOT, 'dist/src/main.js'))) spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids of a process's children, from /proc. */
function childrenOf(pid: number): number[] {
  const tasks = join('/proc', String(pid), 'task');
  const found: number[] = [];
  for (const task of spawnSync('ls', [tasks], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
    try {
      found.push(...readFileSync(join(tasks, task, 'children'), 'utf8').split(' ').filter(Boolean).map(Number));
    } catch {
      // the thread ended meanwhile
    }
  }
  return found;
}

async function npmStart(t: Teardown) {
  const url = await externalBroker(t);
  const base = uniqueBase();
  const inbox = await connectClient(t, url);
  await inbox.subscribe(`${base}/bridge/state`);
  const npm = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      GATE2MQTT_LOG_LEVEL: 'warn',
      ...PORTS_ZERO,
      GATE2MQTT_MQTT_URL: url,
      GATE2MQTT_BASE_TOPIC: base,
      GATE2MQTT_MQTT_CLIENT_ID: `g2mtest-${randomUUID().slice(0, 8)}`,
    },
    stdio: 'ignore',
  });
  let gatewayPid: number | undefined;
  t.teardown(() => {
    for (const pid of [npm.pid, gatewayPid]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  });
  await inbox.take(`${base}/bridge/state`, (p) => p.toString() === 'online', 30_000);
  const [child] = childrenOf(npm.pid as number);
  gatewayPid = child;
  return { npm, gatewayPid: child as number, inbox, base };
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} to npm start stops the gateway itself: bridge/state offline, no process left`, async (t) => {
    const { npm, gatewayPid, inbox, base } = await npmStart(t);
    t.ok(gatewayPid, 'npm start runs the gateway as its child');
    npm.kill(signal);
    const offline = await inbox.take(`${base}/bridge/state`, (p) => p.toString() === 'offline');
    t.equal(offline.payload.toString(), 'offline');
    await exited(npm);
    await until(() => !alive(gatewayPid), `the gateway process ${gatewayPid} to exit`);
    t.pass('the gateway process is gone');
  });
}

t.test('--version prints the version', async (t) => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts'), '--version'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(run.status, 0);
  t.equal(run.stdout, `${VERSION}\n`);
});

t.test('--print-config through npm start: JSON alone on stdout with --silent, and a hint on stderr without', async (t) => {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', GATE2MQTT_BASE_TOPIC: 'from-env' };
  const silent = spawnSync('npm', ['start', '--silent', '--', '--print-config'], { cwd: ROOT, env, encoding: 'utf8' });
  t.equal(silent.status, 0);
  t.equal((JSON.parse(silent.stdout) as { baseTopic: string }).baseTopic, 'from-env', 'stdout is the JSON, nothing else');
  t.equal(silent.stderr, '', 'no hint when npm printed nothing');
  const loud = spawnSync('npm', ['start', '--', '--print-config'], { cwd: ROOT, env, encoding: 'utf8' });
  t.equal(loud.status, 0);
  t.match(loud.stdout, /^\s*> gate2mqtt@/, "npm's own lines come first");
  t.match(loud.stderr, /npm start --silent -- --print-config/, 'the gateway says how to get the JSON alone');
});

// Every shell example of README.md and docs/*.md, run in order as a user pastes them, against a
// gateway and the simulators the examples start. The examples are the data: this file only says
// where the gateway may listen. Two machines: one where every port is free (the examples' port
// variables given free ports), and one where a system Mosquitto holds 1883, where the README's
// first start fails in the line it quotes and the rest runs on that Mosquitto.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import t, { type Test } from 'tap';
import { ROOT } from '../../src/paths.js';
import { PAGES, readBlocks, type Block } from '../helpers/doc-examples.js';
import { DocRunner } from '../helpers/doc-runner.js';
import { freePort } from '../helpers/mosquitto.js';

t.setTimeout(15 * 60_000);

// `npm ci` builds dist/ (the prepare script), which `npm start` runs; a tree installed with --ignore-scripts has none.
if (!existsSync(join(ROOT, 'dist/src/main.js'))) spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });

const blocks: Block[] = PAGES.flatMap((page) => readBlocks(page));
const MOSQUITTO = 'mqtt://127.0.0.1:1883';

/** The user's environment: the machine's, without any GATE2MQTT_ setting of the test run itself. */
function userEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith('GATE2MQTT_') && !e[0].startsWith('npm_') && !e[0].startsWith('TAP')));
}

async function ports(names: string[]): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, String(await freePort())] as const)));
}

async function runAll(t: Test, env: Record<string, string>, httpPort: number, external: boolean): Promise<void> {
  const runner = new DocRunner({ env, httpPort, log: (line) => t.comment(line) });
  t.teardown(() => runner.close());
  let page = '';
  for (const block of blocks) {
    if (block.page !== page) {
      page = block.page;
      runner.newPage();
    }
    if (block.skip || (external && block.embeddedOnly)) continue;
    await runner.run(block);
  }
  runner.check();
  t.same(runner.failures, [], 'every example works as pasted');
  t.ok(runner.ran > 100, `${runner.ran} commands ran`);
}

t.test('every shell example block is run, or says why not', async (t) => {
  const shell = blocks.length;
  const skipped = blocks.filter((b) => b.skip);
  t.ok(shell > 40, `${shell} shell blocks found`);
  for (const b of skipped) t.ok((b.skip ?? '').length > 10, `${b.page}:${b.line} is skipped because ${b.skip ?? ''}`);
  t.ok(skipped.length <= 15, `${skipped.length} of ${shell} skipped, each for its reason`);
  for (const page of PAGES) {
    const text = readFileSync(join(ROOT, page), 'utf8');
    // A port number in an example where its variable belongs would break when the port moves.
    for (const b of blocks.filter((x) => x.page === page)) {
      for (const step of b.steps) t.notMatch(step.text, /-p 1883\b|127\.0\.0\.1:(8080|8081|8082|9000)\b/, `${page}:${step.line} takes its port from the variable`);
    }
    t.notMatch(text, /```(console|shell-session)\b/, `${page}: shell examples are sh blocks`);
  }
});

t.test('the README quotes the line a taken port 1883 stops the start with', async (t) => {
  // The machine's Mosquitto holds 1883 here, as on many users' machines.
  const env = { ...userEnv(), GATE2MQTT_BROKER_PERSISTENCE: 'memory', ...(await ports(['GATE2MQTT_HTTP_PORT', 'GATE2MQTT_QYZN_PORT', 'GATE2MQTT_WSDOOR_PORT', 'GATE2MQTT_WSCAM_PORT', 'GATE2MQTT_BROKER_WS_PORT'])) };
  const run = spawnSync(process.execPath, [join(ROOT, 'dist/src/main.js')], { cwd: ROOT, env, encoding: 'utf8', timeout: 30_000 });
  t.not(run.status, 0, 'the start fails');
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
  const quoted = /`(gate2mqtt: [^`]*port 1883 is already in use[^`]*)`/.exec(readme)?.[1];
  t.ok(quoted, 'the README quotes it');
  t.match(run.stderr + run.stdout, quoted ?? 'nothing quoted', 'the gateway says what the README quotes');
});

t.test('on a machine with every port free: the embedded broker, as the README recommends', async (t) => {
  const chosen = await ports(['GATE2MQTT_BROKER_PORT', 'GATE2MQTT_BROKER_WS_PORT', 'GATE2MQTT_HTTP_PORT', 'GATE2MQTT_QYZN_PORT', 'GATE2MQTT_WSDOOR_PORT', 'GATE2MQTT_WSCAM_PORT']);
  await runAll(t, { ...userEnv(), ...chosen }, Number(chosen.GATE2MQTT_HTTP_PORT), false);
});

t.test('on a machine where Mosquitto holds 1883: the same examples on that Mosquitto', async (t) => {
  const chosen = await ports(['GATE2MQTT_HTTP_PORT', 'GATE2MQTT_QYZN_PORT', 'GATE2MQTT_WSDOOR_PORT', 'GATE2MQTT_WSCAM_PORT']);
  const seen = new Set<string>();
  // What the run leaves retained on the shared Mosquitto is cleared afterwards; only what it published.
  const watcher = await mqtt.connectAsync(MOSQUITTO, { clientId: `g2m-docs-${process.pid}` });
  watcher.on('message', (topic, payload, packet) => {
    if (!packet.retain && payload.length > 0) seen.add(topic);
  });
  await watcher.subscribeAsync(['gate2mqtt/#', 'homeassistant/#'], { qos: 0 });
  t.teardown(async () => {
    for (const topic of seen) await watcher.publishAsync(topic, '', { retain: true, qos: 1 });
    await watcher.endAsync();
  });
  await runAll(t, { ...userEnv(), ...chosen, GATE2MQTT_MQTT_URL: MOSQUITTO }, Number(chosen.GATE2MQTT_HTTP_PORT), true);
});

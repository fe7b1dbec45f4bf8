// Multi-instance mode with an instance SIGKILLed: three gateway processes on one broker or a
// broker cluster, and the machine's Redis. Terminals on
// every instance send numbered messages the whole time; those of the killed instance are said
// offline once its lease runs out, reconnect to the survivors and get commands there. Nothing a
// terminal was told was accepted is lost; the last instance's death sets bridge/state offline.
import { randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import { QyznSimulator } from '../../sim/qyzn/simulator.js';
import { Commands } from './commands.js';
import { connectClient, within } from './harness.js';
import { REDIS_URL } from './instances.js';
import { startGatewayProcess, type GatewayProcess } from './process.js';
import { PersistentCounter, tally, type TerminalLog } from './uplink-count.js';
import { Redis } from 'ioredis';

const SECRET = 'kill-secret';
const LEASE_MS = 1200;

interface Terminal {
  serial: string;
  sim: QyznSimulator;
  log: TerminalLog;
  /** Where it is connected now. */
  at: string;
}

/** The scenario on `urls`: instance i connects to urls[i % urls.length] (one broker, or the nodes
 *  of a cluster), the test's own clients to the first; or 'embedded': each instance's embedded
 *  broker, the brokers clustered over Redis. */
export async function killScenario(t: Test, urls: string[] | 'embedded', options: { protocolVersion?: 4 | 5 } = {}): Promise<void> {
  const embedded = urls === 'embedded';
  const clusterEnv = (index: number): Record<string, string> =>
    embedded
      ? {
          GATE2MQTT_MQTT_URL: '',
          GATE2MQTT_BROKER_CLUSTER_REDIS_URL: REDIS_URL,
          GATE2MQTT_BROKER_CLUSTER_PREFIX: `${prefix}broker:`,
          GATE2MQTT_BROKER_CLUSTER_HEARTBEAT_MS: '200',
          GATE2MQTT_BROKER_PERSISTENCE: 'memory',
        }
      : { GATE2MQTT_MQTT_URL: urls[index % urls.length] as string };
  const base = `g2mtest/${randomUUID().slice(0, 8)}`;
  const prefix = `g2mtest:${randomUUID().slice(0, 8)}:`;
  const redis = new Redis(REDIS_URL);
  t.teardown(async () => {
    const left = await redis.keys(`${prefix}*`);
    if (left.length > 0) await redis.del(...left);
    await redis.quit();
  });
  const start = (id: string, index: number): Promise<GatewayProcess> =>
    startGatewayProcess(t, {
      // Answered by the gateway once published: what the terminal is told is what reached the broker.
      config: { qyzn: { answers: { qrcode_data: { mode: 'local', timeoutMs: 1000 } } } },
      env: {
        GATE2MQTT_BASE_TOPIC: base,
        ...clusterEnv(index),
        GATE2MQTT_MQTT_CLIENT_ID: `g2mtest-${id}-${prefix}`,
        GATE2MQTT_INSTANCE_MODE: 'multi',
        GATE2MQTT_INSTANCE_ID: id,
        GATE2MQTT_INSTANCE_REDIS_URL: REDIS_URL,
        GATE2MQTT_INSTANCE_REDIS_PREFIX: prefix,
        GATE2MQTT_INSTANCE_LEASE_MS: String(LEASE_MS),
        GATE2MQTT_QYZN_SECRET: SECRET,
        GATE2MQTT_HOMEASSISTANT_ENABLED: 'false',
        GATE2MQTT_LOG_LEVEL: 'info',
      },
    });
  const ids = ['inst-1', 'inst-2', 'inst-3'];
  const processes = new Map<string, GatewayProcess>();
  for (const [index, id] of ids.entries()) processes.set(id, await start(id, index));
  // With the embedded cluster, the test's clients use the first instance's broker (it survives).
  const url = embedded ? (processes.get('inst-1') as GatewayProcess).addresses.mqtt : (urls[0] as string);
  const portOf = (id: string): number => {
    const listen = processes.get(id)?.addresses.adapters.qyzn ?? '';
    return Number(listen.slice(listen.lastIndexOf(':') + 1));
  };

  const inbox = await connectClient(t, url, { protocolVersion: options.protocolVersion ?? 5 });
  await inbox.subscribe([`${base}/#`]);
  const commands = new Commands(t, inbox, base);
  const counter = await PersistentCounter.connect(t, url, `${base}/qyzn/+/event/qrcode_data`);

  const connect = async (serial: string, id: string): Promise<QyznSimulator> => {
    const sim = new QyznSimulator({ host: '127.0.0.1', port: portOf(id), serial, secret: SECRET, heartbeatMs: 0, responseTimeoutMs: 2000 });
    t.teardown(() => sim.destroy());
    await sim.start();
    return sim;
  };
  const terminals: Terminal[] = [];
  for (let n = 0; n < 6; n++) {
    const serial = `KILL-${n}`;
    const at = ids[n % 3] as string;
    const log: TerminalLog = { serial, accepted: [], retried: new Set(), acceptedDuringOutage: 0, attempts: 0, failures: 0, timeouts: 0 };
    terminals.push({ serial, sim: await connect(serial, at), log, at });
    await inbox.take(`${base}/qyzn/${serial}/availability`, (p) => p.toString() === 'online');
  }

  // Each terminal: numbered messages, one at a time; a message without an answer is sent again,
  // after a reconnect if the connection is gone. A terminal whose instance died waits until its
  // availability says offline, then reconnects to a survivor (what a load balancer would do).
  let stopping = false;
  const survivors = ['inst-1', 'inst-3'];
  const traffic = terminals.map(async (terminal, index) => {
    for (let n = 0; !stopping; ) {
      terminal.log.attempts += 1;
      const outcome = await terminal.sim.request('qrcode_data', { content: `${terminal.serial}:${n}` }).then(
        (r) => r.result,
        () => 'none' as const,
      );
      if (outcome === 0) {
        terminal.log.accepted.push(n);
        n += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      terminal.log.retried.add(n);
      if (outcome === 'none') terminal.log.timeouts += 1;
      else terminal.log.failures += 1;
      if (terminal.log.failures + terminal.log.timeouts === 1) t.comment(`${terminal.serial}: first failure: ${String(outcome)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (processes.get(terminal.at)?.child.signalCode === 'SIGKILL') {
        await inbox.take(`${base}/qyzn/${terminal.serial}/availability`, (p) => p.toString() === 'offline', 15_000);
        terminal.sim.destroy();
        terminal.at = survivors[index % 2] as string;
        terminal.sim = await connect(terminal.serial, terminal.at);
      }
    }
  });

  // Let every terminal get some messages through, then kill inst-2 in the middle of it all.
  await within(
    (async () => {
      while (!terminals.every((x) => x.log.accepted.length >= 5)) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    'five accepted messages per terminal',
  );
  const victim = processes.get('inst-2') as GatewayProcess;
  const moved = terminals.filter((x) => x.at === 'inst-2');
  const killedAt = Date.now();
  victim.child.kill('SIGKILL');
  await victim.exited();
  await inbox.take(`${base}/bridge/inst-2/state`, (p) => p.toString() === 'offline', 15_000);
  t.equal(moved.length, 2, 'two terminals were on inst-2');
  for (const terminal of moved) {
    await within(
      (async () => {
        while (terminal.at === 'inst-2') await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      `${terminal.serial} reconnected to a survivor`,
      20_000,
    );
    await inbox.take(`${base}/qyzn/${terminal.serial}/availability`, (p) => p.toString() === 'online');
  }
  t.comment(`inst-2's terminals offline and back on the survivors ${Date.now() - killedAt} ms after the kill (lease ${LEASE_MS} ms)`);

  // Commands reach every terminal where it is now, the moved ones included.
  for (const terminal of terminals) {
    const reply = await commands.send('qyzn', terminal.serial, 'device_restart', { id: `after-${terminal.serial}` });
    t.match(reply, { ok: true, error: null }, `${terminal.serial} (now on ${terminal.at}) answered`);
    await terminal.sim.nextCommand('device_restart');
  }
  t.equal(inbox.history((topic) => topic === `${base}/bridge/state`).filter((m) => m.payload.toString() === 'offline').length, 0, 'the aggregate stayed online');

  // Some more traffic on the survivors, then stop and count.
  const marks = terminals.map((x) => x.log.accepted.length);
  await within(
    (async () => {
      while (!terminals.every((x, i) => x.log.accepted.length >= (marks[i] ?? 0) + 5)) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    'five more accepted per terminal',
  );
  stopping = true;
  await Promise.all(traffic);
  const logs = terminals.map((x) => x.log);
  await within(
    (async () => {
      while (!counter.has(logs)) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    'every accepted message at the subscriber',
  );
  const result = tally(logs, counter);
  t.comment(`tally: ${JSON.stringify(result)}`);
  t.equal(result.lost, 0, 'nothing a terminal was told was accepted is lost');
  t.equal(result.outOfOrder, 0, 'nothing out of order');
  // A message in flight at the kill may have reached the broker without its answer reaching the
  // terminal, which then sends it again on its new connection: qyzn sequence numbers belong to a
  // connection, so the protocol allows no deduplication across one. Nothing else is doubled.
  t.equal(result.doubled, result.doubledAfterRetry, 'only a message the terminal had to send again can be doubled');
  t.ok(result.doubledAfterRetry <= moved.length, 'at most one per moved terminal');

  // With the embedded cluster the test's clients are on inst-1's broker, and the last instance's
  // broker dies with it: nobody is left to say anything.
  if (embedded) return;
  // The survivors stop one by one; the last one's death (SIGKILL) is said by its sentinel's will.
  const first = processes.get('inst-1') as GatewayProcess;
  first.child.kill('SIGTERM');
  await first.exited();
  await inbox.take(`${base}/bridge/inst-1/state`, (p) => p.toString() === 'offline');
  const last = processes.get('inst-3') as GatewayProcess;
  // The survivor finds itself alone at its next lease refresh and opens the sentinel.
  await within(
    (async () => {
      while (!/bridge state sentinel open/.test(last.log())) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    'the last instance to hold the bridge state sentinel',
  );
  last.child.kill('SIGKILL');
  await last.exited();
  await inbox.take(`${base}/bridge/state`, (p) => p.toString() === 'offline', 15_000);
  t.pass('bridge/state offline after the last instance was SIGKILLed');
}

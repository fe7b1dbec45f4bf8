// `kill -9` of the gateway (its own process, buffer.mode disk) while its disk buffer holds what the
// devices were told was accepted during a broker outage; then the broker and the gateway are
// started again: the new gateway counts the store again and drains it. Every message acknowledged
// before the kill arrives, once: the broker was down the whole time they were buffered, so no
// PUBACK could be lost and nothing may come twice.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { QyznSimulator } from '../../sim/qyzn/simulator.js';
import { connectClient, exited, spawnGateway, uniqueBase, until, type Teardown } from '../helpers/harness.js';
import { ownMosquitto } from '../helpers/mosquitto.js';
import { PersistentCounter, sendNumbered, tally, type TerminalLog } from '../helpers/uplink-count.js';

const SECRET = 'crash-secret';
const TERMINALS = 3;
const PER_TERMINAL = 30;

function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'g2m-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('kill -9 with a non-empty disk buffer, then a restart: the buffer drains, nothing lost or doubled', async (t) => {
  const mosquitto = await ownMosquitto(t, { persistence: true });
  const dir = tempDir(t);
  const base = uniqueBase();
  const file = join(dir, 'gate2mqtt.json');
  // A long group commit widens the window in which a device acknowledged before its append was
  // synced would be lost by the kill.
  writeFileSync(
    file,
    JSON.stringify({
      qyzn: { secret: SECRET, answers: { qrcode_data: { mode: 'local' } } },
      buffer: { mode: 'disk', dir: join(dir, 'buffer'), commitMs: 200 },
      mqtt: { reconnectPeriodMs: 100 },
    }),
  );
  const env = {
    GATE2MQTT_CONFIG: file,
    GATE2MQTT_MQTT_URL: mosquitto.url,
    GATE2MQTT_BASE_TOPIC: base,
    GATE2MQTT_MQTT_CLIENT_ID: `g2mtest-${randomUUID().slice(0, 8)}`,
    GATE2MQTT_BROKER_PORT: '0',
    GATE2MQTT_BROKER_WS_PORT: '0',
    GATE2MQTT_HTTP_HOST: '127.0.0.1',
    GATE2MQTT_HTTP_PORT: '0',
    GATE2MQTT_QYZN_HOST: '127.0.0.1',
    GATE2MQTT_QYZN_PORT: '0',
    GATE2MQTT_GANTRY_ENABLED: 'false',
    GATE2MQTT_WSDOOR_ENABLED: 'false',
    GATE2MQTT_WSCAM_ENABLED: 'false',
    GATE2MQTT_LOG_LEVEL: 'info',
  };
  const counter = await PersistentCounter.connect(t, mosquitto.url, `${base}/qyzn/+/event/qrcode_data`);
  const subscribedAt = Date.now();
  const watcher = await connectClient(t, mosquitto.url);
  await watcher.subscribe(`${base}/bridge/#`);

  const first = spawnGateway(t, env);
  const info = await watcher.json(`${base}/bridge/info`, () => true, 20_000);
  const listen = (info.adapters as { qyzn: { listen: string } }).qyzn.listen;
  const port = Number(listen.slice(listen.lastIndexOf(':') + 1));
  t.same(info.buffer, { mode: 'disk', depth: 0, bytes: 0 }, 'bridge/info shows the buffer');

  // The subscriber's session must outlive the broker's kill, or what the restarted gateway drains
  // before it subscribes again is dropped by the broker.
  await mosquitto.saved(subscribedAt);
  await mosquitto.kill('SIGKILL');
  const traffic = await Promise.all(
    Array.from({ length: TERMINALS }, async (_, i) => {
      const serial = `SN-CRASH-${i}`;
      const sim = new QyznSimulator({ host: '127.0.0.1', port, serial, secret: SECRET, heartbeatMs: 0, responseTimeoutMs: 2000 });
      t.teardown(() => sim.destroy());
      await sim.start();
      return sendNumbered(t, sim, serial, { intervalMs: 5, retryMs: 50, outage: () => true });
    }),
  );
  await until(() => traffic.every((sending) => sending.log.accepted.length >= PER_TERMINAL), 'the devices acknowledged from the buffer', 30_000);
  const logs: TerminalLog[] = await Promise.all(traffic.map((sending) => sending.stop()));
  // At once after the last acknowledgement: whatever the gateway had not synced yet is gone.
  first.kill('SIGKILL');
  t.same(await exited(first), { code: null, signal: 'SIGKILL' });
  const accepted = logs.reduce((sum, log) => sum + log.accepted.length, 0);
  t.equal(counter.count(), 0, 'nothing was published: the broker was down');

  await mosquitto.start();
  const second = spawnGateway(t, env);
  let recounted: number | undefined;
  let stdout = '';
  second.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const line of stdout.split('\n')) {
      if (line.includes('"disk buffer open"')) recounted ??= (JSON.parse(line) as { depth: number }).depth;
    }
    stdout = stdout.slice(stdout.lastIndexOf('\n') + 1);
  });
  await until(() => counter.has(logs), 'every acknowledged message published by the restarted gateway', 30_000);
  const after = await watcher.json(`${base}/bridge/info`, (body) => (body.buffer as { depth: number }).depth === 0, 20_000);
  const figures = tally(logs, counter);
  t.comment(
    `${TERMINALS} terminals: sent ${figures.sent}, acknowledged ${accepted}, in the buffer at the kill ${recounted}, ` +
      `arrived after the restart ${figures.arrived}, lost ${figures.lost}, duplicated ${figures.doubled}, out of order ${figures.outOfOrder}`,
  );
  t.equal(recounted, accepted, 'the restarted gateway found every acknowledged message in its store');
  t.equal(counter.sessionsLost, 0, "the restarted broker still had the subscriber's session");
  t.equal(figures.lost, 0, 'none lost');
  t.equal(figures.doubled, 0, 'none twice');
  t.equal(figures.outOfOrder, 0, 'each device in order');
  t.same(after.buffer, { mode: 'disk', depth: 0, bytes: 0 }, 'bridge/info: the buffer is empty again');
  second.kill('SIGTERM');
  t.same(await exited(second), { code: 0, signal: null });
});

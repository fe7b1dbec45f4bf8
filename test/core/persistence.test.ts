// The embedded broker's store (broker.persistence): with disk, retained topics and persistent
// sessions with their queued QoS 1 messages outlive the gateway, stopped or killed; with memory
// they do not. Real gateways, a real camera simulator, real MQTT clients, a fresh directory each.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import mqtt, { type IClientOptions, type IConnackPacket } from 'mqtt';
import { loadConfig, type DeepPartial, type GatewayConfig } from '../../src/config.js';
import { TINY_JPEG_BASE64 } from '../../sim/common/jpeg.js';
import { CamSimulator } from '../../sim/wscam/simulator.js';
import { connectClient, exited, Inbox, spawnGateway, startGateway, uniqueBase, within, type Started, type Teardown } from '../helpers/harness.js';

function freshDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'g2m-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** One gateway's configuration, the same for the one started after it: same topics, same store. */
function storeConfig(base: string, persistence: 'memory' | 'disk', dataDir: string): DeepPartial<GatewayConfig> {
  return { baseTopic: base, mqtt: { url: '' }, broker: { persistence, dataDir } };
}

/** A client that asks the broker to keep its session (MQTT 5, an hour of session expiry). */
function persistentOptions(clientId: string): IClientOptions {
  return { clientId, clean: false, properties: { sessionExpiryInterval: 3600 } };
}

/** What was left before a restart: a retained whitelist (as a platform sends it), a camera's
 *  retained media and info (as the gateway publishes them), and three of its events queued for a
 *  persistent session that is away. The camera heard ret 0 for each only after the broker had
 *  stored it; the whitelist goes at QoS 2, whose handshake aedes finishes only after storing
 *  (its QoS 1 PUBACK to a network client goes out before, so a kill right after could lose it). */
async function leaveState(t: Test, g: { mqttUrl: string; base: string; wscam: string }, subscriberId: string): Promise<{ info: Record<string, unknown>; events: string[] }> {
  const { base } = g;
  const away = await connectClient(t, g.mqttUrl, persistentOptions(subscriberId));
  await away.subscribe(queueTopic(base));
  await away.client.endAsync();

  const camera = new CamSimulator({ url: `ws://${g.wscam}/`, sn: 'cam1', autoHeartbeat: false, answerTimeoutMs: 10_000 });
  await camera.connect();
  t.teardown(() => camera.close().catch(() => undefined));
  const watcher = await connectClient(t, g.mqttUrl);
  await watcher.subscribe([`${base}/wscam/cam1/info`, `${base}/wscam/cam1/media/data`, queueTopic(base)]);
  const events: string[] = [];
  for (const requestId of ['s1', 's2', 's3']) {
    t.match(await camera.uploadSnapshot({ requestId }), { ret: 0 }, `${requestId} acknowledged to the camera`);
    events.push(String((await watcher.json(queueTopic(base))).id));
  }
  const info = await watcher.json(`${base}/wscam/cam1/info`);
  await watcher.take(`${base}/wscam/cam1/media/data`);
  await camera.close();

  const platform = await connectClient(t, g.mqttUrl);
  await platform.client.publishAsync(`${base}/gantry/G1/whitelist`, '{"latestVersion":"20191201000000","cardInfos":[]}', { qos: 2, retain: true });
  await platform.client.endAsync();
  return { info, events };
}

/** One more event of the camera, through gateway `g`; its id. */
async function oneMoreEvent(t: Test, g: { mqttUrl: string; base: string; wscam: string }, requestId: string): Promise<string> {
  const camera = new CamSimulator({ url: `ws://${g.wscam}/`, sn: 'cam1', autoHeartbeat: false, answerTimeoutMs: 10_000 });
  await camera.connect();
  t.teardown(() => camera.close().catch(() => undefined));
  const watcher = await connectClient(t, g.mqttUrl);
  await watcher.subscribe(queueTopic(g.base));
  t.match(await camera.uploadSnapshot({ requestId }), { ret: 0 }, `${requestId} acknowledged to the camera`);
  const id = String((await watcher.json(queueTopic(g.base))).id);
  await camera.close();
  return id;
}

function queueTopic(base: string): string {
  return `${base}/wscam/cam1/event/upload_snapshot`;
}

function withCamera(g: Started): { mqttUrl: string; base: string; wscam: string } {
  return { mqttUrl: g.mqttUrl, base: g.base, wscam: g.gateway.addresses().adapters.wscam as string };
}

/** Reads back, from the broker at `url`, what leaveState left. */
async function readState(t: Teardown, url: string, base: string): Promise<Inbox> {
  const reader = await connectClient(t, url);
  await reader.subscribe([`${base}/gantry/G1/whitelist`, `${base}/wscam/cam1/info`, `${base}/wscam/cam1/media/data`]);
  return reader;
}

/** Reconnects the persistent session and reads what it had queued, `expected` (event ids): each,
 *  then a marker published after them, so that a copy arriving twice would be among what came
 *  before the marker. (A live message may overtake the replay of the queue: aedes sends both at
 *  once, so the marker only comes after what has been waited for.) The ids received, marker left out. */
async function drainQueue(t: Teardown, url: string, base: string, subscriberId: string, expected: string[]): Promise<{ sessionPresent: boolean; received: string[] }> {
  // connectClient would hide the CONNACK, which says whether the broker had the session.
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, ...persistentOptions(subscriberId) });
  t.teardown(() => client.endAsync(true));
  const back = new Inbox(client);
  const connack = await within(new Promise<IConnackPacket>((resolve) => client.once('connect', resolve)), 'the persistent subscriber connected');
  if (connack.sessionPresent) {
    for (const id of expected) await back.json(queueTopic(base), (body) => body.id === id);
    const publisher = await connectClient(t, url);
    await publisher.client.publishAsync(queueTopic(base), '{"id":"marker"}', { qos: 1 });
    await back.json(queueTopic(base), (body) => body.id === 'marker');
  }
  const received = back
    .history((topic) => topic === queueTopic(base))
    .map((m) => String((JSON.parse(m.payload.toString()) as { id: unknown }).id))
    .filter((id) => id !== 'marker');
  return { sessionPresent: connack.sessionPresent, received };
}

t.test('disk: retained topics and a persistent session queue outlive a stopped gateway, each once', async (t) => {
  const dir = freshDir(t);
  const base = uniqueBase();
  const subscriberId = `g2mtest-away-${randomUUID().slice(0, 8)}`;
  const first = await startGateway(t, { config: storeConfig(base, 'disk', dir) });
  const { info, events } = await leaveState(t, withCamera(first), subscriberId);
  await first.gateway.stop();

  const second = await startGateway(t, { config: storeConfig(base, 'disk', dir) });
  const reader = await readState(t, second.mqttUrl, base);
  const whitelist = await reader.take(`${base}/gantry/G1/whitelist`);
  t.equal(whitelist.packet.retain, true);
  t.same(JSON.parse(whitelist.payload.toString()), { latestVersion: '20191201000000', cardInfos: [] }, 'the whitelist');
  t.same(await reader.json(`${base}/wscam/cam1/info`), info, 'the camera info the first gateway published');
  t.same((await reader.take(`${base}/wscam/cam1/media/data`)).payload, Buffer.from(TINY_JPEG_BASE64, 'base64'), 'the image');

  // Queued behind those of the first gateway's broker, not among them (each broker's queue keys
  // count from 0 again).
  const later = await oneMoreEvent(t, withCamera(second), 's4');
  const { sessionPresent, received } = await drainQueue(t, second.mqttUrl, base, subscriberId, [...events, later]);
  t.ok(sessionPresent, 'the broker still has the session');
  t.same(received, [...events, later], 'the queued events, once each, in order, those of before the restart first');
});

t.test('memory: a restarted gateway has none of it (what the disk test shows is the store)', async (t) => {
  const base = uniqueBase();
  const subscriberId = `g2mtest-away-${randomUUID().slice(0, 8)}`;
  const first = await startGateway(t, { config: storeConfig(base, 'memory', 'unused') });
  const { events } = await leaveState(t, withCamera(first), subscriberId);
  await first.gateway.stop();

  const second = await startGateway(t, { config: storeConfig(base, 'memory', 'unused') });
  const { sessionPresent, received } = await drainQueue(t, second.mqttUrl, base, subscriberId, events);
  t.notOk(sessionPresent, 'the session is gone');
  t.same(received, [], 'nothing queued arrives');
  // A live message on the whitelist topic, published after the subscription: nothing retained
  // comes before it.
  const reader = await readState(t, second.mqttUrl, base);
  const platform = await connectClient(t, second.mqttUrl);
  await platform.client.publishAsync(`${base}/gantry/G1/whitelist`, 'live', { qos: 1 });
  const first1 = await reader.take(`${base}/gantry/G1/whitelist`);
  t.equal(first1.payload.toString(), 'live', 'no retained whitelist');
  t.equal(reader.unread(`${base}/wscam/cam1/info`), 0, 'no camera info');
});

/** The broker address a spawned gateway logs when it listens (log level info). */
function brokerUrlOf(child: ReturnType<typeof spawnGateway>): Promise<string> {
  return within(
    new Promise<string>((resolve) => {
      let text = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const m = /"mqtt":"(?:mqtt:\/\/)?(127\.0\.0\.1:\d+)"[^\n]*embedded MQTT broker listening/.exec(text);
        if (m) resolve(`mqtt://${m[1] as string}`);
      });
    }),
    'the embedded broker to listen',
    20_000,
  );
}

function spawnOnStore(t: Teardown, base: string, dir: string): ReturnType<typeof spawnGateway> {
  return spawnGateway(t, {
    GATE2MQTT_LOG_LEVEL: 'info',
    GATE2MQTT_BASE_TOPIC: base,
    GATE2MQTT_BROKER_PERSISTENCE: 'disk',
    GATE2MQTT_BROKER_DATA_DIR: dir,
    GATE2MQTT_BROKER_HOST: '127.0.0.1',
    GATE2MQTT_BROKER_PORT: '0',
    GATE2MQTT_BROKER_WS_ENABLED: 'false',
    GATE2MQTT_HTTP_HOST: '127.0.0.1',
    GATE2MQTT_HTTP_PORT: '0',
    GATE2MQTT_QYZN_ENABLED: 'false',
    GATE2MQTT_WSDOOR_ENABLED: 'false',
    GATE2MQTT_GANTRY_ENABLED: 'false',
    GATE2MQTT_WSCAM_HOST: '127.0.0.1',
    GATE2MQTT_WSCAM_PORT: '0',
    GATE2MQTT_QYZN_SECRET: 'test',
  });
}

t.test('disk, kill -9: the gateway started again on the same directory has what the killed one had', async (t) => {
  const dir = freshDir(t);
  const base = uniqueBase();
  const subscriberId = `g2mtest-away-${randomUUID().slice(0, 8)}`;
  const child = spawnOnStore(t, base, dir);
  const url = await brokerUrlOf(child);
  const watcher = await connectClient(t, url, { reconnectPeriod: 0 });
  await watcher.subscribe(`${base}/bridge/info`);
  const bridgeInfo = await watcher.json(`${base}/bridge/info`);
  const wscam = (bridgeInfo.adapters as Record<string, { listen: string }>).wscam?.listen as string;
  await watcher.client.endAsync(true);
  const { info, events } = await leaveState(t, { mqttUrl: url, base, wscam }, subscriberId);
  // A camera still connected when the gateway is killed: its retained availability stays online.
  const connected = new CamSimulator({ url: `ws://${wscam}/`, sn: 'cam2', autoHeartbeat: false, answerTimeoutMs: 10_000 });
  await connected.connect();
  t.teardown(() => connected.close().catch(() => undefined));
  t.match(await connected.heartbeat(), { ret: 0 }, 'cam2 identified');
  const seen = await connectClient(t, url, { reconnectPeriod: 0 });
  await seen.subscribe(`${base}/wscam/cam2/availability`);
  await seen.take(`${base}/wscam/cam2/availability`, (p) => p.toString() === 'online');

  child.kill('SIGKILL');
  t.same(await exited(child), { code: null, signal: 'SIGKILL' });

  const again = spawnOnStore(t, base, dir);
  const url2 = await brokerUrlOf(again);
  const reader = await readState(t, url2, base);
  t.same(JSON.parse((await reader.take(`${base}/gantry/G1/whitelist`)).payload.toString()), { latestVersion: '20191201000000', cardInfos: [] }, 'the whitelist');
  t.same(await reader.json(`${base}/wscam/cam1/info`), info, 'the camera info');
  t.same((await reader.take(`${base}/wscam/cam1/media/data`)).payload, Buffer.from(TINY_JPEG_BASE64, 'base64'), 'the image');
  const { sessionPresent, received } = await drainQueue(t, url2, base, subscriberId, events);
  t.ok(sessionPresent, 'the broker still has the session');
  t.same(received, events, 'the queued events, once each, in order');
  const availability = await connectClient(t, url2);
  await availability.subscribe(`${base}/wscam/cam2/availability`);
  await availability.take(`${base}/wscam/cam2/availability`, (p) => p.toString() === 'offline');
  t.pass('the camera connected at the kill is offline after the restart, not online as the killed gateway left it');
  again.kill('SIGTERM');
  t.same(await exited(again), { code: 0, signal: null }, 'and it stops cleanly');
});

t.test('a store directory held by a running gateway, or not a directory: one line naming it and the option', async (t) => {
  const dir = freshDir(t);
  await startGateway(t, { config: storeConfig(uniqueBase(), 'disk', dir) });
  const second = spawnOnStore(t, uniqueBase(), dir);
  t.same(await exited(second, 20_000), { code: 1, signal: null });
  const lines = second.stderrText().trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.equal(
    lines[0],
    `gate2mqtt: the embedded broker cannot open its store ${dir}: it is held by another running gateway (LevelDB LOCK); set broker.dataDir (GATE2MQTT_BROKER_DATA_DIR) to another directory, or broker.persistence (GATE2MQTT_BROKER_PERSISTENCE) to memory`,
  );

  const file = join(freshDir(t), 'a-file');
  writeFileSync(file, 'not a directory');
  const onFile = spawnOnStore(t, uniqueBase(), file);
  t.same(await exited(onFile, 20_000), { code: 1, signal: null });
  const fileLines = onFile.stderrText().trim().split('\n');
  t.equal(fileLines.length, 1, 'one line');
  t.match(fileLines[0], new RegExp(`^gate2mqtt: the embedded broker cannot open its store ${file}: .*set broker\\.dataDir \\(GATE2MQTT_BROKER_DATA_DIR\\)`));
});

t.test('broker.persistence is disk by default, in data/broker; it takes memory or disk, nothing else', async (t) => {
  const { broker } = loadConfig({ env: {}, args: [] }).config;
  t.same([broker.persistence, broker.dataDir], ['disk', 'data/broker']);
  t.equal(loadConfig({ env: { GATE2MQTT_BROKER_PERSISTENCE: 'memory', GATE2MQTT_BROKER_DATA_DIR: '/var/lib/g2m' }, args: [] }).config.broker.dataDir, '/var/lib/g2m');
  const bad = spawnGateway(t, { GATE2MQTT_BROKER_PERSISTENCE: 'ssd' });
  t.same(await exited(bad, 20_000), { code: 2, signal: null });
  t.match(bad.stderrText(), /^gate2mqtt: configuration error\nbroker\.persistence: must be one of the possible values: \["memory","disk"\]/);
});

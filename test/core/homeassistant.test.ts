// Home Assistant discovery against real gateways, brokers and simulated devices: the payloads of
// one device of each adapter checked against a JSON Schema of HA's documented discovery keys, a
// discovered button pressed as HA presses it, republishing on HA's birth, and forgetting a device.
import t, { type Test } from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import type { AdapterFactory } from '../../src/adapter.js';
import { loadConfig, type DeepPartial, type GatewayConfig } from '../../src/config.js';
import type { AdapterDefinition } from '../../src/gateway.js';
import { haId } from '../../src/homeassistant.js';
import { ROOT } from '../../src/paths.js';
import { GantryAdapter } from '../../adapters/gantry/adapter.js';
import type { GantryConfig } from '../../adapters/gantry/config.js';
import { GantrySimulator } from '../../sim/gantry/simulator.js';
import { connectClient, startGateway, within, type Inbox } from '../helpers/harness.js';
import { rig } from '../qyzn/fixtures/rig.js';
import { startWscam, startWsdoor } from '../helpers/ws-gateway.js';
import { restartableBroker } from '../helpers/brokers.js';
import { Commands } from '../helpers/commands.js';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';

type Json = Record<string, unknown>;
type Components = Record<string, Json & { platform: string }>;

const schema = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/homeassistant/discovery.schema.json'), 'utf8')) as Json;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

function prefixOf(base: string): string {
  return `${base}/homeassistant`;
}

function configTopic(base: string, adapter: string, deviceId: string): string {
  return `${prefixOf(base)}/device/${haId(base)}_${adapter}_${haId(deviceId)}/config`;
}

/** Takes the device's discovery, checks it against HA's keys, and returns it. */
async function discovery(t: Test, inbox: Inbox, topic: string): Promise<Json & { components: Components; device: Json }> {
  const { payload } = await inbox.take(topic, (p) => p.length > 0);
  const body = JSON.parse(payload.toString()) as Json & { components: Components; device: Json };
  t.ok(validate(body), `HA's discovery keys: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  return body;
}

function byPlatform(components: Components, platform: string): Array<Json & { platform: string }> {
  return Object.values(components).filter((c) => c.platform === platform);
}

/** Whether a message reached `inbox` on `topic` before a marker published after `publishAfter`
 *  (same client, same subscription order: the marker comes after whatever was sent before it). */
async function nothingOn(inbox: Inbox, topic: string, marker: string): Promise<boolean> {
  await inbox.client.publishAsync(marker, 'marker', { qos: 1 });
  await inbox.take(marker);
  return inbox.unread(topic) === 0;
}

function availabilityOf(base: string, adapter: string, deviceId: string): Json {
  return {
    availability: [{ topic: `${base}/bridge/state` }, { topic: `${base}/${adapter}/${deviceId}/availability` }],
    availability_mode: 'all',
  };
}

async function gantryGateway(t: Test, config: DeepPartial<GatewayConfig> = {}): Promise<{ base: string; inbox: Inbox; sim: GantrySimulator; gantryId: string; mqttUrl: string }> {
  const sim = new GantrySimulator({ controlPort: 0, gantries: 1, errorRate: 0, alarmRate: 0 });
  await sim.start();
  t.teardown(() => sim.stop());
  const section = loadConfig({ env: {}, args: [], overrides: { gantry: { controlUrl: `http://{ip}:${sim.controlPort}/remotecontrol.do` } as GantryConfig } }).config.gantry;
  const factory: AdapterFactory<GantryConfig> = (context) => new GantryAdapter(context);
  const definition: AdapterDefinition = { id: 'gantry', factory: factory as AdapterFactory<never>, config: section };
  const started = await startGateway(t, { adapters: [definition], config });
  sim.setUploadUrl(`${started.httpUrl}/monitor.do`);
  const inbox = await connectClient(t, started.mqttUrl);
  await inbox.subscribe([`${started.base}/#`]);
  return { base: started.base, inbox, sim, gantryId: (sim.gantries[0] as { gantryId: string }).gantryId, mqttUrl: started.mqttUrl };
}

t.test('qyzn: one HA device with buttons, cameras, events and the last command, behind the bridge', async (t) => {
  const r = await rig(t);
  const bridge = await discovery(t, r.inbox, `${prefixOf(r.base)}/device/${haId(r.base)}_bridge/config`);
  t.match(bridge.components, { binary_sensor_connection_state: { state_topic: `${r.base}/bridge/state`, device_class: 'connectivity' } });
  const sim = r.device('SN-HA-1', { type: 'HG02', firmware: 'V1.0.0' });
  await sim.start();
  const body = await discovery(t, r.inbox, configTopic(r.base, 'qyzn', 'SN-HA-1'));
  t.match(body, availabilityOf(r.base, 'qyzn', 'SN-HA-1'));
  t.match(body.device, {
    identifiers: [`${haId(r.base)}_qyzn_SN-HA-1`],
    name: 'qyzn SN-HA-1',
    manufacturer: 'QYZN',
    model: 'HG02',
    sw_version: 'V1.0.0',
    via_device: (bridge.device.identifiers as string[])[0],
  });
  t.same((body.device.connections as string[][])[0], ['mac', sim.options.mac], 'the mac as a connection');
  const buttons = byPlatform(body.components, 'button');
  const pressed = buttons.map((b) => (b.command_topic as string).split('/').at(-1)).sort();
  t.same(pressed, ['device_restart', 'open_door'], 'a button for each command needing no parameters, the data-erasing ones left out');
  t.same(byPlatform(body.components, 'camera').map((c) => c.topic).sort(), ['comparePic', 'image', 'picture', 'snapPic'].map((f) => r.topic('SN-HA-1', `media/${f}`)));
  t.match(body.components.event_snapshot_face, { state_topic: r.topic('SN-HA-1', 'event/snapshot_face'), event_types: ['snapshot_face'] });
  t.notMatch(body.components.event_snapshot_face?.value_template as string, /snapPic/, 'images are not event attributes');
  t.match(body.components.sensor_last_command, { state_topic: r.topic('SN-HA-1', 'command/+/reply') });
  const late = await connectClient(t, r.mqttUrl);
  await late.subscribe(configTopic(r.base, 'qyzn', 'SN-HA-1'));
  const kept = await late.take(configTopic(r.base, 'qyzn', 'SN-HA-1'));
  t.same([kept.packet.retain, JSON.parse(kept.payload.toString())], [true, body], 'retained, for an HA that starts later');

  // A second connection of a device already discovered publishes no discovery again.
  const again = r.device('SN-HA-1', { type: 'HG02', firmware: 'V1.0.0' });
  await again.start();
  t.equal((await r.command('SN-HA-1', 'open_door', {})).ok, true);
  t.ok(await nothingOn(r.inbox, configTopic(r.base, 'qyzn', 'SN-HA-1'), `${r.base}/marker`), 'not republished per connection');

  // HA restarted: its birth message brings every discovery back.
  await r.inbox.client.publishAsync(`${prefixOf(r.base)}/status`, 'online', { qos: 1 });
  await discovery(t, r.inbox, `${prefixOf(r.base)}/device/${haId(r.base)}_bridge/config`);
  t.equal(r.inbox.unread(configTopic(r.base, 'qyzn', 'SN-HA-1')), 1, 'the devices go before the bridge');
  t.match(await discovery(t, r.inbox, configTopic(r.base, 'qyzn', 'SN-HA-1')), { device: { name: 'qyzn SN-HA-1' } }, 'republished on homeassistant/status online');
});

t.test('wsdoor and wscam: their events and media; the snapshot button is an alias', async (t) => {
  const door = await startWsdoor(t);
  const terminal = await door.door('DOOR-HA-1');
  await terminal.start();
  const doorBody = await discovery(t, door.inbox, configTopic(door.base, 'wsdoor', 'DOOR-HA-1'));
  t.match(doorBody, availabilityOf(door.base, 'wsdoor', 'DOOR-HA-1'));
  t.match(doorBody.components, {
    event_realtimeEvent: { event_types: ['realtimeEvent'], state_topic: door.topic('DOOR-HA-1', 'event/realtimeEvent') },
    camera_img: { topic: door.topic('DOOR-HA-1', 'media/img') },
  });
  t.same(byPlatform(doorBody.components, 'button').map((b) => (b.command_topic as string).split('/').at(-1)), ['selectUser']);

  const cam = await startWscam(t);
  const camera = await cam.camera('CAM-HA-1');
  await camera.start();
  const camBody = await discovery(t, cam.inbox, configTopic(cam.base, 'wscam', 'CAM-HA-1'));
  t.match(camBody.components, {
    event_upload_snapshot: { event_types: ['upload_snapshot'] },
    camera_data: { topic: cam.topic('CAM-HA-1', 'media/data') },
    button_take_snapshot: { command_topic: cam.topic('CAM-HA-1', 'command/take_snapshot') },
  });
  // Pressed as HA presses it: the picture comes back on the camera's topic.
  const button = camBody.components.button_take_snapshot as Json;
  await cam.inbox.client.publishAsync(button.command_topic as string, button.payload_press as string, { qos: 1 });
  const reply = await cam.inbox.json(cam.topic('CAM-HA-1', 'command/take_snapshot/reply'));
  t.match(reply, { ok: true });
  t.ok((await cam.inbox.take(cam.topic('CAM-HA-1', 'media/data'))).payload.length > 0, 'a snapshot on the camera topic');
});

t.test('gantry: sensors and binary sensors from fields.json; pressing the discovered unlock button opens the door', async (t) => {
  const { base, inbox, sim, gantryId } = await gantryGateway(t);
  const topic = configTopic(base, 'gantry', gantryId);
  await sim.upload(gantryId, 'cabinetStatusUpdate');
  // The first online, then the state's first entries: the second discovery carries the sensors.
  let body = await discovery(t, inbox, topic);
  if (byPlatform(body.components, 'sensor').length === 1) body = await discovery(t, inbox, topic);
  t.match(body, availabilityOf(base, 'gantry', gantryId));
  const sensors = byPlatform(body.components, 'sensor');
  const voltage = sensors.find((s) => s.device_class === 'voltage' && (s.value_template as string).includes('"elec"'));
  t.match(voltage, { unit_of_measurement: 'V', state_class: 'measurement', state_topic: `${base}/gantry/${gantryId}/state` }, 'mains voltage');
  t.ok(sensors.some((s) => s.device_class === 'temperature' && s.unit_of_measurement === '°C'), 'a temperature');
  t.ok(sensors.some((s) => s.device_class === 'humidity' && s.unit_of_measurement === '%'), 'humidity in HA\'s unit');
  t.ok(sensors.some((s) => s.device_class === 'energy' && s.state_class === 'total_increasing'), 'consumption as a total');
  const door = byPlatform(body.components, 'binary_sensor').find((b) => (b.value_template as string).includes('"frontDoorClosed"'));
  t.match(door, { device_class: 'door', payload_on: '0', payload_off: '1' }, 'the front door: open is on');
  t.ok(byPlatform(body.components, 'binary_sensor').some((b) => b.device_class === 'smoke'), 'the smoke alarm');

  const unlock = body.components.button_unlockDoor as Json;
  t.ok(unlock, 'an unlockDoor button');
  t.equal(sim.gantry(gantryId).frontDoorOpen, false, 'the door is closed before');
  await inbox.client.publishAsync(unlock.command_topic as string, unlock.payload_press as string, { qos: 1 });
  t.match(await inbox.json(`${base}/gantry/${gantryId}/command/unlockDoor/reply`), { ok: true, code: 1000 });
  t.equal(sim.gantry(gantryId).frontDoorOpen, true, 'the simulated door opened');
  const state = await inbox.json(`${base}/gantry/${gantryId}/state`, (s) => {
    const doors = ((s.cabinets as Record<string, Json>)['1']?.doors ?? {}) as Json;
    return doors.frontDoorClosed === 0;
  });
  t.ok(state, 'the state the door sensor reads says open (frontDoorClosed 0)');
});

t.test('device remove: retained topics and discovery cleared, not discovered again; bad requests answered', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN-HA-RM', { type: 'HG02', firmware: 'V1.0.0' });
  await sim.start();
  const topic = configTopic(r.base, 'qyzn', 'SN-HA-RM');
  await discovery(t, r.inbox, topic);
  const request = `${r.base}/bridge/request/device/remove`;
  const response = `${r.base}/bridge/response/device/remove`;

  await r.inbox.client.publishAsync(request, 'not json', { qos: 1 });
  t.match(await r.inbox.json(response), { status: 'error', error: /JSON/ });
  await r.inbox.client.publishAsync(request, JSON.stringify({ id: 'nosuch/SN-HA-RM', transaction: 7 }), { qos: 1 });
  t.match(await r.inbox.json(response), { status: 'error', error: /adapter must be one of qyzn/, transaction: 7 });
  await r.inbox.client.publishAsync(request, JSON.stringify({ adapter: 'qyzn', deviceId: 'a/b' }), { qos: 1 });
  t.match(await r.inbox.json(response), { status: 'error', error: /deviceId must be/ });

  await r.inbox.client.publishAsync(request, JSON.stringify({ id: 'qyzn/SN-HA-RM', transaction: 'x1' }), { qos: 1 });
  t.match(await r.inbox.json(response), { status: 'ok', transaction: 'x1', data: { id: 'qyzn/SN-HA-RM', adapter: 'qyzn', deviceId: 'SN-HA-RM' } });
  await r.inbox.take(topic, (p) => p.length === 0);
  const late = await connectClient(t, r.mqttUrl);
  const kept = [topic, r.topic('SN-HA-RM', 'availability'), r.topic('SN-HA-RM', 'info')];
  await late.subscribe([...kept, `${r.base}/late-marker`]);
  await late.client.publishAsync(`${r.base}/late-marker`, 'm', { qos: 1 });
  await late.take(`${r.base}/late-marker`);
  t.same(kept.map((k) => late.unread(k)), [0, 0, 0], 'nothing of it stays retained');

  // It connects again while the gateway runs: online again, but not discovered again.
  sim.destroy();
  const back = r.device('SN-HA-RM', { type: 'HG02', firmware: 'V1.0.0' });
  await back.start();
  t.equal((await r.command('SN-HA-RM', 'open_door', {})).ok, true, 'it still takes commands');
  await within(r.inbox.take(r.topic('SN-HA-RM', 'availability'), (p) => p.toString() === 'online'), 'online again');
  t.ok(await nothingOn(r.inbox, topic, `${r.base}/marker`), 'no discovery for a removed device');
  await r.inbox.client.publishAsync(`${prefixOf(r.base)}/status`, 'online', { qos: 1 });
  await discovery(t, r.inbox, `${prefixOf(r.base)}/device/${haId(r.base)}_bridge/config`);
  t.ok(await nothingOn(r.inbox, topic, `${r.base}/marker`), 'nor when HA comes back');
});

t.test('a device deleted in Home Assistant is not discovered again; enabled: false publishes nothing', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN-HA-DEL');
  await sim.start();
  const topic = configTopic(r.base, 'qyzn', 'SN-HA-DEL');
  await discovery(t, r.inbox, topic);
  // What HA publishes when its user deletes the device; the gateway answers with the same deletion.
  await r.inbox.client.publishAsync(topic, '', { qos: 1, retain: true });
  await r.inbox.take(topic, (p) => p.length === 0);
  await r.inbox.take(topic, (p) => p.length === 0);
  await r.inbox.client.publishAsync(`${prefixOf(r.base)}/status`, 'online', { qos: 1 });
  await discovery(t, r.inbox, `${prefixOf(r.base)}/device/${haId(r.base)}_bridge/config`);
  t.ok(await nothingOn(r.inbox, topic, `${r.base}/marker`), 'not republished after HA deleted it');

  const off = await rig(t, {}, { homeassistant: { enabled: false } });
  const quiet = off.device('SN-HA-OFF');
  await quiet.start();
  t.equal((await off.command('SN-HA-OFF', 'open_door', {})).ok, true);
  t.ok(await nothingOn(off.inbox, configTopic(off.base, 'qyzn', 'SN-HA-OFF'), `${off.base}/marker`), 'no discovery when disabled');
  t.equal(off.inbox.history((tp) => tp.startsWith(prefixOf(off.base))).length, 0, 'nothing under the prefix at all');
});

t.test('a device deleted in HA stays deleted when the gateway republishes its retained topics to a restarted broker', async (t) => {
  const broker = await restartableBroker(t);
  const r = await rig(t, {}, { mqtt: { url: broker.url } });
  const first = r.device('SN-HA-KEEP');
  await first.start();
  const topic = configTopic(r.base, 'qyzn', 'SN-HA-KEEP');
  await discovery(t, r.inbox, topic);
  await r.inbox.client.publishAsync(topic, '', { qos: 1, retain: true });
  await r.inbox.take(topic, (p) => p.length === 0);
  await broker.stop();
  await broker.start();
  // The gateway reconnects and sends its retained topics again; a device that comes online after
  // that has its discovery published behind them.
  const watcher = await connectClient(t, broker.url);
  await watcher.subscribe([`${r.base}/bridge/state`, `${prefixOf(r.base)}/#`]);
  await watcher.take(`${r.base}/bridge/state`, (p) => p.toString() === 'online');
  const second = r.device('SN-HA-NEW');
  await second.start();
  await discovery(t, watcher, configTopic(r.base, 'qyzn', 'SN-HA-NEW'));
  const late = await connectClient(t, broker.url);
  await late.subscribe([topic, `${r.base}/late-marker`]);
  await late.client.publishAsync(`${r.base}/late-marker`, 'm', { qos: 1 });
  await late.take(`${r.base}/late-marker`);
  t.equal(late.unread(topic), 0, 'the deleted discovery is not retained again');
});

t.test('a broken homeassistant.json leaves its adapter undiscovered; the adapter and the gateway run on', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'g2m-ha-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(ROOT, 'test/fixtures/mappings/echo/commands.json'), join(dir, 'commands.json'));
  writeFileSync(join(dir, 'homeassistant.json'), '{"events": ');
  const started = await startGateway(t, { adapters: [{ ...echoAdapter(), mappingsDir: dir }] });
  const inbox = await connectClient(t, started.mqttUrl);
  await inbox.subscribe(`${started.base}/#`);
  const device = await EchoDevice.connect(started.gateway.addresses().adapters.echo as string, 'E-HA-1');
  t.teardown(() => device.close());
  const commands = new Commands(t, inbox, started.base);
  t.match(await commands.send('echo', 'E-HA-1', 'ping', { id: 'e1', data: {} }), { ok: true }, 'the adapter serves its device');
  t.ok(await nothingOn(inbox, configTopic(started.base, 'echo', 'E-HA-1'), `${started.base}/marker`), 'not discovered');
});

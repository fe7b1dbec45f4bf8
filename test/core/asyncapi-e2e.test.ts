// docs/asyncapi.yaml against a real run: one gateway with all four adapters, each driven by its
// simulator over real sockets (events with images, a platform request and its answer, commands
// and their replies, a refused frame, a device going away, the gateway stopping). Every message on
// `{base}/#` must be on exactly one channel of the committed document, with a payload its schema
// takes and the retain flag its operation says.
import { connect as tcpConnect } from 'node:net';
import type { IPublishPacket } from 'mqtt';
import t from 'tap';
import { GantrySimulator } from '../../sim/gantry/simulator.js';
import { QyznSimulator } from '../../sim/qyzn/simulator.js';
import { CamSimulator } from '../../sim/wscam/simulator.js';
import { DoorSimulator } from '../../sim/wsdoor/simulator.js';
import { channelsOf, decode, parseAsyncApi, payloadValidator } from '../helpers/asyncapi.js';
import { DEADLINE_MS, connectClient, startGateway, within } from '../helpers/harness.js';

interface Seen {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

t.test('every topic published in a run of every adapter is a channel of docs/asyncapi.yaml, its payload valid', async (t) => {
  const { document } = await parseAsyncApi();
  if (!document) throw new Error('docs/asyncapi.yaml does not parse');
  const gantries = new GantrySimulator({ controlPort: 0, gantries: 1, errorRate: 0.3, alarmRate: 0.5, seed: 12 });
  await gantries.start();
  t.teardown(() => gantries.stop());
  const started = await startGateway(t, { config: { gantry: { controlUrl: `http://{ip}:${String(gantries.controlPort)}/remotecontrol.do` } } });
  const { base, gateway } = started;
  const listen = gateway.addresses().adapters;
  const portOf = (address: string | undefined): number => Number((address ?? '').slice((address ?? '').lastIndexOf(':') + 1));

  const platform = await connectClient(t, started.mqttUrl);
  const seen: Seen[] = [];
  platform.client.on('message', (topic, payload, packet: IPublishPacket) => seen.push({ topic, payload, retain: packet.retain }));
  // Retain as published (MQTT 5): the flag each message was published with, live ones included.
  await platform.client.subscribeAsync(`${base}/#`, { qos: 1, rap: true });
  const command = async (adapter: string, deviceId: string, name: string, body: object): Promise<Record<string, unknown>> => {
    const topic = `${base}/${adapter}/${deviceId}/command/${name}`;
    const reply = platform.json(`${topic}/reply`, (r) => r.id === (body as { id: string }).id);
    await platform.client.publishAsync(topic, JSON.stringify(body), { qos: 1 });
    return reply;
  };

  // qyzn: login, a face snapshot with its images, a QR code the platform answers, commands.
  const terminal = new QyznSimulator({ host: '127.0.0.1', port: portOf(listen.qyzn), serial: 'SNAPI0001', heartbeatMs: 0, responseTimeoutMs: DEADLINE_MS });
  t.teardown(() => terminal.destroy());
  await terminal.start();
  t.equal((await terminal.snapshotFace()).result, 0);
  const qr = terminal.qrcodeData('QR-API');
  const request = await platform.json(`${base}/qyzn/SNAPI0001/request/qrcode_data`);
  await platform.client.publishAsync(`${base}/qyzn/SNAPI0001/request/qrcode_data/reply`, JSON.stringify({ id: request.id, data: { opendoor: 1 } }), { qos: 1 });
  t.match(await qr, { result: 0, data: { opendoor: 1 } }, 'the platform answered the request');
  t.match(await command('qyzn', 'SNAPI0001', 'open_door', { id: 'q1', data: {} }), { ok: true });
  // Outside the document on purpose: the check below must find it refused by the schema.
  const invalid = { id: 'q2', data: { personId: 'p1' } };
  t.match(await command('qyzn', 'SNAPI0001', 'add_person', invalid), { ok: false, error: { type: 'invalid' } });
  t.match(await command('qyzn', 'SNAPI9999', 'open_door', { id: 'q3' }), { ok: false, error: { type: 'offline' } });

  // gantry: every upload of one cabinet, a door opened by alias, an image, a whitelist.
  gantries.setUploadUrl(`${started.httpUrl}/monitor.do`);
  const [gantry] = gantries.gantries.map((g) => g.gantryId) as [string];
  t.ok((await gantries.uploadAll()).every((r) => r.answer.code === '1000'), 'every upload answered 1000');
  t.match(await command('gantry', gantry, 'unlockDoor', { id: 'g1' }), { ok: true });
  t.match(await command('gantry', gantry, 'getCabinetImageVedio', { id: 'g2', data: { doorOpenTime: '2026-11-25 08:00:00' } }), { ok: true });
  await platform.client.publishAsync(
    `${base}/gantry/${gantry}/whitelist`,
    JSON.stringify({ latestVersion: '20991231000000', cardInfos: [{ cardId: 'C1', validTime: '2026-01-01 00:00:00', invalidTime: '2099-01-01 00:00:00' }] }),
    { qos: 1, retain: true },
  );
  await platform.take(`${base}/gantry/${gantry}/whitelist`);

  // wsdoor: register, an access event, a command.
  const door = new DoorSimulator({ url: `ws://${listen.wsdoor as string}/ws`, sn: 'doorapi1', autoHeartbeat: false, answerTimeoutMs: DEADLINE_MS });
  await door.connect();
  t.teardown(() => door.close().catch(() => undefined));
  await door.register();
  await door.sendEvent();
  t.match(await command('wsdoor', 'doorapi1', 'selectUser', { id: 'd1', data: {} }), { ok: true });

  // wscam: bound by a heartbeat, a snapshot with its image, a command.
  const camera = new CamSimulator({ url: `ws://${listen.wscam as string}/ws`, sn: 'camapi1', autoHeartbeat: false, answerTimeoutMs: DEADLINE_MS });
  await camera.connect();
  t.teardown(() => camera.close().catch(() => undefined));
  t.match(await camera.heartbeat(), { ret: 0 });
  t.match(await camera.uploadSnapshot(), { ret: 0 });
  t.match(await command('wscam', 'camapi1', 'get_dev_config', { id: 'c1' }), { ok: true });

  // A frame that is not QYZN, a device leaving, and the gateway stopping.
  const garbage = tcpConnect(portOf(listen.qyzn), '127.0.0.1');
  t.teardown(() => garbage.destroy());
  garbage.write('GET / HTTP/1.1\r\n\r\n');
  await platform.json(`${base}/bridge/event`, (e) => e.type === 'protocol_error' && e.reason === 'bad_magic');
  await door.close();
  await platform.take(`${base}/wsdoor/doorapi1/availability`, (p) => p.toString() === 'offline');
  await within(gateway.stop(), 'the gateway stop');
  await platform.take(`${base}/bridge/state`, (p) => p.toString() === 'offline');

  const validator = payloadValidator();
  const problems: string[] = [];
  const channelsSeen = new Set<string>();
  const refusedOnPurpose = `${base}/qyzn/SNAPI0001/command/add_person ${JSON.stringify(invalid)}`;
  let refused = 0;
  for (const message of seen) {
    // The committed document is for the default base topic.
    const topic = `gate2mqtt${message.topic.slice(base.length)}`;
    const channels = channelsOf(document, topic);
    if (channels.length !== 1) {
      problems.push(`${topic}: on ${channels.length} channels (${channels.map((c) => c.id()).join(', ')})`);
      continue;
    }
    const channel = channels[0] as (typeof channels)[0];
    channelsSeen.add(channel.id());
    const [declared] = channel.messages().all();
    if (!declared) {
      problems.push(`${topic}: channel ${channel.id()} has no message`);
      continue;
    }
    const contentType = declared.contentType() ?? document.defaultContentType() ?? 'application/json';
    let value: unknown;
    try {
      value = decode(contentType, message.payload);
    } catch (err) {
      problems.push(`${topic}: not ${contentType}: ${(err as Error).message}`);
      continue;
    }
    const validate = validator(declared.payload()?.json());
    if (`${message.topic} ${message.payload.toString('utf8')}` === refusedOnPurpose) {
      if (validate(value)) problems.push(`${topic}: ${JSON.stringify(invalid)} is not refused by the document`);
      refused++;
    } else if (!validate(value)) problems.push(`${topic}: ${JSON.stringify(validate.errors?.slice(0, 3))} in ${message.payload.toString('utf8').slice(0, 200)}`);
    for (const operation of channel.operations().all()) {
      const retain = (operation.bindings().get('mqtt')?.value() as { retain?: boolean } | undefined)?.retain;
      if (retain !== message.retain) problems.push(`${topic}: published with retain ${String(message.retain)}, ${operation.id()} says ${String(retain)}`);
    }
  }
  t.same(problems, [], `all of the ${seen.length} messages are as the document says`);
  t.equal(refused, 1, 'the command sent outside the schema was seen, and refused by the document too');
  const everyKind = [
    'bridgeState',
    'bridgeInfo',
    'bridgeEvent',
    'deviceAvailability',
    'deviceInfo',
    'deviceState',
    'deviceEvent',
    'deviceMedia',
    'deviceRequest',
    'deviceRequestReply',
    'gantryWhitelist',
  ];
  t.same(
    everyKind.filter((id) => !channelsSeen.has(id)),
    [],
    'the run touched every kind of channel',
  );
  for (const id of ['qyzn_open_door', 'qyzn_add_person', 'gantry_unlockDoor', 'gantry_getCabinetImageVedio', 'wsdoor_selectUser', 'wscam_get_dev_config']) {
    t.ok(channelsSeen.has(`${id}_command`) && channelsSeen.has(`${id}_reply`), `${id}: command and reply`);
  }
});

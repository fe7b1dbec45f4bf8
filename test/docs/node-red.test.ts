// The README's Node-RED flow (docs/node-red/gate2mqtt-flow.json), held to the gateway it is for:
// only Node-RED's own core nodes, every topic on a channel of the AsyncAPI document, and, against a
// running gateway and a simulated terminal, what the flow's nodes do (its button's publish, its
// subscriptions) opening the door and bringing its reply and events back.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../../src/paths.js';
import { channelsOf, parseAsyncApi, payloadValidator } from '../helpers/asyncapi.js';
import { connectClient } from '../helpers/harness.js';
import { rig } from '../qyzn/fixtures/rig.js';

interface FlowNode {
  id: string;
  type: string;
  z?: string;
  topic?: string;
  broker?: string;
  payload?: string;
  payloadType?: string;
  qos?: string;
  datatype?: string;
  wires?: string[][];
}

const FLOW = join(ROOT, 'docs/node-red/gate2mqtt-flow.json');
const flow = JSON.parse(readFileSync(FLOW, 'utf8')) as FlowNode[];
const CORE = new Set(['tab', 'mqtt-broker', 'mqtt in', 'mqtt out', 'inject', 'debug', 'function', 'change', 'switch', 'json']);
const DOOR = '0c16d06a45914b758ca226ef325422a3';

t.test('the flow is made of core nodes, wired to nodes it has, on its one broker', async (t) => {
  const ids = new Set(flow.map((n) => n.id));
  t.equal(ids.size, flow.length, 'ids are unique');
  for (const node of flow) {
    t.ok(CORE.has(node.type), `${node.id}: ${node.type} is a Node-RED core node`);
    for (const target of (node.wires ?? []).flat()) t.ok(ids.has(target), `${node.id} → ${target}`);
    if (node.type.startsWith('mqtt ')) t.equal(flow.find((n) => n.id === node.broker)?.type, 'mqtt-broker', `${node.id} has its broker`);
    if (node.z !== undefined) t.equal(flow.find((n) => n.id === node.z)?.type, 'tab', `${node.id} is on the tab`);
  }
  t.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'docs/node-red/gate2mqtt-flow.json', 'the README links it');
});

t.test("every topic of the flow is one of the gateway's, and the button's payload is the command's", async (t) => {
  const { document } = await parseAsyncApi();
  if (!document) throw new Error('docs/asyncapi.yaml does not parse');
  const validator = payloadValidator();
  for (const node of flow.filter((n) => n.type === 'mqtt in' || n.type === 'mqtt out')) {
    // A filter's wildcards stand for any level: an example topic for each.
    const example = (node.topic ?? '').replace('+/+/event/#', `qyzn/${DOOR}/event/snapshot_face`).replace('+/+/command/+/reply', `qyzn/${DOOR}/command/open_door/reply`).replace('+/+/availability', `qyzn/${DOOR}/availability`);
    const channels = channelsOf(document, example);
    t.equal(channels.length, 1, `${node.id}: ${node.topic ?? ''} is on a channel (${example})`);
    if (node.type !== 'mqtt out') continue;
    const inject = flow.find((n) => n.type === 'inject' && (n.wires ?? []).flat().includes(node.id));
    t.equal(inject?.payloadType, 'json', `${node.id} is sent a JSON payload`);
    const schema = channels[0]?.messages().all()[0]?.payload()?.json();
    const validate = validator(schema);
    t.ok(validate(JSON.parse(inject?.payload ?? 'null')), `${node.id}: the button's payload is a valid ${node.topic ?? ''}: ${JSON.stringify(validate.errors ?? [])}`);
  }
});

t.test("what the flow's nodes do, against a gateway and the simulated terminal: the button opens the door", async (t) => {
  const r = await rig(t);
  // The flow's topics, under this test's own base topic instead of the default gate2mqtt.
  const topicOf = (node: FlowNode | undefined): string => (node?.topic ?? '').replace(/^gate2mqtt\//, `${r.base}/`);
  const nodeRed = await connectClient(t, r.mqttUrl);
  const inputs = flow.filter((n) => n.type === 'mqtt in');
  await nodeRed.subscribe(inputs.map(topicOf));
  const terminal = r.device(DOOR);
  await terminal.start();
  await nodeRed.take(topicOf(inputs.find((n) => n.id === 'g2m.availability')).replace('+/+', `qyzn/${DOOR}`), (p) => p.toString() === 'online');

  const out = flow.find((n) => n.type === 'mqtt out');
  const inject = flow.find((n) => n.type === 'inject' && (n.wires ?? []).flat().includes(out?.id ?? ''));
  const opened = terminal.nextCommand('open_door');
  await nodeRed.client.publishAsync(topicOf(out), inject?.payload ?? '', { qos: Number(out?.qos) as 1 });
  t.ok(await opened, 'the terminal was told to open its door');
  const reply = await nodeRed.take(`${r.base}/qyzn/${DOOR}/command/open_door/reply`);
  t.equal((JSON.parse(reply.payload.toString()) as { ok: boolean }).ok, true, "the replies node gets the door's answer");

  await terminal.snapshotFace();
  const event = await nodeRed.take(`${r.base}/qyzn/${DOOR}/event/snapshot_face`);
  t.equal((JSON.parse(event.payload.toString()) as { deviceId: string }).deviceId, DOOR, 'the events node gets its events, as JSON');
});

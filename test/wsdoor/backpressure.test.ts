// A terminal that stops reading what the gateway sends it: the gateway stops reading that terminal
// (it does not buffer without bound), says so in gate2mqtt_device_reads_paused, keeps serving the
// others, and once the terminal reads again answers and publishes everything it sent, once.
// Shared by both WebSocket adapters (adapters/ws-common); real sockets, the real embedded broker.
import { once } from 'node:events';
import t from 'tap';
import WebSocket from 'ws';
import type { JsonObject } from '../../src/adapter.js';
import { decodeGatewayMessage, encodeRealtimeEvent, encodeRegister, encodeReply } from '../../sim/wsdoor/codec.js';
import { connectClient, until, within } from '../helpers/harness.js';
import { startWsdoor } from '../helpers/ws-gateway.js';

/** The value of gate2mqtt_device_reads_paused for wsdoor and `reason`. */
async function paused(httpUrl: string, reason: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = new RegExp(`^gate2mqtt_device_reads_paused\\{adapter="wsdoor",reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  return line ? Number(line[1]) : -1;
}

/** Like `until`, for a condition read from the gateway's HTTP side. */
async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  let over = false;
  const check = async (): Promise<void> => {
    while (!over && !(await condition())) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  try {
    await within(check(), what);
  } finally {
    over = true;
  }
}

t.test('a terminal that does not read is not read either, until it reads again; the others are served meanwhile; nothing lost', async (t) => {
  const g = await startWsdoor(t);
  const sn = 'SLOWREADER01';
  const watcher = await connectClient(t, g.mqttUrl);
  const events = g.topic(sn, 'event/realtimeEvent');
  await watcher.subscribe(events);
  t.equal(await paused(g.httpUrl, 'device_not_reading'), 0, 'no connection paused at first');

  const raw = new WebSocket(g.url);
  t.teardown(() => raw.terminate());
  await within(once(raw, 'open'), 'the socket open');
  const received: JsonObject[] = [];
  raw.on('message', (data) => received.push(JSON.parse(String(data)) as JsonObject));
  raw.send(JSON.stringify(encodeRegister({ ip: '192.168.0.9', mac: 'SLOWREADER01', sn, type: '0' })));
  await until(() => received.length === 1, 'the register answer');

  const other = await g.door('OTHERDOOR01');
  t.match(await other.register(), { code: '200' }, 'another terminal registers');
  let served = 0;
  /** Another terminal's event, answered and published: the gateway went on meanwhile. */
  const roundTrip = async (): Promise<void> => {
    const eventid = `other-${++served}`;
    const answer = await other.sendEvent({ eventid });
    if (answer.code !== '200') throw new Error(`the other terminal's event answered ${answer.code}`);
    await g.inbox.json(g.topic('OTHERDOOR01', 'event/realtimeEvent'), (e) => (e.data as { eventid?: string }).eventid === eventid);
  };

  // The terminal stops reading. Commands with a 2 MiB photo each, until the kernel's socket buffers
  // (megabytes on loopback) are full and the gateway's own write buffer stays full.
  raw.pause();
  const img = Buffer.alloc(2 * 1024 * 1024, 7).toString('base64');
  const replies: Array<Promise<unknown>> = [];
  for (let k = 0; ; k++) {
    if (k === 16) throw new Error('16 commands of 2 MiB sent to a terminal that reads nothing, and the gateway never stopped reading it');
    const data = { user: 'u', userId: String(k), pwd: 'p', name: 'n', role: '0', img };
    replies.push(g.commands.send('wsdoor', sn, 'addUser', { id: `big-${k}`, timeoutMs: 60_000, data }, { ms: 70_000 }));
    await roundTrip();
    if ((await paused(g.httpUrl, 'device_not_reading')) === 1) break;
  }
  t.pass('gate2mqtt_device_reads_paused{reason="device_not_reading"} is 1');

  // What the terminal sends now waits in its socket, unread; the other terminal is served meanwhile.
  raw.send(JSON.stringify(encodeRealtimeEvent({ eventid: 'held-1', type: '1', data: { userId: '1', door: '0' } })));
  await roundTrip();
  await roundTrip();
  t.equal(watcher.unread(events), 0, 'the unread terminal\'s event was not taken meanwhile');
  t.equal(await paused(g.httpUrl, 'device_not_reading'), 1, 'and it is still not read');

  // It reads again: every command arrives and is answered, the held event is answered and
  // published once.
  raw.resume();
  const commands = (): Array<{ commandId: string; name: string }> =>
    received.map((m) => decodeGatewayMessage(m)).flatMap((m) => (m.kind === 'command' ? [m] : []));
  await until(() => commands().length === replies.length, `the ${replies.length} commands at the terminal`, 30_000);
  for (const command of commands()) raw.send(JSON.stringify(encodeReply(command.commandId, '200', { data: '' })));
  const answered = await Promise.all(replies);
  t.ok(answered.every((reply) => (reply as { ok: boolean }).ok), `the ${replies.length} commands answered ok`);
  t.match(await watcher.json(events), { data: { eventid: 'held-1' } }, 'the held event published');
  await until(() => received.filter((m) => decodeGatewayMessage(m).kind === 'response').length === 2, 'the held event answered');
  await waitFor(async () => (await paused(g.httpUrl, 'device_not_reading')) === 0, 'the terminal to be read again');
  t.pass('read again: the gauge is back at 0');
  t.equal(watcher.unread(events), 0, 'published once');
});

// A terminal that stops reading what the gateway sends it (test/helpers/reads-paused.ts), through
// the WebSocket path both WebSocket adapters share (adapters/ws-common); a raw `ws` client, so that
// its reading can be paused.
import { once } from 'node:events';
import t from 'tap';
import WebSocket from 'ws';
import type { JsonObject } from '../../src/adapter.js';
import { decodeGatewayMessage, encodeRealtimeEvent, encodeRegister, encodeReply } from '../../sim/wsdoor/codec.js';
import { connectClient, until, within } from '../helpers/harness.js';
import { BIG_PAYLOAD, stalledDevice } from '../helpers/reads-paused.js';
import { startWsdoor } from '../helpers/ws-gateway.js';

t.test('a terminal that does not read is not read either, until it reads again; the others are served meanwhile; nothing lost', async (t) => {
  const g = await startWsdoor(t);
  const sn = 'SLOWREADER01';
  const watcher = await connectClient(t, g.mqttUrl);
  const events = g.topic(sn, 'event/realtimeEvent');
  await watcher.subscribe(events);

  const raw = new WebSocket(g.url);
  t.teardown(() => raw.terminate());
  await within(once(raw, 'open'), 'the socket open');
  const received: JsonObject[] = [];
  raw.on('message', (data) => received.push(JSON.parse(String(data)) as JsonObject));
  const responses = (): number => received.filter((m) => decodeGatewayMessage(m).kind === 'response').length;
  raw.send(JSON.stringify(encodeRegister({ ip: '192.168.0.9', mac: 'SLOWREADER01', sn, type: '0' })));
  await until(() => responses() === 1, 'the register answer');

  const other = await g.door('OTHERDOOR01');
  t.match(await other.register(), { code: '200' }, 'another terminal registers');
  let served = 0;
  await stalledDevice(t, {
    adapter: 'wsdoor',
    httpUrl: g.httpUrl,
    watcher,
    events,
    pauseReading: () => raw.pause(),
    resumeReading: () => raw.resume(),
    bigCommand: async (k) => {
      const data = { user: 'u', userId: String(k), pwd: 'p', name: 'n', role: '0', img: BIG_PAYLOAD };
      return (await g.commands.send('wsdoor', sn, 'addUser', { id: `big-${k}`, timeoutMs: 60_000, data }, { ms: 70_000 })).ok;
    },
    roundTrip: async () => {
      const eventid = `other-${++served}`;
      const answer = await other.sendEvent({ eventid });
      if (answer.code !== '200') throw new Error(`the other terminal's event answered ${answer.code}`);
      await g.inbox.json(g.topic('OTHERDOOR01', 'event/realtimeEvent'), (e) => (e.data as { eventid?: string }).eventid === eventid);
    },
    sendHeld: () => {
      raw.send(JSON.stringify(encodeRealtimeEvent({ eventid: 'held-1', type: '1', data: { userId: '1', door: '0' } })));
      return until(() => responses() === 2, 'the held event answered', 30_000);
    },
    answerCommands: async (count) => {
      const commands = (): Array<{ commandId: string }> => received.map((m) => decodeGatewayMessage(m)).flatMap((m) => (m.kind === 'command' ? [m] : []));
      await until(() => commands().length === count, `the ${count} commands at the terminal`, 30_000);
      for (const command of commands()) raw.send(JSON.stringify(encodeReply(command.commandId, '200', { data: '' })));
    },
  });
});

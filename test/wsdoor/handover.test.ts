// wsdoor events against a broker whose acknowledgements are held: each terminal is answered only
// once the broker acknowledged, in the order it sent, and an event resent while its first run
// still waits for the broker is published once (adapters/wsdoor/connection.ts, src/recent.ts).
import t from 'tap';
import type { JsonObject } from '../../src/adapter.js';
import { encodeHeartbeat, encodeRealtimeEvent, encodeRegister } from '../../sim/wsdoor/codec.js';
import { CuttableLink } from '../helpers/brokers.js';
import { connectClient, externalBroker, until } from '../helpers/harness.js';
import { rawDevice, startWsdoor } from '../helpers/ws-gateway.js';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

t.test('answers wait for the broker, leave in request order; a resend while waiting is published once', async (t) => {
  const url = await externalBroker(t);
  const proxy = new CuttableLink(url);
  await proxy.open();
  t.teardown(() => proxy.cut());
  const g = await startWsdoor(t, {}, { mqtt: { url: proxy.url } });
  // Straight to the broker: it sees what was published while the gateway's acknowledgements wait.
  const watcher = await connectClient(t, url);
  const events = g.topic('door-h', 'event/realtimeEvent');
  await watcher.subscribe(events);
  const { raw, received } = await rawDevice(t, g);
  const send = (message: JsonObject): void => raw.send(JSON.stringify(message));
  send(encodeRegister({ ip: '10.0.0.1', mac: 'AA', sn: 'door-h', type: '0' }));
  await until(() => received.length === 1, 'the register answer');

  proxy.hold();
  const event = (eventid: string): JsonObject => encodeRealtimeEvent({ eventid, type: '1', data: { userId: '1', door: '0' } });
  send(event('a1'));
  send(event('a1'));
  // Answered 500 at once when its turn comes: it tells where in the order its answer left.
  send({ code: '999' });
  send(event('a2'));
  send(encodeHeartbeat('2024-01-15 14:43:30'));
  t.match(await watcher.json(events), { data: { eventid: 'a1' } }, 'a1 reached the broker');
  await pause(300);
  t.equal(received.length, 1, 'nothing answered before the broker acknowledged a1, not even what follows it');
  proxy.release();
  await until(() => received.length === 6, 'every answer');
  t.same(
    received.slice(1).map((m) => (m.content as JsonObject).code),
    ['200', '200', '500', '200', '200'],
    'answered in the order sent: a1, its resend, the refusal, a2, the heartbeat',
  );
  t.match(await watcher.json(events), { data: { eventid: 'a2' } }, 'then a2, not a1 again');
  t.equal(watcher.unread(events), 0, 'a1 was published once');
});

// wscam snapshots against a broker whose acknowledgements are held: a snapshot is answered only
// once the broker acknowledged it, a heartbeat beside it is not held up, and a snapshot resent
// while its first run waits, or later on a new connection, is published once.
import t from 'tap';
import { CuttableLink } from '../helpers/brokers.js';
import { connectClient, externalBroker } from '../helpers/harness.js';
import { startWscam } from '../helpers/ws-gateway.js';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const SECOND_IMAGE = Buffer.from('the second image').toString('base64');

t.test('answers wait for the broker; resends (while waiting, on a new connection) are published once, in order', async (t) => {
  const url = await externalBroker(t);
  const proxy = new CuttableLink(url);
  await proxy.open();
  t.teardown(() => proxy.cut());
  const g = await startWscam(t, {}, { mqtt: { url: proxy.url } });
  const watcher = await connectClient(t, url);
  const events = g.topic('cam-h', 'event/upload_snapshot');
  await watcher.subscribe(events);
  const camera = await g.camera('cam-h');
  await camera.heartbeat();

  proxy.hold();
  const answers: string[] = [];
  const first = camera.uploadSnapshot({ requestId: 's1' }).then((a) => answers.push(`s1 ${a.ret}`));
  const again = camera.resend('s1').then((a) => answers.push(`s1 again ${a.ret}`));
  const second = camera.uploadSnapshot({ requestId: 's2', image: SECOND_IMAGE }).then((a) => answers.push(`s2 ${a.ret}`));
  t.match(await camera.heartbeat(), { ret: 0 }, 'a heartbeat is answered while snapshots wait for the broker');
  const s1 = await watcher.json(events);
  t.not((s1.data as { data: string }).data, SECOND_IMAGE, 's1 reached the broker first');
  await pause(300);
  t.same(answers, [], 'no snapshot answered before the broker acknowledged');
  proxy.release();
  await Promise.all([first, again, second]);
  t.same(answers.sort(), ['s1 0', 's1 again 0', 's2 0']);
  t.match(await watcher.json(events), { data: { data: SECOND_IMAGE } }, 'then s2');
  t.equal(watcher.unread(events), 0, 's1 and s2 published once each');

  await camera.close();
  const next = await g.camera('cam-h');
  await next.heartbeat();
  // The resend of a snapshot whose answer the old connection lost: from the new connection's own
  // record of it (the simulator keeps the sent message per connection, so it is rebuilt here).
  t.match(await next.uploadSnapshot({ requestId: 's2' }), { ret: 0 }, 'answered on the new connection');
  t.match(await next.uploadSnapshot({ requestId: 's3' }), { ret: 0 });
  t.match(await watcher.json(events), { data: { data: String } }, 's3');
  await pause(200);
  t.equal(watcher.unread(events), 0, 's2 was not published again');
});

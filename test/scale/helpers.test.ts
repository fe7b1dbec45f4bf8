// The helpers of the multi-instance tests, tested on real processes and sockets: the NATS cluster
// (messages and retained messages cross nodes, the others go on while a node is killed, and it
// takes MQTT again once restarted on its ports) and the round-robin TCP proxy (spreads connections, pins, skips a dead backend, relays
// bytes both ways and closes pairs without an unhandled error).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import mqtt from 'mqtt';
import t, { type Test } from 'tap';
import { connectClient, DEADLINE_MS, uniqueBase, until, within, type Inbox, type Teardown } from '../helpers/harness.js';
import { natsCluster } from '../helpers/nats-cluster.js';
import { roundRobinProxy } from '../helpers/rr-proxy.js';

/** NATS 2.9's MQTT is 3.1.1 only. */
const V311 = { protocolVersion: 4 } as const;

async function subscribed(t: Test, inbox: Inbox, topic: string): Promise<void> {
  const granted = await inbox.client.subscribeAsync(topic, { qos: 1 });
  t.same(
    granted.map((g) => g.qos),
    [1],
    `SUBSCRIBE ${topic} granted at QoS 1`,
  );
}

t.test('natsCluster', async (t) => {
  const began = Date.now();
  const cluster = await natsCluster(t);
  t.comment(`3-node cluster ready in ${Date.now() - began} ms`);
  t.equal(cluster.urls.length, 3, 'one MQTT URL per node');
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  for (const url of cluster.urls) t.ok(Number(new URL(url).port) < (low ?? 0), `${url} is below the ephemeral range (${low})`);
  const base = uniqueBase();

  t.test('a QoS 1 publish on node 0 reaches a subscriber on node 2', async (t) => {
    const topic = `${base}/qos1`;
    const sub = await connectClient(t, cluster.urls[2] as string, V311);
    await subscribed(t, sub, topic);
    const pub = await connectClient(t, cluster.urls[0] as string, V311);
    const payload = randomBytes(8).toString('hex');
    await pub.client.publishAsync(topic, payload, { qos: 1 });
    const { payload: got, packet } = await sub.take(topic);
    t.equal(got.toString(), payload, 'the payload published on node 0');
    t.equal(packet.qos, 1, 'delivered at QoS 1');
  });

  t.test('a retained message published on node 1 is seen by a new subscriber on node 2', async (t) => {
    const topic = `${base}/retained`;
    const payload = randomBytes(8).toString('hex');
    const pub = await connectClient(t, cluster.urls[1] as string, V311);
    await pub.client.publishAsync(topic, payload, { qos: 1, retain: true });
    const sub = await connectClient(t, cluster.urls[2] as string, V311);
    // NATS takes 0.3–0.8 s to make a retained message known on the other nodes: subscribe
    // again until it comes, each time a fresh subscription (which is what gets retained ones).
    const began = Date.now();
    let got: Awaited<ReturnType<Inbox['take']>> | undefined;
    for (;;) {
      await subscribed(t, sub, topic);
      got = await sub.take(topic, () => true, 300).catch(() => undefined);
      if (got || Date.now() - began > DEADLINE_MS) break;
      await sub.client.unsubscribeAsync(topic);
    }
    t.comment(`retained message seen on node 2 after ${Date.now() - began} ms`);
    t.equal(got?.payload.toString(), payload, 'the retained payload published on node 1');
    t.equal(got?.packet.retain, true, 'delivered as retained');
  });

  t.test('node 1 killed: the others go on; restarted on its ports, it takes MQTT again', async (t) => {
    await cluster.kill(1);
    t.notOk(cluster.running(1), 'node 1 no longer runs');
    await t.rejects(
      mqtt.connectAsync(cluster.urls[1] as string, { ...V311, reconnectPeriod: 0, connectTimeout: 1000 }),
      'node 1 refuses MQTT while killed',
    );
    // The survivors go on without it: what a 2-replica MQTT stream would not do (it stalls for
    // good without one of its nodes). A new QoS 1 SUBSCRIBE may still fail while node 1 is down
    // (NATS 2.9 gives about 1 in 3 a 4 s timeout, "Unspecified error"), so it is tried again.
    const during = `${base}/during-outage`;
    const survivor = await connectClient(t, cluster.urls[2] as string, V311);
    const settling = Date.now();
    let refused = 0;
    let taken = false;
    while (!taken && Date.now() - settling < 3 * DEADLINE_MS) {
      const granted = await survivor.client.subscribeAsync(during, { qos: 1 }).catch(() => undefined);
      taken = granted?.[0]?.qos === 1;
      if (!taken) refused++;
    }
    t.comment(`SUBSCRIBE on node 2 granted ${Date.now() - settling} ms after the kill, ${refused} refused before`);
    t.ok(taken, 'a QoS 1 SUBSCRIBE on a survivor is granted while node 1 is down');
    const other = await connectClient(t, cluster.urls[0] as string, V311);
    await other.client.publishAsync(during, 'while node 1 is down', { qos: 1 });
    t.equal((await survivor.take(during)).payload.toString(), 'while node 1 is down', 'node 0 to node 2 while node 1 is down');
    const began = Date.now();
    await cluster.restart(1);
    t.comment(`node 1 restarted and ready in ${Date.now() - began} ms`);
    t.ok(cluster.running(1), 'node 1 runs again');
    const topic = `${base}/after-restart`;
    const sub = await connectClient(t, cluster.urls[1] as string, V311);
    await subscribed(t, sub, topic);
    const local = await connectClient(t, cluster.urls[1] as string, V311);
    await local.client.publishAsync(topic, 'from node 1', { qos: 1 });
    t.equal((await sub.take(topic)).payload.toString(), 'from node 1', 'a publish on node 1 reaches its subscriber on node 1');
    const remote = await connectClient(t, cluster.urls[0] as string, V311);
    await remote.client.publishAsync(topic, 'from node 0', { qos: 1 });
    t.equal((await sub.take(topic)).payload.toString(), 'from node 0', 'a publish on node 0 reaches the subscriber on node 1: the routes are back');
  });

  t.end();
});

/** A TCP server that writes its name on each connection, then echoes what it reads. */
async function nameServer(t: Teardown, name: string): Promise<{ server: Server; address: string; open: Set<Socket> }> {
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => open.delete(socket));
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      for (const socket of open) socket.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  t.teardown(stop);
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, open };
}

/** Connects to `address` and resolves with the socket and the first line it read (the name of
 *  the backend), or with line undefined if the connection closed before one came. */
function dial(t: Teardown, address: string): Promise<{ socket: Socket; line: string | undefined }> {
  const [host, port] = address.split(':');
  const socket = connect({ host: host as string, port: Number(port) });
  t.teardown(() => {
    socket.destroy();
  });
  let text = '';
  return within(
    new Promise((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const at = text.indexOf('\n');
        if (at >= 0) {
          socket.removeAllListeners('data');
          resolve({ socket, line: text.slice(0, at) });
        }
      });
      socket.once('error', reject);
      socket.once('close', () => resolve({ socket, line: undefined }));
    }),
    `a line through ${address}`,
  );
}

function closed(socket: Socket, what: string): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      if (socket.closed) resolve();
      else socket.once('close', () => resolve());
    }),
    what,
  );
}

t.test('roundRobinProxy', async (t) => {
  const a = await nameServer(t, 'a');
  const b = await nameServer(t, 'b');
  const c = await nameServer(t, 'c');
  const names = new Map([
    [a.address, 'a'],
    [b.address, 'b'],
    [c.address, 'c'],
  ]);
  const proxy = await roundRobinProxy(t, [a.address, b.address, c.address]);
  const byName = (counts: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(counts).map(([address, n]) => [names.get(address) ?? address, n]));

  t.test('six connections land two on each backend, in turn', async (t) => {
    const lines: Array<string | undefined> = [];
    for (let i = 0; i < 6; i++) lines.push((await dial(t, proxy.address)).line);
    t.same(lines, ['a', 'b', 'c', 'a', 'b', 'c'], 'each connection read the name of the next backend');
    t.same(byName(proxy.counts()), { a: 2, b: 2, c: 2 }, 'counts: two per backend');
  });

  t.test('bytes are relayed both ways, a megabyte with backpressure', async (t) => {
    const { socket, line } = await dial(t, proxy.address);
    t.equal(line, 'a', 'the seventh connection goes to the first backend again');
    const sent = randomBytes(1024 * 1024);
    const back: Buffer[] = [];
    let length = 0;
    socket.on('data', (chunk: Buffer) => {
      back.push(chunk);
      length += chunk.length;
    });
    socket.write(sent);
    await until(() => length >= sent.length, 'the megabyte echoed back');
    t.ok(Buffer.concat(back).equals(sent), 'the echo is the bytes sent, in order');
    socket.destroy();
  });

  t.test('pin places the next connection on the chosen backend, out of turn', async (t) => {
    proxy.pin(c.address);
    t.equal((await dial(t, proxy.address)).line, 'c', 'the pinned connection reads c');
    t.equal((await dial(t, proxy.address)).line, 'b', 'the next one takes the round-robin turn the pin did not use');
    t.same(byName(proxy.counts()), { a: 3, b: 3, c: 3 }, 'counts include the pinned connection');
  });

  t.test('a stopped backend is skipped', async (t) => {
    await new Promise<void>((resolve) => {
      for (const socket of b.open) socket.destroy();
      b.server.close(() => resolve());
    });
    const lines: Array<string | undefined> = [];
    for (let i = 0; i < 4; i++) lines.push((await dial(t, proxy.address)).line);
    // The turn was at c; b refuses, so its turns fall to c.
    t.same(lines, ['c', 'a', 'c', 'c'], 'no connection lost, none on the stopped backend');
    t.same(byName(proxy.counts()), { a: 4, b: 3, c: 6 }, 'b got no more connections');
  });

  t.test('a pinned connection to a stopped backend is closed, not moved', async (t) => {
    proxy.pin(b.address);
    t.equal((await dial(t, proxy.address)).line, undefined, 'closed without a line');
    t.equal(proxy.counts()[b.address], 3, 'b got no connection');
  });

  t.test('with every backend down the client connection is closed', async (t) => {
    proxy.setBackends([b.address]);
    t.equal((await dial(t, proxy.address)).line, undefined, 'closed without a line');
    proxy.setBackends([a.address, c.address]);
    t.equal((await dial(t, proxy.address)).line, 'a', 'setBackends starts the turn at the first backend');
  });

  t.test('a half-close from the client ends the pair', async (t) => {
    const earlier = new Set(c.open);
    const { socket, line } = await dial(t, proxy.address);
    t.equal(line, 'c');
    const backendSide = [...c.open].find((s) => !earlier.has(s));
    if (!backendSide) throw new Error('no new connection on backend c');
    socket.end();
    await closed(backendSide, 'the backend side closed');
    await closed(socket, 'the client side closed');
    t.pass('the half-closed pair was destroyed, both sides');
  });

  t.test('a backend that drops the connection closes the client side', async (t) => {
    const { socket, line } = await dial(t, proxy.address);
    t.equal(line, 'a');
    // RST rather than FIN: the backend side fails, which must not be an unhandled 'error'.
    for (const s of a.open) s.resetAndDestroy();
    await closed(socket, 'the client side closed after the backend reset');
    t.pass('closed, and the process did not crash');
  });

  t.test('close destroys every proxied connection', async (t) => {
    const { socket, line } = await dial(t, proxy.address);
    t.equal(line, 'c');
    await proxy.close();
    await closed(socket, 'the client side closed by close()');
    await until(() => c.open.size === 0, 'the backend side closed by close()');
    t.equal(proxy.open(), 0, 'no pair left');
    const refused = await dial(t, proxy.address).catch((err: Error) => err);
    t.match(refused, { code: 'ECONNREFUSED' }, 'the proxy no longer listens');
  });

  t.end();
});

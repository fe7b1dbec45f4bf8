// The embedded broker, secured by default: with no users it is reachable on loopback only; with
// users every client logs in and keeps to its ACL (publish, subscribe, retained, will), while the
// gateway itself is not held by them. Real broker, real clients, a second loopback address.
import { connect as connectTcp } from 'node:net';
import t from 'tap';
import WebSocket from 'ws';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';
import { connectClient, topicMatches, until, within, type Inbox, type Teardown } from '../helpers/harness.js';
import {
  BAD_LOGIN_V311,
  BAD_LOGIN_V5,
  NOT_AUTHORIZED_V5,
  SUBACK_FAILURE_V311,
  brokerUsers,
  loggedGateway,
  refused,
  subscribeRefused,
  type TestUser,
} from '../helpers/security.js';

/** Linux routes all of 127.0.0.0/8 to loopback: 127.0.0.2 reaches a 0.0.0.0 listener, not a
 *  127.0.0.1 one, so it stands for "another machine". */
const OTHER = '127.0.0.2';

function portOf(url: string): number {
  return Number(new URL(url).port);
}

function tcpReach(host: string, port: number): Promise<'connected' | string> {
  return within(
    new Promise((resolve) => {
      const socket = connectTcp(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    }),
    `a TCP connection to ${host}:${port}`,
  );
}

function wsReach(url: string): Promise<'connected' | string> {
  return within(
    new Promise((resolve) => {
      const socket = new WebSocket(url, 'mqtt');
      socket.once('open', () => {
        socket.terminate();
        resolve('connected');
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    }),
    `a WebSocket connection to ${url}`,
  );
}

t.test('with no users the embedded broker listens on 127.0.0.1 only, MQTT and WebSocket, and says in one line how to open it', async (t) => {
  const { gateway, lines } = await loggedGateway(t, { broker: { host: '', wsEnabled: true } });
  const { broker } = gateway.addresses();
  t.match(broker, { mqtt: /^mqtt:\/\/127\.0\.0\.1:\d+$/, ws: /^ws:\/\/127\.0\.0\.1:\d+$/ });
  const mqttPort = portOf(broker?.mqtt as string);
  const wsPort = portOf(broker?.ws as string);
  t.equal(await tcpReach('127.0.0.1', mqttPort), 'connected', 'MQTT from 127.0.0.1');
  t.equal(await tcpReach(OTHER, mqttPort), 'ECONNREFUSED', `MQTT from ${OTHER}`);
  t.equal(await wsReach(`ws://127.0.0.1:${wsPort}`), 'connected', 'WebSocket from 127.0.0.1');
  t.equal(await wsReach(`ws://${OTHER}:${wsPort}`), 'ECONNREFUSED', `WebSocket from ${OTHER}`);
  const hints = lines().filter((line) => /to open it to the network/.test(line.msg));
  t.equal(hints.length, 1, 'one line');
  t.match(hints[0]?.msg, 'embedded broker on 127.0.0.1 only (no broker.users): to open it to the network add users (gate2mqtt passwd) or set broker.host=0.0.0.0');
  t.notOk(lines().some((line) => line.level >= 40 && line.component === 'broker'), 'no warning from the broker');
});

t.test('an explicit non-loopback broker.host with no users is obeyed, with a warning that anyone on the network can publish commands', async (t) => {
  const { gateway, lines } = await loggedGateway(t, { broker: { host: '0.0.0.0' } });
  const port = portOf(gateway.addresses().broker?.mqtt as string);
  t.equal(await tcpReach(OTHER, port), 'connected');
  const warnings = lines().filter((line) => line.level === 40 && /anyone on the network can publish commands/.test(line.msg));
  t.equal(warnings.length, 1);
});

const PLATFORM: TestUser = {
  username: 'platform',
  secret: 'platform-secret',
  publish: ['{base}/+/+/command/+', '{base}/+/+/request/+/reply', '{base}/sensors/#'],
  subscribe: ['{base}/#', '$SYS/+/disconnect/clients'],
};
/** A read-only dashboard: availability and events, nothing else. */
const DASHBOARD: TestUser = {
  username: 'dashboard',
  secret: 'dashboard-secret',
  publish: [],
  subscribe: ['{base}/+/+/availability', '{base}/+/+/event/#'],
};
/** May subscribe to what it would need to see a command, but may not send one. */
const SNOOP: TestUser = { username: 'snoop', secret: 'snoop-secret', publish: ['{base}/snoop/#'], subscribe: ['{base}/+/+/availability'] };

async function securedGateway(t: Teardown) {
  const users = await brokerUsers([PLATFORM, DASHBOARD, SNOOP]);
  const started = await loggedGateway(t, { broker: { host: '', users } }, [echoAdapter()]);
  const url = started.gateway.addresses().broker?.mqtt as string;
  const port = portOf(url);
  const login = (user: TestUser) => ({ username: user.username, password: user.secret });
  return { ...started, url, port, login, echo: started.gateway.addresses().adapters.echo as string };
}

t.test('with users the broker listens on every address, and a client without credentials, a wrong password or an unknown user is refused', async (t) => {
  const { url, port, login } = await securedGateway(t);
  t.match(url, /^mqtt:\/\/0\.0\.0\.0:/, 'bound to 0.0.0.0 once users exist');
  const other = `mqtt://${OTHER}:${port}`;
  const platform = await connectClient(t, other, login(PLATFORM));
  t.ok(platform.client.connected, `the platform user logs in from ${OTHER}`);
  t.match(await refused(other), { code: BAD_LOGIN_V5 }, 'no credentials (MQTT 5)');
  t.match(await refused(other, { protocolVersion: 4 }), { code: BAD_LOGIN_V311 }, 'no credentials (MQTT 3.1.1)');
  t.match(await refused(other, { username: 'platform', password: 'wrong' }), { code: BAD_LOGIN_V5 }, 'wrong password');
  t.match(await refused(other, { username: 'nobody', password: 'platform-secret' }), { code: BAD_LOGIN_V5 }, 'unknown user');
  t.match(await refused(other, { username: 'platform' }), { code: BAD_LOGIN_V5 }, 'user name without password');
});

t.test("a user whose ACL forbids it can neither send a command nor subscribe to #, and receives nothing of the real commands, replies and events; the gateway's own link is not held by the ACLs", async (t) => {
  const { url, base, login, echo } = await securedGateway(t);
  const device = await EchoDevice.connect(echo, 'dev1');
  t.teardown(() => device.close());
  const platform = await connectClient(t, url, login(PLATFORM));
  await platform.subscribe(`${base}/#`);
  const dashboard = await connectClient(t, url, login(DASHBOARD));
  const snoop311 = await connectClient(t, url, { ...login(SNOOP), protocolVersion: 4 });

  for (const filter of ['#', `${base}/#`, `${base}/echo/dev1/command/+`, `${base}/+/+/command/+/reply`, '$SYS/#']) {
    t.same(await subscribeRefused(dashboard.client, filter), [NOT_AUTHORIZED_V5], `dashboard SUBACK 0x87 for ${filter}`);
  }
  t.same(await subscribeRefused(snoop311.client, '#'), [SUBACK_FAILURE_V311], 'MQTT 3.1.1 SUBACK 0x80 for #');
  await dashboard.subscribe([`${base}/+/+/availability`, `${base}/+/+/event/#`]);

  // MQTT 5: the forbidden publish gets PUBACK 0x87 and is dropped; the connection stays.
  const forbidden = JSON.stringify({ id: 'from-dashboard', data: { n: 1 } });
  await t.rejects(dashboard.client.publishAsync(`${base}/echo/dev1/command/ping`, forbidden, { qos: 1 }), { code: NOT_AUTHORIZED_V5 });
  t.ok(dashboard.client.connected, 'an MQTT 5 client stays connected after a refused publish');
  // MQTT 3.1.1 has no refusal in PUBACK: aedes closes the connection instead.
  const closed = new Promise<void>((resolve) => snoop311.client.once('close', () => resolve()));
  snoop311.client.publish(`${base}/echo/dev1/command/ping`, JSON.stringify({ id: 'from-snoop' }), { qos: 1 });
  await within(closed, 'the MQTT 3.1.1 client closed after a refused publish');

  // The platform's command, published after both refusals, is the first the device executes.
  await platform.client.publishAsync(`${base}/echo/dev1/command/ping`, JSON.stringify({ id: 'from-platform', data: { n: 2 } }), { qos: 1 });
  t.match(await platform.json(`${base}/echo/dev1/command/ping/reply`), { id: 'from-platform', ok: true, data: { echo: { n: 2 } } });
  device.send({ event: 'opened', data: { door: 1 } });
  t.same(await device.next(), { ack: 'opened', ok: true });
  t.match(await platform.json(`${base}/echo/dev1/event/opened`), { data: { door: 1 } });
  t.match(await dashboard.json(`${base}/echo/dev1/event/opened`), { data: { door: 1 } }, 'the dashboard sees the event it may see');
  // Published after all of the above: once the dashboard has it, it has had whatever it would get.
  const device2 = await EchoDevice.connect(echo, 'dev2');
  t.teardown(() => device2.close());
  await dashboard.take(`${base}/echo/dev2/availability`, (p) => p.toString() === 'online');
  const seen = dashboard.history(() => true).map((m) => m.topic);
  t.ok(seen.every((topic) => topicMatches(`${base}/+/+/availability`, topic) || topicMatches(`${base}/+/+/event/#`, topic)), `the dashboard saw only what its ACL allows: ${seen.join(', ')}`);
  const replies = platform.history((topic) => topic.endsWith('/command/ping/reply')).map((m) => JSON.parse(m.payload.toString()).id);
  t.same(replies, ['from-platform'], 'neither refused command reached the device');
});

t.test('a retained publish and a last will to a topic the user may not publish are not published', async (t) => {
  const { url, base, login } = await securedGateway(t);
  const platform = await connectClient(t, url, login(PLATFORM));
  await platform.subscribe(`${base}/#`);
  // Apart: aedes 2.0.0-beta.1 drops a will, as a duplicate, for a subscriber that got the
  // client's $SYS disconnect notice first.
  const notices = await connectClient(t, url, login(PLATFORM));
  await notices.subscribe('$SYS/+/disconnect/clients');

  const snoop = await connectClient(t, url, login(SNOOP));
  await t.rejects(snoop.client.publishAsync(`${base}/sensors/s1/state`, 'forged', { qos: 1, retain: true }), { code: NOT_AUTHORIZED_V5 });
  await platform.client.publishAsync(`${base}/sensors/s2/state`, 'real', { qos: 1, retain: true });
  t.teardown(() => platform.client.publishAsync(`${base}/sensors/s2/state`, '', { qos: 1, retain: true }));
  // aedes sends the retained messages of one SUBSCRIBE in the order of its filters: once s2's has
  // come, s1's would have come before it.
  const late = await connectClient(t, url, login(PLATFORM));
  await late.subscribe([`${base}/sensors/s1/state`, `${base}/sensors/s2/state`]);
  t.equal((await late.take(`${base}/sensors/s2/state`)).payload.toString(), 'real');
  t.equal(late.unread(`${base}/sensors/s1/state`), 0, 'the refused retained message was not stored');

  const forbiddenWill = `${base}/echo/dev1/command/ping`;
  const allowedWill = `${base}/snoop/status`;
  const willer = await connectClient(t, url, { ...login(SNOOP), clientId: 'g2mtest-willer-forbidden', will: { topic: forbiddenWill, payload: Buffer.from('{"id":"will"}'), qos: 1, retain: false } });
  const control = await connectClient(t, url, { ...login(SNOOP), clientId: 'g2mtest-willer-allowed', will: { topic: allowedWill, payload: Buffer.from('gone'), qos: 1, retain: false } });
  // A socket that just dies: the broker publishes the will (a clean DISCONNECT would not).
  willer.client.stream.destroy();
  // aedes publishes (or refuses) a will before it sends the client's $SYS disconnect notice,
  // and the allowed will, published after that, comes after the forbidden one would have.
  // (The broker's id, in the notice's topic, is new at every start.)
  await until(
    () => notices.history((topic) => /^\$SYS\/[^/]+\/disconnect\/clients$/.test(topic)).some((m) => m.payload.toString() === 'g2mtest-willer-forbidden'),
    'the disconnect notice of the client with the forbidden will',
  );
  control.client.stream.destroy();
  t.equal((await platform.take(allowedWill)).payload.toString(), 'gone', 'an allowed will is published');
  t.equal(platform.unread(forbiddenWill), 0, 'the forbidden will was not published');
});

t.test("with broker.inProcess false the gateway's own MQTT client logs in with its internal credential, not held by any user's ACL", async (t) => {
  const users = await brokerUsers([DASHBOARD]);
  const { gateway, base } = await loggedGateway(t, { broker: { host: '', users, inProcess: false } }, [echoAdapter()]);
  t.ok(gateway.ready, 'the gateway connected to its broker');
  const url = gateway.addresses().broker?.mqtt as string;
  const dashboard: Inbox = await connectClient(t, url, { username: DASHBOARD.username, password: DASHBOARD.secret });
  await dashboard.subscribe(`${base}/+/+/availability`);
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'dev1');
  t.teardown(() => device.close());
  t.equal((await dashboard.take(`${base}/echo/dev1/availability`)).payload.toString(), 'online', "the gateway's publish went through");
  t.match(await refused(url.replace('0.0.0.0', '127.0.0.1'), { username: 'gate2mqtt-internal-000000000000', password: 'guess' }), { code: BAD_LOGIN_V5 }, 'the internal user cannot be guessed');
});

// The gateway as a user runs it: its own process, signals, exit codes and stderr.
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PORTS_ZERO, connectClient, exited, externalBroker, spawnGateway, uniqueBase, type Teardown } from '../helpers/harness.js';

async function gatewayOn(t: Teardown) {
  const url = await externalBroker(t);
  const base = uniqueBase();
  const inbox = await connectClient(t, url);
  await inbox.subscribe(`${base}/bridge/state`);
  const child = spawnGateway(t, {
    ...PORTS_ZERO,
    GATE2MQTT_MQTT_URL: url,
    GATE2MQTT_BASE_TOPIC: base,
    GATE2MQTT_MQTT_CLIENT_ID: `g2mtest-${randomUUID().slice(0, 8)}`,
  });
  await inbox.take(`${base}/bridge/state`, (p) => p.toString() === 'online', 20_000);
  return { child, inbox, base, url };
}

t.test('killed: the broker publishes the last will, bridge/state offline', async (t) => {
  const { child, inbox, base } = await gatewayOn(t);
  child.kill('SIGKILL');
  const will = await inbox.take(`${base}/bridge/state`, (p) => p.toString() === 'offline');
  t.equal(will.payload.toString(), 'offline');
  await exited(child);
});

t.test('SIGTERM: bridge/state offline (retained) and exit 0 within 5 s', async (t) => {
  const { child, inbox, base, url } = await gatewayOn(t);
  child.kill('SIGTERM');
  const [offline, exit] = await Promise.all([
    inbox.take(`${base}/bridge/state`, (p) => p.toString() === 'offline'),
    exited(child, 5000),
  ]);
  t.equal(offline.payload.toString(), 'offline');
  t.same(exit, { code: 0, signal: null });
  // Retained: a newcomer still reads offline.
  const late = await connectClient(t, url);
  await late.subscribe(`${base}/bridge/state`);
  const retained = await late.take(`${base}/bridge/state`);
  t.equal(retained.payload.toString(), 'offline');
  t.equal(retained.packet.retain, true);
});

async function heldPort(t: Teardown): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

t.test('a taken port ends the start with one line naming the port and the variable', async (t) => {
  const port = await heldPort(t);
  for (const variable of ['GATE2MQTT_HTTP_PORT', 'GATE2MQTT_BROKER_PORT', 'GATE2MQTT_BROKER_WS_PORT']) {
    const child = spawnGateway(t, { ...PORTS_ZERO, [variable]: String(port) });
    t.same(await exited(child, 20_000), { code: 1, signal: null }, variable);
    const lines = child.stderrText().trim().split('\n');
    t.equal(lines.length, 1, 'one line');
    t.match(lines[0], new RegExp(`port ${port} is already in use; set ${variable}`));
  }
});

t.test('a configuration error names the bad key', async (t) => {
  const bad = spawnGateway(t, { ...PORTS_ZERO, GATE2MQTT_HTTP_PORT: 'eighty' });
  t.same(await exited(bad, 20_000), { code: 2, signal: null });
  t.match(bad.stderrText(), /^gate2mqtt: configuration error\nhttp\.port: /);

  const file = join(tmpdir(), `g2m-${randomUUID()}.yaml`);
  writeFileSync(file, 'mqtt:\n  urll: mqtt://example\noutput:\n  media: sometimes\n');
  const unknown = spawnGateway(t, PORTS_ZERO, ['--config', file]);
  t.same(await exited(unknown, 20_000), { code: 2, signal: null });
  t.match(unknown.stderrText(), /output\.media: must be one of the possible values/);
  t.match(unknown.stderrText(), /mqtt\.urll: not an option of gate2mqtt/);
});

t.test('--print-config shows the effective configuration with secrets redacted', async (t) => {
  const file = join(tmpdir(), `g2m-${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify({ baseTopic: 'from-file', http: { port: 1234 }, mqtt: { password: 'hunter2' } }));
  const child = spawnGateway(t, { GATE2MQTT_HTTP_PORT: '4321', GATE2MQTT_QYZN_SECRET: 's3cret' }, ['--config', file, '--print-config', '--base-topic', 'from-flag']);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  t.same(await exited(child, 20_000), { code: 0, signal: null });
  const printed = JSON.parse(out) as { baseTopic: string; http: { port: number }; mqtt: { password: string }; qyzn: { secret: string } };
  t.equal(printed.baseTopic, 'from-flag', 'flags win over the file');
  t.equal(printed.http.port, 4321, 'environment wins over the file');
  t.equal(printed.mqtt.password, '[Sensitive]');
  t.equal(printed.qyzn.secret, '[Sensitive]');
  t.notMatch(out, /hunter2|s3cret/);
});

// One adapter that cannot start (broken mappings, a failing start()) is reported and leaves the
// others running; its commands are answered `offline`, each exactly once, never left unanswered.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { AdapterDefinition } from '../../src/gateway.js';
import { connectClient, startGateway } from '../helpers/harness.js';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';

function brokenMappings(t: { teardown(fn: () => void): void }, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'g2m-mappings-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'commands.json'), text);
  return dir;
}

function failingAdapter(id: string, mappingsDir?: string): AdapterDefinition {
  const echo = echoAdapter();
  return {
    id,
    factory: (() => ({
      id,
      start: () => Promise.reject(new Error('the device bus is unplugged')),
      stop: () => Promise.resolve(),
    })) as AdapterDefinition['factory'],
    config: echo.config,
    ...(mappingsDir ? { mappingsDir } : { mappingsDir: echo.mappingsDir as string }),
  };
}

async function replyOf(inbox: Awaited<ReturnType<typeof connectClient>>, base: string, adapter: string, id: string): Promise<Record<string, unknown>> {
  const topic = `${base}/${adapter}/dev1/command/ping`;
  await inbox.subscribe(`${topic}/reply`);
  await inbox.client.publishAsync(topic, JSON.stringify({ id }), { qos: 1 });
  return inbox.json(`${topic}/reply`, (r) => r.id === id);
}

t.test('a broken commands.json fails its adapter only: the others run, its commands are answered offline', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['not JSON', '{"commands": ', /commands\.json: not JSON/],
    ['a schema that does not compile', '{"commands": {"ping": {"schema": {"type": "no-such-type"}}}}', /commands\.ping\.schema/],
    ['an alias of nothing', '{"commands": {}, "aliases": {"open": {"command": "nope"}}}', /aliases\.open: names unknown command "nope"/],
  ];
  for (const [what, text, why] of cases) {
    const broken: AdapterDefinition = { ...echoAdapter(), id: 'broken', mappingsDir: brokenMappings(t, text) };
    const { base, mqttUrl, gateway } = await startGateway(t, { adapters: [broken, echoAdapter()] });
    const inbox = await connectClient(t, mqttUrl);
    await inbox.subscribe(`${base}/bridge/info`);
    const info = await inbox.json(`${base}/bridge/info`);
    t.match(info, { adapters: { broken: { failed: why }, echo: { listen: /^127\.0\.0\.1:\d+$/ } } }, `${what}: reported in bridge/info, the other adapter listens`);
    t.notOk(gateway.ready, `${what}: not ready while an adapter is down`);
    const reply = await replyOf(inbox, base, 'broken', 'b1');
    t.match(reply, { id: 'b1', ok: false, code: null, error: { type: 'offline', message: /broken adapter is not running/ } }, `${what}: offline`);
    const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'dev1');
    t.teardown(() => device.close());
    t.match(await replyOf(inbox, base, 'echo', 'e1'), { id: 'e1', ok: true }, `${what}: the other adapter takes commands`);
    t.equal(inbox.unread(`${base}/broken/dev1/command/ping/reply`), 0, `${what}: one reply`);
  }
});

t.test('an adapter whose start fails: its commands are still validated, then answered offline', async (t) => {
  const { base, mqttUrl } = await startGateway(t, { adapters: [failingAdapter('down'), echoAdapter()] });
  const inbox = await connectClient(t, mqttUrl);
  t.match(await replyOf(inbox, base, 'down', 'd1'), { id: 'd1', ok: false, error: { type: 'offline', message: /down adapter is not running: the device bus is unplugged/ } });
  const unknown = `${base}/down/dev1/command/nosuch`;
  await inbox.subscribe(`${unknown}/reply`);
  await inbox.client.publishAsync(unknown, '{"id":"d2"}', { qos: 1 });
  t.match(await inbox.json(`${unknown}/reply`), { id: 'd2', error: { type: 'unsupported' } }, 'an unknown name is still unsupported');
});

t.test('command metrics count unknown names as name="unknown", so a client cannot grow /metrics', async (t) => {
  const { base, mqttUrl, httpUrl } = await startGateway(t, { adapters: [echoAdapter()] });
  const inbox = await connectClient(t, mqttUrl);
  for (const name of ['junk1', 'junk2']) {
    const topic = `${base}/echo/dev1/command/${name}`;
    await inbox.subscribe(`${topic}/reply`);
    await inbox.client.publishAsync(topic, '{}', { qos: 1 });
    await inbox.json(`${topic}/reply`);
  }
  const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
  t.match(metrics, /gate2mqtt_commands_total\{adapter="echo",name="unknown",outcome="unsupported"\} 2/);
  t.notMatch(metrics, /name="junk/);
});

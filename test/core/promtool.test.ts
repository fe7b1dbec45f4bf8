// /metrics as Prometheus's own linter reads it (promtool, Debian package prometheus; .ci/run
// installs it when missing), with series of every kind present.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';
import { Commands } from '../helpers/commands.js';
import { connectClient, startGateway } from '../helpers/harness.js';

t.test('/metrics passes promtool check metrics', async (t) => {
  const { gateway, mqttUrl, base, httpUrl } = await startGateway(t, { adapters: [echoAdapter()] });
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'dev1');
  t.teardown(() => device.close());
  device.send({ event: 'tick', data: {} });
  t.match(await device.next(), { ack: 'tick', ok: true });
  const inbox = await connectClient(t, mqttUrl);
  const commands = new Commands(t, inbox, base);
  t.match(await commands.send('echo', 'dev1', 'ping', { data: { n: 1 } }), { ok: true });
  t.match(await commands.send('echo', 'dev1', 'nosuch', {}), { error: { type: 'unsupported' } });

  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  t.match(text, /gate2mqtt_commands_total\{adapter="echo",name="ping",outcome="ok"\} 1/);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.equal(check.error, undefined, 'promtool is installed (Debian: apt-get install prometheus)');
  t.equal(check.status, 0, `promtool's findings: ${check.stdout}${check.stderr}`);
});

// The WebSocket simulators as a user leaves them running while the gateway restarts, and what
// stops the reconnecting: --no-reconnect, and Ctrl-C during a pause.
import t from 'tap';
import { retryDelay } from '../../sim/common/reconnect.js';
import { freePort } from '../helpers/mosquitto.js';
import { restartableGateway, spawnSimulatorCli } from '../helpers/restart.js';

/** Generous: the CLI compiles through tsx first, and the reconnect pause may have grown to 4 s or 8 s. */
const PATIENCE_MS = 30_000;
const is = (state: string) => (p: Buffer) => p.toString() === state;

const KINDS = [
  { kind: 'wsdoor', sn: '486468465489', port: 'wsdoor', command: 'selectUser' },
  { kind: 'wscam', sn: '200000000001', port: 'wscam', command: 'get_dev_config' },
] as const;

for (const { kind, sn, port, command } of KINDS) {
  t.test(`after the gateway restarts, a ${kind} device reconnects, identifies itself again and answers a command`, async (t) => {
    const g = await restartableGateway(t);
    const sim = spawnSimulatorCli(t, kind, ['--url', `ws://127.0.0.1:${g.ports[port]}/`, '--rate', '0']);
    const availability = g.topic(kind, sn, 'availability');
    await g.inbox.take(availability, is('online'), PATIENCE_MS);

    await g.stop();
    await g.inbox.take(availability, is('offline'));
    t.match(await sim.line(/reconnecting in/), new RegExp(`^${kind} ${sn}: connection closed \\(1001 shutdown\\), reconnecting in [\\d.]+ s$`));

    await g.start();
    await g.inbox.take(availability, is('online'), PATIENCE_MS);
    t.match(await sim.line(/reconnected/), `${kind} ${sn}: reconnected`);
    t.match(await g.commands.send(kind, sn, command, { id: 'after-restart', data: {} }), { id: 'after-restart', ok: true });

    t.equal(await sim.stop('SIGINT'), 0, 'Ctrl-C ends it cleanly');
    t.notMatch(sim.output().slice(sim.output().lastIndexOf('reconnected')), /reconnecting/, 'no attempt after the deliberate stop');
  });
}

t.test('--no-reconnect: a device the gateway closed stays down, and the CLI ends once none is left', async (t) => {
  const g = await restartableGateway(t);
  const sim = spawnSimulatorCli(t, 'wsdoor', ['--url', `ws://127.0.0.1:${g.ports.wsdoor}/`, '--rate', '0', '--no-reconnect']);
  await g.inbox.take(g.topic('wsdoor', '486468465489', 'availability'), is('online'), PATIENCE_MS);
  await g.stop();
  t.equal(await sim.exited(PATIENCE_MS), 0, 'it ended on its own');
  t.match(sim.output(), /^wsdoor 486468465489: connection closed \(1001 shutdown\)$/m);
  t.notMatch(sim.output(), /reconnecting/);
});

t.test('Ctrl-C while waiting to reconnect ends the simulator at once, not after the pause', async (t) => {
  const nobody = await freePort();
  const sim = spawnSimulatorCli(t, 'qyzn', ['--port', String(nobody), '--rate', '0']);
  // The fourth pause, 8 s give or take 10 %: after 1, 2 and 4 s of refused attempts.
  const line = await sim.line(/reconnecting in [\d.]+ s$/, PATIENCE_MS);
  t.match(line, /^0c16d06a45914b758ca226ef325422a3: connect ECONNREFUSED 127\.0\.0\.1:\d+, reconnecting in (0\.9|1|1\.1) s$/);
  await sim.line(/reconnecting in (7\.[2-9]|8(\.\d)?) s$/, PATIENCE_MS);
  t.equal(await sim.stop('SIGINT', 5000), 1, 'it exits within 5 s of a 7.2 s pause; 1: the terminal never came online');
});

t.test('the pause doubles from 1 s to 10 s, each up to 10 % off', async (t) => {
  const middle = (): number => 0.5;
  t.same([0, 1, 2, 3, 4, 5, 30].map((retry) => retryDelay(retry, undefined, middle)), [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  t.equal(retryDelay(0, undefined, () => 0), 900);
  t.equal(retryDelay(0, undefined, () => 1), 1100);
  t.equal(retryDelay(9, undefined, () => 1), 10_000, 'never above the ceiling');
});

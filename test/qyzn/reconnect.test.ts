// The terminal simulator as a user leaves it running while the gateway restarts: it comes back by
// itself, and registers again (the new gateway has a new random secret: the old password is void).
import t from 'tap';
import { restartableGateway, spawnSimulatorCli } from '../helpers/restart.js';

const SERIAL = '0c16d06a45914b758ca226ef325422a3';
/** Generous: the CLI compiles through tsx first, and the reconnect pause may have grown to 4 s or 8 s. */
const PATIENCE_MS = 30_000;

t.test('after the gateway restarts, the terminal reconnects, registers and logs in again, and answers a command', async (t) => {
  const g = await restartableGateway(t);
  const sim = spawnSimulatorCli(t, 'qyzn', ['--port', String(g.ports.qyzn), '--rate', '0']);
  const availability = g.topic('qyzn', SERIAL, 'availability');
  const is = (state: string) => (p: Buffer) => p.toString() === state;
  await g.inbox.take(availability, is('online'), PATIENCE_MS);

  await g.stop();
  await g.inbox.take(availability, is('offline'));
  t.match(await sim.line(/reconnecting in/), new RegExp(`^${SERIAL}: connection closed, reconnecting in [\\d.]+ s$`), 'one line names the device, why and when');

  await g.start();
  await g.inbox.take(availability, is('online'), PATIENCE_MS);
  t.match(await sim.line(/reconnected/), `${SERIAL}: reconnected`);
  t.match(await g.commands.send('qyzn', SERIAL, 'open_door', { id: 'after-restart', data: {} }), { id: 'after-restart', ok: true, code: 0 });

  t.equal(await sim.stop('SIGINT'), 0, 'Ctrl-C ends it cleanly');
  t.notMatch(sim.output().slice(sim.output().lastIndexOf('reconnected')), /reconnecting/, 'no attempt after the deliberate stop');
});

// The gantry simulator as a user leaves it running while the gateway restarts: uploads the stopped
// gateway cannot take fail one by one, the simulator goes on, and once the gateway is back its
// uploads and commands go through again.
import t from 'tap';
import { freePort } from '../helpers/mosquitto.js';
import { restartableGateway, spawnSimulatorCli } from '../helpers/restart.js';

const GANTRY = 'G000211001002110010';
/** Generous: the CLI compiles through tsx first. */
const PATIENCE_MS = 30_000;
const is = (state: string) => (p: Buffer) => p.toString() === state;

t.test('the gantry simulator outlives failed uploads and uploads again once the gateway is back', async (t) => {
  const control = await freePort();
  // Three uploads a second: more than the default bound of 60 a minute.
  const g = await restartableGateway(t, { gantry: { controlUrl: `http://{ip}:${control}/remotecontrol.do`, maxRequestsPerMinute: 0 } });
  const sim = spawnSimulatorCli(t, 'gantry', [
    ...['--url', `http://127.0.0.1:${g.ports.http}/monitor.do`, '--gantries', '1', '--interval', '1'],
    ...['--control-port', String(control), '--control-host', '127.0.0.1'],
  ]);
  const availability = g.topic('gantry', GANTRY, 'availability');
  await g.inbox.take(availability, is('online'), PATIENCE_MS);

  await g.stop();
  await g.inbox.take(availability, is('offline'));
  const failed = new RegExp(`${GANTRY} \\w+ upload failed: connect ECONNREFUSED`);
  await sim.line(failed);
  await sim.line(failed, PATIENCE_MS);
  t.equal(sim.child.exitCode, null, 'still running after failed uploads');

  const restarted = Date.now();
  await g.start();
  await g.inbox.take(availability, is('online'), PATIENCE_MS);
  await sim.line(new RegExp(`${GANTRY} \\w+ → HTTP 200 1000`), PATIENCE_MS);
  const event = await g.inbox.json(g.topic('gantry', GANTRY, 'event/computerStatusUpdate'), (e) => Date.parse(String(e.ts)) >= restarted, PATIENCE_MS);
  t.match(event, { deviceId: GANTRY, name: 'computerStatusUpdate' }, 'an upload after the restart is published');
  t.match(await g.commands.send('gantry', GANTRY, 'updateNow', { id: 'after-restart' }), { id: 'after-restart', ok: true });

  t.equal(await sim.stop('SIGINT'), 0, 'Ctrl-C ends it cleanly');
});

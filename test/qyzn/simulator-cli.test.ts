// The simulator as a user runs it: its own process, against a real gateway.
import t from 'tap';
import { runSimulatorCli } from '../helpers/ws-gateway.js';
import { SECRET, rig } from './fixtures/rig.js';

t.test('--help explains the options; a bad flag is refused', async (t) => {
  const help = await runSimulatorCli('qyzn', ['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--host HOST[\s\S]*--port PORT[\s\S]*--devices N[\s\S]*--rate R[\s\S]*--answer MODE/);
  const bad = await runSimulatorCli('qyzn', ['--devices', 'ten']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--devices must be a number/);
  t.equal((await runSimulatorCli('qyzn', ['--nope'])).code, 2);
  t.equal((await runSimulatorCli('qyzn', ['--no-register'])).code, 2, '--no-register needs --secret');
});

t.test('N terminals register, log in and send snapshot_face / qrcode_data at the rate', async (t) => {
  const r = await rig(t, { answers: { qrcode_data: { mode: 'mqtt', timeoutMs: 100 } } });
  const run = await runSimulatorCli('qyzn', ['--port', String(r.port), '--devices', '3', '--rate', '10', '--duration', '2', '--first-id', 'cli0001', '--logout']);
  t.equal(run.code, 0, run.stderr);
  const last = /sent (\d+) answered (\d+) failed 0/.exec(run.stdout.trim().split('\n').pop() ?? '');
  // How many go out in the run depends on how busy the machine is; that each one was answered does not.
  t.ok(last && Number(last[1]) >= 3 && last[1] === last[2], `every message answered: ${run.stdout}`);
  t.notMatch(run.stdout, /reconnecting/, 'the logout at the end of --duration is not followed by a reconnect');
  for (const serial of ['cli0001', 'cli0002', 'cli0003']) {
    t.match(await r.inbox.json(r.topic(serial, 'info')), { serial, type: 'KG02', version: 'V3.7.0-sim' });
    t.match(await r.inbox.json(r.topic(serial, 'event/snapshot_face')), { deviceId: serial, data: { score: 92 } });
    t.match(await r.inbox.json(r.topic(serial, 'request/qrcode_data')), { deviceId: serial, data: { content: /^sim-cli/ } });
    await r.inbox.take(r.topic(serial, 'availability'), (p) => p.toString() === 'offline');
  }
});

t.test('--secret logs in without a register; --answer gives every command that result', async (t) => {
  const r = await rig(t);
  const run = runSimulatorCli('qyzn', ['--port', String(r.port), '--secret', SECRET, '--no-register', '--rate', '0', '--answer', '109', '--duration', '2', '--first-id', 'busy0001']);
  await r.inbox.take(r.topic('busy0001', 'availability'), (p) => p.toString() === 'online');
  t.match(await r.command('busy0001', 'open_door', {}), { ok: false, code: 109, error: { type: 'device' } });
  t.equal((await run).code, 0);
});

t.test('without --first-id the terminals are the ones the docs address, counting up in hex', async (t) => {
  const r = await rig(t);
  const run = await runSimulatorCli('qyzn', ['--port', String(r.port), '--devices', '2', '--rate', '0', '--duration', '1']);
  t.equal(run.code, 0, run.stderr);
  for (const serial of ['0c16d06a45914b758ca226ef325422a3', '0c16d06a45914b758ca226ef325422a4']) {
    t.match(await r.inbox.json(r.topic(serial, 'info')), { serial });
  }
});

import t from 'tap';
import { runSimulatorCli, startWsdoor } from '../helpers/ws-gateway.js';

t.test('--help explains the options; a bad flag is refused', async (t) => {
  const help = await runSimulatorCli('wsdoor', ['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--url URL[\s\S]*--devices N[\s\S]*--rate R[\s\S]*realtimeEvent/);
  const bad = await runSimulatorCli('wsdoor', ['--devices', 'ten']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--devices must be a whole number/);
  t.equal((await runSimulatorCli('wsdoor', ['--nope'])).code, 2);
});

t.test('N terminals register, heartbeat and send realtimeEvents at the rate, against a real gateway', async (t) => {
  const g = await startWsdoor(t);
  const run = await runSimulatorCli('wsdoor', ['--url', g.url, '--devices', '3', '--rate', '10', '--duration', '1', '--first-id', 'cli0']);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /wsdoor: 3\/3 connected/);
  const last = /(\d+) sent, (\d+) acked, 0 refused/.exec(run.stdout.trim().split('\n').pop() ?? '');
  t.ok(last && Number(last[1]) >= 6 && last[1] === last[2], `every event acked: ${run.stdout}`);
  for (const sn of ['cli0', 'cli1', 'cli2']) {
    t.match(await g.inbox.json(g.topic(sn, 'info')), { sn, type: '0' });
    t.match(await g.inbox.json(g.topic(sn, 'event/realtimeEvent')), { deviceId: sn, data: { type: '1' } });
  }
});

t.test('without --first-id the terminals are the ones the docs address', async (t) => {
  const g = await startWsdoor(t);
  const run = await runSimulatorCli('wsdoor', ['--url', g.url, '--devices', '2', '--rate', '0', '--duration', '1']);
  t.equal(run.code, 0, run.stderr);
  for (const sn of ['486468465489', '486468465490']) t.match(await g.inbox.json(g.topic(sn, 'info')), { sn });
});

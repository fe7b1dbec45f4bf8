import t from 'tap';
import { runSimulatorCli, startWscam } from '../helpers/ws-gateway.js';

t.test('--help explains the options', async (t) => {
  const help = await runSimulatorCli('wscam', ['-h']);
  t.equal(help.code, 0);
  t.match(help.stdout, /snapshot camera[\s\S]*--rate R +upload_snapshot per second/);
});

t.test('N cameras heartbeat and upload snapshots at the rate, against a real gateway', async (t) => {
  const g = await startWscam(t);
  const run = await runSimulatorCli('wscam', ['--url', g.url, '--devices', '2', '--rate', '10', '--duration', '1']);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /wscam: 2\/2 connected/);
  const last = /(\d+) sent, (\d+) acked, 0 refused/.exec(run.stdout.trim().split('\n').pop() ?? '');
  t.ok(last && Number(last[1]) >= 4 && last[1] === last[2], `every snapshot acked: ${run.stdout}`);
  for (const sn of ['200000000001', '200000000002']) {
    t.match(await g.inbox.json(g.topic(sn, 'event/upload_snapshot')), { deviceId: sn, data: { data: String } });
    t.ok((await g.inbox.take(g.topic(sn, 'media/data'))).payload.length > 100, 'a JPEG on media/data');
  }
});

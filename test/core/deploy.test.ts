// The deployment files run what the package builds.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../../src/paths.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };

t.test('the systemd unit is valid and runs the bin directly', async (t) => {
  const unit = join(ROOT, 'deploy/gate2mqtt.service');
  const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  t.equal(verify.error, undefined, 'systemd-analyze is installed (Debian: apt-get install systemd)');
  t.equal(verify.status, 0, verify.stderr);
  t.match(readFileSync(unit, 'utf8'), new RegExp(`^ExecStart=/usr/bin/node /opt/gate2mqtt/${pkg.bin.gate2mqtt} `, 'm'));
});

t.test('the container and npm start run the bin', async (t) => {
  t.match(readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8'), `ENTRYPOINT ["node", "${pkg.bin.gate2mqtt}"]`);
  t.equal(pkg.scripts.start, `exec node ${pkg.bin.gate2mqtt}`, 'exec: npm passes its signal to the gateway itself, no shell in between');
  t.match(pkg.scripts.prepare, /npm run build/, 'npm ci builds');
});

// Configuration errors a user can act on: the file that could not be parsed, the option, the
// value it was given (unless secret), where it came from.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import type { Teardown } from '../helpers/harness.js';

function file(t: Teardown, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'g2m-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

t.test('a file that is not YAML is named, with the parser\'s words', async (t) => {
  const path = file(t, 'broken.yaml', 'broker: [\n');
  t.throws(() => loadConfig({ env: {}, args: [], file: path }), { code: 'G2M_ERR_CONFIG', message: new RegExp(`^${path}: cannot be read as YAML: `) });
  t.throws(() => loadConfig({ env: {}, args: [], file: join(tmpdir(), 'g2m-no-such.yaml') }), { message: /g2m-no-such\.yaml: no such configuration file$/ });
});

t.test('a bad value is shown as it was given, with its variable; a secret is not shown', async (t) => {
  t.throws(() => loadConfig({ env: { GATE2MQTT_HTTP_PORT: 'eighty' }, args: [] }), {
    message: 'http.port: ports must be within range 0 - 65535: value was "eighty" (GATE2MQTT_HTTP_PORT)',
  });
  const path = file(t, 'bad.yaml', 'broker:\n  persistence: ssd\nmqtt:\n  keepaliveS: -1\n');
  t.throws(() => loadConfig({ env: {}, args: [], file: path }), { message: /broker\.persistence: .*value was "ssd"/ });
  t.throws(() => loadConfig({ env: {}, args: [], file: path }), { message: /mqtt\.keepaliveS: .*value was -1/ });
  let secret = '';
  try {
    loadConfig({ env: {}, args: [], overrides: { http: { auth: { users: [{ username: 'ops', password: 'clear-pass' }] } } } });
  } catch (err) {
    secret = (err as Error).message;
  }
  t.match(secret, /^http\.auth\.users\[0\]\.password: /);
  t.notMatch(secret, /clear-pass/, 'a secret option: its value is not shown');
});

// http.auth: with a token or users, every route of the HTTP server but gantry uploads and the
// probes answers 401 without them; `gate2mqtt passwd` makes the hashes; a clear password or a bad
// filter in the configuration is refused at load, naming the entry; the hardened example loads.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig, type LoadOptions } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { hashPassword } from '../../src/passwd.js';
import { ROOT } from '../../src/paths.js';
import { connectClient, exited, startGateway, within } from '../helpers/harness.js';
import { BAD_LOGIN_V5, loggedGateway, refused } from '../helpers/security.js';

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; challenge: string | null; body: string }> {
  const response = await within(fetch(url, { method, headers }), `${method} ${url}`);
  return { status: response.status, challenge: response.headers.get('www-authenticate'), body: await response.text() };
}

const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

t.test('with http.auth every page needs the bearer token or a basic-auth user, while gantry uploads, /healthz and /readyz stay open', async (t) => {
  const users = [{ username: 'ops', password: await hashPassword('ops-secret') }];
  const { httpUrl } = await startGateway(t, { config: { http: { auth: { token: 'tok-123', users } } } });
  const denied = await get(`${httpUrl}/metrics`);
  t.equal(denied.status, 401, '/metrics without credentials');
  t.match(denied.challenge, /Basic realm="gate2mqtt".*Bearer realm="gate2mqtt"/, 'a challenge per scheme, Basic first (what a browser reads)');
  t.notMatch(denied.body, /gate2mqtt_/, 'nothing of the metrics');
  t.equal((await get(`${httpUrl}/metrics`, { authorization: 'Bearer tok-123' })).status, 200, 'bearer token');
  t.equal((await get(`${httpUrl}/metrics`, { authorization: 'Bearer tok-1234' })).status, 401, 'another token');
  t.equal((await get(`${httpUrl}/metrics`, basic('ops', 'ops-secret'))).status, 200, 'basic auth');
  t.equal((await get(`${httpUrl}/metrics`, basic('ops', 'ops-secret'))).status, 200, 'basic auth again (remembered)');
  t.equal((await get(`${httpUrl}/metrics`, basic('ops', 'wrong'))).status, 401, 'a wrong password');
  t.equal((await get(`${httpUrl}/metrics`, basic('nobody', 'ops-secret'))).status, 401, 'an unknown user');
  t.equal((await get(`${httpUrl}/metrics`, { authorization: 'Basic' })).status, 401, 'a header without credentials');
  t.equal((await get(`${httpUrl}/no-such-page`)).status, 401, 'an unknown path: no hint of what exists');
  t.equal((await get(`${httpUrl}/metrics`, {}, 'HEAD')).status, 401, 'HEAD /metrics');
  t.equal((await get(`${httpUrl}/healthz`)).status, 200, '/healthz stays open');
  t.equal((await get(`${httpUrl}/readyz`)).status, 200, '/readyz stays open');
  for (const path of ['/monitor.do', '//monitor.do']) {
    const upload = await within(fetch(`${httpUrl}${path}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }), `POST ${path}`);
    t.not(upload.status, 401, `POST ${path} is open to gantries`);
    t.ok('code' in (JSON.parse(await upload.text()) as object), `POST ${path} gets the gantry's own answer`);
  }
  t.equal((await get(`${httpUrl}/monitor.do`)).status, 401, 'but GET /monitor.do is guarded');
});

t.test('without http.auth the pages stay open', async (t) => {
  const { httpUrl } = await startGateway(t);
  t.equal((await get(`${httpUrl}/metrics`)).status, 200);
});

function passwd(input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts'), 'passwd'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  return exited(child, 20_000).then(({ code }) => ({ code, stdout, stderr }));
}

t.test('`gate2mqtt passwd` reads a password on stdin and prints a hash that a real client then logs in with', async (t) => {
  const made = await passwd('correct horse battery staple\n');
  t.equal(made.code, 0, made.stderr);
  const hash = made.stdout.trim();
  t.match(hash, /^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  t.notMatch(made.stdout, /horse/, 'the password is not echoed');
  const users = [{ username: 'platform', password: hash, publish: ['{base}/#'], subscribe: ['{base}/#'] }];
  const { gateway } = await loggedGateway(t, { broker: { host: '', users } });
  const url = (gateway.addresses().broker?.mqtt as string).replace('0.0.0.0', '127.0.0.1');
  const client = await connectClient(t, url, { username: 'platform', password: 'correct horse battery staple' });
  t.ok(client.client.connected, 'logged in with the password');
  t.match(await refused(url, { username: 'platform', password: 'correct horse battery' }), { code: BAD_LOGIN_V5 }, 'not with another');
  const empty = await passwd('');
  t.equal(empty.code, 2, 'no password: exit code 2');
  t.match(empty.stderr, /no password given/);
  t.equal(empty.stdout, '', 'and no hash');
});

function configError(overrides: LoadOptions['overrides']): string {
  try {
    loadConfig({ env: {}, args: [], overrides });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('the configuration loaded');
}

t.test('a clear password, a bad hash or a bad topic filter is refused at load with the path of the entry, and without its value', async (t) => {
  const hash = await hashPassword('x');
  const clear = configError({ broker: { users: [{ username: 'a', password: 'hunter2', publish: [], subscribe: [] }] } });
  t.match(clear, /^broker\.users\[0\]\.password: must be a hash made by `gate2mqtt passwd`/);
  t.notMatch(clear, /hunter2/, 'the clear password is not repeated');
  t.match(configError({ broker: { users: [{ username: 'a', password: hash.replace('N=16384', 'N=16385') }] } }), /^broker\.users\[0\]\.password: scrypt N must be a power of two/);
  t.match(configError({ broker: { users: [{ username: 'a', password: hash, subscribe: ['{base}/#', 'a/#/b'] }] } }), /^broker\.users\[0\]\.subscribe\[1\]: "#" must be a whole level, and the last one/);
  t.match(configError({ broker: { users: [{ username: 'a', password: hash, publish: ['a+'] }] } }), /^broker\.users\[0\]\.publish\[0\]: "\+" must be a whole level/);
  t.match(configError({ broker: { users: [{ username: 'a', password: hash }, { username: 'a', password: hash }] } }), /^broker\.users\[1\]\.username: a is listed twice/);
  t.match(configError({ broker: { users: [{ username: 'a', password: hash, admin: true } as never] } }), /^broker\.users\[0\]\.admin: not a field of a user/);
  t.match(configError({ http: { auth: { users: [{ username: 'ops', password: 'ops' }] } } }), /^http\.auth\.users\[0\]\.password: must be a hash/);
});

t.test('a TLS file that cannot be read ends the start with the option and the file named', async (t) => {
  await t.rejects(loggedGateway(t, { broker: { tls: { cert: '/nonexistent/broker.crt', key: '/nonexistent/broker.key' } } }), {
    name: 'ConfigError',
    message: /^broker\.tls\.cert: cannot read \/nonexistent\/broker\.crt/,
  });
  await t.rejects(loggedGateway(t, { broker: { tls: { cert: '/nonexistent/broker.crt' } } }), { message: /broker\.tls: cert and key go together/ });
});

t.test('the hardened example configuration loads as it is, and its users, TLS and http.auth are in force', async (t) => {
  const { config, redacted } = loadConfig({ file: join(ROOT, 'config/gate2mqtt.hardened.yaml'), env: {}, args: [] });
  t.same(config.broker.users.map((u) => u.username), ['dashboard', 'platform']);
  t.same(config.broker.users[0]?.publish, [], 'the dashboard may publish nothing');
  t.equal(config.broker.host, '', 'automatic: 0.0.0.0 because users exist');
  t.ok(config.broker.tls.cert && config.broker.tls.key, 'TLS');
  t.equal(config.http.auth.users[0]?.username, 'ops');
  t.notMatch(redacted, /\$scrypt\$/, '--print-config shows no hash');
  const env = loadConfig({ file: join(ROOT, 'config/gate2mqtt.hardened.yaml'), env: { GATE2MQTT_HTTP_TOKEN: 'from-env' }, args: [] });
  t.equal(env.config.http.auth.token, 'from-env', 'the token from GATE2MQTT_HTTP_TOKEN');
  t.notMatch(env.redacted, /from-env/, 'and redacted');
});

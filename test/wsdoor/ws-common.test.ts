// The plumbing both WebSocket adapters share (adapters/ws-common): parse, identities, correlation
// ids, configuration.
import convict from 'convict';
import t from 'tap';
import { ProtocolError } from '../../src/errors.js';
import { parseWsText, rawDataText } from '../../adapters/ws-common/json.js';
import { MAX_DEPTH } from '../../src/json.js';
import { AllowList, identityOf } from '../../adapters/ws-common/identity.js';
import { topicLevelProblem as identityProblem } from '../../src/topics.js';
import { CorrelationIds, deviceClock } from '../../adapters/ws-common/ids.js';
import { handlerOf, Waiters } from '../../sim/ws-common/simulator.js';
import { wsdoorConfigSchema } from '../../adapters/wsdoor/config.js';
import { wscamConfigSchema } from '../../adapters/wscam/config.js';

function reason(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err.reason;
    throw err;
  }
  return undefined;
}

t.test('parse: keys trimmed at every level, values untouched, raw kept', async (t) => {
  const parsed = parseWsText('{" code ":"206","data":{" time":" 2023 ","list":[{"a ":1}]}}', 1024);
  t.same(parsed.message, { code: '206', data: { time: ' 2023 ', list: [{ a: 1 }] } });
  t.same(Object.keys(parsed.raw), [' code ', 'data']);
  const clean = parseWsText('{"a":{"b":[1,{"c":2}]}}', 1024);
  t.equal(clean.message, clean.raw, 'nothing to trim: the same object, no copy');
  t.same(parseWsText('\ufeff{"a":1}', 1024).message, { a: 1 }, 'a byte-order mark is dropped');
});

t.test('parse: refusals and their reasons', async (t) => {
  const cases: Array<[string, string]> = [
    ['not json', 'bad_json'],
    ['', 'bad_json'],
    ['[1,2]', 'bad_json'],
    ['"text"', 'bad_json'],
    ['null', 'bad_json'],
    ['{"__proto__":{"admin":true}}', 'unsafe_key'],
    ['{"a":{"__proto__":{}}}', 'unsafe_key'],
    ['{"constructor":{"prototype":{}}}', 'unsafe_key'],
    ['{"constructor":1}', 'unsafe_key'],
    ['{" __proto__ ":{"admin":true}}', 'unsafe_key'],
    ['{"a":[{" constructor":1}]}', 'unsafe_key'],
    [`${'{"a":'.repeat(MAX_DEPTH + 1)}1${'}'.repeat(MAX_DEPTH + 1)}`, 'bad_message'],
    [`{"a":"${'x'.repeat(2000)}"}`, 'oversize'],
  ];
  for (const [text, why] of cases) t.equal(reason(() => parseWsText(text, 1024)), why, text.slice(0, 40));
  t.equal(({} as Record<string, unknown>).admin, undefined, 'no prototype was touched');
  t.equal(reason(() => rawDataText(Buffer.from([0x7b, 0xff, 0x7d]))), 'bad_json', 'binary frames must be UTF-8');
  t.equal(rawDataText([Buffer.from('{"a"'), Buffer.from(':1}')]), '{"a":1}', 'fragments are joined');
});

t.test('identities: what a topic level can carry', async (t) => {
  t.equal(identityOf('486468465489'), '486468465489');
  t.equal(identityOf(200000000001), '200000000001');
  t.equal(identityOf(-1), undefined);
  t.equal(identityOf(1.5), undefined);
  t.equal(identityOf(null), undefined);
  t.equal(identityOf({}), undefined);
  t.equal(identityProblem('486468465489'), undefined);
  t.equal(identityProblem('门禁-1 a.b'), undefined);
  for (const bad of ['', 'a/b', 'a+', '#', 'a\u0000b', 'x'.repeat(257), 'a\ud800b']) t.ok(identityProblem(bad), JSON.stringify(bad));
});

t.test('allow-list: empty allows all; entries from files or comma-separated variables', async (t) => {
  t.ok(new AllowList([]).allows('any'));
  t.notOk(new AllowList([]).enabled);
  t.ok(new AllowList(['']).allows('any'), 'an empty variable is no list');
  const list = new AllowList([' 486468465489', 200000000001, '']);
  t.ok(list.enabled);
  t.ok(list.allows('486468465489'));
  t.ok(list.allows('200000000001'));
  t.notOk(list.allows('999'));
});

t.test('correlation ids: the seed shape, unique, at most 18 digits', async (t) => {
  const ids = new CorrelationIds('Asia/Shanghai');
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) seen.add(ids.next((id) => seen.has(id)));
  t.equal(seen.size, 5000, 'no id is given twice while it is pending');
  for (const id of [...seen].slice(0, 5)) t.match(id, /^\d{18}$/);
  const skipping = new CorrelationIds('UTC');
  t.equal(skipping.next().slice(14), '0000');
  t.equal(skipping.next((id) => id.endsWith('0001') || id.endsWith('0002')).slice(14), '0003', 'ids in use are skipped');
  t.equal(deviceClock('Asia/Shanghai').format(new Date('2023-12-25T07:47:30Z')), '2023-12-25 15:47:30');
  t.equal(deviceClock('UTC').format(new Date('2024-01-15T00:00:05Z')), '2024-01-15 00:00:05', 'midnight is 00, not 24');
});

t.test('configuration: defaults, environment variables and refusals', async (t) => {
  const door = convict(wsdoorConfigSchema, {
    env: { GATE2MQTT_WSDOOR_ALLOW_SN: 'a,b', GATE2MQTT_WSDOOR_HEARTBEAT_INTERVAL_S: '30', GATE2MQTT_WSDOOR_TLS_CERT: '/c.pem' },
    args: [],
  });
  door.validate({ allowed: 'strict' });
  t.match(door.getProperties(), {
    port: 8081,
    maxPayloadBytes: 8 * 1024 * 1024,
    identifyTimeoutMs: 30_000,
    pingIntervalMs: 30_000,
    allowSn: ['a', 'b'],
    tlsCert: '/c.pem',
    tlsKey: '',
    heartbeatIntervalS: 30,
  });
  const cam = convict(wscamConfigSchema, { env: { GATE2MQTT_WSCAM_MAX_CLOCK_SKEW_S: '0' }, args: [] });
  cam.validate({ allowed: 'strict' });
  t.match(cam.getProperties(), { port: 8082, heartbeatIntervalS: 60, maxClockSkewS: 0, allowSn: [] });
  const bad = convict(wsdoorConfigSchema, { env: { GATE2MQTT_WSDOOR_HEARTBEAT_INTERVAL_S: '0' }, args: [] });
  t.throws(() => bad.validate(), /heartbeatIntervalS: must be an integer from 1 to 3600/);
});

t.test('simulator waiters: the oldest that accepts, a deadline, failed together', async (t) => {
  const waiters = new Waiters<number>();
  const even = waiters.wait((n) => n % 2 === 0);
  const any = waiters.wait();
  t.ok(waiters.offer(3), 'taken by the first waiter that accepts it');
  t.equal(await any, 3);
  t.ok(waiters.offer(4));
  t.equal(await even, 4);
  t.notOk(waiters.offer(5), 'nobody waits');

  const late = waiters.wait(() => true, 20, 'the answer');
  await t.rejects(late, /no the answer within 20 ms/);
  t.equal(waiters.size, 0, 'a waiter past its deadline is gone');
  t.notOk(waiters.offer(6), 'and takes nothing');

  const a = waiters.wait();
  const b = waiters.wait(() => true, 60_000);
  waiters.failAll(new Error('closed'));
  await t.rejects(a, /closed/);
  await t.rejects(b, /closed/);
});

t.test('simulator command tables: own entries only', async (t) => {
  const table: Record<string, () => string> = { addUser: () => 'ok' };
  t.equal(handlerOf(table, 'addUser')?.(), 'ok');
  t.equal(handlerOf(table, 'toString'), undefined, 'nothing from the prototype');
  t.equal(handlerOf(table, 'nope'), undefined);
});

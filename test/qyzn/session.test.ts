// Register/login checks, answer shaping, header versions, media paths and the sync_time clock:
// the pure pieces of the adapter, as tables.
import t from 'tap';
import { commandAnswer, describeResult, answerData } from '../../adapters/qyzn/answers.js';
import { AllowList, checkLogin, checkRegister, type AuthOptions } from '../../adapters/qyzn/auth.js';
import { formatWall } from '../../src/clock.js';

const deviceClock = (at: Date, zone: string): string => formatWall(at, zone, 'yyyyMMddHHmmssSSS');
import { derivePassword, loginSign, registerSign } from '../../adapters/qyzn/sign.js';
import { loadTables, MediaFields, Versions } from '../../adapters/qyzn/tables.js';
import { Mappings } from '../../src/mappings.js';
import { GOLDEN_DATA } from './fixtures/frames.js';

const NOW = 1_564_535_879_000;
const options = (more: Partial<AuthOptions> = {}): AuthOptions => ({ secret: 'k', maxClockSkewS: 0, allow: new AllowList([]), now: () => NOW, ...more });

function loginData(uuid: string, timestamp = '1564535879', secret = 'k'): Record<string, unknown> {
  return { uuid, version: 'V1', timestamp, sign: loginSign(uuid, derivePassword(secret, uuid), timestamp) };
}

t.test('register', async (t) => {
  const ok = checkRegister(GOLDEN_DATA, options());
  t.match(ok, { ok: true, serial: GOLDEN_DATA.serial, mac: GOLDEN_DATA.mac, type: 'HG02', uuid: GOLDEN_DATA.serial, passwd: derivePassword('k', GOLDEN_DATA.serial) });
  const numericTimestamp = { ...GOLDEN_DATA, timestamp: 1564535879 };
  t.match(checkRegister(numericTimestamp, options()), { ok: true }, 'a numeric timestamp signs as its digits');
  const cases: Array<[string, Record<string, unknown>, Partial<AuthOptions>, number, string]> = [
    ['no sign', { ...GOLDEN_DATA, sign: undefined }, {}, 104, 'bad_register'],
    ['no serial', { ...GOLDEN_DATA, serial: undefined }, {}, 104, 'bad_register'],
    ['wrong sign', { ...GOLDEN_DATA, sign: '0'.repeat(32) }, {}, 104, 'bad_sign'],
    ['other mac', { ...GOLDEN_DATA, mac: '0064871ECB02' }, {}, 104, 'bad_sign'],
    ['serial with a slash', { ...GOLDEN_DATA, serial: 'a/b', sign: registerSign('a/b', GOLDEN_DATA.mac, GOLDEN_DATA.timestamp) }, {}, 104, 'bad_identity'],
    ['serial with +', { ...GOLDEN_DATA, serial: 'a+', sign: registerSign('a+', GOLDEN_DATA.mac, GOLDEN_DATA.timestamp) }, {}, 104, 'bad_identity'],
    ['empty serial', { ...GOLDEN_DATA, serial: '', sign: registerSign('', GOLDEN_DATA.mac, GOLDEN_DATA.timestamp) }, {}, 104, 'bad_identity'],
    ['skewed clock', GOLDEN_DATA, { maxClockSkewS: 60, now: () => NOW + 61_000 }, 104, 'clock_skew'],
    ['not on the allow list', GOLDEN_DATA, { allow: new AllowList(['other']) }, 104, 'not_allowed'],
  ];
  for (const [name, data, more, result, reason] of cases) t.match(checkRegister(data, options(more)), { ok: false, result, reason }, name);
  t.match(checkRegister(GOLDEN_DATA, options({ maxClockSkewS: 60, now: () => NOW + 59_000 })), { ok: true }, 'within the window');
  t.match(checkRegister(GOLDEN_DATA, options({ allow: new AllowList([' 00:64:87:1e:cb:01 ']) })), { ok: true }, 'MAC in another notation');
  t.match(checkRegister(GOLDEN_DATA, options({ allow: new AllowList([GOLDEN_DATA.serial]) })), { ok: true }, 'serial');
});

t.test('login', async (t) => {
  t.match(checkLogin(loginData('dev1'), options()), { ok: true, deviceId: 'dev1', version: 'V1' });
  const cases: Array<[string, Record<string, unknown>, Partial<AuthOptions>, number, string]> = [
    ['derived with another secret', loginData('dev1', '1564535879', 'other'), {}, 100, 'bad_sign'],
    ['timestamp changed after signing', { ...loginData('dev1'), timestamp: '1564535880' }, {}, 100, 'bad_sign'],
    ['no uuid', { ...loginData('dev1'), uuid: undefined }, {}, 104, 'bad_login'],
    ['uuid with #', loginData('dev#1'), {}, 104, 'bad_identity'],
    ['skewed', loginData('dev1'), { maxClockSkewS: 10, now: () => NOW - 11_000 }, 104, 'clock_skew'],
    ['not on the allow list', loginData('dev1'), { allow: new AllowList(['dev2']) }, 100, 'not_allowed'],
  ];
  for (const [name, data, more, result, reason] of cases) t.match(checkLogin(data, options(more)), { ok: false, result, reason }, name);
  const registered = checkRegister(GOLDEN_DATA, options());
  if (!registered.ok) throw new Error('golden register refused');
  const macOnly = options({ allow: new AllowList(['0064871ECB01']) });
  t.match(checkLogin(loginData(GOLDEN_DATA.serial), macOnly, registered), { ok: true }, 'allowed by the MAC of its register');
  t.match(checkLogin(loginData(GOLDEN_DATA.serial), macOnly), { ok: false, result: 100 }, 'MAC unknown without a register: register again');
});

t.test('answers: the error-code table names each result', async (t) => {
  const cases: Array<[number, string | undefined, string, string]> = [
    [0, 'Success', 'open_door', 'Success'],
    [0, '操作成功', 'config_system', '操作成功'],
    [0, undefined, 'open_door', 'Success'],
    [104, '', 'add_person', 'Invalid parameter (参数无效)'],
    [109, 'Success', 'open_door', 'System busy, retry after data.waitSeconds (系统忙，禁止操作)'],
    [102, 'person 9 not found', 'add_face', 'Object does not exist (对象不存在): person 9 not found'],
    [102, '对象不存在', 'add_face', 'Object does not exist (对象不存在)'],
    [-1, undefined, 'open_door', 'Operation failed (操作异常)'],
    [202, undefined, 'device_upgrade', 'Upgrade file download failed (升级文件下载失败)'],
    [104, undefined, 'device_call_param', 'Wrong call number (呼叫编号错误（房号不正确）)'],
    [777, 'custom', 'open_door', 'custom'],
    [777, undefined, 'open_door', 'Result 777'],
  ];
  for (const [result, desc, message, want] of cases) t.equal(describeResult(result, desc, message), want, `${result} ${desc ?? ''}`);
});

t.test('answers: data is always an object', async (t) => {
  t.same(answerData({ image: 'x' }, {}), { image: 'x' });
  t.same(answerData([{ groupKey: 'time' }], { RspMsg: 'get_time' }), { RspMsg: 'get_time', items: [{ groupKey: 'time' }] });
  t.same(answerData({}, { RspMsg: 'set_time' }), { RspMsg: 'set_time' });
  t.same(answerData(undefined, {}), {});
  t.same(answerData(null, {}), {});
  t.same(answerData('{"a":1}', {}), { a: 1 }, 'JSON in a string (the seed types data as String)');
  t.same(answerData('plain', {}), { value: 'plain' });
  t.same(answerData('{"__proto__":{}}', {}), { value: '{"__proto__":{}}' }, 'unsafe JSON stays a string');
  t.same(answerData(5, {}), { value: 5 });
  const media = new MediaFields({}, { snapshot_picture: ['image'] });
  t.same(commandAnswer('snapshot_picture', { result: 0, desc: 'Success', data: { image: 'b64' }, extra: {} }, media), {
    ok: true,
    code: 0,
    message: 'Success',
    data: { image: 'b64' },
    media: ['image'],
  });
  t.match(commandAnswer('open_door', { result: 107, desc: undefined, data: undefined, extra: {} }, media), { ok: false, code: 107, message: 'Timeout (超时)', data: {}, media: [] });
});

t.test('header versions', async (t) => {
  const { versions } = loadTables(new Mappings('qyzn'));
  const cases: Array<[string, number | undefined, number]> = [
    ['open_door', 2, 2],
    ['open_door', 5, 5],
    ['open_door', undefined, 2],
    ['add_person_face', 2, 3],
    ['add_person_face', 4, 4],
    ['config_device_pass_rule', 3, 4],
    ['device_call_param', 3, 5],
    ['device_call_result', 2, 5],
  ];
  for (const [message, device, want] of cases) t.equal(versions.forMessage(message, device), want, `${message} to a v${device ?? '?'} device`);
  t.equal(new Versions(4, {}).forMessage('x', undefined), 4);
});

t.test('media paths', async (t) => {
  const { media } = loadTables(new Mappings('qyzn'));
  t.same(media.forUplink('snapshot_face'), ['snapPic', 'comparePic']);
  t.same(media.forUplink('device_sync_person'), ['faces[].image']);
  t.same(media.forUplink('sync_time'), []);
  t.same(media.forCommand('snapshot_picture'), ['image']);
  t.same(media.forCommand('open_door'), []);
});

t.test('sync_time clock: yyyyMMddHHmmssSSS in the device time zone', async (t) => {
  const at = new Date('2019-05-31T06:58:26.123Z');
  t.equal(deviceClock(at, 'Asia/Shanghai'), '20190531145826123');
  t.equal(deviceClock(at, 'UTC'), '20190531065826123');
  t.equal(deviceClock(new Date('2020-12-31T16:00:00.005Z'), 'Asia/Shanghai'), '20210101000000005', 'midnight is 00, not 24');
  t.equal(deviceClock(new Date('2021-03-28T01:30:00.000Z'), 'Europe/Berlin'), '20210328033000000', 'summer time');
});

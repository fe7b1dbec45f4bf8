import t from 'tap';
import { createHash } from 'node:crypto';
import { Mappings } from '../../src/mappings.js';
import { FieldTyper } from '../../adapters/gantry/typing.js';
import { attachmentFilename, checkUpload, decodeControlAnswer, type CheckOptions, type ControlResponse } from '../../adapters/gantry/decode.js';
import { answerBody, encodeControlRequest } from '../../adapters/gantry/encode.js';
import { RateLimiter } from '../../adapters/gantry/rate.js';
import { md5Matches, secretMatches } from '../../adapters/gantry/sign.js';
import { cardAnswer, cardAnswerFromPlatform, parseWhitelist } from '../../adapters/gantry/whitelist.js';
import { seedJson, seedText } from './fixtures/seeds.js';

const typer = new FieldTyper(new Mappings('gantry').read('fields'), 'Asia/Shanghai');
const md5 = (b: string | Buffer): string => createHash('md5').update(b).digest('hex');
const SEED_NOW_MS = 1564734526 * 1000;

function options(over: Partial<CheckOptions> = {}): CheckOptions {
  return { typer, authFor: () => '123456', allow: () => true, maxClockSkewS: 300, nowMs: SEED_NOW_MS, ...over };
}

function check(text: string, headers: { md5?: string; auth?: string } = {}, over: Partial<CheckOptions> = {}) {
  const raw = Buffer.from(text);
  return checkUpload(raw, { md5: md5(raw), auth: '123456', ...headers }, options(over));
}

t.test('every upload example of both seeds passes the checks', async (t) => {
  for (const edition of ['v037', 'v103'] as const) {
    for (const name of ['computerStatusUpdate', 'cabinetStatusUpdate', 'queryAndGetCardInfo']) {
      const r = check(seedText(edition, name));
      t.ok(r.ok, `${edition} ${name}`);
      if (r.ok) {
        t.equal(r.upload.method, name);
        t.equal(r.upload.gantryId, 'G000211001002110010');
        t.equal(r.upload.timeStamp, 1564734526);
        t.equal(r.upload.md5, md5(seedText(edition, name)));
      }
    }
  }
  const v103 = check(seedText('v103', 'computerStatusUpdate'));
  t.equal(v103.ok && v103.upload.version, '1000', 'v1.03 version 1000 is known');
});

t.test('each failed check answers its own code', async (t) => {
  const good = seedText('v037', 'cabinetStatusUpdate');
  const body = (patch: (b: Record<string, unknown>) => void): string => {
    const b = seedJson('v037', 'cabinetStatusUpdate');
    patch(b);
    return JSON.stringify(b);
  };
  const cases: [string, ReturnType<typeof check>, string, string][] = [
    ['no binfile-md5', checkUpload(Buffer.from(good), { auth: '123456' }, options()), '1004', 'missing_md5'],
    ['wrong binfile-md5', check(good, { md5: md5('other') }), '1004', 'bad_md5'],
    ['md5 of the parsed, not raw, body', check(good, { md5: md5(JSON.stringify(JSON.parse(good))) }), '1004', 'bad_md5'],
    ['no binfile-auth', checkUpload(Buffer.from(good), { md5: md5(good) }, options()), '1001', 'bad_auth'],
    ['wrong binfile-auth', check(good, { auth: '654321' }), '1001', 'bad_auth'],
    ['auth of another gantry', check(good, {}, { authFor: (id) => (id === 'G000211001002110010' ? 'secret' : '123456') }), '1001', 'bad_auth'],
    ['not JSON', check('{"gantryId": '), '1002', 'bad_json'],
    ['JSON array', check('[]'), '1002', 'bad_json'],
    ['__proto__ key', check('{"gantryId":"G1","__proto__":{"x":1}}'), '1002', 'unsafe_key'],
    ['stray-space __proto__ key', check('{"gantryId":"G1"," __proto__ ":{"x":1}}'), '1002', 'unsafe_key'],
    ['constructor key', check('{"gantryId":"G1","data":{"constructor ":{"prototype":{}}}}'), '1002', 'unsafe_key'],
    ['no gantryId', check(body((b) => delete b.gantryId)), '1002', 'bad_identity'],
    ['gantryId with /', check(body((b) => (b.gantryId = 'G/1'))), '1002', 'bad_identity'],
    ['gantryId with #', check(body((b) => (b.gantryId = 'G#1'))), '1002', 'bad_identity'],
    ['empty gantryId', check(body((b) => (b.gantryId = ''))), '1002', 'bad_identity'],
    ['rate bound', check(good, {}, { allow: () => false }), '1005', 'rate_limited'],
    ['unknown version', check(body((b) => (b.version = '1002'))), '1006', 'unknown_version'],
    ['no version', check(body((b) => delete b.version)), '1002', 'missing_fields'],
    ['clock 301 s ahead', check(good, {}, { nowMs: SEED_NOW_MS - 301_000 }), '1003', 'clock_skew'],
    ['clock 301 s behind', check(good, {}, { nowMs: SEED_NOW_MS + 301_000 }), '1003', 'clock_skew'],
    ['timeStamp not a number', check(body((b) => (b.timeStamp = 'yesterday'))), '1002', 'missing_fields'],
    ['unknown method', check(body((b) => (b.method = 'rsuStatusUpdate'))), '1002', 'unknown_method'],
    ['a command sent as an upload', check(body((b) => (b.method = 'cabinetControl'))), '1002', 'unknown_method'],
    ['no cabinetStatus', check(body((b) => delete b.cabinetStatus)), '1002', 'missing_fields'],
    ['cabinetStatus a string', check(body((b) => (b.cabinetStatus = 'x'))), '1002', 'missing_fields'],
  ];
  for (const [what, result, code, reason] of cases) {
    t.match(result, { ok: false, code, reason }, what);
  }
  const noCurVersion = check(seedText('v103', 'queryAndGetCardInfo').replace('" curVersion"', '"otherVersion"'));
  t.match(noCurVersion, { ok: false, code: '1002', reason: 'missing_fields', detail: /data\.curVersion/ });
  t.ok(check(good, {}, { nowMs: SEED_NOW_MS + 299_000 }).ok, 'inside the skew window');
  t.ok(check(good, {}, { nowMs: SEED_NOW_MS + 86_400_000, maxClockSkewS: 0 }).ok, 'maxClockSkewS 0 turns the check off');
  t.ok(check(body((b) => (b.timeStamp = '1564734526000'))).ok, 'a millisecond timeStamp is read as such');
  t.ok(check(good, { md5: md5(good).toUpperCase() }).ok, 'an upper-case MD5 is the same MD5');
});

t.test('answers are exactly the seeds’ bodies', async (t) => {
  t.equal(answerBody('1000'), '{"code":"1000","msg":"成功"}');
  t.equal(answerBody('1001'), '{"code":"1001","msg":"无权使用该接口"}');
  t.equal(answerBody('1002'), '{"code":"1002","msg":"参数有误"}');
  t.equal(answerBody('1003'), '{"code":"1003","msg":"系统时间偏差太大"}');
  t.equal(answerBody('1004'), '{"code":"1004","msg":"无效的签名"}');
  t.equal(answerBody('1005'), '{"code":"1005","msg":"请求过于频繁"}');
  t.equal(answerBody('1006'), '{"code":"1006","msg":"未知的接口版本号"}');
  t.equal(answerBody('1008'), '{"code":"1008","msg":"未知系统异常"}');
  t.equal(answerBody('1000', { isExistLatestVersion: 0 }), '{"code":"1000","msg":"成功","data":{"isExistLatestVersion":0}}');
});

t.test('secrets compare in constant time on equal-length digests', async (t) => {
  t.ok(secretMatches('123456', '123456'));
  t.notOk(secretMatches('123456', '1234567'));
  t.notOk(secretMatches('123456', ''));
  t.notOk(secretMatches('123456', undefined));
  t.ok(md5Matches(Buffer.from('x'), md5('x')));
  t.notOk(md5Matches(Buffer.from('x'), 'zz'));
});

t.test('the rate bound refills over a minute', async (t) => {
  const limiter = new RateLimiter(2);
  t.ok(limiter.allow('G1', 0));
  t.ok(limiter.allow('G1', 0));
  t.notOk(limiter.allow('G1', 0), 'third in the same instant');
  t.ok(limiter.allow('G2', 0), 'another gantry has its own bound');
  t.ok(limiter.allow('G1', 30_000), 'one refilled after 30 s');
  t.notOk(limiter.allow('G1', 30_000));
  const off = new RateLimiter(0);
  t.ok(Array.from({ length: 1000 }).every(() => off.allow('G1', 0)), 'perMinute 0 turns the bound off');
  const small = new RateLimiter(1, 2);
  small.allow('a', 0);
  small.allow('b', 0);
  t.ok(small.allow('c', 0), 'the bucket table stays bounded');
});

t.test('queryAndGetCardInfo answers', async (t) => {
  const list = parseWhitelist({ latestVersion: '20191201000000', cardInfos: [{ cardId: '1234567', validTime: '2019-11-29 13:58:50', invalidTime: '2029-11-29 13:58:50' }] });
  t.same(cardAnswer('20191129134255', list), { isExistLatestVersion: 1, latestVersion: '20191201000000', cardInfos: list.cardInfos });
  t.same(cardAnswer('0', list), { isExistLatestVersion: 1, latestVersion: '20191201000000', cardInfos: list.cardInfos }, 'a device without a list');
  t.same(cardAnswer('20191201000000', list), { isExistLatestVersion: 0 }, 'same version');
  t.same(cardAnswer('20200101000000', list), { isExistLatestVersion: 0 }, 'device newer');
  t.same(cardAnswer('20191129134255', undefined), { isExistLatestVersion: 0 }, 'no whitelist');
  t.throws(() => parseWhitelist({ cardInfos: [] }), /latestVersion/);
  t.throws(() => parseWhitelist({ latestVersion: '1', cardInfos: [{ cardId: '1' }] }), /cardInfos\[0\]/);
  t.throws(() => parseWhitelist([]), /object/);

  for (const edition of ['v037', 'v103'] as const) {
    // The seeds' answer examples, stray spaces and string flag included, as a platform reply.
    const reply = (seedJson(edition, 'queryAndGetCardInfo-answer').data ?? {}) as Record<string, unknown>;
    const answer = cardAnswerFromPlatform(reply, '20191101000000');
    t.same(answer, {
      isExistLatestVersion: 1,
      latestVersion: '20191129134255',
      cardInfos: [
        { cardId: '1234567', validTime: '2019-11-29 13:58:50', invalidTime: '2029-11-29 13:58:50' },
        { cardId: '2234567', validTime: '2019-11-29 13:58:50', invalidTime: '2029-11-29 13:58:50' },
      ],
    }, `${edition} answer example cleaned`);
    t.notMatch(answerBody('1000', answer), /" |[^\\]" "/, 'no stray spaces in the answer');
    t.match(answerBody('1000', answer), /"isExistLatestVersion":1,/, 'an integer flag');
  }
  t.same(cardAnswerFromPlatform({ isExistLatestVersion: '0' }, '0'), { isExistLatestVersion: 0 });
  // The flag by the rule of commands (src/leniency.ts): 1 or "1", nothing else that looks like it.
  const newer = { latestVersion: '20191201000000', cardInfos: [] };
  t.strictSame(cardAnswerFromPlatform({ isExistLatestVersion: 1, ...newer }, '0'), { isExistLatestVersion: 1, ...newer }, 'the integer flag');
  for (const flag of ['1.0', ' 1', '01', true]) {
    t.strictSame(cardAnswerFromPlatform({ isExistLatestVersion: flag, ...newer }, '0'), { isExistLatestVersion: 0 }, `${JSON.stringify(flag)} is not 1`);
  }
  t.same(cardAnswerFromPlatform({ latestVersion: '20191201000000', cardInfos: [] }, '20191129134255'), { isExistLatestVersion: 1, latestVersion: '20191201000000', cardInfos: [] }, 'a whitelist as the reply');
  t.same(cardAnswerFromPlatform({}, '0'), { isExistLatestVersion: 0 });
  t.same(cardAnswerFromPlatform('nonsense', '0'), { isExistLatestVersion: 0 });
});

t.test('control requests carry the envelope and both headers; data goes as the schema left it', async (t) => {
  const req = encodeControlRequest({
    gantryId: 'G000211001002110010',
    method: 'cabinetControl',
    data: { cmd: '5', mode: '1' },
    version: '1000',
    nowMs: SEED_NOW_MS + 999,
    auth: 'abc',
    timeZone: 'Asia/Shanghai',
  });
  t.same(JSON.parse(req.body.toString()), seedJson('v103', 'cabinetControl-powerMode'), 'the seed’s own example');
  t.equal(req.headers['binfile-md5'], md5(req.body));
  t.equal(req.headers['binfile-auth'], 'abc');
  const image = encodeControlRequest({
    gantryId: 'G1',
    method: 'getCabinetImageVedio',
    data: { cabinetId: '1', doorOpenTime: '2019-08-28T01:15:01.321+08:00' },
    version: '1001',
    nowMs: SEED_NOW_MS,
    auth: 'abc',
    timeZone: 'Asia/Shanghai',
  });
  t.same(JSON.parse(image.body.toString()).getCabinetImageVedio, { cabinetId: '1', doorOpenTime: '2019-08-28 01:15:01.321' }, 'an event’s ISO time goes back as device time');
  const cards = encodeControlRequest({ gantryId: 'G1', method: 'cabinetControl', data: { cmd: '7', cardInfos: [{ cardId: '0012', expireDate: '2029-01-01' }] }, version: '1001', nowMs: 0, auth: 'a', timeZone: 'UTC' });
  t.same(JSON.parse(cards.body.toString()).cabinetControl, { cmd: '7', cardInfos: [{ cardId: '0012', expireDate: '2029-01-01' }] });
});

function response(status: number, headers: Record<string, string>, body: Buffer | string): ControlResponse {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { status, header: (n) => lower[n.toLowerCase()], body: Buffer.isBuffer(body) ? body : Buffer.from(body) };
}

t.test('control answers map onto CommandAnswer', async (t) => {
  const opts = { typer, auth: '123456' };
  const json = { 'content-type': 'application/json' };
  t.same(decodeControlAnswer('cabinetControl', response(200, json, '{"code":"1000","msg":"成功"}'), opts), { ok: true, code: 1000, message: '成功', data: null });
  t.same(decodeControlAnswer('cabinetControl', response(200, json, '{"code":"1007","msg":"执行控制命令失败"}'), opts), { ok: false, code: 1007, message: '执行控制命令失败', data: null });
  const battery = decodeControlAnswer(
    'cabinetControl',
    response(200, json, JSON.stringify({ code: '1000', msg: '成功', batterysTestResult: { testStartTime: '2019-11-03 10:00:00', testResult: '2', efficiency: '95.5', dischargeTime: '1.5', dischargeEndVoltage: '45', dischargeAvCurrent: '10', dischargeAhCurrent: '15', testTemperature: '25', testEndCourse: '255' } })),
    opts,
  );
  t.same(battery, {
    ok: true,
    code: 1000,
    message: '成功',
    data: { batterysTestResult: { testStartTime: '2019-11-03T10:00:00.000+08:00', testResult: 2, efficiency: 95.5, dischargeTime: 1.5, dischargeEndVoltage: 45, dischargeAvCurrent: 10, dischargeAhCurrent: 15, testTemperature: 25, testEndCourse: 255 } },
  });
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
  const file = { 'content-type': 'image/jpeg', 'content-disposition': 'attachment;filename=G1_20191103120000123.jpg', 'binfile-md5': md5(jpeg) };
  const good = decodeControlAnswer('getCabinetImageVedio', response(200, file, jpeg), opts);
  t.same(good, {
    ok: true,
    code: null,
    message: null,
    data: { filename: 'G1_20191103120000123.jpg', contentType: 'image/jpeg', bytes: 4, md5: md5(jpeg) },
    file: { field: 'getCabinetImageVedio', bytes: jpeg },
  });
  t.match(decodeControlAnswer('getCabinetImageVedio', response(200, { ...file, 'binfile-md5': md5('x') }, jpeg), opts), { ok: false, code: null, message: /does not match/, file: undefined, problem: 'bad_md5' });
  t.match(decodeControlAnswer('getCabinetImageVedio', response(200, { 'content-type': 'image/jpeg', 'content-disposition': 'attachment;filename=a.jpg' }, jpeg), opts), { ok: false, message: /without binfile-md5/, problem: 'missing_md5' });
  t.match(decodeControlAnswer('getCabinetImageVedio', response(200, { ...file, 'binfile-auth': 'nope' }, jpeg), opts), { ok: false, message: /binfile-auth/, problem: 'bad_auth' });
  t.match(decodeControlAnswer('getCabinetImageVedio', response(200, { ...file, 'binfile-auth': '123456' }, jpeg), opts), { ok: true });
  t.same(
    decodeControlAnswer('getCabinetImageVedio', response(200, { 'content-type': 'image/jpeg' }, '{"code":"1009","msg":"无对应图像/视频"}'), opts),
    { ok: false, code: 1009, message: '无对应图像/视频', data: null },
    'v0.37 answers 1009 under an image Content-Type',
  );
  t.match(decodeControlAnswer('cabinetControl', response(404, { 'content-type': 'text/html' }, '<html>no</html>'), opts), { ok: false, code: null, message: 'HTTP 404', problem: 'bad_answer' });
  t.match(decodeControlAnswer('cabinetControl', response(200, json, '{"code": '), opts), { ok: false, message: /unreadable JSON/, problem: 'bad_json' });
  t.match(decodeControlAnswer('cabinetControl', response(200, json, '{"__proto__": {"x": 1}}'), opts), { ok: false, message: /unreadable JSON/, problem: 'unsafe_key' });
  t.match(decodeControlAnswer('cabinetControl', response(200, json, '{" constructor ": {"x": 1}}'), opts), { ok: false, message: /unreadable JSON/, problem: 'unsafe_key' });
  t.match(decodeControlAnswer('cabinetControl', response(200, json, '[1]'), opts), { ok: false, problem: 'bad_json' });
  t.match(decodeControlAnswer('cabinetControl', response(200, json, '{"msg":"?"}'), opts), { ok: false, code: null, problem: 'missing_fields' });
  t.equal(attachmentFilename('attachment; filename="a b.jpg"'), 'a b.jpg');
  t.equal(attachmentFilename("attachment; filename*=UTF-8''%E9%97%A8.avi"), '门.avi');
  t.equal(attachmentFilename(undefined), undefined);
});

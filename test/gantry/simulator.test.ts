import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Mappings } from '../../src/mappings.js';
import { ROOT } from '../../src/paths.js';
import { FieldTyper } from '../../adapters/gantry/typing.js';
import { checkUpload, decodeControlAnswer, type Upload } from '../../adapters/gantry/decode.js';
import { answerBody, encodeControlRequest } from '../../adapters/gantry/encode.js';
import { md5Hex } from '../../adapters/gantry/sign.js';
import { cardAnswer, currentCardVersion, type Whitelist } from '../../adapters/gantry/whitelist.js';
import { TINY_JPEG } from '../../sim/common/jpeg.js';
import { GantrySimulator, type ControlRecord, type UploadFailure, type UploadResult } from '../../sim/gantry/simulator.js';
import { TLS_CERT, TLS_KEY } from '../helpers/tls/tls.js';
import { within } from '../helpers/harness.js';
import { freePort } from '../helpers/mosquitto.js';

const mappings = new Mappings('gantry');
const typer = new FieldTyper(mappings.read('fields'), 'Asia/Shanghai');

/** A platform made of the codec alone (decode, encode, whitelist): checks, types and answers every upload. */
async function platform(t: Test, whitelist?: Whitelist, tls = false) {
  const accepted: { upload: Upload; data: Record<string, unknown>; undeclared: string[] }[] = [];
  const listener: RequestListener = (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const header = (n: string): string | undefined => req.headers[n] as string | undefined;
      const result = checkUpload(Buffer.concat(chunks), { md5: header('binfile-md5'), auth: header('binfile-auth') }, {
        typer,
        authFor: () => '123456',
        allow: () => true,
        maxClockSkewS: 300,
        nowMs: Date.now(),
      });
      if (!result.ok) {
        res.end(answerBody(result.code));
        return;
      }
      const typed = typer.upload(result.upload.method, result.upload.body);
      accepted.push({ upload: result.upload, data: typed.data, undeclared: typed.undeclared });
      const data =
        result.upload.method === 'queryAndGetCardInfo'
          ? cardAnswer(currentCardVersion(result.upload.body.data as Record<string, unknown>), whitelist)
          : undefined;
      res.end(answerBody('1000', data));
    });
  };
  const server = tls ? createTlsServer({ cert: readFileSync(TLS_CERT), key: readFileSync(TLS_KEY) }, listener) : createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}/monitor.do`, accepted };
}

async function simulator(t: Test, options: ConstructorParameters<typeof GantrySimulator>[0]) {
  const sim = new GantrySimulator({ controlPort: 0, ...options });
  await sim.start();
  t.teardown(() => sim.stop());
  return sim;
}

t.test('every simulated upload of both editions passes the protocol checks and is fully declared', async (t) => {
  const { url, accepted } = await platform(t);
  const sim = await simulator(t, { url, gantries: 4, errorRate: 0.3, alarmRate: 1, seed: 7 });
  t.same([...new Set(sim.gantries.map((g) => g.edition))], ['v0.37', 'v1.03']);
  t.ok(sim.gantries.some((g) => g.doorsAsArray), 'one gantry sends doors as an array');
  t.ok(sim.gantries.some((g) => g.cabinets === 2), 'one gantry has two cabinets');
  t.ok(sim.gantries.some((g) => g.version === '1000'), 'one gantry speaks version 1000');
  const results: UploadResult[] = [];
  for (let round = 0; round < 5; round++) results.push(...(await sim.uploadAll()));
  t.equal(results.length, 60);
  t.ok(results.every((r) => r.status === 200 && r.answer.code === '1000'), 'all answered 1000');
  t.equal(accepted.length, 60);
  t.ok(accepted.every((a) => a.undeclared.length === 0), 'no undeclared field');
  const qualityWords = new Set(accepted.flatMap((a) => Object.values((a.data.quality as Record<string, string> | undefined) ?? {})));
  t.ok(qualityWords.has('NoData') && qualityWords.has('GetFailed') && qualityWords.has('NotSupport'), 'all three error words occur');
  const v037 = results.find((r) => r.method === 'cabinetStatusUpdate' && sim.gantry(r.gantryId).edition === 'v0.37');
  t.match(v037?.text, /" thunderSpd":\[\{"id":"1","status":"[01]"," lightningCount ":/, 'v0.37 stray spaces are sent');
  t.match(results.find((r) => r.method === 'queryAndGetCardInfo')?.text, /" method":"queryAndGetCardInfo".*" curVersion"/);
  const arrays = accepted.filter((a) => a.upload.method === 'cabinetStatusUpdate' && Array.isArray((a.data.cabinetStatus as { doors: unknown }).doors));
  t.ok(arrays.length > 0, 'doors arrays pass as arrays');
  const warnings = accepted.flatMap((a) => {
    const elec = (a.data.cabinetStatus as { elec?: { warningMsg: unknown }[] } | undefined)?.elec ?? [];
    return elec.map((e) => e.warningMsg);
  });
  t.ok(warnings.some((w) => Array.isArray(w) && w.length > 0), 'alarms arrive as warning lists');
});

t.test('tampered uploads get their codes', async (t) => {
  const { url } = await platform(t);
  const sim = await simulator(t, { url, gantries: 1 });
  const id = sim.gantries[0]!.gantryId;
  const code = async (tamper: Parameters<GantrySimulator['upload']>[2]) => (await sim.upload(id, 'cabinetStatusUpdate', tamper)).answer.code;
  t.equal(await code({ auth: 'wrong' }), '1001');
  t.equal(await code({ auth: null }), '1001');
  t.equal(await code({ md5: 'wrong' }), '1004');
  t.equal(await code({ md5: null }), '1004');
  t.equal(await code({ clockOffsetS: 3600 }), '1003');
  t.equal(await code({ version: '2000' }), '1006');
  t.equal(await code({ mutate: (b) => delete b.cabinetStatus }), '1002');
  t.equal(await code({ rawBody: '{"gantryId":' }), '1002');
  t.equal(await code({}), '1000');
});

t.test('the card whitelist travels to the simulated cabinet', async (t) => {
  const list: Whitelist = { latestVersion: '20991231000000', cardInfos: [{ cardId: '1234567', validTime: '2019-11-29 13:58:50', invalidTime: '2029-11-29 13:58:50' }] };
  const { url } = await platform(t, list);
  const sim = await simulator(t, { url, gantries: 1 });
  const id = sim.gantries[0]!.gantryId;
  const first = await sim.upload(id, 'queryAndGetCardInfo');
  t.same(first.answer, { code: '1000', msg: '成功', data: { isExistLatestVersion: 1, latestVersion: '20991231000000', cardInfos: list.cardInfos } });
  t.equal(sim.gantry(id).cardVersion, '20991231000000', 'the cabinet takes the new version');
  const second = await sim.upload(id, 'queryAndGetCardInfo');
  t.same(second.answer, { code: '1000', msg: '成功', data: { isExistLatestVersion: 0 } });
});

async function control(sim: GantrySimulator, gantryId: string, method: string, data: Record<string, unknown>, auth = '123456') {
  const request = encodeControlRequest({ gantryId, method, data, version: '1001', nowMs: Date.now(), auth, timeZone: 'Asia/Shanghai' });
  const res = await fetch(sim.controlUrl, { method: 'POST', headers: request.headers, body: new Uint8Array(request.body) });
  const body = Buffer.from(await res.arrayBuffer());
  return decodeControlAnswer(method, { status: res.status, header: (h) => res.headers.get(h) ?? undefined, body }, { typer, auth: '123456' });
}

t.test('the control server answers every command as a cabinet would', async (t) => {
  const sim = await simulator(t, { gantries: 2, reactToCommands: false });
  const [v037, v103] = sim.gantries.map((g) => g.gantryId) as [string, string];
  const commands: [string, Record<string, unknown>][] = [
    ['computerControl', { updateNow: '1' }],
    ['computerControl', { setServer: '10.0.0.1/monitor.do', setFrequency: '600' }],
    ['cabinetControl', { updateNow: '1' }],
    ['cabinetControl', { cmd: '1', rebootIp: '192.168.1.20', rebootPort: '502' }],
    ['cabinetControl', { cmd: '2', unlockDoorId: '1' }],
    ['cabinetControl', { cmd: '3', airId: '0', airOperate: '2' }],
    ['cabinetControl', { cmd: '4', airId: '0', autoRefrigerationTemp: '30' }],
    ['cabinetControl', { cmd: '5', mode: '1' }],
    ['cabinetControl', { cmd: '6', isDoorDefend: '0' }],
    ['cabinetControl', { cmd: '7', cardInfos: [{ cardId: '1234567', expireDate: '2029-11-29' }] }],
    ['cabinetControl', { cmd: '8', onOff: '1' }],
    ['cabinetControl', { cmd: '9', testStartStop: '1' }],
  ];
  for (const [method, data] of commands) {
    t.ok(mappings.command(method)?.validate(data), `${method} ${JSON.stringify(data)} is a valid command`);
    t.match(await control(sim, v103, method, data), { ok: true, code: 1000, message: '成功' }, `${method} ${JSON.stringify(data)}`);
  }
  const g = sim.gantry(v103);
  t.match(g, { intervalS: 600, server: '10.0.0.1/monitor.do', frontDoorOpen: true, airOn: false, powerMode: '1', defendMode: '0', batteryTesting: true });
  t.same(g.cards, [{ cardId: '1234567', expireDate: '2029-11-29' }]);
  const battery = await control(sim, v103, 'cabinetControl', { cmd: '10' });
  t.match(battery, { ok: true, code: 1000, data: { batterysTestResult: { testResult: 2, testEndCourse: 2, efficiency: Number, testStartTime: /^\d{4}-\d{2}-\d{2}T.*\+08:00$/ } } });

  const image = await control(sim, v037, 'getCabinetImageVedio', { cabinetId: '1', doorOpenTime: '2019-08-28 01:15:01.321' });
  t.match(image, { ok: true, code: null, data: { contentType: 'image/jpeg', bytes: TINY_JPEG.length, md5: md5Hex(TINY_JPEG), filename: new RegExp(`^${v037}_\\d{17}\\.jpg$`) } });
  const bytes = image.file?.bytes;
  t.ok(bytes && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes.at(-2) === 0xff && bytes.at(-1) === 0xd9, 'a real JPEG (SOI … EOI)');
  sim.imageMode = 'badMd5';
  t.match(await control(sim, v037, 'getCabinetImageVedio', { doorOpenTime: '2019-08-28 01:15:01' }), { ok: false, message: /does not match/ });
  sim.imageMode = 'noMd5';
  t.match(await control(sim, v037, 'getCabinetImageVedio', { doorOpenTime: '2019-08-28 01:15:01' }), { ok: false, message: /without binfile-md5/ });
  sim.imageMode = 'missing';
  const controlSeen = sim.next<ControlRecord>('control');
  t.match(await control(sim, v037, 'getCabinetImageVedio', { doorOpenTime: '2019-08-28 01:15:01' }), { ok: false, code: 1009, message: '无对应图像/视频' });
  t.match(await controlSeen, { gantryId: v037, method: 'getCabinetImageVedio', answered: '1009', data: { doorOpenTime: '2019-08-28 01:15:01' } });
  t.match(await control(sim, v103, 'getCabinetImageVedio', { doorOpenTime: '2019-08-28 01:15:01' }), { ok: false, code: 1009 });

  t.match(await control(sim, v103, 'cabinetControl', { updateNow: '1' }, 'wrong'), { ok: false, code: 1001 });
  t.match(await control(sim, 'G-unknown', 'cabinetControl', { updateNow: '1' }), { ok: false, code: 1002 });
  sim.forcedCode = '1007';
  t.match(await control(sim, v103, 'cabinetControl', { cmd: '5', mode: '0' }), { ok: false, code: 1007, message: '执行控制命令失败' });
  const badMd5 = await fetch(sim.controlUrl, { method: 'POST', headers: { 'binfile-auth': '123456', 'binfile-md5': md5Hex('other') }, body: '{}' });
  t.match(await badMd5.json(), { code: '1004' });
});

t.test('commands that make a cabinet upload at once, and the interval timer', async (t) => {
  const { url } = await platform(t);
  const sim = await simulator(t, { url, gantries: 1 });
  const id = sim.gantries[0]!.gantryId;
  const next = sim.next<UploadResult>('upload', (r) => r.method === 'cabinetStatusUpdate');
  t.match(await control(sim, id, 'cabinetControl', { cmd: '2', unlockDoorId: '1' }), { ok: true });
  const opened = await next;
  const doors = (opened.body?.cabinetStatus as { doors: Record<string, string> }).doors;
  t.match(doors, { frontDoorClosed: '0', frontDoorUnlockType: '2' }, 'the door shows open, unlocked remotely');

  const timed = await simulator(t, { url, gantries: 2, intervalS: 0.02, controlPort: undefined });
  const seen = new Set<string>();
  await within(new Promise<void>((resolve) => {
    timed.on('upload', (r: UploadResult) => {
      seen.add(`${r.gantryId} ${r.method}`);
      if (seen.size === 6) resolve();
    });
  }), 'the expected uploads');
  t.equal(seen.size, 6, 'every gantry sent all three uploads on its own');
});

t.test('uploads on the timer that find no platform are uploadFailed events, and the timer goes on until one is there', async (t) => {
  const port = await freePort();
  // No 'error' listener, as in a test that only waits for uploads: a failure must not end the process.
  const sim = await simulator(t, { url: `http://127.0.0.1:${port}/monitor.do`, gantries: 1, intervalS: 0.05, controlPort: undefined });
  const failed = await sim.next<UploadFailure>('uploadFailed');
  t.match(failed, { gantryId: 'G000211001002110010', error: { code: 'ECONNREFUSED' } });
  await sim.next<UploadFailure>('uploadFailed');
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(answerBody('1000')));
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  t.match(await sim.next<UploadResult>('upload'), { status: 200, answer: { code: '1000' } }, 'the next tick reaches the platform that came up');
});

t.test('the CLI prints its help and runs a round against a platform', async (t) => {
  const cli = ['--import', 'tsx', 'sim/gantry/simulator-cli.ts'];
  const help = spawn(process.execPath, [...cli, '--help'], { cwd: ROOT });
  let text = '';
  help.stdout.on('data', (c: Buffer) => (text += c.toString()));
  const [code] = (await once(help, 'exit')) as [number];
  t.equal(code, 0);
  t.match(text, /--control-port P/);
  t.match(text, /--interval S/);

  const { url, accepted } = await platform(t);
  const run = spawn(process.execPath, [...cli, '--url', url, '--gantries', '2', '--interval', '0', '--control-port', '0', '--control-host', '127.0.0.1'], { cwd: ROOT });
  t.teardown(() => {
    if (run.exitCode === null) run.kill('SIGKILL');
  });
  let out = '';
  await within(new Promise<void>((resolve) => {
    run.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if ((out.match(/→ HTTP 200 1000/g) ?? []).length === 6) resolve();
    });
  }), 'the expected uploads');
  t.match(out, /control: http:\/\/127\.0\.0\.1:\d+\/remotecontrol\.do/);
  t.equal(accepted.length, 6);
  t.same([...new Set(accepted.map((a) => a.upload.gantryId))].sort(), ['G000211001002110010', 'G000211001002110011'], 'without --first-id, the seeds’ gantry and the next');
  run.kill('SIGTERM');
  const [exit] = (await once(run, 'exit')) as [number];
  t.equal(exit, 0, 'SIGTERM stops it cleanly');
});

t.test('the CLI uploads over HTTPS to a platform whose certificate it is given', async (t) => {
  const { url, accepted } = await platform(t, undefined, true);
  const run = spawn(process.execPath, ['--import', 'tsx', 'sim/gantry/simulator-cli.ts', '--url', url, '--ca', TLS_CERT, '--gantries', '1', '--first-id', 'G000211001002110077', '--interval', '0', '--control-port', '0', '--control-host', '127.0.0.1'], { cwd: ROOT });
  t.teardown(() => {
    if (run.exitCode === null) run.kill('SIGKILL');
  });
  let out = '';
  await within(new Promise<void>((resolve) => {
    run.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if ((out.match(/→ HTTP 200 1000/g) ?? []).length === 3) resolve();
    });
  }), 'the expected uploads');
  t.equal(accepted.length, 3, 'the three uploads arrived over TLS');
  t.same([...new Set(accepted.map((a) => a.upload.gantryId))], ['G000211001002110077'], '--first-id names the gantry');
  run.kill('SIGTERM');
  const [exit] = (await once(run, 'exit')) as [number];
  t.equal(exit, 0);
});

// The simulator's framing and behaviour, checked against this adapter's own parser and encoder on a
// real socket (a minimal gateway written here), so the simulator can be trusted in the e2e tests.
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import t from 'tap';
import { decodeMessage, decodeResponse } from '../../adapters/qyzn/body.js';
import { MsgType, messagesTowards } from '../../adapters/qyzn/constants.js';
import { encodeHeartbeat, encodeMessage, encodeResponse } from '../../adapters/qyzn/encoder.js';
import { FrameParser, type Frame } from '../../adapters/qyzn/parser.js';
import { derivePassword, loginSign, registerSign, signMatches } from '../../adapters/qyzn/sign.js';
import { TINY_JPEG_BASE64 } from '../../sim/common/jpeg.js';
import { QyznSimulator, type SimulatorOptions } from '../../sim/qyzn/simulator.js';
import type { JsonObject } from '../../src/adapter.js';
import type { Teardown } from '../helpers/harness.js';
import { SEED_COMMAND_EXAMPLES } from './fixtures/seed-examples.js';

const SECRET = 's3cret';

interface Seen {
  frame: Frame;
  message?: string;
  data?: JsonObject;
}

/** Just enough gateway: checks signs, answers register/login/heartbeat, records everything. */
class MiniGateway {
  readonly server: Server = createServer((socket) => this.accept(socket));
  socket: Socket | undefined;
  readonly seen: Seen[] = [];
  readonly raw: Buffer[] = [];
  private readonly waiters = new Set<() => void>();
  private seq = 1000;

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  private accept(socket: Socket): void {
    this.socket = socket;
    const parser = new FrameParser({ maxBodyBytes: 1 << 20 });
    socket.on('data', (chunk: Buffer) => {
      this.raw.push(chunk);
      for (const frame of parser.frames(chunk)) this.onFrame(frame);
      if (parser.error) throw parser.error;
    });
  }

  private onFrame(frame: Frame): void {
    const seen: Seen = { frame };
    if (frame.msgType === MsgType.REQUEST || frame.msgType === MsgType.NOTIFICATION) Object.assign(seen, decodeMessage(frame.body));
    this.seen.push(seen);
    for (const wake of this.waiters) wake();
    if (frame.msgType === MsgType.HEARTBEAT) this.write(encodeHeartbeat(frame.version, frame.seq));
    if (frame.msgType !== MsgType.REQUEST) return;
    const data = seen.data ?? {};
    const reply = (result: number, body: unknown = {}): void =>
      this.write(encodeResponse({ version: frame.version, seq: frame.seq }, { result, desc: result === 0 ? 'Success' : 'Refused', data: body }));
    if (seen.message === 'register') {
      const ok = signMatches(registerSign(String(data.serial), String(data.mac), String(data.timestamp)), data.sign);
      reply(ok ? 0 : 104, ok ? { uuid: data.serial, passwd: derivePassword(SECRET, String(data.serial)) } : {});
    } else if (seen.message === 'login') {
      const uuid = String(data.uuid);
      reply(signMatches(loginSign(uuid, derivePassword(SECRET, uuid), String(data.timestamp)), data.sign) ? 0 : 100);
    } else if (seen.message !== 'retransmit-me') {
      reply(0, { echo: seen.message });
    }
  }

  /** Writes one byte at a time: the simulator must reassemble any chunking. */
  write(bytes: Buffer): void {
    for (let i = 0; i < bytes.length; i++) this.socket?.write(bytes.subarray(i, i + 1));
  }

  /** Sends a command REQUEST and resolves with the simulator's RESPONSE frame. */
  command(message: string, data: JsonObject, version = 3): Promise<Frame> {
    const seq = ++this.seq;
    this.write(encodeMessage({ version, seq }, message, data));
    return this.take((s) => s.frame.msgType === MsgType.RESPONSE && s.frame.seq === seq).then((s) => s.frame);
  }

  take(accept: (seen: Seen) => boolean): Promise<Seen> {
    return new Promise((resolve) => {
      const find = (): boolean => {
        const index = this.seen.findIndex(accept);
        if (index < 0) return false;
        resolve(this.seen.splice(index, 1)[0] as Seen);
        this.waiters.delete(find);
        return true;
      };
      if (!find()) this.waiters.add(find);
    });
  }

  message(name: string): Promise<Seen> {
    return this.take((s) => s.message === name);
  }
}

async function setup(t: Teardown, options: Partial<SimulatorOptions> = {}): Promise<{ gateway: MiniGateway; sim: QyznSimulator }> {
  const gateway = new MiniGateway();
  const port = await gateway.listen();
  const sim = new QyznSimulator({ host: '127.0.0.1', port, serial: 'SIM0001', secret: SECRET, heartbeatMs: 0, responseTimeoutMs: 5000, ...options });
  t.teardown(() => {
    sim.destroy();
    gateway.socket?.destroy();
    gateway.server.close();
  });
  return { gateway, sim };
}

t.test('registers with a valid sign and logs in with the derived password', async (t) => {
  const { gateway, sim } = await setup(t);
  await sim.start();
  const register = await gateway.message('register');
  t.match(register.frame, { msgType: MsgType.REQUEST, version: 3 });
  t.match(register.data, { serial: 'SIM0001', mac: /^[0-9A-F]{12}$/, timestamp: /^\d{10}$/, type: 'KG02' });
  t.same(sim.credentials, { uuid: 'SIM0001', passwd: derivePassword(SECRET, 'SIM0001') });
  const login = await gateway.message('login');
  t.match(login.data, { uuid: 'SIM0001', version: 'V3.7.0-sim' });
  t.not(login.frame.seq, register.frame.seq, 'seq increases');
  t.equal(login.frame.seq, (register.frame.seq + 1) >>> 0);
});

t.test('a wrong password or register sign is refused by a checking gateway', async (t) => {
  const wrongLogin = await setup(t, { wrongPassword: true });
  await t.rejects(wrongLogin.sim.start(), /login refused: 100/);
  const wrongSign = await setup(t, { serial: 'SIM0002', wrongRegisterSign: true });
  await t.rejects(wrongSign.sim.start(), /register refused: 104/);
});

t.test('heartbeats: seq 0, empty body, answered', async (t) => {
  const { gateway, sim } = await setup(t);
  await sim.connect();
  const answered = await sim.heartbeat();
  t.match(answered, { msgType: MsgType.HEARTBEAT });
  const hb = await gateway.take((s) => s.frame.msgType === MsgType.HEARTBEAT);
  t.match(hb.frame, { seq: 0, version: 3 });
  t.equal(hb.frame.body.length, 0);
  sim.startHeartbeats(5);
  await gateway.take((s) => s.frame.msgType === MsgType.HEARTBEAT);
  await gateway.take((s) => s.frame.msgType === MsgType.HEARTBEAT);
  sim.stopHeartbeats();
  t.pass('periodic heartbeats arrive');
});

t.test('sends every device-to-platform message of the seed', async (t) => {
  const { gateway, sim } = await setup(t);
  await sim.start();
  const answers = await Promise.all([sim.snapshotFace(), sim.syncTime(), sim.qrcodeData('code-1'), sim.deviceSyncPerson(), sim.deviceCallParam('501'), sim.deviceCallResult('501', 'r1')]);
  t.ok(answers.every((a) => a.result === 0), 'each answered on its own seq');
  const face = await gateway.message('snapshot_face');
  t.equal(face.data?.snapPic, TINY_JPEG_BASE64);
  const jpeg = Buffer.from(TINY_JPEG_BASE64, 'base64');
  t.same([jpeg[0], jpeg[1], jpeg.at(-2), jpeg.at(-1)], [0xff, 0xd8, 0xff, 0xd9], 'a JPEG from SOI to EOI');
  t.match((await gateway.message('sync_time')).data, { timestamp: /^\d{17}$/ });
  t.same((await gateway.message('qrcode_data')).data, { content: 'code-1' });
  t.match((await gateway.message('device_sync_person')).data, { personId: '100001', faces: [{ faceId: '3000004', image: TINY_JPEG_BASE64 }] });
  const call = await gateway.message('device_call_param');
  t.equal(call.frame.version, 5, 'intercom messages use header version 5');
  t.match(call.data, { callNo: '501', callRequestId: /^call-/, picture: TINY_JPEG_BASE64 });
  const result = await gateway.message('device_call_result');
  t.equal(result.frame.version, 5);
  t.match(result.data, { callNo: '501', callRequestId: 'r1', callRecords: [{ callResult: 3 }] });
  await sim.logout('notification');
  const logout = await gateway.message('logout');
  t.equal(logout.frame.msgType, MsgType.NOTIFICATION);
  t.equal((await sim.logout('request'))?.result, 0);
  t.equal((await gateway.message('logout')).frame.msgType, MsgType.REQUEST);
});

t.test('a retransmission repeats the request byte for byte', async (t) => {
  const { gateway, sim } = await setup(t);
  await sim.connect();
  const seq = sim.peekSeq();
  const first = sim.request('retransmit-me', { a: 1 });
  const original = await gateway.message('retransmit-me');
  const again = sim.retransmit(seq);
  const repeated = await gateway.message('retransmit-me');
  t.equal(repeated.frame.seq, seq);
  t.same(repeated.frame, original.frame);
  // Both waiters are answered, oldest first, by two responses on the same seq.
  gateway.write(encodeResponse({ version: 3, seq }, { result: 0, desc: 'Success', data: { n: 1 } }));
  gateway.write(encodeResponse({ version: 3, seq }, { result: 0, desc: 'Success', data: { n: 2 } }));
  t.same((await first).data, { n: 1 });
  t.same((await again).data, { n: 2 });
  await t.rejects(sim.retransmit(12345), /nothing was sent/);
});

t.test('answers every platform-to-device command as a terminal would', async (t) => {
  const { gateway, sim } = await setup(t);
  await sim.start();
  for (const name of messagesTowards('platform_to_device')) {
    for (const data of SEED_COMMAND_EXAMPLES[name] ?? []) {
      const version = name === 'add_person_face' ? 3 : name === 'config_device_pass_rule' ? 4 : 3;
      const frame = await gateway.command(name, data, version);
      t.equal(frame.version, version, `${name}: answered with the request's version`);
      const response = decodeResponse(frame.body);
      t.equal(response.result, 0, `${name}: result 0`);
      if (name === 'snapshot_picture') t.same(response.data, { image: TINY_JPEG_BASE64 });
      if (name === 'sync_person') t.match(response.data, { person_num: Number });
      if (name === 'swiping_card') t.match(response.data, { cardType: Number, idNum: String });
      if (name === 'get_configs') {
        const keys = data.groupKey as string[];
        t.same((response.data as JsonObject[]).map((g) => g.groupKey), keys, `get_configs ${keys.join(',')}: one entry per group`);
        t.ok((response.data as JsonObject[]).every((g) => Object.keys(g).length > 1), 'each group has settings');
        t.match(response.extra, { RspMsg: /^get_/ });
      }
      if (name === 'config_system') t.match(response.extra, { RspMsg: `set_${Object.keys(data)[0]}` });
    }
  }
  t.same([...sim.persons.keys()].sort(), ['100001', '100004'], 'persons kept as a terminal would: add_person_face after clear_person, add_face');
});

t.test('the simulator keeps what config_system set and get_configs reads it back', async (t) => {
  const { gateway, sim } = await setup(t);
  await sim.connect();
  await gateway.command('config_system', { audioctl: { level: 12 } });
  const got = decodeResponse((await gateway.command('get_configs', { groupKey: ['audioctl'] })).body);
  t.same(got.data, [{ groupKey: 'audioctl', level: 12 }]);
});

t.test('commands can be answered with an error, or not at all', async (t) => {
  const { gateway, sim } = await setup(t);
  await sim.connect();
  sim.answerWith('open_door', { result: 109, desc: 'Success', data: { waitSeconds: 3 } });
  const busy = decodeResponse((await gateway.command('open_door', {})).body);
  t.same(busy, { result: 109, desc: 'Success', data: { waitSeconds: 3 }, extra: {} });
  sim.answerWith('device_restart', 'silent');
  const silent = gateway.command('device_restart', {});
  let silentAnswered = false;
  void silent.then(() => (silentAnswered = true));
  await sim.nextCommand('device_restart');
  // Answers go out in order, so once a later command is answered the silent one never will be.
  await gateway.command('record_clear', {});
  t.equal(silentAnswered, false, 'no answer to the silenced command');
  sim.answerWith('device_restart', 'answer');
  t.equal(decodeResponse((await gateway.command('device_restart', {})).body).result, 0, 'answering again when asked');
  t.equal(decodeResponse((await gateway.command('no_such_command', {})).body).result, 103, 'unknown commands get 103');
});

t.test('sends traffic at a rate and counts the answers', async (t) => {
  const { gateway, sim } = await setup(t);
  await sim.start();
  sim.startTraffic(200);
  await gateway.message('snapshot_face');
  await gateway.message('qrcode_data');
  await gateway.message('snapshot_face');
  sim.stopTraffic();
  t.ok(sim.stats.sent >= 3);
});

t.test('the connection closing rejects what waits', async (t) => {
  const { gateway, sim } = await setup(t);
  await sim.connect();
  const waiting = sim.request('retransmit-me');
  await gateway.message('retransmit-me');
  gateway.socket?.destroy();
  await t.rejects(waiting, /connection closed/);
  await sim.closed;
  t.equal(sim.connected, false);
  await t.rejects(sim.request('x'), /not connected/);
});

t.test('drain() waits for every outstanding answer', async (t) => {
  const { gateway, sim } = await setup(t);
  await sim.connect();
  const seq = sim.peekSeq();
  const pending = sim.request('retransmit-me');
  await gateway.message('retransmit-me');
  let drained = false;
  const draining = sim.drain().then(() => (drained = true));
  await sim.heartbeat();
  t.equal(drained, false, 'still waiting');
  gateway.write(encodeResponse({ version: 3, seq }, { result: 0, desc: 'Success' }));
  await draining;
  t.equal((await pending).result, 0);
  await sim.drain();
  t.pass('nothing outstanding: at once');
});

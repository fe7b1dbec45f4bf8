// A QYZN face terminal in software, for tests, demos and load: it registers and logs in the way
// the seed describes, heartbeats, sends every device-to-platform message and answers every
// platform-to-device command as a terminal would. Everything it receives is an event or a promise,
// so tests await what happens instead of sleeping.
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { JsonObject } from '../../src/adapter.js';
import { isObject } from '../../src/json.js';
import { decodeMessage, decodeResponse, parseBody } from '../../adapters/qyzn/body.js';
import { CONFIG_GROUPS, MsgType, Result, resultDesc } from '../../adapters/qyzn/constants.js';
import { encodeHeartbeat, encodeMessage, encodeResponse, unixSeconds } from '../../adapters/qyzn/encoder.js';
import { FrameParser, type Frame } from '../../adapters/qyzn/parser.js';
import { derivePassword, loginSign, registerSign } from '../../adapters/qyzn/sign.js';
import { TINY_JPEG_BASE64 } from '../common/jpeg.js';

export interface SimulatorOptions {
  host: string;
  port: number;
  serial: string;
  mac?: string;
  /** Device type sent at register (4.2.2), e.g. KG02. */
  type?: string;
  /** Firmware version sent at login. */
  firmware?: string;
  /** QYZN header version of the frames it sends; intercom messages are raised to 5. */
  headerVersion?: number;
  /** Log in with the password derived from this secret, as the gateway derives it. Without it,
   *  the passwd the gateway answered at register is used. */
  secret?: string;
  /** Log in with exactly this password. */
  password?: string;
  /** Log in with a password that does not match (login must fail with 100). */
  wrongPassword?: boolean;
  /** Register with a sign that does not match (register must fail with 104). */
  wrongRegisterSign?: boolean;
  /** Seconds added to the register/login timestamps, to test clock checks. */
  clockOffsetS?: number;
  /** Heartbeat period once logged in; 0 sends none. Default 25 000 (2.2). */
  heartbeatMs?: number;
  /** How long request() waits for the gateway's RESPONSE. Default 10 000. */
  responseTimeoutMs?: number;
}

export interface ReceivedCommand {
  message: string;
  data: JsonObject;
  seq: number;
  version: number;
  /** REQUEST (answered) or NOTIFICATION. */
  msgType: number;
}

export interface GatewayResponse {
  seq: number;
  version: number;
  result: number;
  desc: string | undefined;
  data: unknown;
  /** The whole body as sent. */
  body: JsonObject;
}

/** How the simulator answers a command: as a terminal would, with an error, or not at all. */
export type Behaviour = 'answer' | 'silent' | { result: number; desc?: string; data?: unknown };

export interface SimulatorEvents {
  command: [ReceivedCommand];
  response: [GatewayResponse];
  heartbeat: [Frame];
  close: [];
}

export interface SimulatorStats {
  sent: number;
  answered: number;
  failed: number;
  commands: number;
  heartbeats: number;
}

interface Waiter {
  resolve(response: GatewayResponse): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Answers of a terminal (data per the seed's examples); `undefined` from one means unknown command. */
type Answer = { result: number; desc?: string; data?: unknown; extra?: JsonObject };

const INTERCOM_VERSION = 5;
const INTERCOM: ReadonlySet<string> = new Set(['device_call_param', 'device_call_result']);
/** Frames kept for retransmit(). */
const SENT_KEPT = 128;

export class QyznSimulator extends EventEmitter<SimulatorEvents> {
  readonly options: Required<Pick<SimulatorOptions, 'host' | 'port' | 'serial' | 'mac' | 'type' | 'firmware' | 'headerVersion' | 'heartbeatMs' | 'responseTimeoutMs'>> &
    SimulatorOptions;
  readonly stats: SimulatorStats = { sent: 0, answered: 0, failed: 0, commands: 0, heartbeats: 0 };
  /** uuid and passwd from the last successful register. */
  credentials: { uuid: string; passwd: string } | undefined;
  /** Persons and faces the platform added, as a terminal would keep them. */
  readonly persons = new Map<string, JsonObject>();
  readonly config: Record<string, JsonObject> = defaultConfig();
  private socket: Socket | undefined;
  private parser = newParser();
  private seq = randomInt(0, 0x1_0000_0000);
  private readonly waiting = new Map<number, Waiter[]>();
  private readonly sent = new Map<number, Buffer>();
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly received: ReceivedCommand[] = [];
  private readonly commandWaiters = new Set<() => void>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private trafficTimer: NodeJS.Timeout | undefined;
  private closedPromise: Promise<void> = Promise.resolve();
  private port: number | undefined;

  constructor(options: SimulatorOptions) {
    super();
    this.options = {
      mac: macFor(options.serial),
      type: 'KG02',
      firmware: 'V3.7.0-sim',
      headerVersion: 3,
      heartbeatMs: 25_000,
      responseTimeoutMs: 10_000,
      ...options,
    };
  }

  /** Resolves when the connection ended (whoever ended it). */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  /** The terminal's own port (kept after the connection ended): the gateway names the device's
   *  remote address by it. */
  get localPort(): number | undefined {
    return this.port;
  }

  async connect(): Promise<void> {
    const socket = connect({ host: this.options.host, port: this.options.port, noDelay: true });
    this.socket = socket;
    // A connection again (a terminal reconnecting) starts a new byte stream: nothing of a frame the
    // last one cut off belongs to it.
    this.parser = newParser();
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    // What an earlier connection still reports (its last bytes, its end) is not the new one's: its
    // close must not fail what the new connection waits for.
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) this.onData(chunk);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket === socket) this.onClose();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    this.port = socket.localPort;
  }

  /** connect, register, login and heartbeats: a terminal coming online. Throws if refused. */
  async start(): Promise<void> {
    await this.connect();
    const registered = await this.register();
    if (registered.result !== 0) throw new Error(`register refused: ${registered.result} ${registered.desc ?? ''}`);
    const login = await this.login();
    if (login.result !== 0) throw new Error(`login refused: ${login.result} ${login.desc ?? ''}`);
  }

  async register(): Promise<GatewayResponse> {
    const { serial, mac, type } = this.options;
    const timestamp = this.deviceTimestamp();
    const sign = this.options.wrongRegisterSign ? registerSign(serial, mac, `${timestamp}0`) : registerSign(serial, mac, timestamp);
    const response = await this.request('register', { serial, mac, timestamp, sign, type });
    if (response.result === 0 && isObject(response.data) && typeof response.data.uuid === 'string' && typeof response.data.passwd === 'string') {
      this.credentials = { uuid: response.data.uuid, passwd: response.data.passwd };
    }
    return response;
  }

  /** Logs in; on success heartbeats start (options.heartbeatMs). */
  async login(): Promise<GatewayResponse> {
    const uuid = this.credentials?.uuid ?? this.options.serial;
    const timestamp = this.deviceTimestamp();
    const passwd = this.password(uuid);
    const response = await this.request('login', { uuid, version: this.options.firmware, timestamp, sign: loginSign(uuid, passwd, timestamp) });
    if (response.result === 0) this.startHeartbeats();
    return response;
  }

  private password(uuid: string): string {
    const right = this.options.password ?? (this.options.secret !== undefined ? derivePassword(this.options.secret, uuid) : this.credentials?.passwd);
    if (right === undefined) throw new Error('no password: give secret or password, or register first');
    return this.options.wrongPassword ? `${right}x` : right;
  }

  private deviceTimestamp(): string {
    return String(unixSeconds() + (this.options.clockOffsetS ?? 0));
  }

  /** Sends one heartbeat and resolves with the gateway's answer. */
  async heartbeat(): Promise<Frame> {
    this.write(encodeHeartbeat(this.options.headerVersion));
    this.stats.heartbeats += 1;
    return new Promise<Frame>((resolve, reject) => {
      const answered = (frame: Frame): void => {
        this.off('close', gone);
        resolve(frame);
      };
      const gone = (): void => {
        this.off('heartbeat', answered);
        reject(new Error('connection closed'));
      };
      this.once('heartbeat', answered);
      this.once('close', gone);
    });
  }

  startHeartbeats(periodMs = this.options.heartbeatMs): void {
    this.stopHeartbeats();
    if (periodMs <= 0) return;
    this.heartbeatTimer = setInterval(() => {
      this.heartbeat().catch(() => undefined);
    }, periodMs);
    this.heartbeatTimer.unref();
  }

  stopHeartbeats(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  // --- device to platform ---------------------------------------------------------------------

  /** A REQUEST; resolves with the gateway's RESPONSE on the same seq. */
  async request(message: string, data: JsonObject = {}, options: { version?: number; seq?: number } = {}): Promise<GatewayResponse> {
    const seq = options.seq ?? this.nextSeq();
    const frame = encodeMessage({ version: options.version ?? this.versionFor(message), seq }, message, data);
    return this.sendAwaiting(seq, frame);
  }

  /** A NOTIFICATION: nothing comes back. */
  notify(message: string, data: JsonObject = {}): number {
    const seq = this.nextSeq();
    this.write(encodeMessage({ version: this.versionFor(message), seq, msgType: MsgType.NOTIFICATION }, message, data));
    return seq;
  }

  /** The last request with this seq again, byte for byte (3.2); resolves with the next answer. */
  async retransmit(seq: number): Promise<GatewayResponse> {
    const frame = this.sent.get(seq);
    if (!frame) throw new Error(`nothing was sent with seq ${seq}`);
    return this.sendAwaiting(seq, frame);
  }

  /** The seq the next request() will use. */
  peekSeq(): number {
    return (this.seq + 1) >>> 0;
  }

  snapshotFace(overrides: JsonObject = {}): Promise<GatewayResponse> {
    return this.request('snapshot_face', {
      personId: '5907d9b6bede435faf0828177e5bce07',
      faceId: 'cf78bfabb138474c8b2b3a0077c9bec1',
      fullName: '韩梅梅',
      type: 1,
      idNum: '430726199801042312',
      icNum: '123475',
      comparePic: TINY_JPEG_BASE64,
      snapPic: TINY_JPEG_BASE64,
      score: 92,
      result: 1,
      snaptime: localTime(new Date()),
      bodyTemp: 36.5,
      ...overrides,
    });
  }

  syncTime(): Promise<GatewayResponse> {
    return this.request('sync_time', { timestamp: compactTime(new Date()) });
  }

  qrcodeData(content = 'adddfffsss'): Promise<GatewayResponse> {
    return this.request('qrcode_data', { content });
  }

  deviceSyncPerson(person: JsonObject = {}): Promise<GatewayResponse> {
    return this.request('device_sync_person', {
      personId: '100001',
      personCode: '100001',
      name: '张三',
      type: 1,
      faces: [{ faceId: '3000004', image: TINY_JPEG_BASE64 }],
      ...person,
    });
  }

  deviceCallParam(callNo = '304'): Promise<GatewayResponse> {
    return this.request('device_call_param', { callNo, callRequestId: `call-${this.options.serial}-${Date.now()}`, picture: TINY_JPEG_BASE64 });
  }

  deviceCallResult(callNo = '304', callRequestId = 'call-1'): Promise<GatewayResponse> {
    const now = compactTime(new Date()).slice(0, 14);
    return this.request('device_call_result', {
      callNo,
      callRequestId,
      callRecords: [{ userId: '', callResult: 3, callType: 1, openStatus: 1, startTime: now, endTime: now }],
    });
  }

  /** logout as a REQUEST (answered, then the gateway closes) or as a NOTIFICATION. */
  async logout(as: 'request' | 'notification' = 'request'): Promise<GatewayResponse | undefined> {
    this.stopHeartbeats();
    if (as === 'notification') {
      this.notify('logout');
      return undefined;
    }
    return this.request('logout');
  }

  /** snapshot_face and qrcode_data in turn, `perSecond` messages a second, until stopTraffic(). */
  startTraffic(perSecond: number): void {
    this.stopTraffic();
    if (perSecond <= 0) return;
    let turn = 0;
    this.trafficTimer = setInterval(() => {
      const sending = turn++ % 2 === 0 ? this.snapshotFace() : this.qrcodeData(`sim-${this.options.serial}-${turn}`);
      this.stats.sent += 1;
      sending.then(
        (r) => (r.result === 0 ? (this.stats.answered += 1) : (this.stats.failed += 1)),
        () => (this.stats.failed += 1),
      );
    }, 1000 / perSecond);
  }

  stopTraffic(): void {
    clearInterval(this.trafficTimer);
    this.trafficTimer = undefined;
  }

  /** Resolves once every request sent has its answer (or the connection closed), at most after `timeoutMs`. */
  async drain(timeoutMs = this.options.responseTimeoutMs): Promise<void> {
    if (this.waiting.size === 0) return;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.waiting.size > 0 && this.connected) return;
        done();
      };
      const timer = setTimeout(() => done(), timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.off('response', check);
        this.off('close', check);
        resolve();
      };
      // Listeners run after the waiter of the response was removed (see onResponse).
      this.on('response', check);
      this.on('close', check);
    });
  }

  /** Stops reading what the gateway sends, as a hung terminal does: its own sends go on. */
  pauseReading(): void {
    this.socket?.pause();
  }

  resumeReading(): void {
    this.socket?.resume();
  }

  /** Raw bytes, for tests of broken input. */
  sendRaw(bytes: Buffer): void {
    this.write(bytes);
  }

  // --- platform to device ---------------------------------------------------------------------

  /** How commands named `message` are answered from now on ('answer' restores the default). */
  answerWith(message: string, behaviour: Behaviour): void {
    this.behaviours.set(message, behaviour);
  }

  /** The first command received (now or earlier, not yet taken) named `message`, if given. */
  nextCommand(message?: string, timeoutMs = this.options.responseTimeoutMs): Promise<ReceivedCommand> {
    return new Promise((resolve, reject) => {
      const take = (): boolean => {
        const index = this.received.findIndex((c) => message === undefined || c.message === message);
        if (index < 0) return false;
        const [found] = this.received.splice(index, 1);
        if (found) resolve(found);
        return true;
      };
      if (take()) return;
      const wake = (): void => {
        if (take()) done();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no command ${message ?? ''} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.commandWaiters.delete(wake);
      };
      this.commandWaiters.add(wake);
    });
  }

  /** Ends the connection from the device's side. */
  async close(): Promise<void> {
    this.stopHeartbeats();
    this.stopTraffic();
    this.socket?.end();
    const cut = setTimeout(() => this.socket?.destroy(), 1000);
    await this.closed;
    clearTimeout(cut);
  }

  destroy(): void {
    this.stopHeartbeats();
    this.stopTraffic();
    this.socket?.destroy();
  }

  // --- plumbing -------------------------------------------------------------------------------

  private versionFor(message: string): number {
    return INTERCOM.has(message) ? Math.max(this.options.headerVersion, INTERCOM_VERSION) : this.options.headerVersion;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  private sendAwaiting(seq: number, frame: Buffer): Promise<GatewayResponse> {
    this.sent.delete(seq);
    this.sent.set(seq, frame);
    if (this.sent.size > SENT_KEPT) this.sent.delete(this.sent.keys().next().value as number);
    // Written before the waiter exists: no answer can arrive within this tick.
    this.write(frame);
    return new Promise<GatewayResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.dropWaiter(seq, waiter);
        reject(new Error(`no answer to seq ${seq} within ${this.options.responseTimeoutMs} ms`));
      }, this.options.responseTimeoutMs);
      const waiter: Waiter = { resolve, reject, timer };
      this.waiting.set(seq, [...(this.waiting.get(seq) ?? []), waiter]);
    });
  }

  private dropWaiter(seq: number, waiter: Waiter): void {
    const rest = (this.waiting.get(seq) ?? []).filter((w) => w !== waiter);
    if (rest.length > 0) this.waiting.set(seq, rest);
    else this.waiting.delete(seq);
  }

  private write(bytes: Buffer): void {
    if (!this.socket || this.socket.destroyed) throw new Error('simulator is not connected');
    this.socket.write(bytes);
  }

  private onData(chunk: Buffer): void {
    try {
      for (const frame of this.parser.frames(chunk)) this.onFrame(frame);
    } catch {
      // What the gateway sent is not the protocol: a terminal drops such a connection.
      this.socket?.destroy();
    }
    if (this.parser.error) this.socket?.destroy();
  }

  private onFrame(frame: Frame): void {
    if (frame.msgType === MsgType.HEARTBEAT) this.emit('heartbeat', frame);
    else if (frame.msgType === MsgType.RESPONSE) this.onResponse(frame);
    else this.onCommand(frame);
  }

  private onResponse(frame: Frame): void {
    const body = parseBody(frame.body);
    const { result, desc, data } = decodeResponse(frame.body);
    const response: GatewayResponse = { seq: frame.seq, version: frame.version, result, desc, data, body };
    const [first, ...rest] = this.waiting.get(frame.seq) ?? [];
    if (first) {
      if (rest.length > 0) this.waiting.set(frame.seq, rest);
      else this.waiting.delete(frame.seq);
      clearTimeout(first.timer);
      first.resolve(response);
    }
    this.emit('response', response);
  }

  private onCommand(frame: Frame): void {
    let decoded: { message: string; data: JsonObject };
    try {
      decoded = decodeMessage(frame.body);
    } catch {
      if (frame.msgType === MsgType.REQUEST) this.reply(frame, { result: Result.INVALID_PARAMETER });
      return;
    }
    const { message, data } = decoded;
    const command: ReceivedCommand = { message, data, seq: frame.seq, version: frame.version, msgType: frame.msgType };
    this.stats.commands += 1;
    this.received.push(command);
    this.emit('command', command);
    for (const wake of [...this.commandWaiters]) wake();
    if (frame.msgType !== MsgType.REQUEST) return;
    const answer = this.answer(command);
    if (answer) this.reply(frame, answer);
  }

  private reply(frame: Frame, answer: Answer): void {
    const { result, desc = resultDesc(result), data = {}, extra } = answer;
    this.write(encodeResponse({ version: frame.version, seq: frame.seq }, extra ? { result, desc, data, extra } : { result, desc, data }));
  }

  private answer(command: ReceivedCommand): Answer | undefined {
    const behaviour = this.behaviours.get(command.message) ?? this.behaviours.get('*') ?? 'answer';
    if (behaviour === 'silent') return undefined;
    if (behaviour !== 'answer') return behaviour;
    const terminal = TERMINAL[command.message];
    return terminal ? terminal(this, command.data) : { result: Result.UNKNOWN_COMMAND };
  }

  private onClose(): void {
    this.stopHeartbeats();
    this.stopTraffic();
    for (const waiters of this.waiting.values()) {
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error('connection closed'));
      }
    }
    this.waiting.clear();
    this.emit('close');
  }
}

// --- how a terminal answers -------------------------------------------------------------------

const success = (data: unknown = {}, extra?: JsonObject): Answer => (extra ? { result: Result.SUCCESS, data, extra } : { result: Result.SUCCESS, data });

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

const TERMINAL: Readonly<Record<string, (sim: QyznSimulator, data: JsonObject) => Answer>> = {
  add_person: (sim, data) => {
    sim.persons.set(str(data.personId), { ...data, faces: [] });
    return success();
  },
  update_person: (sim, data) => {
    const id = str(data.personId);
    sim.persons.set(id, { ...sim.persons.get(id), ...data });
    return success();
  },
  delete_person: (sim, data) => {
    const ids = Array.isArray(data.idSet) ? data.idSet.map(str) : [];
    for (const id of ids) sim.persons.delete(id);
    return success();
  },
  clear_person: (sim) => {
    sim.persons.clear();
    return success();
  },
  snapshot_picture: () => success({ image: TINY_JPEG_BASE64 }),
  sync_person: (sim) => success({ person_num: sim.persons.size }),
  add_person_face: (sim, data) => {
    sim.persons.set(str(data.personId), data);
    return success();
  },
  // Forgiving where a terminal might answer 102, so that every seed example is answered 0.
  add_face: (sim, data) => {
    const person = sim.persons.get(str(data.personId)) ?? { personId: data.personId };
    const faces = Array.isArray(person.faces) ? person.faces : [];
    sim.persons.set(str(data.personId), { ...person, faces: [...faces, { faceId: data.faceId, image: data.image }] });
    return success();
  },
  delete_face: () => success(),
  device_restart: () => success(),
  device_upgrade: () => success(),
  serial_output: () => success(),
  weigand_output: () => success(),
  record_clear: () => success(),
  open_door: () => success(),
  online_open_door: () => success(),
  swiping_card: () =>
    success({
      cardType: 0,
      name: 'Jim',
      idNum: '420381198802141789',
      ethnic: '汉',
      gender: '1',
      birthday: '19891010',
      address: '北京市朝阳区清湖路',
      idIssuingOrgan: '北京市朝阳区公安局',
      idUsefulLife: '20000101~20300101',
    }),
  config_device_pass_rule: () => ({ result: Result.SUCCESS, desc: 'Success' }),
  get_configs: (sim, data) => {
    const keys = Array.isArray(data.groupKey) ? data.groupKey.map(str) : [];
    const groups = keys.filter((k) => k in sim.config).map((k) => ({ groupKey: k, ...sim.config[k] }));
    return success(groups, { RspMsg: keys.length === 1 ? `get_${keys[0] ?? ''}` : 'get_configs' });
  },
  config_system: (sim, data) => {
    const groups: string[] = [];
    for (const [group, settings] of Object.entries(data)) {
      if (!isObject(settings)) continue;
      sim.config[group] = { ...sim.config[group], ...settings };
      groups.push(group);
    }
    return success({}, { RspMsg: `set_${groups.join(',')}` });
  },
  reSend_record_set: () => success(),
};

/** Each get_configs group as the seed's examples answer it (4.5.10.x). */
function defaultConfig(): Record<string, JsonObject> {
  const config: Record<string, JsonObject> = {
    version: { devType: 'ZG01-C', appVer: '2.0.8_2020-06-17_11:01 ZG01-C', sysVer: '2.1.0 2019-12-27 19:30', license: 'be4f35b915a1aa9d' },
    netinfo: {
      item: [
        { name: 'eth0', macaddr: '7E:22:4A:6E:FD:37', ipaddr: '192.168.1.249', maskaddr: '255.255.255.0', gateway: '192.168.1.1', DNS: '192.168.1.1' },
      ],
    },
    time: { timezone: 20, time_control: 1, currenttime: '2020-07-01 16:56:15', ntpServer: '192.168.1.250', ntpPort: 456 },
    ledctl: { mode: 2, closeScreen: 1 },
    serial: { baudrate: 3, databit: 8, stopbit: 2, checktype: 0, putOutType: 3 },
    audioctl: { level: 3 },
    weigand: { type: 0, InputType: 1, putOutType: 1 },
    vaparam: { SimilarThres: 80, DetThres: 65, LiveThres: 50, LiveSwitch: 0, Distance: 1, safetyhatDecect: false },
    switchCtrl: { switchOutput: true, switchOutMode: 0, outputInterval: 2000, outputDelay: 0 },
    VoiceTips: { SuccessTips: 1, FailTips: 1 },
    ProductNameSet: { UIName: '动态人脸识别终端 005' },
    OpenDoorModeSet: { OpenDoor: 1, CardVerify: 0, SwipeCardTip: 0, SwipeFaceTip: 0 },
    StrangerParam: { strangerIdentifyEn: true, strangerOpenDoorEn: true },
    HttpPush: {
      httpPushEnable: false,
      httpServerAddr: '192.168.1.235',
      httpServerAddrStandby: '192.168.1.240',
      httpServerPort: 80,
      timeout: 4,
      charcode: 0,
      heartbeat_interval: 30,
      private_protocol: 0,
      sslenable: false,
      sslport: 443,
      appid: '',
      appSecret: '',
      AuthSn: '',
    },
    system_reboot: { auto_reboot: false, time: '03:02:00', week: 5, log_level: 0 },
    VerifyRetRspSet: { SnapshotPic: true },
    ForbidIdCardSet: { NumPrefix: ['44', '4405'] },
  };
  // Every group the protocol knows has an answer.
  for (const group of CONFIG_GROUPS) config[group] ??= {};
  return config;
}

function newParser(): FrameParser {
  return new FrameParser({ maxBodyBytes: 64 * 1024 * 1024 });
}

function macFor(serial: string): string {
  let hash = 0;
  for (const ch of serial) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return `0064${hash.toString(16).toUpperCase().padStart(8, '0')}`;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** yyyy-MM-dd HH:mm:ss on the simulator's clock, as terminals write snaptime. */
function localTime(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** yyyyMMddHHmmssSSS (4.6.2). */
function compactTime(d: Date): string {
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}${pad(d.getMilliseconds(), 3)}`;
}

// A simulated snapshot camera: heartbeats every hb_interval, uploads snapshots at a chosen rate,
// and answers get/set_dev_config, upgrade_dev and control_cmd as seed 004 describes. Tests await
// its promises and events instead of sleeping.
import { EventEmitter } from 'node:events';
import type { JsonObject } from '../../src/adapter.js';
import { isObject } from '../../src/json.js';
import { TINY_JPEG_BASE64 } from '../ws-common/jpeg.js';
import { SimLink, Waiters, type CloseInfo, type SimConnectOptions, type SimStats } from '../ws-common/simulator.js';
import { Operate, Ret, type CommandName } from './constants.js';
import { decodeGatewayMessage, hbIntervalOf, intOf, type RequestId } from './decode.js';
import { encodeCommandReply, encodeHeartbeat, encodeUploadSnapshot } from './encode.js';

export interface CamSimulatorOptions extends SimConnectOptions {
  sn: string;
  /** Heartbeat interval in seconds (default 60, as the seed). */
  hbInterval?: number;
  /** Heartbeat every hb_interval once started (default true). */
  autoHeartbeat?: boolean;
  /** Seconds the camera clock is off (default 0). */
  clockOffsetS?: number;
  mac?: string;
  /** base64 JPEG sent as snapshot (default an 8x8 grey one). */
  image?: string;
  /** Snapshots sent at a rate that may wait for their answer at once (default 16). */
  maxInFlight?: number;
}

/** What the camera sends, where a test wants it wrong: another sn, a stale clock, a given id. */
export interface EnvelopeOverrides {
  requestId?: RequestId;
  sn?: string;
  /** The timestamp itself (seconds)... */
  timestamp?: number;
  /** ...or how far off the camera clock it is. */
  clockOffsetS?: number;
}

export interface CamAnswer {
  operate: string;
  requestId: RequestId | undefined;
  sn: unknown;
  ret: number | undefined;
  msg: unknown;
}

export interface CamCommandSeen {
  name: string;
  requestId: RequestId;
  data: JsonObject;
  reply: JsonObject;
}

export interface CamConfig {
  mac: string;
  upload_type: number;
  upload_addr: string;
  hb_interval: number;
}

interface CamEvents {
  command: [command: CamCommandSeen];
  /** An answer no request waited for. */
  answer: [answer: CamAnswer];
  close: [info: CloseInfo];
}

type Result = { ret: number; msg: string; results?: JsonObject };

export class CamSimulator extends EventEmitter<CamEvents> {
  readonly sn: string;
  readonly config: CamConfig;
  /** The last package_url an upgrade_dev named. */
  upgradedFrom: string | undefined;
  /** IO outputs as io_control left them. */
  readonly io: Record<string, number> = {};

  private readonly link: SimLink<CamCommandSeen, { ret: number; msg: string }>;
  private readonly answers = new Waiters<CamAnswer>();
  private readonly sentMessages = new Map<string, JsonObject>();
  private readonly startedAt = Date.now();
  private sequence = 0;
  private readonly handlers: Record<CommandName, (data: JsonObject) => Result> = {
    get_dev_config: () => ({
      ret: Ret.ok,
      msg: '',
      results: { ...this.config, run_time: Math.floor((Date.now() - this.startedAt) / 1000) },
    }),
    set_dev_config: (data) => {
      const hb = data.hb_interval === undefined ? this.config.hb_interval : hbIntervalOf(data.hb_interval);
      const type = data.upload_type === undefined ? this.config.upload_type : intOf(data.upload_type);
      if (hb === undefined || (type !== 0 && type !== 1)) return { ret: Ret.badRequest, msg: 'bad parameter' };
      if (data.upload_addr !== undefined && typeof data.upload_addr !== 'string') return { ret: Ret.badRequest, msg: 'bad upload_addr' };
      Object.assign(this.config, { hb_interval: hb, upload_type: type }, data.upload_addr !== undefined ? { upload_addr: data.upload_addr } : {});
      if (this.heartbeating) this.startHeartbeat();
      return { ret: Ret.ok, msg: '' };
    },
    upgrade_dev: (data) => {
      if (typeof data.package_url !== 'string' || data.package_url === '') return { ret: Ret.badRequest, msg: 'package_url required' };
      this.upgradedFrom = data.package_url;
      return { ret: Ret.ok, msg: '' };
    },
    control_cmd: (data) => {
      const cmd = isObject(data.cmd_data) ? data.cmd_data : {};
      if (cmd.type === 'take_snapshot') {
        return { ret: Ret.ok, msg: '', results: { cmd_data: { type: 'take_snapshot', data: this.image } } };
      }
      if (cmd.type === 'io_control') {
        for (const [key, value] of Object.entries(cmd)) if (/^io\d+$/.test(key) && typeof value === 'number') this.io[key] = value;
        return { ret: Ret.ok, msg: '', results: { cmd_data: { type: 'io_control', data: null } } };
      }
      return { ret: Ret.badRequest, msg: `unknown cmd_data type ${String(cmd.type)}` };
    },
  };
  private heartbeating = false;

  constructor(private readonly options: CamSimulatorOptions) {
    super();
    this.sn = options.sn;
    this.config = {
      mac: options.mac ?? '11:22:33:44:55:66',
      upload_type: 0,
      upload_addr: '',
      hb_interval: options.hbInterval ?? 60,
    };
    this.link = new SimLink(options, {
      message: (message) => this.receive(message),
      closed: (info) => {
        this.answers.failAll(new Error(`connection closed (${info.code})`));
        this.emit('close', info);
      },
    });
  }

  get stats(): SimStats {
    return this.link.stats;
  }

  get closed(): Promise<CloseInfo> {
    return this.link.socket.closed;
  }

  get extensions(): string {
    return this.link.socket.extensions;
  }

  private get image(): string {
    return this.options.image ?? TINY_JPEG_BASE64;
  }

  /** Seconds by the camera clock. */
  nowS(offsetS = 0): number {
    return Math.floor(Date.now() / 1000) + (this.options.clockOffsetS ?? 0) + offsetS;
  }

  async connect(): Promise<this> {
    await this.link.connect();
    return this;
  }

  /** Connects and heartbeats (the first heartbeat binds the connection to the sn). */
  async start(): Promise<CamAnswer> {
    if (!this.link.open) await this.connect();
    const answer = await this.heartbeat();
    if (this.options.autoHeartbeat !== false) this.startHeartbeat();
    return answer;
  }

  /** Sends a message and waits for the answer echoing its request_id. */
  request(message: JsonObject): Promise<CamAnswer> {
    const id = String(message.request_id);
    const answer = this.answers.wait((a) => a.requestId !== undefined && String(a.requestId) === id);
    this.sentMessages.set(id, message);
    if (this.sentMessages.size > 256) this.sentMessages.delete(this.sentMessages.keys().next().value as string);
    this.link.socket.send(message);
    return answer;
  }

  /** Sends anything without waiting (text that is not JSON, an oversize message). */
  sendRaw(message: JsonObject | string | Buffer): void {
    this.link.socket.send(message);
  }

  heartbeat(overrides: EnvelopeOverrides = {}): Promise<CamAnswer> {
    return this.request(encodeHeartbeat(this.envelope(overrides)));
  }

  async uploadSnapshot(overrides: EnvelopeOverrides & { image?: string } = {}): Promise<CamAnswer> {
    return this.counted(this.request(encodeUploadSnapshot(this.envelope(overrides), overrides.image ?? this.image)));
  }

  /** Sends an earlier message again with its request_id, as a camera does without an answer. */
  resend(requestId: RequestId): Promise<CamAnswer> {
    const message = this.sentMessages.get(String(requestId));
    if (!message) return Promise.reject(new Error(`no message ${requestId} to send again`));
    const sent = this.request(message);
    return message.operate === Operate.uploadSnapshot ? this.counted(sent) : sent;
  }

  /** upload_snapshot at `ratePerS`; a tick is skipped while `maxInFlight` wait for their answer. */
  startSnapshots(ratePerS: number): void {
    this.link.startTraffic(ratePerS, this.options.maxInFlight ?? 16, () => this.uploadSnapshot());
  }

  stopSnapshots(): void {
    this.link.stopTraffic();
  }

  /** Stops the traffic and waits for the answers still due. */
  settle(): Promise<void> {
    return this.link.settle();
  }

  /** The next command (of `name`, if given) is answered with `ret` (non-zero) and `msg`. */
  failNext(name?: string, ret = 1, msg = 'simulated failure'): void {
    this.link.failNext(name, { ret, msg });
  }

  waitCommand(name?: string): Promise<CamCommandSeen> {
    return this.link.waitCommand(name);
  }

  close(): Promise<CloseInfo> {
    return this.link.close();
  }

  private startHeartbeat(): void {
    this.heartbeating = true;
    this.link.heartbeats.start(1 / this.config.hb_interval, () => void this.heartbeat().catch(() => undefined));
  }

  private envelope(overrides: EnvelopeOverrides): { requestId: RequestId; timestamp: number; sn: string } {
    this.sequence += 1;
    return {
      requestId: overrides.requestId ?? `${this.sn}-${this.sequence}`,
      timestamp: overrides.timestamp ?? this.nowS(overrides.clockOffsetS ?? 0),
      sn: overrides.sn ?? this.sn,
    };
  }

  private counted(answer: Promise<CamAnswer>): Promise<CamAnswer> {
    return this.link.count(answer, (got) => got.ret === Ret.ok);
  }

  private receive(message: JsonObject): void {
    const decoded = decodeGatewayMessage(message);
    if (decoded.kind === 'answer') {
      const { kind: _kind, ...answer } = decoded;
      if (!this.answers.offer(answer)) this.emit('answer', answer);
      return;
    }
    if (decoded.kind !== 'command') return;
    const result = this.answer(decoded.name, decoded.data);
    const reply = encodeCommandReply(decoded.name, decoded.requestId, this.sn, result.ret, result.msg, result.results);
    const seen: CamCommandSeen = { name: decoded.name, requestId: decoded.requestId, data: decoded.data, reply };
    this.link.answered(reply, seen);
    this.emit('command', seen);
  }

  private answer(name: string, data: JsonObject): Result {
    const forced = this.link.takeFailure(name);
    if (forced) return forced;
    const handler = (this.handlers as Record<string, ((data: JsonObject) => Result) | undefined>)[name];
    return handler ? handler(data) : { ret: Ret.unsupported, msg: `unknown operate ${name}` };
  }
}

// A simulated snapshot camera: heartbeats every hb_interval, uploads snapshots at a chosen rate,
// and answers get/set_dev_config, upgrade_dev and control_cmd as seed 004 describes. What is not
// wscam (connection, pacing, stats, waiting) is SimDevice's.
import type { JsonObject } from '../../src/adapter.js';
import { isObject } from '../../src/json.js';
import { Operate, Ret, type CommandName } from '../../adapters/wscam/constants.js';
import { hbIntervalOf, intOf, type RequestId } from '../../adapters/wscam/decode.js';
import { handlerOf, SimDevice, type GatewayTraffic, type Responded, type SimDeviceOptions } from '../ws-common/simulator.js';
import { decodeGatewayMessage, encodeCommandReply, encodeHeartbeat, encodeUploadSnapshot } from './codec.js';

export interface CamSimulatorOptions extends SimDeviceOptions {
  /** Heartbeat interval in seconds (default 60, as the seed). */
  hbInterval?: number;
  /** Seconds the camera clock is off (default 0). */
  clockOffsetS?: number;
  mac?: string;
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
  /** The command's envelope as the gateway sent it. */
  sn: unknown;
  timestamp: unknown;
  data: JsonObject;
  reply: JsonObject;
}

export interface CamConfig {
  mac: string;
  upload_type: number;
  upload_addr: string;
  hb_interval: number;
}

interface CamCommand {
  name: string;
  requestId: RequestId;
  sn: unknown;
  timestamp: unknown;
  data: JsonObject;
}

type Failure = { ret: number; msg: string };
type Result = Failure & { results?: JsonObject };

export class CamSimulator extends SimDevice<CamCommandSeen, Failure, CamAnswer, CamCommand> {
  readonly config: CamConfig;
  /** The last package_url an upgrade_dev named. */
  upgradedFrom: string | undefined;
  /** IO outputs as io_control left them. */
  readonly io: Record<string, number> = {};

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
      this.heartbeatChanged(hb);
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

  constructor(protected override readonly options: CamSimulatorOptions) {
    super(options);
    this.config = {
      mac: options.mac ?? '11:22:33:44:55:66',
      upload_type: 0,
      upload_addr: '',
      hb_interval: options.hbInterval ?? 60,
    };
  }

  /** Seconds by the camera clock. */
  nowS(offsetS = 0): number {
    return Math.floor(Date.now() / 1000) + (this.options.clockOffsetS ?? 0) + offsetS;
  }

  /** Connects and heartbeats (the first heartbeat binds the connection to the sn). */
  async start(): Promise<CamAnswer> {
    if (!this.connected) await this.connect();
    const answer = await this.heartbeat();
    this.heartbeatEvery(this.config.hb_interval);
    return answer;
  }

  /** Sends a message and waits for the answer echoing its request_id. */
  request(message: JsonObject): Promise<CamAnswer> {
    const id = String(message.request_id);
    this.sentMessages.set(id, message);
    if (this.sentMessages.size > 256) this.sentMessages.delete(this.sentMessages.keys().next().value as string);
    return this.exchange(message, (a) => a.requestId !== undefined && String(a.requestId) === id);
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

  /** The next command (of `name`, if given) is answered with `ret` (non-zero) and `msg`. */
  failNext(name?: string, ret = 1, msg = 'simulated failure'): void {
    this.failNextWith(name, { ret, msg });
  }

  protected sendTraffic(): Promise<CamAnswer> {
    return this.uploadSnapshot();
  }

  protected read(message: JsonObject): GatewayTraffic<CamAnswer, CamCommand> {
    const decoded = decodeGatewayMessage(message);
    if (decoded.kind === 'answer') {
      const { kind: _kind, ...answer } = decoded;
      return { kind: 'answer', answer };
    }
    if (decoded.kind === 'command') return { kind: 'command', command: decoded };
    return { kind: 'other' };
  }

  protected respond(command: CamCommand): Responded<CamCommandSeen> {
    const result = this.answer(command.name, command.data);
    const reply = encodeCommandReply(command.name, command.requestId, this.sn, result.ret, result.msg, result.results);
    const { name, requestId, sn, timestamp, data } = command;
    return { reply, seen: { name, requestId, sn, timestamp, data, reply } };
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
    return this.count(answer, (got) => got.ret === Ret.ok);
  }

  private answer(name: string, data: JsonObject): Result {
    const forced = this.takeFailure(name);
    if (forced) return forced;
    const handler = handlerOf<(data: JsonObject) => Result>(this.handlers, name);
    return handler ? handler(data) : { ret: Ret.unsupported, msg: `unknown operate ${name}` };
  }
}

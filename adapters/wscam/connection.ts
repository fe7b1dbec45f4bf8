// One camera's connection. wscam answers echo their request_id, so a few handlers may run at
// once; every request is checked for its timestamp and sn before it binds or is published.
import type { WebSocket } from 'ws';
import type { CommandAnswer, DeviceCommand, DeviceHandle, JsonObject, UplinkOptions } from '../../src/adapter.js';
import {
  dispatch,
  livenessMs,
  WsDeviceConnection,
  type Admission,
  type HandlerTable,
  type Route,
  type WsConnectionEnv,
} from '../ws-common/connection.js';
import { identityOf } from '../ws-common/identity.js';
import type { ParsedMessage } from '../ws-common/json.js';
import type { WscamConfig } from './config.js';
import { COMMANDS, IMAGE_FIELD, Operate, Ret, RSP_SUFFIX, UPLOADS } from './constants.js';
import {
  checkTimestamp,
  commandAnswer,
  decodeDeviceMessage,
  hbIntervalOf,
  type CamReply,
  type DeviceMessage,
} from './decode.js';
import { encodeAnswer, encodeCommand } from './encode.js';

/** Handlers per camera running at once (an upload waiting for the broker does not hold a heartbeat). */
const CONCURRENCY = 4;

type Request = Exclude<DeviceMessage, { kind: 'reply' | 'stale' }>;
type Upload = Extract<Request, { kind: 'heartbeat' | 'upload_snapshot' }>;

const ADMISSION_RET: Record<string, number> = {
  sn_mismatch: Ret.snMismatch,
  not_allowed: Ret.notAllowed,
};

const ANSWER_NAMES: ReadonlySet<string> = new Set(COMMANDS.map((name) => `${name}${RSP_SUFFIX}`));
const UPLOAD_NAMES: ReadonlySet<string> = new Set(UPLOADS);

/** Metric labels stay bounded whatever operate a camera invents. */
function answerName(operate: string): string {
  return ANSWER_NAMES.has(operate) ? operate : 'unknown';
}

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

export class CamConnection extends WsDeviceConnection<WscamConfig, CamReply> {
  /** The camera's hb_interval as last learned from get/set_dev_config. */
  private heartbeatS: number;
  private readonly handlers: HandlerTable<Request> = {
    heartbeat: (message) => this.onHeartbeat(message),
    upload_snapshot: (message, raw) => this.onUploadSnapshot(message, raw),
    unknown: (message) => this.onUnknown(message),
    invalid: (message) => this.onInvalid(message),
  };

  constructor(socket: WebSocket, remote: string, env: WsConnectionEnv<WscamConfig>) {
    super(socket, remote, env, CONCURRENCY);
    this.heartbeatS = env.context.config.heartbeatIntervalS;
  }

  async execute(command: DeviceCommand): Promise<CommandAnswer> {
    const sn = this.deviceId as string;
    const requestId = this.env.ids.next((id) => this.pending.has(id));
    const message = encodeCommand(command.name, requestId, sn, nowS(), command.data);
    const answer = commandAnswer(command.name, await this.request(requestId, message, command.name, command.signal));
    if (answer.ok) this.learn(command, answer);
    return answer;
  }

  protected route({ message, raw }: ParsedMessage): Route<CamReply> {
    const decoded = decodeDeviceMessage(message, (id) => this.pending.has(id));
    switch (decoded.kind) {
      case 'reply':
        if (decoded.sn !== undefined && identityOf(decoded.sn) !== this.deviceId) {
          this.protocolError('sn_mismatch', `${decoded.operate} names another sn`);
          return { kind: 'drop', name: answerName(decoded.operate) };
        }
        this.handle?.touch();
        return { kind: 'reply', name: answerName(decoded.operate), id: decoded.requestId, reply: decoded };
      case 'stale':
        return { kind: 'late', name: answerName(decoded.operate), id: decoded.requestId };
      case 'invalid':
        return { kind: 'handle', name: decoded.name, task: dispatch(this.handlers, decoded, raw) };
      default:
        return { kind: 'handle', name: decoded.kind, task: dispatch(this.handlers, decoded, raw) };
    }
  }

  /** A message that is not JSON has no operate or request_id to answer with. */
  protected async refuseUnreadable(): Promise<void> {}

  private async onHeartbeat(message: Extract<Request, { kind: 'heartbeat' }>): Promise<void> {
    if (!(await this.accept(message))) return;
    await this.reply(message, Ret.ok);
  }

  private async onUploadSnapshot(message: Extract<Request, { kind: 'upload_snapshot' }>, raw: JsonObject): Promise<void> {
    const handle = await this.accept(message);
    if (!handle) return;
    const options: UplinkOptions = { raw };
    const image = message.data[IMAGE_FIELD];
    if (typeof image === 'string' && image !== '') options.media = [IMAGE_FIELD];
    try {
      // The camera resends an unacknowledged snapshot with the same request_id, on this connection
      // or a new one: publish it once.
      await handle.dedupe(`upload_snapshot:${message.requestId}`, () => handle.uplink(Operate.uploadSnapshot, message.data, options), {
        scope: 'device',
      });
    } catch (err) {
      this.logger.warn({ err, requestId: message.requestId }, 'upload_snapshot not handed over; the camera gets ret -1');
      return this.reply(message, Ret.failure, 'not delivered, send it again');
    }
    await this.reply(message, Ret.ok);
  }

  private async onUnknown(message: Extract<Request, { kind: 'unknown' }>): Promise<void> {
    this.protocolError('unknown_operate', `unknown operate ${message.operate}`);
    return this.reply(message, Ret.unsupported, `unknown operate ${message.operate}`);
  }

  private async onInvalid(message: Extract<Request, { kind: 'invalid' }>): Promise<void> {
    this.protocolError(message.reason, message.message);
    if (message.answer) return this.reply(message.answer, Ret.badRequest, message.message);
  }

  /** A refused message establishes nothing (DESIGN): the clock and sn are checked before binding. */
  private async accept(message: Upload): Promise<DeviceHandle | undefined> {
    const skew = checkTimestamp(message.timestamp, nowS(), this.config.maxClockSkewS);
    if (skew) {
      this.protocolError(skew.reason, skew.message);
      await this.reply(message, skew.ret, skew.message);
      return undefined;
    }
    const admission: Admission = this.admit(message.sn);
    if (!admission.ok) {
      await this.reply(message, ADMISSION_RET[admission.reason] ?? Ret.badRequest, admission.message);
      if (admission.close) this.close('protocol_error');
      return undefined;
    }
    // Only accepted messages keep a camera alive: one with a wrong clock is not heard.
    this.handle?.touch();
    return this.handle ?? this.bind(admission.deviceId, {}, this.heartbeatS);
  }

  /** `{operate}_rsp` echoing the request; a refusal of a request without a usable sn names the
   *  connection's own. */
  private reply(request: { operate: string; requestId: unknown; sn: unknown }, ret: number, msg = ''): Promise<void> {
    const sn = identityOf(request.sn) !== undefined ? request.sn : (this.deviceId ?? '');
    const name = UPLOAD_NAMES.has(request.operate) ? `${request.operate}${RSP_SUFFIX}` : 'unknown';
    return this.answer(encodeAnswer(request.operate, request.requestId, sn, ret, msg), name);
  }

  /** get/set_dev_config tell the camera's heartbeat interval (liveness) and mac (info). */
  private learn(command: DeviceCommand, answer: CommandAnswer): void {
    const handle = this.handle;
    if (!handle) return;
    let heartbeatS: number | undefined;
    if (command.name === Operate.getDevConfig) {
      heartbeatS = hbIntervalOf(answer.data?.hb_interval);
      if (typeof answer.data?.mac === 'string') handle.updateInfo({ mac: answer.data.mac });
    } else if (command.name === Operate.setDevConfig) {
      heartbeatS = hbIntervalOf(command.data.hb_interval);
    }
    if (heartbeatS !== undefined && heartbeatS !== this.heartbeatS) {
      this.heartbeatS = heartbeatS;
      handle.setLiveness(livenessMs(this.heartbeatS));
    }
  }
}

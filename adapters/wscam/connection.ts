// One camera's connection. wscam answers echo their request_id, so a few handlers may run at
// once; every request is checked for its timestamp and sn before it binds or is published.
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { CommandAnswer, DeviceCommand, DeviceHandle, JsonObject, UplinkOptions } from '../../src/adapter.js';
import {
  livenessMs,
  WsDeviceConnection,
  type Admission,
  type Done,
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
type Snapshot = Extract<Request, { kind: 'upload_snapshot' }>;

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

export class CamConnection extends WsDeviceConnection<WscamConfig, CamReply, Request> {
  /** The camera's hb_interval as last learned from get/set_dev_config. */
  private heartbeatS: number;
  protected readonly handlers: HandlerTable<Request> = {
    heartbeat: (message, _raw, done) => this.onHeartbeat(message, done),
    upload_snapshot: (message, raw, done) => this.onUploadSnapshot(message, raw, done),
    unknown: (message, _raw, done) => this.onUnknown(message, done),
    invalid: (message, _raw, done) => this.onInvalid(message, done),
  };

  constructor(socket: WebSocket, remote: string, transport: Socket, env: WsConnectionEnv<WscamConfig>) {
    super(socket, remote, transport, env, CONCURRENCY);
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

  protected route({ message, raw }: ParsedMessage): Route<CamReply, Request> {
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
        return { kind: 'handle', name: decoded.name, message: decoded, raw };
      default:
        return { kind: 'handle', name: decoded.kind, message: decoded, raw };
    }
  }

  /** A message that is not JSON has no operate or request_id to answer with. */
  protected refuseUnreadable(_error: unknown, done: Done): void {
    done();
  }

  private onHeartbeat(message: Extract<Request, { kind: 'heartbeat' }>, done: Done): void {
    if (this.accept(message)) this.reply(message, Ret.ok);
    done();
  }

  private onUploadSnapshot(message: Snapshot, raw: JsonObject, done: Done): void {
    const handle = this.accept(message);
    if (!handle) return done();
    const options: UplinkOptions = { raw };
    const image = message.data[IMAGE_FIELD];
    if (typeof image === 'string' && image !== '') options.media = [IMAGE_FIELD];
    // The camera resends an unacknowledged snapshot with the same request_id, on this connection
    // or a new one: publish it once, answer every time. A number and its digits are the same id.
    handle.dedupeThen(
      Operate.uploadSnapshot,
      String(message.requestId),
      (finish) => handle.uplinkThen(Operate.uploadSnapshot, message.data, options, finish),
      (err) => this.snapshotHandedOver(err, message, done),
    );
  }

  /** The broker acknowledged the snapshot (or a run of the same request_id did before): ret 0. */
  private snapshotHandedOver(err: unknown, message: Snapshot, done: Done): void {
    if (err) {
      this.logger.warn({ err, requestId: message.requestId }, 'upload_snapshot not handed over; the camera gets ret -1');
      this.reply(message, Ret.failure, 'not delivered, send it again');
    } else {
      this.reply(message, Ret.ok);
    }
    done();
  }

  private onUnknown(message: Extract<Request, { kind: 'unknown' }>, done: Done): void {
    this.protocolError('unknown_operate', `unknown operate ${message.operate}`);
    this.reply(message, Ret.unsupported, `unknown operate ${message.operate}`);
    done();
  }

  private onInvalid(message: Extract<Request, { kind: 'invalid' }>, done: Done): void {
    this.protocolError(message.reason, message.message);
    if (message.answer) this.reply(message.answer, Ret.badRequest, message.message);
    done();
  }

  /** A refused message establishes nothing (DESIGN): the clock and sn are checked before binding.
   *  A refusal is answered here. */
  private accept(message: Upload): DeviceHandle | undefined {
    const skew = checkTimestamp(message.timestamp, nowS(), this.config.maxClockSkewS);
    if (skew) {
      this.protocolError(skew.reason, skew.message);
      this.reply(message, skew.ret, skew.message);
      return undefined;
    }
    const admission: Admission = this.admit(message.sn);
    if (!admission.ok) {
      this.reply(message, ADMISSION_RET[admission.reason] ?? Ret.badRequest, admission.message);
      if (admission.close) this.close('protocol_error');
      return undefined;
    }
    // Only accepted messages keep a camera alive: one with a wrong clock is not heard.
    this.handle?.touch();
    return this.handle ?? this.bind(admission.deviceId, {}, this.heartbeatS);
  }

  /** `{operate}_rsp` echoing the request; a refusal of a request without a usable sn names the
   *  connection's own. */
  private reply(request: { operate: string; requestId: unknown; sn: unknown }, ret: number, msg = ''): void {
    const sn = identityOf(request.sn) !== undefined ? request.sn : (this.deviceId ?? '');
    const name = UPLOAD_NAMES.has(request.operate) ? `${request.operate}${RSP_SUFFIX}` : 'unknown';
    this.answer(JSON.stringify(encodeAnswer(request.operate, request.requestId, sn, ret, msg)), name);
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

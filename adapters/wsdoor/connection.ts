// One terminal's connection. wsdoor answers carry no correlation id ("同步" mode in the seed), so
// the inbox runs one handler at a time and answers leave in request order.
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { CommandAnswer, DeviceCommand, JsonObject, UplinkOptions } from '../../src/adapter.js';
import type { ProtocolError } from '../../src/errors.js';
import { WsDeviceConnection, type Done, type HandlerTable, type Route, type WsConnectionEnv } from '../ws-common/connection.js';
import type { ParsedMessage } from '../ws-common/json.js';
import type { WsdoorConfig } from './config.js';
import { Code } from './constants.js';
import { commandAnswer, decodeDeviceMessage, imagePaths, type DeviceMessage, type DoorReply } from './decode.js';
import { encodeCommand, encodeRegisterAnswer, encodeResponse } from './encode.js';

type Upload = Exclude<DeviceMessage, { kind: 'reply' | 'stale' }>;
type RealtimeEvent = Extract<Upload, { kind: 'realtimeEvent' }>;

/** The answer most uploads get, serialised once. */
const OK = JSON.stringify(encodeResponse(Code.ok));

export class DoorConnection extends WsDeviceConnection<WsdoorConfig, DoorReply, Upload> {
  protected readonly handlers: HandlerTable<Upload> = {
    register: (message, _raw, done) => this.onRegister(message, done),
    heartbeat: (_message, _raw, done) => this.onHeartbeat(done),
    realtimeEvent: (message, raw, done) => this.onRealtimeEvent(message, raw, done),
    invalid: (message, _raw, done) => this.onInvalid(message, done),
  };

  constructor(socket: WebSocket, remote: string, transport: Socket, env: WsConnectionEnv<WsdoorConfig>) {
    super(socket, remote, transport, env, 1);
  }

  async execute(command: DeviceCommand): Promise<CommandAnswer> {
    const commandId = this.env.ids.next((id) => this.pending.has(id));
    const message = encodeCommand(commandId, command.name, command.data);
    return commandAnswer(await this.request(commandId, message, command.name, command.signal));
  }

  protected route({ message, raw }: ParsedMessage): Route<DoorReply, Upload> {
    this.handle?.touch();
    const decoded = decodeDeviceMessage(message, (id) => this.pending.has(id));
    switch (decoded.kind) {
      case 'reply':
        return { kind: 'reply', name: 'reply', id: decoded.commandId, reply: decoded };
      case 'stale':
        return { kind: 'late', name: 'reply', id: decoded.commandId };
      default:
        return { kind: 'handle', name: decoded.kind === 'invalid' ? decoded.name : decoded.kind, message: decoded, raw };
    }
  }

  protected refuseUnreadable(error: ProtocolError, done: Done): void {
    this.refuse(error.message);
    done();
  }

  private onRegister(message: Extract<Upload, { kind: 'register' }>, done: Done): void {
    const admission = this.admit(message.sn);
    if (!admission.ok) this.refuse(admission.message, admission.close);
    else if (this.bind(admission.deviceId, message.info, this.config.heartbeatIntervalS)) {
      this.answer(JSON.stringify(encodeRegisterAnswer(this.config.heartbeatIntervalS)), 'response');
    }
    done();
  }

  private onHeartbeat(done: Done): void {
    if (!this.handle) this.notRegistered('heartbeat');
    else this.answer(OK, 'response');
    done();
  }

  private onRealtimeEvent(message: RealtimeEvent, raw: JsonObject, done: Done): void {
    const handle = this.handle;
    if (!handle) {
      this.notRegistered('realtimeEvent');
      return done();
    }
    const options: UplinkOptions = { raw };
    const media = imagePaths(message.data);
    if (media) options.media = media;
    // The terminal resends an unacknowledged event with the same eventid, on this connection or a
    // new one: publish it once, answer every time.
    handle.dedupeThen(
      'realtimeEvent',
      message.eventid,
      (finish) => handle.uplinkThen('realtimeEvent', message.data, options, finish),
      (err) => this.eventHandedOver(err, message.eventid, done),
    );
  }

  /** The broker acknowledged the event (or a run of the same eventid did before): 200; else 500. */
  private eventHandedOver(err: unknown, eventid: string, done: Done): void {
    if (err) {
      this.logger.warn({ err, eventid }, 'realtimeEvent not handed over; the terminal gets 500');
      this.refuse('not delivered, send it again');
    } else {
      this.answer(OK, 'response');
    }
    done();
  }

  private onInvalid(message: Extract<Upload, { kind: 'invalid' }>, done: Done): void {
    this.protocolError(message.reason, message.message);
    this.refuse(message.message);
    done();
  }

  private notRegistered(what: string): void {
    this.protocolError('not_registered', `${what} before register`);
    this.refuse('not registered');
  }

  private refuse(reason: string, close = false): void {
    this.answer(JSON.stringify(encodeResponse(Code.failure, reason)), 'response');
    if (close) this.close('protocol_error');
  }
}

// One terminal's connection. wsdoor answers carry no correlation id ("同步" mode in the seed), so
// the inbox runs one handler at a time and answers leave in request order.
import type { WebSocket } from 'ws';
import type { CommandAnswer, DeviceCommand, JsonObject, UplinkOptions } from '../../src/adapter.js';
import type { ProtocolError } from '../../src/errors.js';
import { dispatch, WsDeviceConnection, type HandlerTable, type Route, type WsConnectionEnv } from '../ws-common/connection.js';
import type { ParsedMessage } from '../ws-common/json.js';
import type { WsdoorConfig } from './config.js';
import { Code } from './constants.js';
import { commandAnswer, decodeDeviceMessage, imagePaths, type DeviceMessage, type DoorReply } from './decode.js';
import { encodeCommand, encodeRegisterAnswer, encodeResponse } from './encode.js';

type Upload = Exclude<DeviceMessage, { kind: 'reply' | 'stale' }>;

export class DoorConnection extends WsDeviceConnection<WsdoorConfig, DoorReply> {
  private readonly handlers: HandlerTable<Upload> = {
    register: (message) => this.onRegister(message),
    heartbeat: () => this.onHeartbeat(),
    realtimeEvent: (message, raw) => this.onRealtimeEvent(message, raw),
    invalid: (message) => this.onInvalid(message),
  };

  constructor(socket: WebSocket, remote: string, env: WsConnectionEnv<WsdoorConfig>) {
    super(socket, remote, env, 1);
  }

  async execute(command: DeviceCommand): Promise<CommandAnswer> {
    const commandId = this.env.ids.next((id) => this.pending.has(id));
    const message = encodeCommand(commandId, command.name, command.data);
    return commandAnswer(await this.request(commandId, message, command.name, command.signal));
  }

  protected route({ message, raw }: ParsedMessage): Route<DoorReply> {
    this.handle?.touch();
    const decoded = decodeDeviceMessage(message, (id) => this.pending.has(id));
    switch (decoded.kind) {
      case 'reply':
        return { kind: 'reply', name: 'reply', id: decoded.commandId, reply: decoded };
      case 'stale':
        return { kind: 'late', name: 'reply', id: decoded.commandId };
      default: {
        const name = decoded.kind === 'invalid' ? decoded.name : decoded.kind;
        return { kind: 'handle', name, task: dispatch(this.handlers, decoded, raw) };
      }
    }
  }

  protected refuseUnreadable(error: ProtocolError): Promise<void> {
    return this.refuse(error.message);
  }

  private async onRegister(message: Extract<Upload, { kind: 'register' }>): Promise<void> {
    const admission = this.admit(message.sn);
    if (!admission.ok) return this.refuse(admission.message, admission.close);
    if (!this.bind(admission.deviceId, message.info, this.config.heartbeatIntervalS)) return;
    await this.answer(encodeRegisterAnswer(this.config.heartbeatIntervalS), 'response');
  }

  private async onHeartbeat(): Promise<void> {
    if (!this.handle) return this.notRegistered('heartbeat');
    await this.answer(encodeResponse(Code.ok), 'response');
  }

  private async onRealtimeEvent(message: Extract<Upload, { kind: 'realtimeEvent' }>, raw: JsonObject): Promise<void> {
    const handle = this.handle;
    if (!handle) return this.notRegistered('realtimeEvent');
    const options: UplinkOptions = { raw };
    const media = imagePaths(message.data);
    if (media) options.media = media;
    try {
      // The terminal resends an unacknowledged event with the same eventid: publish it once.
      await handle.dedupe(`realtimeEvent:${message.eventid}`, () => handle.uplink('realtimeEvent', message.data, options), { scope: 'device' });
    } catch (err) {
      this.logger.warn({ err, eventid: message.eventid }, 'realtimeEvent not handed over; the terminal gets 500');
      return this.refuse('not delivered, send it again');
    }
    await this.answer(encodeResponse(Code.ok), 'response');
  }

  private async onInvalid(message: Extract<Upload, { kind: 'invalid' }>): Promise<void> {
    this.protocolError(message.reason, message.message);
    return this.refuse(message.message);
  }

  private notRegistered(what: string): Promise<void> {
    this.protocolError('not_registered', `${what} before register`);
    return this.refuse('not registered');
  }

  private async refuse(reason: string, close = false): Promise<void> {
    await this.answer(encodeResponse(Code.failure, reason), 'response');
    if (close) this.close('protocol_error');
  }
}

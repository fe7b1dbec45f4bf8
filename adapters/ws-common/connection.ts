// One device's WebSocket connection: what both JSON adapters share. The adapter's subclass reads
// messages (`route`) and answers them in its protocol; this class owns the identify deadline, the
// parse, the bounded inbox, the binding to a DeviceHandle, pending commands and the way it ends.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import type {
  AdapterContext,
  CommandAnswer,
  DeviceCommand,
  DeviceHandle,
  DeviceSession,
  DisconnectReason,
  JsonObject,
} from '../../src/adapter.js';
import { CommandError, ProtocolError, type ProtocolReason } from '../../src/errors.js';
import type { WsListenerConfig } from './config.js';
import type { CorrelationIds } from './ids.js';
import { topicLevelProblem } from '../../src/topics.js';
import { AllowList, identityOf } from './identity.js';
import { Inbox } from '../../src/inbox.js';
import { PendingCommands } from '../../src/pending.js';
import { parseWsMessage, type ParsedMessage } from './json.js';
import type { WsPeer } from './listener.js';
import { holdUntilTurnEnds } from '../../src/writes.js';

/** Frees a message's place in the inbox once it is dealt with (answered, or refused). */
export type Done = () => void;

/** Handlers waiting per connection before its socket is paused. */
const INBOX_HIGH_WATER = 32;
/** Time a closing socket gets for the close handshake before it is cut. */
const CLOSE_GRACE_MS = 1000;

/** A device silent for this many of its heartbeat intervals is offline (DESIGN "Liveness"). */
const LIVENESS_INTERVALS = 3;

export function livenessMs(heartbeatIntervalS: number): number {
  return LIVENESS_INTERVALS * heartbeatIntervalS * 1000;
}

const CLOSE_CODES: Record<DisconnectReason, number> = {
  closed: 1000,
  logout: 1000,
  replaced: 4000,
  timeout: 1001,
  protocol_error: 1008,
  shutdown: 1001,
};

export interface WsConnectionEnv<C extends WsListenerConfig> {
  context: AdapterContext<C>;
  allowList: AllowList;
  ids: CorrelationIds;
}

/** A message for a handler, as the inbox holds it until its turn. */
export interface Job<M> {
  kind: 'handle';
  /** Its metric name (bounded). */
  name: string;
  message: M;
  raw: JsonObject;
}

/** What a connection does with a readable message; `name` is its metric name (bounded). */
export type Route<Reply, M> =
  | { kind: 'reply'; name: string; id: string; reply: Reply }
  /** An answer to a command that timed out: nothing to do. */
  | { kind: 'late'; name: string; id: string }
  /** Dealt with already (refused and reported), nothing to answer. */
  | { kind: 'drop'; name: string }
  | Job<M>;

type Work<M> = Job<M> | { kind: 'unreadable'; error: ProtocolError };

/** One handler per message kind. It answers the device and then calls `done`, once, possibly
 *  before it returns; callbacks, not promises: this is every event's path. */
export type HandlerTable<M extends { kind: string }> = {
  [K in M['kind']]: (message: Extract<M, { kind: K }>, raw: JsonObject, done: Done) => void;
};

export type Admission =
  | { ok: true; deviceId: string }
  | { ok: false; reason: ProtocolReason | 'not_allowed'; message: string; /** answer, then close the connection */ close: boolean };

/** `M`: the messages the handlers answer (uploads), by their `kind`. */
export abstract class WsDeviceConnection<C extends WsListenerConfig, Reply, M extends { kind: string }> implements DeviceSession, WsPeer {
  protected handle: DeviceHandle | undefined;
  protected readonly pending = new PendingCommands<string, Reply>();
  protected logger: Logger;
  protected abstract readonly handlers: HandlerTable<M>;
  private readonly inbox: Inbox<Work<M>>;
  private deadline: NodeJS.Timeout | undefined;
  private ending: DisconnectReason | undefined;
  private finished = false;
  private readonly drained = (): void => this.inbox.unblock();

  constructor(
    protected readonly socket: WebSocket,
    readonly remote: string,
    /** The TCP (or TLS) socket under `socket`: its writes are held until the turn ends, and a full
     *  write buffer stops the reading. */
    private readonly transport: Socket,
    protected readonly env: WsConnectionEnv<C>,
    /** Handlers run at once; 1 keeps answers in request order for protocols without correlation. */
    concurrency: number,
  ) {
    this.logger = env.context.logger.child({ remote });
    this.inbox = new Inbox<Work<M>>({
      concurrency,
      highWater: INBOX_HIGH_WATER,
      flow: socket,
      run: (work, done) => this.run(work, done),
      onError: (err) => this.logger.error({ err }, 'message handler failed'),
      onPause: env.context.metrics.readsPaused,
    });
  }

  /** Reads the device's message: a command's answer, or a job for a handler (run in order by the
   *  inbox). */
  protected abstract route(parsed: ParsedMessage): Route<Reply, M>;

  /** Answers a message that could not be read, when the protocol has an answer for that. */
  protected abstract refuseUnreadable(error: ProtocolError, done: Done): void;

  abstract execute(command: DeviceCommand): Promise<CommandAnswer>;

  get deviceId(): string | undefined {
    return this.handle?.deviceId;
  }

  protected get config(): Readonly<C> {
    return this.env.context.config;
  }

  open(): this {
    this.socket.on('message', (data: RawData) => this.receive(data));
    this.socket.on('error', (err: Error & { code?: string }) => this.socketError(err));
    this.socket.on('close', () => this.finish(this.ending ?? 'closed'));
    this.deadline = setTimeout(() => this.identifyTimeout(), this.config.identifyTimeoutMs);
    return this;
  }

  /** DeviceSession: the core (replacement, liveness) or the adapter ends this connection. */
  close(reason: DisconnectReason): void {
    if (this.ending) return;
    this.ending = reason;
    this.finish(reason);
    if (reason === 'timeout') {
      // Unresponsive peers would hold a close handshake open for nothing.
      this.socket.terminate();
      return;
    }
    this.socket.close(CLOSE_CODES[reason], reason);
    setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  onPingTimeout(): void {
    this.logger.debug('no pong to the last ping');
    this.close('timeout');
  }

  /** Checks a device identity (`sn`) before it binds or speaks on this connection. */
  protected admit(value: unknown): Admission {
    const sn = identityOf(value);
    const problem = sn === undefined ? 'is missing or not a string' : topicLevelProblem(sn);
    if (sn === undefined || problem !== undefined) {
      return this.refused('bad_identity', `sn ${problem ?? ''}`.trim(), false);
    }
    if (this.deviceId !== undefined && sn !== this.deviceId) {
      return this.refused('sn_mismatch', `this connection belongs to sn ${this.deviceId}`, false);
    }
    if (!this.env.allowList.allows(sn)) {
      this.env.context.events.authFailed('not_allowed', { deviceId: sn, remote: this.remote });
      this.logger.debug({ sn }, 'sn is not in the allow-list');
      return { ok: false, reason: 'not_allowed', message: `sn ${sn} is not allowed here`, close: true };
    }
    return { ok: true, deviceId: sn };
  }

  /** Registers the device with the core (or refreshes its info when it identifies again); it is
   *  offline after three silent `heartbeatIntervalS`. */
  protected bind(deviceId: string, info: JsonObject, heartbeatIntervalS: number): DeviceHandle | undefined {
    if (this.finished) return undefined;
    if (this.handle) {
      this.handle.updateInfo(info);
      this.handle.setLiveness(livenessMs(heartbeatIntervalS));
      return this.handle;
    }
    clearTimeout(this.deadline);
    const handle = this.env.context.devices.connect({ deviceId, remote: this.remote, info }, this, {
      livenessMs: livenessMs(heartbeatIntervalS),
    });
    this.handle = handle;
    this.logger = handle.logger;
    return handle;
  }

  protected protocolError(reason: ProtocolReason, message: string): void {
    this.env.context.events.protocolError(reason, { deviceId: this.deviceId, remote: this.remote });
    this.logger.debug({ reason }, message);
  }

  /** Sends an answer (JSON text); a device that left meanwhile needs none. Not waiting for the
   *  write's callback: answers leave in the order they are written, the broker acknowledged their
   *  messages before, and a device that does not read them is not read either (below). */
  protected answer(text: string, name: string): void {
    if (this.socket.readyState !== WebSocket.OPEN) {
      this.logger.debug(`answer ${name} not sent: the connection is closed`);
      return;
    }
    this.write(text);
    this.env.context.metrics.messageOut(name);
  }

  /** Sends a command and waits for the reply that `settle`s its correlation id. */
  protected request(id: string, message: JsonObject, name: string, signal: AbortSignal): Promise<Reply> {
    const reply = this.pending.wait(id, signal);
    if (this.socket.readyState !== WebSocket.OPEN) {
      this.pending.fail(id, new CommandError('offline', `could not send ${name}: the connection to the device is closed`));
      return reply;
    }
    this.write(JSON.stringify(message), (err) => {
      if (err) this.pending.fail(id, new CommandError('offline', `could not send ${name}: ${err.message}`));
    });
    this.env.context.metrics.messageOut(name);
    return reply;
  }

  private write(text: string, sent?: (err?: Error) => void): void {
    // The broker acknowledges in bursts: the answers of one turn leave in one write.
    holdUntilTurnEnds(this.transport);
    const draining = this.transport.writableNeedDrain;
    this.socket.send(text, sent);
    if (!draining && this.transport.writableNeedDrain) {
      this.inbox.block();
      this.transport.once('drain', this.drained);
    }
  }

  private run(work: Work<M>, done: Done): void {
    if (work.kind === 'unreadable') return this.refuseUnreadable(work.error, done);
    // TypeScript cannot correlate a union member with its table entry; the mapped type guarantees it.
    const handler = this.handlers[work.message.kind as M['kind']] as (message: M, raw: JsonObject, done: Done) => void;
    handler(work.message, work.raw, done);
  }

  private refused(reason: ProtocolReason, message: string, close: boolean): Admission {
    this.protocolError(reason, message);
    return { ok: false, reason, message, close };
  }

  private receive(data: RawData): void {
    if (this.finished) return;
    let parsed: ParsedMessage;
    try {
      parsed = parseWsMessage(data, this.config.maxPayloadBytes);
    } catch (err) {
      const error = err instanceof ProtocolError ? err : new ProtocolError('bad_json', String(err));
      this.env.context.metrics.messageIn('unknown');
      this.protocolError(error.reason, error.message);
      this.inbox.push({ kind: 'unreadable', error });
      return;
    }
    let route: Route<Reply, M>;
    try {
      route = this.route(parsed);
    } catch (err) {
      // A bug here must not escape into ws's event emitter and take the process down.
      this.logger.error({ err }, 'message routing failed');
      return;
    }
    this.env.context.metrics.messageIn(route.name);
    switch (route.kind) {
      case 'reply':
        this.pending.settle(route.id, route.reply);
        break;
      case 'late':
        this.logger.debug({ id: route.id, name: route.name }, 'answer to a command that timed out');
        break;
      case 'handle':
        this.inbox.push(route);
        break;
      case 'drop':
        break;
    }
  }

  private socketError(err: Error & { code?: string }): void {
    const oversize = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
    this.env.context.metrics.messageIn('unknown');
    this.protocolError(oversize ? 'oversize' : 'bad_frame', err.message);
    // ws has sent its close frame (1009 for oversize) already; this ends the session.
    this.close('protocol_error');
  }

  private identifyTimeout(): void {
    if (this.handle || this.finished) return;
    this.protocolError('identify_timeout', `no identifying message within ${this.config.identifyTimeoutMs} ms`);
    this.close('protocol_error');
  }

  private finish(reason: DisconnectReason): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadline);
    this.inbox.close();
    this.pending.failAll(new CommandError('offline', `the connection to the device ended (${reason})`));
    this.handle?.disconnect(reason);
  }
}

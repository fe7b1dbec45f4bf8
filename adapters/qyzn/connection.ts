// One device's TCP connection: framing, the session (register, login, heartbeats, logout), the
// dispatch of device messages to their handlers, and the commands waiting for their RESPONSE.
import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AdapterContext, CommandAnswer, DeviceCommand, DeviceHandle, DeviceSession, DisconnectReason, JsonObject } from '../../src/adapter.js';
import { HandoverError, OfflineError, ProtocolError, type ProtocolReason } from '../../src/errors.js';
import { Inbox } from '../../src/inbox.js';
import { EMPTY } from '../../src/json.js';
import { PendingCommands } from '../../src/pending.js';
import { RecentRuns } from '../../src/recent.js';
import { isValidTopicLevel } from '../../src/topics.js';
import { holdUntilTurnEnds } from '../../src/writes.js';
import { commandAnswer } from './answers.js';
import { checkLogin, checkRegister, type AuthOptions, type Refusal, type Registration } from './auth.js';
import { decodeMessage, decodeResponse, type MessageBody } from './body.js';
import type { QyznConfig } from './config.js';
import { MAX_RESENDS, MISSED_HEARTBEATS, MsgType, Result, isMessageName, resultDesc } from './constants.js';
import { emptyAnswerBody, encodeFrame, encodeHeartbeat, encodeMessage, encodeResponse } from './encoder.js';
import { NOTIFICATION, handlerFor, type Answer, type Handler, type HandlerEnv, type Inbound, type Reply, type SessionPort } from './handlers.js';
import { FrameParser, type Frame } from './parser.js';
import type { Versions } from './tables.js';

/** Device messages handled at once per connection; past it the socket is not read (backpressure). */
const MAX_IN_FLIGHT = 32;
/** How long a closing connection may flush its last answer (logout) before it is cut. */
const CLOSE_GRACE_MS = 2000;

export interface ConnectionEnv extends HandlerEnv {
  readonly context: AdapterContext<QyznConfig>;
  readonly auth: AuthOptions;
  readonly versions: Versions;
  /** What an earlier register told about a serial (mac, type), for `info` after a bare login. */
  recall(serial: string): Registration | undefined;
  remember(registration: Registration): void;
}

export class QyznConnection implements DeviceSession, SessionPort {
  readonly remote: string;
  readonly env: ConnectionEnv;
  private readonly socket: Socket;
  private readonly parser: FrameParser;
  private readonly inbox: Inbox<Frame>;
  private readonly pending = new PendingCommands<number, Frame>();
  /** REQUESTs run or running on this connection, by seq: a retransmission gets the first run's answer. */
  private readonly recent = new RecentRuns<Reply>();
  private logger: Logger;
  /** Set once the device logged in: it is online, and only then takes commands. */
  private handle: DeviceHandle | undefined;
  /** Set once the gateway or the device began to end the connection. */
  private closeReason: DisconnectReason | undefined;
  private registration: Registration | undefined;
  private deviceVersion: number | undefined;
  private loginTimer: NodeJS.Timeout | undefined;
  private seq = randomInt(0, 0x1_0000_0000);
  private readonly parsed = (): void => {
    if (this.parser.error) this.broken(this.parser.error);
  };

  constructor(socket: Socket, env: ConnectionEnv) {
    this.socket = socket;
    this.env = env;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.logger = env.context.logger.child({ remote: this.remote });
    this.parser = new FrameParser({ maxBodyBytes: env.context.config.maxFrameBytesBeforeLogin });
    this.inbox = new Inbox<Frame>({
      concurrency: MAX_IN_FLIGHT,
      // The frames of a chunk wait in the parser: pause as soon as one has to wait.
      highWater: 1,
      flow: socket,
      run: (frame, done) => this.dispatch(frame, done),
      onError: (err) => this.logger.error({ err }, 'device message failed'),
      onPause: env.context.metrics.readsPaused,
    });
  }

  get device(): DeviceHandle | undefined {
    return this.handle;
  }

  get deviceId(): string | undefined {
    return this.handle?.deviceId;
  }

  start(): void {
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.inbox.pull(this.parser.frames(chunk), this.parsed));
    this.socket.on('error', (err) => this.logger.debug({ err: err.message }, 'socket error'));
    this.socket.on('close', () => this.finish());
    this.loginTimer = setTimeout(() => this.loginExpired(), this.env.context.config.loginTimeoutMs);
    this.loginTimer.unref();
  }

  /** DeviceSession: the core (liveness, replacement, shutdown) or the adapter ends this connection. */
  close(reason: DisconnectReason): void {
    if (this.closeReason) return;
    this.closeReason = reason;
    this.inbox.close();
    this.handle?.disconnect(reason);
    if (reason === 'logout') {
      // The logout answer is still in the socket's buffer: flush it, then cut.
      this.socket.end();
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    } else {
      this.socket.destroy();
    }
  }

  // --- bytes in -------------------------------------------------------------------------------

  /** `done` once the frame is handled (its answer sent, if it gets one): it frees its inbox place. */
  private dispatch(frame: Frame, done: () => void): void {
    this.handle?.touch();
    switch (frame.msgType) {
      case MsgType.HEARTBEAT:
        this.deviceVersion = frame.version;
        this.env.context.metrics.messageIn('heartbeat');
        this.send(encodeHeartbeat(frame.version, frame.seq));
        return done();
      case MsgType.RESPONSE:
        if (!this.pending.settle(frame.seq, frame)) this.logger.debug({ seq: frame.seq }, 'response to no pending command (late, or answered already)');
        return done();
      default:
        return this.onMessage(frame, done);
    }
  }

  private onMessage(frame: Frame, done: () => void): void {
    const expectsReply = frame.msgType === MsgType.REQUEST;
    let body: MessageBody;
    try {
      body = decodeMessage(frame.body);
    } catch (err) {
      // The framing is intact, so the stream stays usable: answer 104 and go on.
      this.report(err);
      if (expectsReply) this.reply(frame, '', { result: Result.INVALID_PARAMETER });
      return done();
    }
    const { message } = body;
    // The version the device speaks, for the commands it gets. Not from its RESPONSEs, which echo
    // the version of a command raised for it, nor from messages it raised itself (intercom, 5).
    if (!this.env.versions.raises(message)) this.deviceVersion = frame.version;
    this.env.context.metrics.messageIn(isMessageName(message) ? message : 'unknown');
    const handler = handlerFor(message) ?? (expectsReply ? undefined : NOTIFICATION);
    // Before login anything but register and login is 100, known or not (DESIGN "Protocol facts").
    if (!this.handle && !handler?.beforeLogin) {
      this.reportReason('not_logged_in', `${message.slice(0, 64)} before login`);
      if (expectsReply) this.reply(frame, message, { result: Result.UNREGISTERED });
      return done();
    }
    if (!handler) {
      this.reportReason('unknown_message', `request ${JSON.stringify(message.slice(0, 64))} is not in the protocol`);
      this.reply(frame, message, { result: Result.UNKNOWN_COMMAND });
      return done();
    }
    const input: Inbound = { message, data: body.data, raw: body.raw, seq: frame.seq, expectsReply };
    // Arrows passed inline, not named: tsx (esbuild's keepNames) wraps each named one in a call
    // that sets its name, every time it is created.
    if (handler.dedupe && expectsReply && this.handle) {
      this.recent.run(frame.seq, message, (finish) => this.runHandler(handler, input, finish), (err, reply) => this.answered(frame, input, done, err, reply));
    } else {
      this.runHandler(handler, input, (err, reply) => this.answered(frame, input, done, err, reply));
    }
  }

  private runHandler(handler: Handler, input: Inbound, finish: Answer): void {
    try {
      handler.handle(input, this, finish);
    } catch (err) {
      finish(err);
    }
  }

  private answered(frame: Frame, input: Inbound, done: () => void, err: unknown, reply: Reply | undefined): void {
    const outcome = err ? this.failure(err, input.message) : (reply as Reply);
    if (input.expectsReply) this.reply(frame, input.message, outcome);
    if (outcome.thenClose) this.close(outcome.thenClose);
    done();
  }

  private failure(err: unknown, message: string): Reply {
    if (err instanceof HandoverError) return { result: Result.FAILED };
    if (err instanceof ProtocolError) {
      this.report(err);
      return { result: Result.INVALID_PARAMETER };
    }
    this.logger.error({ err, message }, 'device message handler failed');
    return { result: Result.FAILED };
  }

  private reply(frame: Frame, message: string, reply: Reply): void {
    const version = this.env.versions.forMessage(message, frame.version);
    const { result, desc, data = EMPTY, extra } = reply;
    const header = { version, seq: frame.seq };
    if (desc === undefined && data === EMPTY && !extra) {
      this.send(encodeFrame({ ...header, msgType: MsgType.RESPONSE }, emptyAnswerBody(result, resultDesc(result, message))));
    } else {
      const fields = { result, desc: desc ?? resultDesc(result, message), data };
      this.send(encodeResponse(header, extra ? { ...fields, extra } : fields));
    }
    this.env.context.metrics.messageOut(isMessageName(message) ? message : 'unknown');
  }

  // --- session (SessionPort) ------------------------------------------------------------------

  register(data: JsonObject): Reply {
    const outcome = checkRegister(data, this.env.auth);
    if (!outcome.ok) return this.refused(outcome, data.serial);
    this.registration = outcome;
    this.env.remember(outcome);
    this.logger.info({ serial: outcome.serial, mac: outcome.mac, type: outcome.type }, 'device registered');
    return { result: Result.SUCCESS, data: { uuid: outcome.uuid, passwd: outcome.passwd } };
  }

  login(data: JsonObject): Reply {
    const outcome = checkLogin(data, this.env.auth, this.known(data.uuid));
    if (!outcome.ok) return this.refused(outcome, data.uuid);
    const info = this.info(outcome.deviceId, outcome.version);
    if (this.handle) {
      if (this.handle.deviceId !== outcome.deviceId) {
        this.reportReason('bad_login', `login as ${outcome.deviceId} on the connection of ${this.handle.deviceId}`);
        return { result: Result.INVALID_PARAMETER };
      }
      this.handle.updateInfo(info);
      return { result: Result.SUCCESS };
    }
    const { config } = this.env.context;
    const livenessMs = MISSED_HEARTBEATS * config.heartbeatS * 1000;
    this.handle = this.env.context.devices.connect({ deviceId: outcome.deviceId, remote: this.remote, info }, this, { livenessMs });
    clearTimeout(this.loginTimer);
    this.parser.maxBodyBytes = config.maxFrameBytes;
    this.logger = this.handle.logger;
    return { result: Result.SUCCESS };
  }

  /** What a register told about this uuid: on this connection, or earlier (for mac allow lists and info). */
  private known(uuid: unknown): Registration | undefined {
    if (typeof uuid !== 'string') return undefined;
    return this.registration?.uuid === uuid ? this.registration : this.env.recall(uuid);
  }

  private info(deviceId: string, version: string | undefined): JsonObject {
    const known = this.known(deviceId);
    const info: JsonObject = { serial: deviceId };
    if (known?.mac) info.mac = known.mac;
    if (known?.type) info.type = known.type;
    if (version !== undefined) info.version = version;
    if (this.deviceVersion !== undefined) info.protocolVersion = this.deviceVersion;
    return info;
  }

  private refused(outcome: Refusal, claimed: unknown): Reply {
    const where = isValidTopicLevel(claimed) ? { deviceId: claimed, remote: this.remote } : { remote: this.remote };
    if (outcome.kind === 'auth') this.env.context.events.authFailed(outcome.reason, where);
    else this.env.context.events.protocolError(outcome.reason, where);
    this.logger.warn({ reason: outcome.reason, claimed: typeof claimed === 'string' ? claimed.slice(0, 64) : undefined }, outcome.message);
    return { result: outcome.result };
  }

  private loginExpired(): void {
    if (this.handle || this.closeReason) return;
    this.env.context.events.authFailed('login_timeout', { remote: this.remote });
    this.logger.warn('no login in time; connection closed');
    this.close('timeout');
  }

  // --- commands -------------------------------------------------------------------------------

  /** DeviceSession: the core sends here the commands of the device that logged in on this connection. */
  execute(command: DeviceCommand): Promise<CommandAnswer> {
    if (this.closeReason) return Promise.reject(new OfflineError(command.deviceId));
    const seq = this.nextSeq();
    const frame = encodeMessage({ version: this.env.versions.forMessage(command.name, this.deviceVersion), seq }, command.name, command.data);
    const response = this.pending.wait(seq, command.signal, {
      // 3.2: resent with the same seq; after three unanswered resends the device is taken as broken.
      afterMs: this.env.context.config.resendAfterMs,
      times: MAX_RESENDS,
      send: () => this.send(frame),
      exhausted: () => {
        this.logger.warn({ command: command.name, seq }, 'command unanswered after three resends; closing the connection');
        this.close('timeout');
      },
    });
    this.send(frame);
    this.env.context.metrics.messageOut(command.name);
    return response.then((answer) => this.answerOf(command.name, answer));
  }

  /** Starts random (1.2) and increases; a seq still waiting for its answer is skipped. */
  private nextSeq(): number {
    do this.seq = (this.seq + 1) >>> 0;
    while (this.pending.has(this.seq));
    return this.seq;
  }

  private answerOf(name: string, response: Frame): CommandAnswer {
    this.env.context.metrics.messageIn(name);
    try {
      return commandAnswer(name, decodeResponse(response.body), this.env.media);
    } catch (err) {
      this.report(err);
      const message = err instanceof Error ? err.message : String(err);
      return { ok: false, code: null, message: `unreadable answer to ${name}: ${message}`, data: null };
    }
  }

  // --- plumbing -------------------------------------------------------------------------------

  private send(bytes: Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    // The broker acknowledges in bursts: the answers of one turn leave in one write.
    holdUntilTurnEnds(this.socket);
    const draining = this.socket.writableNeedDrain;
    if (!this.socket.write(bytes) && !draining) {
      // A device that does not read its answers is not read either, so nothing piles up here.
      this.inbox.block();
      this.socket.once('drain', () => this.inbox.unblock());
    }
  }

  private broken(error: ProtocolError): void {
    this.report(error);
    this.close('protocol_error');
  }

  private report(err: unknown): void {
    if (err instanceof ProtocolError) this.reportReason(err.reason, err.message);
    else this.logger.error({ err }, 'unexpected error on a device message');
  }

  private reportReason(reason: ProtocolReason, message: string): void {
    const deviceId = this.deviceId;
    this.env.context.events.protocolError(reason, deviceId ? { deviceId, remote: this.remote } : { remote: this.remote });
    this.logger.warn({ reason }, message);
  }

  /** The socket closed (once), whoever ended it. */
  private finish(): void {
    this.inbox.close();
    clearTimeout(this.loginTimer);
    this.pending.failAll(new OfflineError(this.deviceId ?? 'unknown'));
    this.handle?.disconnect(this.closeReason ?? 'closed');
  }
}

// What both device simulators share: a WebSocket client speaking JSON, pacers for heartbeats and
// traffic, and SimDevice, the part of a simulated device that is not its protocol. Each protocol's
// simulator only says how it reads the gateway, answers a command and what its traffic is.
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { JsonObject } from '../../src/adapter.js';
import { isObject } from '../../src/json.js';
import { TINY_JPEG_BASE64 } from '../common/jpeg.js';

export interface SimConnectOptions {
  url: string;
  /** CA certificate (PEM) trusted for wss://. */
  ca?: string | Buffer;
  /** false accepts any certificate (a self-signed test gateway). */
  rejectUnauthorized?: boolean;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

/** Counters a simulator keeps for its CLI and tests. */
export interface SimStats {
  /** Events or snapshots sent, retransmissions included. */
  sent: number;
  /** ...answered with success. */
  acked: number;
  /** ...answered with a failure. */
  refused: number;
  /** Ticks skipped because too many were unanswered. */
  skipped: number;
  /** Commands answered. */
  commands: number;
}

function newStats(): SimStats {
  return { sent: 0, acked: 0, refused: 0, skipped: 0, commands: 0 };
}

interface SimSocketEvents {
  message: [message: JsonObject];
  /** Text that is not a JSON object. */
  garbage: [text: string];
  close: [info: CloseInfo];
}

export class SimSocket extends EventEmitter<SimSocketEvents> {
  readonly closed: Promise<CloseInfo>;

  private constructor(private readonly ws: WebSocket) {
    super();
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        const info = { code, reason: reason.toString() };
        this.emit('close', info);
        resolve(info);
      });
    });
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
      let value: unknown;
      try {
        value = isBinary ? undefined : JSON.parse(text);
      } catch {
        value = undefined;
      }
      if (isObject(value)) this.emit('message', value);
      else this.emit('garbage', text);
    });
  }

  static async connect(options: SimConnectOptions): Promise<SimSocket> {
    const ws = new WebSocket(options.url, {
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.rejectUnauthorized !== undefined ? { rejectUnauthorized: options.rejectUnauthorized } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new SimSocket(ws);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Extensions the gateway agreed to (none expected: no permessage-deflate). */
  get extensions(): string {
    return this.ws.extensions;
  }

  send(message: JsonObject | string | Buffer): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  async close(): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    const timer = setTimeout(() => this.ws.terminate(), 1000);
    timer.unref();
    try {
      return await this.closed;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Runs `tick` `ratePerS` times a second; stops with `stop()`. */
export class Pacer {
  private timer: NodeJS.Timeout | undefined;

  start(ratePerS: number, tick: () => void): void {
    this.stop();
    if (!(ratePerS > 0)) return;
    this.timer = setInterval(tick, Math.max(1, Math.round(1000 / ratePerS)));
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** A promise settled later by whoever holds it: a simulator's "wait for the next X". */
export interface Waiter<T> {
  accept(value: T): boolean;
  resolve(value: T): void;
  reject(err: Error): void;
}

export class Waiters<T> {
  private readonly list: Array<Waiter<T>> = [];

  /** Resolves with the first value offered that `accept` takes; rejects after `timeoutMs` (0: never). */
  wait(accept: (value: T) => boolean = () => true, timeoutMs = 0, what = 'an answer'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter<T> = {
        accept,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          const index = this.list.indexOf(waiter);
          if (index >= 0) this.list.splice(index, 1);
          reject(new Error(`no ${what} within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.list.push(waiter);
    });
  }

  /** Hands `value` to the oldest waiter that accepts it; false when none did. */
  offer(value: T): boolean {
    const index = this.list.findIndex((waiter) => waiter.accept(value));
    if (index < 0) return false;
    const [waiter] = this.list.splice(index, 1);
    waiter?.resolve(value);
    return true;
  }

  /** Hands `value` to every waiter that accepts it. */
  offerAll(value: T): void {
    while (this.offer(value));
  }

  failAll(err: Error): void {
    for (const waiter of this.list.splice(0)) waiter.reject(err);
  }

  get size(): number {
    return this.list.length;
  }
}

/** Options every simulated device takes. */
export interface SimDeviceOptions extends SimConnectOptions {
  sn: string;
  /** Heartbeat on its own once identified (default true). */
  autoHeartbeat?: boolean;
  /** base64 JPEG sent as the snapshot (default an 8x8 grey one). */
  image?: string;
  /** Uploads sent at a rate that may wait for their answer at once (default 16). */
  maxInFlight?: number;
  /** Time a request waits for the gateway's answer, as a device's own timeout (default 0: for
   *  ever). Tests set it, so that a gateway that never answers fails them instead of hanging them. */
  answerTimeoutMs?: number;
}

export interface SimDeviceEvents<Seen, Answer> {
  /** A command received and answered. */
  command: [command: Seen];
  /** An answer of the gateway that no request waited for. */
  answer: [answer: Answer];
  close: [info: CloseInfo];
}

/** A gateway message as a protocol reads it. */
export type GatewayTraffic<Answer, Command> =
  | { kind: 'answer'; answer: Answer }
  | { kind: 'command'; command: Command }
  | { kind: 'other' };

/** A command's answer, and what a test waiting for the command gets. */
export interface Responded<Seen> {
  reply: JsonObject;
  seen: Seen;
}

/** The handler of `name` in a command table; own entries only, so no `toString` is a command. */
export function handlerOf<H>(table: Readonly<Record<string, H>>, name: string): H | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** The part of a simulated device that is not its protocol: the connection, heartbeat and traffic
 *  pacing with an in-flight bound, stats, answers and commands a test waits for, forced failures.
 *  Tests await its promises and events instead of sleeping. */
export abstract class SimDevice<Seen extends { name: string }, Failure, Answer, Command> extends EventEmitter<
  SimDeviceEvents<Seen, Answer>
> {
  readonly sn: string;
  readonly stats: SimStats = newStats();
  private readonly heartbeats = new Pacer();
  private readonly traffic = new Pacer();
  private readonly answers = new Waiters<Answer>();
  private readonly commands = new Waiters<Seen>();
  private readonly failures: Array<{ name: string | undefined; failure: Failure }> = [];
  private readonly idle = new Waiters<void>();
  private current: SimSocket | undefined;
  private inFlight = 0;
  private heartbeating = false;

  constructor(protected readonly options: SimDeviceOptions) {
    super();
    this.sn = options.sn;
  }

  /** Connects and identifies (and heartbeats): what the device does at power-on. */
  abstract start(): Promise<Answer>;
  abstract heartbeat(): Promise<Answer>;
  /** One unit of `startTraffic`: an event or a snapshot. */
  protected abstract sendTraffic(): Promise<unknown>;
  protected abstract read(message: JsonObject): GatewayTraffic<Answer, Command>;
  protected abstract respond(command: Command): Responded<Seen>;

  get closed(): Promise<CloseInfo> {
    return this.socket.closed;
  }

  /** Extensions the gateway agreed to (none expected: no permessage-deflate). */
  get extensions(): string {
    return this.socket.extensions;
  }

  protected get connected(): boolean {
    return this.current?.open === true;
  }

  protected get image(): string {
    return this.options.image ?? TINY_JPEG_BASE64;
  }

  async connect(): Promise<this> {
    const socket = await SimSocket.connect(this.options);
    this.current = socket;
    // What an earlier connection still reports (a device that connected again) is not this one's:
    // its end must not fail what the new connection waits for.
    socket.on('message', (message) => {
      if (this.current === socket) this.receive(message);
    });
    socket.on('close', (info) => {
      if (this.current !== socket) return;
      this.heartbeats.stop();
      this.traffic.stop();
      const gone = new Error(`connection closed (${info.code})`);
      this.commands.failAll(gone);
      this.answers.failAll(gone);
      this.emit('close', info);
    });
    return this;
  }

  /** Sends anything without waiting (text that is not JSON, an oversize message). */
  sendRaw(message: JsonObject | string | Buffer): void {
    this.socket.send(message);
  }

  /** Uploads (`sendTraffic`) at `ratePerS`; a tick is skipped while `maxInFlight` wait for their answer. */
  startTraffic(ratePerS: number): void {
    const limit = this.options.maxInFlight ?? 16;
    this.traffic.start(ratePerS, () => {
      if (this.inFlight >= limit) {
        this.stats.skipped += 1;
        return;
      }
      void this.sendTraffic().catch(() => undefined);
    });
  }

  stopTraffic(): void {
    this.traffic.stop();
  }

  /** Stops the traffic and waits (at most `ms`) for the answers still due. */
  async settle(ms = 2000): Promise<void> {
    this.traffic.stop();
    if (this.inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle.wait(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /** Resolves with the next command received (and answered), of `name` if given, within `timeoutMs`. */
  waitCommand(name?: string, timeoutMs = 10_000): Promise<Seen> {
    return this.commands.wait((command) => name === undefined || command.name === name, timeoutMs, `command ${name ?? ''} for ${this.sn}`);
  }

  async close(): Promise<CloseInfo> {
    this.heartbeats.stop();
    this.traffic.stop();
    return this.socket.close();
  }

  /** Sends `message` and waits for the first answer `accept` takes. */
  protected exchange(message: JsonObject | string | Buffer, accept?: (answer: Answer) => boolean): Promise<Answer> {
    // ws drops what is sent on a closed socket without a word: the answer would never come.
    if (!this.connected) return Promise.reject(new Error('the simulator is not connected'));
    const answer = this.answers.wait(accept, this.options.answerTimeoutMs ?? 0, `answer to ${this.sn}`);
    this.socket.send(message);
    return answer;
  }

  /** Counts an upload sent and how it was answered. */
  protected async count(answer: Promise<Answer>, succeeded: (answer: Answer) => boolean): Promise<Answer> {
    this.stats.sent += 1;
    this.inFlight += 1;
    try {
      const got = await answer;
      if (succeeded(got)) this.stats.acked += 1;
      else this.stats.refused += 1;
      return got;
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) this.idle.offerAll(undefined);
    }
  }

  /** Heartbeats every `intervalS` unless the options turned that off; again restarts the period. */
  protected heartbeatEvery(intervalS: number): void {
    if (this.options.autoHeartbeat === false) return;
    this.heartbeating = true;
    this.heartbeats.start(1 / intervalS, () => void this.heartbeat().catch(() => undefined));
  }

  /** A new interval (set by a command) applies only if the device heartbeats on its own. */
  protected heartbeatChanged(intervalS: number): void {
    if (this.heartbeating) this.heartbeatEvery(intervalS);
  }

  protected failNextWith(name: string | undefined, failure: Failure): void {
    this.failures.push({ name, failure });
  }

  /** The forced failure for this command, if a test asked for one. */
  protected takeFailure(name: string): Failure | undefined {
    const index = this.failures.findIndex((f) => f.name === undefined || f.name === name);
    return index >= 0 ? this.failures.splice(index, 1)[0]?.failure : undefined;
  }

  private get socket(): SimSocket {
    if (!this.current) throw new Error('the simulator is not connected');
    return this.current;
  }

  private receive(message: JsonObject): void {
    const read = this.read(message);
    if (read.kind === 'answer') {
      if (!this.answers.offer(read.answer)) this.emit('answer', read.answer);
      return;
    }
    if (read.kind !== 'command') return;
    const { reply, seen } = this.respond(read.command);
    this.socket.send(reply);
    this.stats.commands += 1;
    this.commands.offer(seen);
    this.emit('command', seen);
  }
}

// What both device simulators share: a WebSocket client speaking JSON, and a pacer for traffic.
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { JsonObject } from '../../src/adapter.js';
import { isObject } from '../../src/json.js';

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

export function newStats(): SimStats {
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

  wait(accept: (value: T) => boolean = () => true): Promise<T> {
    return new Promise<T>((resolve, reject) => this.list.push({ accept, resolve, reject }));
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

export interface SimLinkHooks {
  message(message: JsonObject): void;
  closed(info: CloseInfo): void;
}

/** The part of a simulated device that is not its protocol: the connection, heartbeat and traffic
 *  pacing with an in-flight bound, stats, the commands a test waits for, and forced failures. */
export class SimLink<Seen extends { name: string }, Failure> {
  readonly stats: SimStats = newStats();
  readonly heartbeats = new Pacer();
  private readonly traffic = new Pacer();
  private readonly commands = new Waiters<Seen>();
  private readonly failures: Array<{ name: string | undefined; failure: Failure }> = [];
  private current: SimSocket | undefined;
  private inFlight = 0;
  private readonly idle = new Waiters<void>();

  constructor(
    private readonly options: SimConnectOptions,
    private readonly hooks: SimLinkHooks,
  ) {}

  get socket(): SimSocket {
    if (!this.current) throw new Error('the simulator is not connected');
    return this.current;
  }

  get open(): boolean {
    return this.current?.open === true;
  }

  async connect(): Promise<void> {
    const socket = await SimSocket.connect(this.options);
    this.current = socket;
    socket.on('message', (message) => this.hooks.message(message));
    socket.on('close', (info) => {
      this.stopTimers();
      this.commands.failAll(new Error(`connection closed (${info.code})`));
      this.hooks.closed(info);
    });
  }

  async close(): Promise<CloseInfo> {
    this.stopTimers();
    return this.socket.close();
  }

  /** Calls `send` `ratePerS` times a second, skipping a tick while `limit` wait for their answer. */
  startTraffic(ratePerS: number, limit: number, send: () => Promise<unknown>): void {
    this.traffic.start(ratePerS, () => {
      if (this.inFlight >= limit) {
        this.stats.skipped += 1;
        return;
      }
      void send().catch(() => undefined);
    });
  }

  stopTraffic(): void {
    this.traffic.stop();
  }

  /** Counts an event or snapshot sent and how it was answered. */
  async count<A>(answer: Promise<A>, succeeded: (answer: A) => boolean): Promise<A> {
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

  /** Stops the traffic and waits (at most `ms`) for the answers still due. */
  async settle(ms = 2000): Promise<void> {
    this.traffic.stop();
    if (this.inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle.wait(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  failNext(name: string | undefined, failure: Failure): void {
    this.failures.push({ name, failure });
  }

  /** The forced failure for this command, if a test asked for one. */
  takeFailure(name: string): Failure | undefined {
    const index = this.failures.findIndex((f) => f.name === undefined || f.name === name);
    return index >= 0 ? this.failures.splice(index, 1)[0]?.failure : undefined;
  }

  waitCommand(name?: string): Promise<Seen> {
    return this.commands.wait((command) => name === undefined || command.name === name);
  }

  /** Sends a command's answer and tells whoever waits for the command. */
  answered(reply: JsonObject, seen: Seen): void {
    this.socket.send(reply);
    this.stats.commands += 1;
    this.commands.offer(seen);
  }

  private stopTimers(): void {
    this.heartbeats.stop();
    this.traffic.stop();
  }
}

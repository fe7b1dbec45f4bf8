// broker.thread: the embedded broker in a worker thread of its own (src/broker-worker.ts), so that
// aedes's routing and its clients' socket writes run on another core than the adapters. The
// gateway's link to it is ThreadLink: the publishes of one event-loop turn go over in one message,
// their acknowledgements and the messages of its subscriptions come back in one message per turn of
// the broker's thread. Acknowledgement keeps its meaning: a device is answered once aedes's publish
// callback ran in the broker's thread. T11 (docs/benchmarks.md) measured why.
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { BrokerAddresses, BrokerOptions } from './broker.js';
import { HandoverError } from './errors.js';
import { sendAsPromise, type Link, type MessageHandler, type PublishOptions } from './mqtt.js';
import { PublishWindow, type Settled } from './window.js';

/** What the broker's thread is started with. */
export interface WorkerSetup {
  options: Omit<BrokerOptions, 'logger'>;
  logLevel: string;
  publishTimeoutMs: number;
  maxInflight: number;
}

interface Publish {
  /** -1: publishQueued (nobody waits for it). */
  id: number;
  topic: string;
  payload: string | Uint8Array;
  retain: boolean;
  correlationData?: Uint8Array | undefined;
}

export type ToBroker =
  | { t: 'publish'; publishes: Publish[] }
  | { t: 'subscribe'; sub: number; filter: string }
  | { t: 'start' }
  | { t: 'stop' };

export type FromBroker =
  | { t: 'prepared'; brokerId: string }
  | { t: 'started'; addresses: BrokerAddresses }
  | { t: 'failed'; message: string }
  | { t: 'stopped' }
  /** A record of the broker thread's logger, as pino wrote it there (one JSON line). */
  | { t: 'log'; line: string }
  | {
      t: 'batch';
      acks: number[];
      /** Per ack: '' or why the broker refused. */
      errors: string[];
      messages: Array<{ sub: number; topic: string; payload: Uint8Array; retain: boolean; responseTopic?: string | undefined; correlationData?: Uint8Array | undefined }>;
    };

/** A Buffer is copied to its own size: a view posted as it is takes its whole backing buffer (the
 *  8 kB pool of small Buffers) along. Strings go as they are. */
function packed(id: number, topic: string, payload: string | Buffer, options: PublishOptions): Publish {
  const { correlationData } = options;
  return {
    id,
    topic,
    payload: typeof payload === 'string' ? payload : new Uint8Array(payload),
    retain: options.retain === true,
    correlationData: correlationData ? new Uint8Array(correlationData) : undefined,
  };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Run from TypeScript (tsx: the tests, the bench) the worker registers tsx itself; --import does
 *  not reach a worker. Built, it is plain JavaScript beside this file. */
function spawn(setup: WorkerSetup): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./broker-worker.js', here), { workerData: setup });
  const file = new URL('./broker-worker.ts', here).href;
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(file)}); })`, { eval: true, workerData: setup });
}

export class ThreadBroker {
  private readonly options: BrokerOptions;
  private readonly setup: Omit<WorkerSetup, 'options'>;
  private worker: Worker | undefined;
  private readonly links = new Set<ThreadLink>();
  private replies: ((message: FromBroker) => void) | undefined;
  running = false;

  constructor(options: BrokerOptions, setup: Omit<WorkerSetup, 'options'>) {
    this.options = options;
    this.setup = setup;
  }

  /** Starts the thread and its broker, without listeners yet (they come with start()). */
  async prepare(): Promise<void> {
    const { logger: _logger, ...options } = this.options;
    const worker = spawn({ ...this.setup, options });
    this.worker = worker;
    worker.on('message', (message: FromBroker) => this.received(message));
    worker.on('error', (err) => {
      this.options.logger.error({ err }, 'the embedded broker thread failed');
      this.gone();
    });
    worker.on('exit', () => this.gone());
    await this.reply('prepared');
    this.running = true;
  }

  link(options: { publishTimeoutMs: number; maxInflight: number; logger: Logger }): ThreadLink {
    const link = new ThreadLink(this, options);
    this.links.add(link);
    return link;
  }

  async start(): Promise<BrokerAddresses> {
    this.post({ t: 'start' });
    const answer = await this.reply('started', 'failed');
    if (answer.t === 'failed') throw new Error(answer.message);
    if (answer.t !== 'started') throw new Error('the embedded broker thread did not start');
    return answer.addresses;
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker || !this.running) return;
    this.post({ t: 'stop' });
    await Promise.race([this.reply('stopped'), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    this.running = false;
    await worker.terminate();
  }

  post(message: ToBroker): void {
    this.worker?.postMessage(message);
  }

  private reply(...kinds: Array<FromBroker['t']>): Promise<FromBroker> {
    return new Promise((resolve, reject) => {
      const worker = this.worker;
      const exited = (): void => reject(new Error('the embedded broker thread ended'));
      worker?.once('exit', exited);
      this.replies = (message) => {
        if (!kinds.includes(message.t)) return;
        this.replies = undefined;
        worker?.off('exit', exited);
        resolve(message);
      };
    });
  }

  private received(message: FromBroker): void {
    if (message.t === 'batch') {
      for (const link of this.links) link.received(message);
      return;
    }
    if (message.t === 'log') return this.log(message.line);
    this.replies?.(message);
  }

  /** Logged again by the gateway's logger: one destination and format for both threads. */
  private log(line: string): void {
    const { logger } = this.options;
    try {
      const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg?: string } & Record<string, unknown>;
      const label = logger.levels.labels[level] ?? 'info';
      const method = logger[label as 'info'];
      if (typeof method === 'function') method.call(logger, fields, msg);
    } catch {
      logger.info({ line }, 'broker thread log line');
    }
  }

  private gone(): void {
    if (!this.running) return;
    this.running = false;
    for (const link of this.links) link.lost();
  }
}

export class ThreadLink extends EventEmitter implements Link {
  readonly protocolVersion = 5 as const;
  private readonly broker: ThreadBroker;
  private readonly logger: Logger;
  private readonly window: PublishWindow;
  private open = false;
  private nextId = 0;
  private readonly waiting = new Map<number, (err?: Error) => void>();
  private batch: Publish[] | undefined;
  private readonly subscriptions = new Map<number, MessageHandler>();

  constructor(broker: ThreadBroker, options: { publishTimeoutMs: number; maxInflight: number; logger: Logger }) {
    super();
    this.broker = broker;
    this.logger = options.logger;
    this.window = new PublishWindow({
      limit: options.maxInflight,
      timeoutMs: options.publishTimeoutMs,
      lateMessage: `the broker did not take the message within ${options.publishTimeoutMs} ms`,
    });
  }

  get connected(): boolean {
    return this.open && this.broker.running;
  }

  async start(): Promise<void> {
    this.open = true;
    this.emit('connect');
  }

  async stop(): Promise<void> {
    this.open = false;
    this.window.failAll('the embedded broker is closed');
    this.emit('disconnect');
  }

  subscribe(filter: string, handler: MessageHandler): void {
    const sub = this.subscriptions.size;
    this.subscriptions.set(sub, handler);
    this.broker.post({ t: 'subscribe', sub, filter });
  }

  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    return sendAsPromise(this, topic, payload, options);
  }

  send(topic: string, payload: string | Buffer, options: PublishOptions, settled: Settled): void {
    if (!this.connected) return settled(new HandoverError('the embedded broker is closed'));
    this.window.submit((done) => {
      const id = this.nextId++;
      this.waiting.set(id, done);
      this.queue(packed(id, topic, payload, options));
      return undefined;
    }, settled);
  }

  publishQueued(topic: string, payload: string | Buffer, options: PublishOptions = {}): void {
    if (!this.connected) return;
    this.queue(packed(-1, topic, payload, options));
  }

  retain(topic: string, payload: string | Buffer): Promise<void> {
    return this.publish(topic, payload, { retain: true }).catch((err: unknown) => {
      this.logger.warn({ err, topic }, 'retained topic not taken by the broker');
    });
  }

  /** The broker itself keeps what was retained: nothing is said again here. */
  forget(): void {}

  /** The broker's thread answered: acknowledgements, then messages of the subscriptions. */
  received(batch: Extract<FromBroker, { t: 'batch' }>): void {
    batch.acks.forEach((id, i) => {
      const done = this.waiting.get(id);
      if (!done) return;
      this.waiting.delete(id);
      const error = batch.errors[i];
      done(error ? new Error(error) : undefined);
    });
    for (const m of batch.messages) {
      const handler = this.subscriptions.get(m.sub);
      if (!handler) continue;
      const properties = m.responseTopic !== undefined || m.correlationData ? { responseTopic: m.responseTopic, correlationData: m.correlationData && asBuffer(m.correlationData) } : undefined;
      try {
        handler(m.topic, asBuffer(m.payload), { retain: m.retain, properties });
      } catch (err) {
        this.logger.error({ err, topic: m.topic }, 'message handler failed');
      }
    }
  }

  /** The broker's thread ended: what waits for it fails now. */
  lost(): void {
    for (const [id, done] of this.waiting) {
      this.waiting.delete(id);
      done(new Error('the embedded broker thread ended'));
    }
    this.emit('disconnect');
  }

  private queue(publish: Publish): void {
    if (!this.batch) {
      this.batch = [];
      setImmediate(() => {
        const publishes = this.batch ?? [];
        this.batch = undefined;
        this.broker.post({ t: 'publish', publishes });
      });
    }
    this.batch.push(publish);
  }
}

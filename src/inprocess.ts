// With the embedded broker, the gateway publishes and subscribes by calling aedes in the same
// process: no socket, no MQTT encoding and decoding of its own messages, which would otherwise
// cost the one thread that runs both gateway and broker about as much as the broker's own work.
// "The broker acknowledged" is aedes's publish callback: the message is stored (when retained),
// queued for offline sessions and handed to every subscriber.
import { EventEmitter } from 'node:events';
import type { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { HandoverError } from './errors.js';
import { sendAsPromise, type InboundPacket, type Link, type MessageHandler, type PublishOptions } from './mqtt.js';
import { PublishWindow, type Settled } from './window.js';

interface AedesPacket {
  topic: string;
  payload: Buffer | string;
  retain?: boolean;
  properties?: { responseTopic?: string; correlationData?: Buffer };
}

type Deliver = (packet: AedesPacket, callback: () => void) => void;

export interface InProcessOptions {
  broker: Aedes;
  publishTimeoutMs: number;
  /** Publishes handed to aedes at once. Past its `concurrency` (100) aedes queues them in arrays
   *  it shifts one by one, and nothing handed to it can be taken back. */
  maxInflight: number;
  logger: Logger;
}

export class InProcessLink extends EventEmitter implements Link {
  readonly protocolVersion = 5 as const;
  private readonly options: InProcessOptions;
  private open = false;
  private readonly delivers: Array<{ filter: string; deliver: Deliver }> = [];
  private readonly window: PublishWindow;
  private readonly liveId: string;
  private readonly retainedId: string;

  constructor(options: InProcessOptions) {
    super();
    this.options = options;
    this.liveId = `${options.broker.id}#live`;
    this.retainedId = `${options.broker.id}#retained`;
    this.window = new PublishWindow({
      limit: options.maxInflight,
      timeoutMs: options.publishTimeoutMs,
      lateMessage: `the broker did not take the message within ${options.publishTimeoutMs} ms`,
    });
  }

  get connected(): boolean {
    return this.open && !this.options.broker.closed;
  }

  async start(): Promise<void> {
    this.open = true;
    this.emit('connect');
  }

  async stop(): Promise<void> {
    this.open = false;
    const { broker } = this.options;
    await Promise.all(
      this.delivers.map(({ filter, deliver }) => new Promise<void>((resolve) => broker.unsubscribe(filter, deliver as never, () => resolve()))),
    );
    this.delivers.length = 0;
    this.window.failAll('the embedded broker is closed');
    this.emit('disconnect');
  }

  subscribe(filter: string, handler: MessageHandler): void {
    const { broker, logger } = this.options;
    const call = (packet: AedesPacket, retain: boolean): void => {
      const inbound: InboundPacket = { retain, properties: packet.properties };
      try {
        handler(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload), inbound);
      } catch (err) {
        logger.error({ err, topic: packet.topic }, 'message handler failed');
      }
    };
    // Live messages arrive as a subscriber sees them: not flagged retained.
    const deliver: Deliver = (packet, callback) => {
      if (!packet.topic.startsWith('$SYS/')) call(packet, false);
      callback();
    };
    this.delivers.push({ filter, deliver });
    broker.subscribe(filter, deliver as never, () => undefined);
    // A client's subscription gets what is stored retained; so does this one.
    void this.replayRetained(filter, (packet) => call(packet, true));
  }

  private async replayRetained(filter: string, each: (packet: AedesPacket) => void): Promise<void> {
    // aedes types do not declare its persistence; its createRetainedStream is part of the persistence contract.
    const { persistence } = this.options.broker as unknown as { persistence: { createRetainedStream(pattern: string): AsyncIterable<AedesPacket> } };
    try {
      for await (const packet of persistence.createRetainedStream(filter)) each(packet);
    } catch (err) {
      this.options.logger.warn({ err, filter }, 'retained messages could not be read');
    }
  }

  /** "Acknowledged" is aedes's publish callback. A subscriber whose socket is backed up holds that
   *  callback (up to `broker.drainTimeoutMs`); the device must not wait that long. */
  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    return sendAsPromise(this, topic, payload, options);
  }

  send(topic: string, payload: string | Buffer, options: PublishOptions, settled: Settled): void {
    if (!this.connected) return settled(new HandoverError('the embedded broker is closed'));
    this.window.submit((done) => {
      this.handOver(topic, payload, options, done);
      return undefined;
    }, settled);
  }

  /** Straight to aedes, without this link's window: for a caller that bounds and times what is in
   *  flight itself (broker.thread's worker, behind the gateway's window). */
  handOver(topic: string, payload: string | Buffer, options: PublishOptions, done: (err?: Error) => void): void {
    this.options.broker.publish(this.packet(topic, payload, options) as never, done);
  }

  publishQueued(topic: string, payload: string | Buffer, options: PublishOptions = {}): void {
    if (!this.connected) return;
    this.options.broker.publish(this.packet(topic, payload, options) as never, () => undefined);
  }

  /** aedes drops a packet as a duplicate when one created after it, under the same brokerId,
   *  reached the subscriber first; a retained publish takes one step more (storing it) than a live
   *  one, so a live publish right after it would overtake it and have it dropped. Each kind keeps
   *  its order, so each gets a brokerId of its own. */
  private packet(topic: string, payload: string | Buffer, options: PublishOptions): object {
    const retain = options.retain === true;
    const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const brokerId = retain ? this.retainedId : this.liveId;
    const { correlationData } = options;
    return correlationData
      ? { cmd: 'publish', topic, payload: bytes, qos: 1, retain, dup: false, brokerId, properties: { correlationData } }
      : { cmd: 'publish', topic, payload: bytes, qos: 1, retain, dup: false, brokerId };
  }

  retain(topic: string, payload: string | Buffer): Promise<void> {
    return this.publish(topic, payload, { retain: true }).catch((err: unknown) => {
      this.options.logger.warn({ err, topic }, 'retained topic not taken by the broker');
    });
  }

  /** The broker itself keeps what was retained: nothing is said again here. */
  forget(): void {}
}

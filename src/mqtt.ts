// The gateway's one MQTT connection: publish-with-acknowledgement, a persistent session, the
// retained topics it owns (published again after every reconnect) and topic-filter dispatch.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { MqttConfig } from './config.js';
import { HandoverError } from './errors.js';
import { PublishWindow, type Settled } from './window.js';
import { topicMatches } from './acl.js';

/** What a handler needs of an incoming message beside topic and payload. */
export interface InboundPacket {
  /** Set when the broker sent a stored retained message (on subscribing), not a live one. */
  retain: boolean;
  properties?: { responseTopic?: string | undefined; correlationData?: Buffer | undefined } | undefined;
}

export type MessageHandler = (topic: string, payload: Buffer, packet: InboundPacket) => void;

/** The gateway's side of the broker: an MQTT connection (MqttLink), or, with the embedded broker,
 *  calls into it in the same process (InProcessLink). The core only sees this. */
export interface Link {
  readonly connected: boolean;
  readonly protocolVersion: 4 | 5;
  start(): Promise<void>;
  stop(): Promise<void>;
  on(event: 'connect' | 'disconnect', listener: () => void): this;
  subscribe(filter: string, handler: MessageHandler): void;
  /** Resolves when the broker acknowledged (took) the QoS 1 message; rejects with HandoverError. */
  publish(topic: string, payload: string | Buffer, options?: PublishOptions): Promise<void>;
  /** publish() with a callback, for the device messages' path: no promise per message. `done` may
   *  be called before send returns. */
  send(topic: string, payload: string | Buffer, options: PublishOptions, done: Settled): void;
  /** Publishes now if connected, else when connected again; never fails (command replies). */
  publishQueued(topic: string, payload: string | Buffer, options?: PublishOptions): void;
  /** A retained topic the gateway owns: published now and again after every reconnect. */
  retain(topic: string, payload: string | Buffer): Promise<void>;
  /** No longer the gateway's to say again after a reconnect (another instance holds it now). */
  forget(topic: string): void;
}

/** A link's publish() made of its send(). */
export function sendAsPromise(link: Link, topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> {
  return new Promise((resolve, reject) => link.send(topic, payload, options, (err) => (err ? reject(err) : resolve())));
}

export interface LinkOptions {
  url: string;
  config: Readonly<MqttConfig>;
  will: { topic: string; payload: string };
  /** Laid over what `config` makes (the embedded broker's internal login and certificate). */
  clientOverrides?: IClientOptions & Pick<ConnectionOptions, 'checkServerIdentity'>;
  logger: Logger;
}

export interface PublishOptions {
  retain?: boolean;
  /** MQTT 5 correlation data, for a reply to a command that carried a response topic. */
  correlationData?: Buffer;
}

/** Unsupported protocol version: 1 in a 3.1.1 CONNACK, 0x84 in an MQTT 5 one. */
const REFUSED_VERSION = new Set([1, 0x84]);

export declare interface MqttLink {
  on(event: 'connect' | 'disconnect', listener: () => void): this;
}

export class MqttLink extends EventEmitter implements Link {
  private readonly options: LinkOptions;
  private client: MqttClient | undefined;
  private version: 4 | 5;
  private readonly retained = new Map<string, string | Buffer>();
  private readonly window: PublishWindow;
  private corked = false;
  private readonly subscriptions = new Map<string, { match: (topic: string) => boolean; handler: MessageHandler }>();

  constructor(options: LinkOptions) {
    super();
    this.options = options;
    this.version = options.config.protocol === '3.1.1' ? 4 : 5;
    const { maxInflight, publishTimeoutMs } = options.config;
    this.window = new PublishWindow({
      limit: maxInflight,
      timeoutMs: publishTimeoutMs,
      lateMessage: `the broker did not acknowledge within ${publishTimeoutMs} ms`,
    });
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  get protocolVersion(): 4 | 5 {
    return this.version;
  }

  /** Starts connecting; resolves at the first CONNACK or rejects with the first error. The
   *  client keeps reconnecting on its own after that. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const client = mqtt.connect(this.options.url, this.clientOptions());
      this.client = client;
      const onFirstError = (err: Error & { code?: unknown }): void => {
        if (this.version === 5 && this.options.config.protocol === 'auto' && REFUSED_VERSION.has(Number(err.code))) {
          this.options.logger.info('broker refused MQTT 5; using MQTT 3.1.1');
          this.version = 4;
          client.removeAllListeners();
          client.end(true);
          this.start().then(resolve, reject);
          return;
        }
        reject(err);
      };
      // Every error has a listener (an 'error' without one would end the process): the first
      // settles the start, later ones (the client keeps reconnecting) are logged.
      let settled = false;
      client.on('error', (err: Error & { code?: unknown }) => {
        if (settled) {
          this.options.logger.warn({ err }, 'MQTT error');
          return;
        }
        settled = true;
        onFirstError(err);
      });
      client.once('connect', () => {
        settled = true;
        resolve();
      });
      client.on('connect', (connack) => this.onConnect(connack.properties?.receiveMaximum));
      client.on('close', () => {
        this.window.failAll('the connection to the MQTT broker was lost');
        this.emit('disconnect');
      });
      client.on('offline', () => this.options.logger.warn('MQTT broker unreachable; reconnecting'));
      client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet));
    });
  }

  private clientOptions(): IClientOptions {
    const { config, will } = this.options;
    const file = (path: string): Buffer | undefined => (path ? readFileSync(path) : undefined);
    const options: IClientOptions = {
      protocolVersion: this.version,
      clientId: config.clientId,
      clean: false,
      keepalive: config.keepaliveS,
      reconnectPeriod: config.reconnectPeriodMs,
      connectTimeout: 10_000,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: true },
      rejectUnauthorized: config.rejectUnauthorized,
      resubscribe: false,
      // Per publish, MQTT.js would otherwise format a debug line nobody reads and re-arm its ping
      // timer; a ping every keepalive regardless costs nothing.
      log: () => undefined,
      reschedulePings: false,
    };
    if (this.version === 5) options.properties = { sessionExpiryInterval: config.sessionExpiryS };
    if (config.username) options.username = config.username;
    if (config.password) options.password = config.password;
    const ca = file(config.ca);
    const cert = file(config.cert);
    const key = file(config.key);
    if (ca) options.ca = ca;
    if (cert) options.cert = cert;
    if (key) options.key = key;
    return { ...options, ...this.options.clientOverrides };
  }

  private onConnect(receiveMaximum: number | undefined): void {
    const client = this.client;
    if (!client) return;
    // MQTT 5: the broker says how many unacknowledged QoS 1 publishes it takes from us.
    this.window.limit = Math.max(1, Math.min(this.options.config.maxInflight, receiveMaximum ?? Infinity));
    this.options.logger.info({ url: this.options.url, protocolVersion: this.version }, 'connected to MQTT broker');
    // QoS 1 is a small-packet ping-pong; Nagle would hold each publish back waiting for the last PUBACK.
    const stream = client.stream as { setNoDelay?: (noDelay: boolean) => void } | undefined;
    stream?.setNoDelay?.(true);
    const filters = [...this.subscriptions.keys()];
    if (filters.length > 0) this.subscribeOn(client, filters);
    // A restarted broker may have lost what we retained: say it all again.
    for (const [topic, payload] of this.retained) client.publish(topic, payload, { qos: 1, retain: true });
    this.emit('connect');
  }

  private dispatch(topic: string, payload: Buffer, packet: IPublishPacket): void {
    for (const { match, handler } of this.subscriptions.values()) {
      if (!match(topic)) continue;
      try {
        handler(topic, payload, packet);
      } catch (err) {
        this.options.logger.error({ err, topic }, 'message handler failed');
      }
    }
  }

  /** Subscribes (QoS 1) now and after every reconnect. */
  subscribe(filter: string, handler: MessageHandler): void {
    this.subscriptions.set(filter, { match: matcher(filter), handler });
    if (this.connected && this.client) this.subscribeOn(this.client, [filter]);
  }

  /** A subscription the broker refuses (SUBACK 0x80 and up; a NATS cluster with a node down
   *  refuses some for as long as it is down) is asked for again every second while connected. */
  private subscribeOn(client: MqttClient, filters: string[]): void {
    client.subscribe(filters, { qos: 1 }, (err, granted) => {
      const refused = err ? filters : (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (refused.length === 0) return;
      this.options.logger.warn({ filters: refused, err: err?.message }, 'subscription refused by the broker; asked again in 1 s');
      setTimeout(() => {
        const again = refused.filter((f) => this.subscriptions.has(f));
        if (this.client === client && client.connected && again.length > 0) this.subscribeOn(client, again);
      }, 1000).unref();
    });
  }

  /** Resolves when the broker acknowledged the QoS 1 publish. Fails at once when the gateway is
   *  not connected, when the connection drops before the acknowledgement, and after
   *  `publishTimeoutMs`. A message given up on is taken out of the client's store, so that it is
   *  not sent after the device already heard the failure and retried (which would publish it twice). */
  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    return sendAsPromise(this, topic, payload, options);
  }

  send(topic: string, payload: string | Buffer, options: PublishOptions, settled: Settled): void {
    const client = this.client;
    if (!client?.connected) return settled(new HandoverError('not connected to the MQTT broker'));
    const packet = this.packetOptions(options);
    this.window.submit((done) => {
      if (!client.connected) {
        done(new Error('not connected'));
        return undefined;
      }
      this.corkUntilTurnEnds(client);
      client.publish(topic, payload, packet, done);
      const messageId = client.getLastMessageId();
      return () => {
        if (client.outgoing[messageId]?.cb === done) client.removeOutgoingMessage(messageId);
      };
    }, settled);
  }

  /** The publishes of one turn of the event loop (every device read in it) go out in one write:
   *  MQTT.js writes each on its own (one syscall each, the largest item of the T2 profile). */
  private corkUntilTurnEnds(client: MqttClient): void {
    const stream = client.stream as { cork?: () => void; uncork?: () => void } | undefined;
    if (this.corked || !stream?.cork || !stream.uncork) return;
    this.corked = true;
    stream.cork();
    setImmediate(() => {
      this.corked = false;
      stream.uncork?.();
    });
  }

  /** Publishes now if connected, else when connected again; never fails (command replies). */
  publishQueued(topic: string, payload: string | Buffer, options: PublishOptions = {}): void {
    this.client?.publish(topic, payload, this.packetOptions(options));
  }

  /** Records a retained topic the gateway owns and publishes it; after a reconnect it is published
   *  again. Resolves on the acknowledgement, or at once when not connected (it goes out on connect). */
  retain(topic: string, payload: string | Buffer): Promise<void> {
    this.retained.set(topic, payload);
    if (!this.connected) return Promise.resolve();
    return this.publish(topic, payload, { retain: true }).catch((err: unknown) => {
      this.options.logger.warn({ err, topic }, 'retained topic not acknowledged; it is sent again on reconnect');
    });
  }

  forget(topic: string): void {
    this.retained.delete(topic);
  }

  private packetOptions(options: PublishOptions): { qos: 1; retain: boolean; properties?: { correlationData: Buffer } } {
    const packet: { qos: 1; retain: boolean; properties?: { correlationData: Buffer } } = {
      qos: 1,
      retain: options.retain === true,
    };
    if (options.correlationData && this.version === 5) packet.properties = { correlationData: options.correlationData };
    return packet;
  }

  /** Ends the connection cleanly after the in-flight messages went out (no last will). */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    if (!client.connected) {
      await client.endAsync(true);
      return;
    }
    // A graceful end waits for the in-flight messages' acknowledgements, which a broker that went
    // silent never sends; MQTT.js then never calls back (a second end() does nothing while the
    // first is pending), so after a second the socket is closed here.
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        client.removeAllListeners('outgoingEmpty');
        client.stream?.destroy();
        resolve();
      }, 1000);
    });
    await Promise.race([client.endAsync(false), forced]);
    clearTimeout(timer);
  }
}

/** MQTT topic-filter matching (`+` one level, `#` the rest, `$` topics only by name): the rule the
 *  broker's ACLs use too. */
export function matcher(filter: string): (topic: string) => boolean {
  return (topic) => topicMatches(filter, topic);
}

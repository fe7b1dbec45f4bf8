// `{base}/bridge/event` and the platform-request round trip, shared by every adapter.
import type { Logger } from 'pino';
import type { BridgeEvents, JsonObject } from './adapter.js';
import { isObject, parseJsonObject } from './json.js';
import type { Metrics } from './metrics.js';
import type { Link } from './mqtt.js';
import type { Topics } from './topics.js';

export type BridgeEventType = 'device_connected' | 'device_disconnected' | 'auth_failed' | 'protocol_error';

export interface Where {
  deviceId?: string | undefined;
  remote?: string | undefined;
}

export class Bridge {
  private readonly link: Link;
  private readonly topics: Topics;
  private readonly metrics: Metrics;
  private readonly listeners = new Set<(event: JsonObject) => void>();
  constructor(link: Link, topics: Topics, metrics: Metrics) {
    this.link = link;
    this.topics = topics;
    this.metrics = metrics;
  }

  /** Events are informational: while the broker is away they are logged, not queued without bound. */
  event(type: BridgeEventType, adapter: string, reason: string, where: Where = {}): void {
    const event: JsonObject = { type, adapter };
    if (where.deviceId !== undefined) event.deviceId = where.deviceId;
    if (where.remote !== undefined) event.remote = where.remote;
    event.reason = reason;
    event.ts = new Date().toISOString();
    if (this.link.connected) this.link.publishQueued(this.topics.bridgeEvent, JSON.stringify(event));
    // A listener (the console) that throws must not break the caller (a device's connection).
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // The event is on MQTT already; the listener's own failure is its to report.
      }
    }
  }

  /** Every event as it happens, published or not (the console's feed); returns the unsubscribe. */
  listen(listener: (event: JsonObject) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  forAdapter(adapter: string, logger: Logger): BridgeEvents {
    return {
      protocolError: (reason, where = {}) => {
        this.metrics.protocolErrors.inc({ adapter, reason });
        logger.warn({ ...where, reason }, 'protocol error');
        this.event('protocol_error', adapter, reason, where);
      },
      authFailed: (reason, where = {}) => {
        this.metrics.protocolErrors.inc({ adapter, reason: 'auth_failed' });
        logger.warn({ ...where, reason }, 'authentication failed');
        this.event('auth_failed', adapter, reason, where);
      },
    };
  }
}

interface Waiting {
  key: string;
  resolve: (reply: JsonObject | undefined) => void;
  timer: NodeJS.Timeout;
}

/** Device requests that wait for the platform's `request/{name}/reply` with the same `id`. */
export class PlatformRequests {
  private readonly link: Link;
  private readonly topics: Topics;
  private readonly maxBytes: number;
  private readonly logger: Logger;
  private readonly waiting = new Map<string, Waiting>();

  constructor(link: Link, topics: Topics, maxBytes: number, logger: Logger) {
    this.link = link;
    this.topics = topics;
    this.maxBytes = maxBytes;
    this.logger = logger;
  }

  listen(adapter: string): void {
    this.link.subscribe(this.topics.requestReplyFilter(adapter), (topic, payload) => this.onReply(topic, payload));
  }

  /** Resolves with the reply, or undefined after `timeoutMs`. Call before publishing the request. */
  wait(id: string, adapter: string, deviceId: string, name: string, timeoutMs: number): Promise<JsonObject | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(id, { key: `${adapter}/${deviceId}/${name}`, resolve, timer });
    });
  }

  cancel(id: string): void {
    const waiting = this.waiting.get(id);
    if (!waiting) return;
    clearTimeout(waiting.timer);
    this.waiting.delete(id);
    waiting.resolve(undefined);
  }

  private onReply(topic: string, payload: Buffer): void {
    const where = this.topics.parse(topic, 'request', true);
    if (!where) return;
    let reply: JsonObject;
    try {
      reply = parseJsonObject(payload, this.maxBytes);
    } catch (err) {
      this.logger.warn({ topic, err: (err as Error).message }, 'platform reply ignored');
      return;
    }
    const id = reply.id;
    const waiting = typeof id === 'string' ? this.waiting.get(id) : undefined;
    if (!waiting || waiting.key !== `${where.adapter}/${where.deviceId}/${where.name}`) {
      this.logger.debug({ topic, id }, 'platform reply matches no waiting request (late or unknown id)');
      return;
    }
    clearTimeout(waiting.timer);
    this.waiting.delete(id as string);
    this.logger.debug({ topic, id }, 'platform reply');
    if (reply.data !== undefined && !isObject(reply.data)) reply.data = {};
    waiting.resolve(reply);
  }
}

// Commands from MQTT to devices: routing, validation before anything reaches a device, timeouts,
// and exactly one reply per command (on `.../reply`, or on the MQTT 5 response topic).
import { randomUUID } from 'node:crypto';
import type { ErrorObject } from 'ajv';
import type { Logger } from 'pino';
import type { CommandAnswer, DeviceCommand, JsonObject } from './adapter.js';
import { CommandError, GatewayError, ProtocolError, type CommandErrorType } from './errors.js';
import { isObject, parseJson } from './json.js';
import { numberFrom } from './leniency.js';
import type { Mappings } from './mappings.js';
import { extractMedia } from './media.js';
import type { Metrics } from './metrics.js';
import type { InboundPacket, Link } from './mqtt.js';
import type { Topics, CommandTopic } from './topics.js';
import type { OutputConfig } from './config.js';

export interface CommandLimits {
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  maxPayloadBytes: number;
}

export interface Reply {
  id: string;
  ok: boolean;
  code: number | string | null;
  message: string | null;
  data: JsonObject | null;
  error: { type: CommandErrorType; message: string } | null;
}

/** Where an adapter's commands go: the core's sessions of its devices. */
export interface CommandTarget {
  execute(command: DeviceCommand): Promise<CommandAnswer>;
}

interface Route {
  target: CommandTarget;
  /** Undefined when the adapter failed to start: its commands are answered `offline`. */
  mappings: Mappings | undefined;
  failed?: string;
}

/** Multi-instance mode: which instance takes each command from the broker, and which one holds
 *  its device (src/cluster.ts). */
export interface Custody {
  /** This instance's id: its forward topic. */
  readonly self: string;
  /** Whether a command received at `received` is this instance's to act on (it had custody of
   *  commands then); a promise when the answer needs the next lease refresh. */
  admit(received: number): boolean | Promise<boolean>;
  /** The other live instance holding the device, or undefined: the command is run here. */
  elsewhere(adapter: string, deviceId: string): Promise<string | undefined>;
}

/** A command handed from one instance to another: the original topic and payload, where its one
 *  reply goes, and how long it has waited (clocks of two hosts need not agree). */
interface Forwarded {
  fid: string;
  topic: string;
  payload: string;
  replyTo: string;
  correlationData?: string;
  waitedMs: number;
  hops: number;
}

/** A forward is passed on at most this often: a device that moves again and again meanwhile is
 *  answered `offline`, which it was. */
const MAX_HOPS = 2;
/** Forward ids remembered, against a QoS 1 redelivery of one. */
const FORWARDS_REMEMBERED = 4096;

interface Parsed {
  id: string;
  timeoutMs: number;
  data: JsonObject;
}

export class CommandRouter {
  private readonly routes = new Map<string, Route>();
  /** Settles once every adapter is routed (or the gateway stops first): commands that arrived
   *  before wait for it. */
  private readonly opened: Promise<void>;
  private openNow: () => void = () => undefined;
  private stopping: string | undefined;
  private readonly link: Link;
  private readonly topics: Topics;
  private readonly limits: CommandLimits;
  private readonly output: Readonly<OutputConfig>;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly custody: Custody | undefined;
  private readonly forwards = new Set<string>();

  constructor(
    link: Link,
    topics: Topics,
    limits: CommandLimits,
    output: Readonly<OutputConfig>,
    metrics: Metrics,
    logger: Logger,
    custody?: Custody,
  ) {
    this.custody = custody;
    this.link = link;
    this.topics = topics;
    this.limits = limits;
    this.output = output;
    this.metrics = metrics;
    this.logger = logger;
    this.opened = new Promise((resolve) => (this.openNow = resolve));
  }

  /** Subscribes to the adapters' commands. Called before the link connects: a broker hands a
   *  persistent session's queued commands over right after CONNACK (and an embedded one takes
   *  commands as soon as it listens), before any adapter has started. */
  listen(adapters: readonly string[]): void {
    const { custody } = this;
    for (const adapter of adapters) {
      this.link.subscribe(this.topics.commandFilter(adapter), (topic, payload, packet) => {
        // Every instance gets every command; custody is judged as it arrives, so a session's
        // commands queued while this instance was away (and answered by another) are not run again.
        const received = Date.now();
        const admitted = custody ? custody.admit(received) : true;
        if (admitted === true) void this.handle(topic, payload, packet, received);
        else if (admitted !== false) {
          void admitted.then((ok) => {
            if (ok) void this.handle(topic, payload, packet, received);
          });
        }
      });
    }
    if (custody) {
      this.link.subscribe(this.topics.internal(custody.self, 'forward'), (_topic, payload) => {
        void this.forwarded(payload, Date.now());
      });
    }
  }

  /** Takes the commands of `adapter`; with `failed`, each is answered `offline` saying why. */
  route(adapter: string, target: CommandTarget, mappings: Mappings | undefined, failed?: string): void {
    this.routes.set(adapter, failed === undefined ? { target, mappings } : { target, mappings, failed });
  }

  /** Every adapter is routed: commands held since `listen` go on, in the order they came. */
  open(): void {
    this.openNow();
  }

  /** The gateway stops before it was open: held commands are answered `offline`. */
  close(why: string): void {
    this.stopping = why;
    this.openNow();
  }

  private async handle(topic: string, payload: Buffer, packet: InboundPacket, received: number): Promise<void> {
    const target = this.topics.parse(topic, 'command', false);
    if (!target) return;
    await this.opened;
    if (!this.routes.has(target.adapter)) return;
    if (packet.retain) {
      // A retained command would run again at every restart of the gateway.
      this.logger.warn({ topic }, 'retained command ignored: publish commands without the retain flag');
      return;
    }
    const replyTo = packet.properties?.responseTopic ?? this.topics.commandReply(target.adapter, target.deviceId, target.name);
    const correlationData = packet.properties?.correlationData;
    if (this.custody) {
      const forward: Forwarded = { fid: randomUUID(), topic, payload: payload.toString('base64'), replyTo, waitedMs: 0, hops: 0 };
      if (correlationData) forward.correlationData = correlationData.toString('base64');
      return this.place(target, forward, received);
    }
    const reply = await this.run(target, this.read(payload), received);
    this.link.publishQueued(replyTo, JSON.stringify(reply), correlationData ? { correlationData } : {});
  }

  /** Multi mode: runs the command here, or hands it to the instance that holds its device. Only the
   *  instance holding a command acts on it (custody), so it gets exactly one reply. */
  private async place(target: CommandTopic, forward: Forwarded, received: number): Promise<void> {
    const custody = this.custody as Custody;
    let owner: string | undefined;
    try {
      owner = await custody.elsewhere(target.adapter, target.deviceId);
    } catch (err) {
      // Without the registry the command is run here: executed if the device is here, else offline.
      this.logger.warn({ ...target, err: (err as Error).message }, 'owner registry unreachable; command run here');
    }
    if (owner !== undefined && forward.hops < MAX_HOPS) {
      const next: Forwarded = { ...forward, waitedMs: forward.waitedMs + (Date.now() - received), hops: forward.hops + 1 };
      this.metrics.commandsForwarded.inc({ adapter: target.adapter });
      this.logger.debug({ ...target, to: owner, hops: next.hops }, 'command forwarded to the instance holding its device');
      this.link.publishQueued(this.topics.internal(owner, 'forward'), JSON.stringify(next));
      return;
    }
    const correlationData = forward.correlationData === undefined ? undefined : Buffer.from(forward.correlationData, 'base64');
    const body = this.read(Buffer.from(forward.payload, 'base64'));
    const reply =
      owner === undefined
        ? await this.run(target, body, received)
        : await this.run(target, body, received, `${target.deviceId} moved between instances while the command was on its way`);
    this.link.publishQueued(forward.replyTo, JSON.stringify(reply), correlationData ? { correlationData } : {});
  }

  /** A command another instance handed over: checked again here, since its device may have moved. */
  private async forwarded(payload: Buffer, arrived: number): Promise<void> {
    let forward: Forwarded;
    try {
      forward = parseJson(payload, this.limits.maxPayloadBytes * 2 + 4096) as Forwarded;
      if (typeof forward.fid !== 'string' || typeof forward.topic !== 'string' || typeof forward.payload !== 'string' || typeof forward.replyTo !== 'string') {
        throw new Error('not a forwarded command');
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'forwarded command ignored');
      return;
    }
    // A QoS 1 redelivery of the same forward is answered once.
    if (this.forwards.has(forward.fid)) return;
    this.forwards.add(forward.fid);
    if (this.forwards.size > FORWARDS_REMEMBERED) this.forwards.delete(this.forwards.values().next().value as string);
    const target = this.topics.parse(forward.topic, 'command', false);
    if (!target) return;
    await this.opened;
    if (!this.routes.has(target.adapter)) return;
    await this.place(target, forward, arrived - Math.max(0, Number(forward.waitedMs) || 0));
  }

  /** A command from inside the gateway (the console): the same checks, metrics and reply topic as
   *  one published on MQTT, so a platform watching the replies sees it too. The caller checked that
   *  `target`'s parts are topic levels. */
  async submit(target: CommandTopic, body: unknown): Promise<Reply> {
    const received = Date.now();
    await this.opened;
    // Multi mode: a console runs commands for the devices its own instance holds; the reply is the
    // console's to show, and it cannot wait for another instance's.
    const holder = this.custody ? await this.custody.elsewhere(target.adapter, target.deviceId).catch(() => undefined) : undefined;
    const reply = !this.routes.has(target.adapter)
      ? failure(randomUUID(), new CommandError('unsupported', `no adapter ${target.adapter} runs here`))
      : holder !== undefined
        ? await this.run(target, body, received, `${target.deviceId} is connected to instance ${holder}: use its console, or MQTT`)
        : await this.run(target, body, received);
    this.link.publishQueued(this.topics.commandReply(target.adapter, target.deviceId, target.name), JSON.stringify(reply));
    return reply;
  }

  /** With `offline`, the command is checked like every other, then answered offline saying why. */
  private async run(target: CommandTopic, body: unknown, received: number, offline?: string): Promise<Reply> {
    const route = this.routes.get(target.adapter) as Route;
    const started = process.hrtime.bigint();
    let id: string = randomUUID();
    let reply: Reply;
    // Metric labels stay bounded whatever names a client publishes to.
    let metricName = 'unknown';
    try {
      if (isObject(body) && typeof body.id === 'string') id = body.id;
      // Without its mappings (they failed to load) an adapter cannot tell its commands apart.
      const resolved = route.mappings?.command(target.name);
      if (route.mappings && !resolved) throw new CommandError('unsupported', `${target.adapter} has no command ${target.name}`);
      if (resolved) metricName = target.name;
      const parsed = this.check(body, id);
      const merged = resolved?.defaults ? { ...resolved.defaults, ...parsed.data } : parsed.data;
      const data = resolved ? resolved.convert(merged) : merged;
      if (resolved && !resolved.validate(data)) {
        const why = schemaProblems(resolved.validate.errors, target.name).join('; ') || 'data does not match the command schema';
        throw new CommandError('invalid', why);
      }
      if (!resolved || route.failed !== undefined) {
        throw new CommandError('offline', `the ${target.adapter} adapter is not running: ${route.failed ?? 'it failed to start'}`);
      }
      if (this.stopping !== undefined) throw new CommandError('offline', this.stopping);
      if (offline !== undefined) throw new CommandError('offline', offline);
      // timeoutMs counts from when the gateway got the command, waiting for its start included.
      const left = parsed.timeoutMs - (Date.now() - received);
      if (left <= 0) throw new CommandError('offline', `the gateway was starting; ${target.deviceId} was not reachable within timeoutMs`);
      const answer = await this.execute(route.target, target, resolved.name, { ...parsed, data, timeoutMs: left });
      reply = await this.answerReply(id, target, answer);
    } catch (err) {
      reply = failure(id, err);
      if (!(err instanceof CommandError)) this.logger.error({ err, target }, 'command failed unexpectedly');
    }
    const outcome = reply.error?.type ?? 'ok';
    this.metrics.commands.inc({ adapter: target.adapter, name: metricName, outcome });
    this.metrics.commandSeconds.observe({ adapter: target.adapter }, Number(process.hrtime.bigint() - started) / 1e9);
    this.logger.debug({ ...target, id: reply.id, outcome, ms: Date.now() - received }, 'command answered');
    return reply;
  }

  /** The payload as JSON (an empty payload is `{}`), or the reason it is not, for `invalid`. */
  private read(payload: Buffer): unknown {
    if (payload.length === 0) return {};
    try {
      return parseJson(payload, this.limits.maxPayloadBytes);
    } catch (err) {
      return new CommandError('invalid', err instanceof ProtocolError ? err.message : String(err));
    }
  }

  private check(body: unknown, id: string): Parsed {
    if (body instanceof CommandError) throw body;
    if (!isObject(body)) throw new CommandError('invalid', 'the payload must be a JSON object {"id"?, "timeoutMs"?, "data"?}');
    const { data = {} } = body;
    // The envelope follows the rule of the data (src/leniency.ts): "5000" is 5000.
    const timeoutMs = body.timeoutMs === undefined ? this.limits.defaultTimeoutMs : numberFrom(body.timeoutMs);
    if (body.id !== undefined && typeof body.id !== 'string') throw new CommandError('invalid', 'id must be a string');
    if (timeoutMs === undefined || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > this.limits.maxTimeoutMs) {
      throw new CommandError('invalid', `timeoutMs must be an integer from 1 to ${this.limits.maxTimeoutMs}`);
    }
    if (!isObject(data)) throw new CommandError('invalid', 'data must be a JSON object');
    return { id, timeoutMs, data };
  }

  private async execute(route: CommandTarget, target: CommandTopic, name: string, parsed: Parsed): Promise<CommandAnswer> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new CommandError('timeout', `no answer from ${target.deviceId} within ${parsed.timeoutMs} ms`));
        controller.abort();
      }, parsed.timeoutMs);
    });
    // async: an adapter that throws at once is a rejection like any other.
    const running = (async () => route.execute({ ...parsed, deviceId: target.deviceId, name, signal: controller.signal }))();
    running.catch(() => undefined); // settled after the timeout: already answered
    try {
      return await Promise.race([running, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async answerReply(id: string, target: CommandTopic, answer: CommandAnswer): Promise<Reply> {
    const { topics, link } = this;
    const topicFor = (field: string): string => topics.media(target.adapter, target.deviceId, field);
    let data = answer.data;
    const publishes: Promise<void>[] = [];
    if (data && answer.media) {
      const extracted = extractMedia(data, answer.media, this.output.media, topicFor);
      data = extracted.data;
      for (const m of extracted.media) publishes.push(link.publish(topicFor(m.field), m.bytes, { retain: true }));
    }
    if (answer.file) {
      const media = topicFor(answer.file.field);
      publishes.push(link.publish(media, answer.file.bytes, { retain: true }));
      data = { ...data, media };
    }
    await Promise.all(publishes).catch((err: unknown) => this.logger.warn({ err }, 'command media not acknowledged'));
    if (!answer.ok) {
      const message = answer.message ?? `device answered ${String(answer.code)}`;
      return { id, ok: false, code: answer.code, message: answer.message, data, error: { type: 'device', message } };
    }
    return { id, ok: true, code: answer.code, message: answer.message, data, error: null };
  }
}

/** Schema errors as a user reads them: each parameter by its path (`data.cmd`) and what it may
 *  be, not ajv's JSON pointers and keywords; each said once. */
export function schemaProblems(errors: readonly ErrorObject[] | null | undefined, command: string): string[] {
  return [...new Set((errors ?? []).map((e) => schemaProblem(e, command)).filter((p) => p !== undefined))];
}

function schemaProblem(e: ErrorObject, command: string): string | undefined {
  const at = `data${e.instancePath.replace(/\//g, '.')}`;
  const params = e.params as Record<string, unknown>;
  // A name refused by `propertyNames`: said of the name. The summaries ajv adds on top ("must
  // match then schema", "property name must be valid") repeat what the inner errors say.
  if (e.propertyName !== undefined) return `${at}.${e.propertyName} is not a parameter of ${command}`;
  if (e.keyword === 'if' || e.keyword === 'propertyNames') return undefined;
  switch (e.keyword) {
    case 'enum':
      return `${at} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${at} must be ${JSON.stringify(params.allowedValue)}`;
    case 'required':
      return `${at}.${String(params.missingProperty)} is required`;
    case 'additionalProperties':
      return `${at}.${String(params.additionalProperty)} is not a parameter of ${command}`;
    case 'minProperties':
      return `${at} needs at least ${String(params.limit)} parameter${params.limit === 1 ? '' : 's'}`;
    case 'type':
      return `${at} must be ${Array.isArray(params.type) ? params.type.join(' or ') : String(params.type)}`;
    default:
      return `${at} ${e.message ?? 'is invalid'}`;
  }
}

function failure(id: string, err: unknown): Reply {
  const type: CommandErrorType = err instanceof CommandError ? err.type : 'device';
  const message = err instanceof GatewayError || err instanceof Error ? err.message : String(err);
  return { id, ok: false, code: null, message: null, data: null, error: { type, message } };
}

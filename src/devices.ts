// Connected devices of one adapter and what an adapter does with each: availability, info,
// liveness, uplinks with broker acknowledgement, retransmission suppression, platform requests.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  CommandAnswer,
  ConnectOptions,
  DeviceCommand,
  DeviceHandle,
  DeviceIdentity,
  DeviceRegistry,
  DeviceSession,
  DisconnectReason,
  JsonObject,
  PlatformAnswer,
  UplinkOptions,
} from './adapter.js';
import type { Bridge, PlatformRequests } from './bridge.js';
import type { HandedCallback, Handover, Outgoing } from './buffer.js';
import type { AnswerConfig, OutputConfig } from './config.js';
import { isoNow } from './clock.js';
import { OfflineError, ProtocolError } from './errors.js';
import { extractMedia } from './media.js';
import type { DiscoverySink } from './homeassistant.js';
import type { Metrics } from './metrics.js';
import type { Link } from './mqtt.js';
import { RecentIds, type Outcome } from './recent.js';
import { MAX_NAME_LENGTH, isValidTopicLevel, topicLevelProblem, type Topics } from './topics.js';

/** What every adapter's registry shares. */
export interface CoreServices {
  link: Link;
  /** Where device messages go: the link, or the disk buffer in front of it. */
  handover: Handover;
  topics: Topics;
  metrics: Metrics;
  bridge: Bridge;
  requests: PlatformRequests;
  output: Readonly<OutputConfig>;
  /** Home Assistant discovery, told of each online and state (it decides what to publish). */
  discovery?: DiscoverySink;
  /** Multi-instance mode: the registry of which instance holds each device. */
  ownership?: Ownership;
}

/** Multi-instance mode's registry, as a device's connection sees it (src/cluster.ts). */
export interface Ownership {
  /** This instance holds the device now (the newest connection wins); the previous holder is told. */
  claim(adapter: string, deviceId: string): void;
  /** The connection here ended: true when the device was still this instance's (and now nobody's),
   *  false when another instance holds it, so this one must not say it offline. */
  release(adapter: string, deviceId: string): Promise<boolean>;
  /** Whether a live instance holds the device. */
  held(adapter: string, deviceId: string): Promise<boolean>;
  /** Runs `work` unless some instance ran it for this key of the device already (a device-scoped
   *  retransmission that reached another instance); waits for a run still going on elsewhere. */
  once(adapter: string, deviceId: string, key: string, work: () => Promise<void>): Promise<void>;
}

/** Retransmissions remembered per device; a device retransmits its last few messages, not more. */
const DEDUPE_ENTRIES = 256;
/** Devices whose device-scoped keys outlive their connection; the least recently active go first. */
const DEDUPE_DEVICES = 50_000;

type Seen = Map<string, Promise<unknown>>;

/** A device as the console lists it: the current connection, or the last one of a device gone. */
export interface DeviceSummary {
  deviceId: string;
  online: boolean;
  remote: string;
  connectedAt: string;
  disconnectedAt: string | null;
  /** Why the last connection ended (a DisconnectReason), null while online. */
  reason: string | null;
  /** The last event or request published, and when. */
  lastMessage: string | null;
  lastMessageAt: string | null;
  /** Events and requests published, and commands routed to the device, on this connection. */
  messagesIn: number;
  commands: number;
}

/** An event or request of a device, once handed over: what the console's live feed shows. */
export interface DeviceActivity {
  deviceId: string;
  kind: 'event' | 'request';
  name: string;
  topic: string;
  envelope: JsonObject;
}

/** Multi mode: how long an ended connection waits before saying its device offline, for a claim of
 *  another instance still on its way to the registry. */
const MOVE_GRACE_MS = 100;

/** Devices gone offline that are still listed, per adapter; the longest gone are dropped first. */
const GONE_DEVICES = 1000;

/** Names already found to be topic levels: a device uses a handful, checked once each. */
const KNOWN_NAMES_MAX = 1024;
const knownNames = new Set<string>();

/** An event or request name is a topic level the device chose (qyzn notifications): check it. */
function checkName(name: string): void {
  if (knownNames.has(name)) return;
  const problem = topicLevelProblem(name, MAX_NAME_LENGTH);
  if (problem !== undefined) throw new ProtocolError('bad_name', `message name ${JSON.stringify(name.slice(0, MAX_NAME_LENGTH))} ${problem}`);
  if (knownNames.size < KNOWN_NAMES_MAX) knownNames.add(name);
}

/** Event names as JSON strings: a device uses a handful, each escaped once. */
const nameJson = new Map<string, string>();

function quoted(name: string): string {
  let json = nameJson.get(name);
  if (json === undefined) {
    json = JSON.stringify(name);
    if (nameJson.size < KNOWN_NAMES_MAX) nameJson.set(name, json);
  }
  return json;
}

/** Runs `work` once per key in `seen`, forgetting failed runs and the oldest keys past the bound. */
function once<T>(seen: Seen, key: string, work: () => Promise<T>): Promise<T> {
  const known = seen.get(key);
  if (known) return known as Promise<T>;
  const run = work();
  seen.set(key, run);
  if (seen.size > DEDUPE_ENTRIES) seen.delete(seen.keys().next().value as string);
  run.catch(() => {
    if (seen.get(key) === run) seen.delete(key);
  });
  return run;
}

export class Devices implements DeviceRegistry {
  readonly adapter: string;
  readonly core: CoreServices;
  readonly answers: Readonly<Record<string, AnswerConfig>>;
  readonly logger: Logger;
  private readonly online = new Map<string, Device>();
  private readonly standing = new Map<string, DeviceSession>();
  private readonly remembered = new Map<string, RecentIds<void>>();
  private readonly gone = new Map<string, DeviceSummary>();
  private readonly observers = new Set<(activity: DeviceActivity) => void>();

  constructor(adapter: string, core: CoreServices, answers: Readonly<Record<string, AnswerConfig>>, logger: Logger) {
    this.adapter = adapter;
    this.core = core;
    this.answers = answers;
    this.logger = logger;
    core.metrics.devicesConnected.set({ adapter }, 0);
  }

  get size(): number {
    return this.online.size;
  }

  connect(identity: DeviceIdentity, session: DeviceSession, options: ConnectOptions = {}): DeviceHandle {
    if (!isValidTopicLevel(identity.deviceId)) {
      throw new ProtocolError('bad_identity', `device identity ${JSON.stringify(identity.deviceId)} is not a valid topic level`);
    }
    const previous = this.online.get(identity.deviceId);
    this.gone.delete(identity.deviceId);
    const device = new Device(this, identity, session, options.livenessMs ?? 0);
    this.online.set(identity.deviceId, device);
    if (previous) {
      previous.replaced();
    } else {
      this.core.metrics.devicesConnected.inc({ adapter: this.adapter });
    }
    device.announce();
    return device;
  }

  get(deviceId: string): DeviceHandle | undefined {
    return this.online.get(deviceId);
  }

  /** A gateway that was killed, with a broker that kept its retained topics, left its devices
   *  `online`. Each stored (retain-flagged) `online` of a device not connected here is set
   *  `offline`; this gateway's own live availability comes without the flag, and a device that
   *  connects meanwhile publishes `online` after it. Call before the adapter starts.
   *  In multi mode, only a device no live instance holds is set offline; and an `offline` another
   *  instance wrote over a device held here (its connection ended here-to-there in the same moment
   *  this one began, and the two publishes crossed) is corrected. */
  forgetStale(): void {
    const { link, topics, ownership } = this.core;
    const setOffline = (topic: string, deviceId: string): void => {
      this.logger.info({ deviceId }, 'retained online of a device not connected: set offline');
      link.publish(topic, 'offline', { retain: true }).catch((err: unknown) => {
        this.logger.warn({ deviceId, err: (err as Error).message }, 'stale availability not corrected');
      });
    };
    link.subscribe(topics.deviceFilter(this.adapter, 'availability'), (topic, payload, packet) => {
      const deviceId = topics.deviceOf(topic);
      if (deviceId === undefined) return;
      const said = payload.toString();
      if (this.online.has(deviceId)) {
        if (ownership && said !== 'online') {
          this.logger.info({ deviceId, said }, 'availability of a device held here corrected');
          void link.retain(topic, 'online');
        }
        return;
      }
      if (!packet.retain || said !== 'online') return;
      if (!ownership) return setOffline(topic, deviceId);
      ownership.held(this.adapter, deviceId).then(
        (held) => {
          if (!held && !this.online.has(deviceId)) setOffline(topic, deviceId);
        },
        (err: unknown) => this.logger.warn({ deviceId, err: (err as Error).message }, 'stale availability not checked'),
      );
    });
  }

  /** Multi mode: the device connected to another instance, while its connection here may still look
   *  alive. That one is closed (`replaced`) without an `offline`: the other instance said `online`. */
  movedAway(deviceId: string, to: string, connection: DeviceHandle): void {
    const device = this.online.get(deviceId);
    // Only the connection the notice found: one that began here since then claimed the device after
    // the move the notice tells of, and keeps it.
    if (!device || device !== connection) return;
    this.logger.info({ deviceId, to }, 'device connected to another instance');
    device.movedAway();
  }

  reachable(deviceId: string, session: DeviceSession): void {
    if (!isValidTopicLevel(deviceId)) {
      throw new ProtocolError('bad_identity', `device identity ${JSON.stringify(deviceId)} is not a valid topic level`);
    }
    this.standing.set(deviceId, session);
  }

  /** The devices online now, then those gone (most recently gone first). */
  list(): DeviceSummary[] {
    return [...[...this.online.values()].map((d) => d.summary()), ...[...this.gone.values()].reverse()];
  }

  /** Each event and request handed over from now on; returns the unsubscribe. */
  observe(observer: (activity: DeviceActivity) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** Whether anyone observes: a Device builds its activity only then (the hot path stays as it was). */
  get observed(): boolean {
    return this.observers.size > 0;
  }

  /** Called by a Device once a message of it was handed over. An observer that throws is logged:
   *  it must not turn a message the broker took into a failure the device hears. */
  handed(activity: DeviceActivity): void {
    for (const observer of this.observers) {
      try {
        observer(activity);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message, deviceId: activity.deviceId }, 'device activity observer failed');
      }
    }
  }

  /** Sends a command to the session that holds the device now. */
  execute(command: DeviceCommand): Promise<CommandAnswer> {
    const device = this.online.get(command.deviceId);
    device?.countCommand();
    const session = device?.session ?? this.standing.get(command.deviceId);
    if (!session) throw new OfflineError(command.deviceId);
    return session.execute(command);
  }

  /** The device-scoped retransmission memory of a device, kept across its connections. A connection
   *  takes it once and gives it back at its end (`remember`), not per message: the least recently
   *  active devices' memories go first all the same, since a connected device's is held by its
   *  connection and comes back as the newest when that ends. */
  memory(deviceId: string): RecentIds<void> {
    const recent = this.remembered.get(deviceId) ?? new RecentIds<void>();
    this.remember(deviceId, recent);
    return recent;
  }

  remember(deviceId: string, recent: RecentIds<void>): void {
    this.remembered.delete(deviceId);
    if (this.remembered.size >= DEDUPE_DEVICES) this.remembered.delete(this.remembered.keys().next().value as string);
    this.remembered.set(deviceId, recent);
  }

  /** Called by a Device whose connection ended while it was the current one. */
  release(device: Device, reason: DisconnectReason): boolean {
    if (this.online.get(device.deviceId) !== device) return false;
    this.online.delete(device.deviceId);
    this.gone.set(device.deviceId, { ...device.summary(), online: false, disconnectedAt: new Date().toISOString(), reason });
    if (this.gone.size > GONE_DEVICES) this.gone.delete(this.gone.keys().next().value as string);
    this.core.metrics.devicesConnected.dec({ adapter: this.adapter });
    return true;
  }

  /** Closes every session (shutdown) and waits until each device's offline was acknowledged. */
  async closeAll(): Promise<void> {
    const devices = [...this.online.values()];
    for (const device of devices) device.close('shutdown');
    await Promise.all(devices.map((device) => device.settled()));
  }
}

class Device implements DeviceHandle {
  readonly adapter: string;
  readonly deviceId: string;
  readonly remote: string;
  readonly logger: Logger;
  readonly session: DeviceSession;
  /** The disk buffer's ordering key. */
  private readonly key: string;
  /** The envelope between `ts` and `name`, escaped once: `,"adapter":…,"deviceId":…,"name":`. */
  private readonly envelopeMiddle: string;
  private readonly registry: Devices;
  private info: JsonObject;
  private alive = true;
  private liveness: NodeJS.Timeout | undefined;
  private livenessMs = 0;
  /** Monotonic (performance.now): a wall clock set back must not keep a silent device alive. */
  private lastSeen = performance.now();
  private readonly seen: Seen = new Map();
  /** The device's memory of ids (Devices.memory), taken at the first device-scoped run. */
  private recent: RecentIds<void> | undefined;
  private lastPublish: Promise<void> = Promise.resolve();
  private nextState: JsonObject | undefined;
  private nextStateJson: string | undefined;
  private statePublish: Promise<void> | undefined;
  private readonly connectedAt = new Date().toISOString();
  private messagesIn = 0;
  private commands = 0;
  private lastMessage: string | null = null;
  private lastMessageAt: string | null = null;

  constructor(registry: Devices, identity: DeviceIdentity, session: DeviceSession, livenessMs: number) {
    this.registry = registry;
    this.adapter = registry.adapter;
    this.deviceId = identity.deviceId;
    this.remote = identity.remote;
    this.session = session;
    this.key = `${registry.adapter}/${identity.deviceId}`;
    this.envelopeMiddle = `,"adapter":${JSON.stringify(registry.adapter)},"deviceId":${JSON.stringify(identity.deviceId)},"name":`;
    this.logger = registry.logger.child({ deviceId: identity.deviceId, remote: identity.remote });
    this.info = { deviceId: identity.deviceId, ...identity.info, remote: identity.remote, connectedAt: this.connectedAt };
    this.setLiveness(livenessMs);
  }

  private get core(): CoreServices {
    return this.registry.core;
  }

  announce(): void {
    const { link, topics, bridge, ownership } = this.core;
    ownership?.claim(this.adapter, this.deviceId);
    void link.retain(topics.device(this.adapter, this.deviceId, 'info'), JSON.stringify(this.info));
    this.lastPublish = link.retain(topics.device(this.adapter, this.deviceId, 'availability'), 'online');
    bridge.event('device_connected', this.adapter, 'connected', { deviceId: this.deviceId, remote: this.remote });
    this.core.discovery?.online(this.adapter, this.deviceId, this.info);
    this.logger.info('device online');
  }

  summary(): DeviceSummary {
    return {
      deviceId: this.deviceId,
      online: true,
      remote: this.remote,
      connectedAt: this.connectedAt,
      disconnectedAt: null,
      reason: null,
      lastMessage: this.lastMessage,
      lastMessageAt: this.lastMessageAt,
      messagesIn: this.messagesIn,
      commands: this.commands,
    };
  }

  countCommand(): void {
    this.commands += 1;
  }

  /** A stamp, not a timer refresh: this runs for every message of the device. */
  touch(): void {
    this.lastSeen = performance.now();
  }

  setLiveness(ms: number): void {
    clearTimeout(this.liveness);
    this.liveness = undefined;
    this.livenessMs = ms;
    this.lastSeen = performance.now();
    if (ms > 0 && this.alive) this.armLiveness(ms);
  }

  /** Fires when the device may have been silent for livenessMs; looks at the stamp then. */
  private armLiveness(ms: number): void {
    this.liveness = setTimeout(() => {
      const silent = performance.now() - this.lastSeen;
      if (silent >= this.livenessMs) this.close('timeout');
      else if (this.alive) this.armLiveness(this.livenessMs - silent);
    }, ms);
    this.liveness.unref();
  }

  updateInfo(info: JsonObject): void {
    this.info = { ...this.info, ...info };
    if (this.alive) void this.core.link.retain(this.core.topics.device(this.adapter, this.deviceId, 'info'), JSON.stringify(this.info));
  }

  uplink(name: string, data: JsonObject, options: UplinkOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => this.uplinkThen(name, data, options, (err) => (err ? reject(err) : resolve())));
  }

  uplinkThen(name: string, data: JsonObject, options: UplinkOptions, done: (err?: Error) => void): void {
    try {
      checkName(name);
    } catch (err) {
      return done(err as Error);
    }
    this.publishEnvelope(this.core.topics.event(this.adapter, this.deviceId, name), 'event', name, data, options, randomUUID(), done);
  }

  /** Hands the envelope (and its media) over; `done` once the broker or the disk buffer holds it. */
  private publishEnvelope(topic: string, kind: DeviceActivity['kind'], name: string, data: JsonObject, options: UplinkOptions, id: string, done: HandedCallback): void {
    const { handover, topics, output } = this.core;
    const paths = options.media ?? [];
    const { data: body, media } =
      paths.length === 0 ? { data, media: [] } : extractMedia(data, paths, output.media, (field) => topics.media(this.adapter, this.deviceId, field));
    // Written as JSON.stringify would write the envelope object, key order included, without
    // building that object: the constant parts are escaped once per device, the ids are UUIDs.
    const ts = isoNow();
    const raw = output.includeRaw && options.raw !== undefined ? `,"raw":${JSON.stringify(options.raw)}` : '';
    const dataJson = paths.length === 0 && options.dataJson !== undefined ? options.dataJson : JSON.stringify(body);
    const payload = `{"id":"${id}","ts":"${ts}"${this.envelopeMiddle}${quoted(name)},"data":${dataJson}${raw}}`;
    const message: Outgoing[] = [{ topic, payload }];
    for (const m of media) message.push({ topic: topics.media(this.adapter, this.deviceId, m.field), payload: m.bytes, retain: true, media: true });
    handover.hand(this.key, message, (err, handed) => {
      if (err) {
        this.core.metrics.handoverFailures.inc({ adapter: this.adapter });
        this.logger.warn({ err: err.message, name }, 'message not handed over; the device gets its failure code');
        return done(err);
      }
      this.messagesIn += 1;
      this.lastMessage = name;
      this.lastMessageAt = ts;
      if (this.registry.observed) this.registry.handed({ deviceId: this.deviceId, kind, name, topic, envelope: JSON.parse(payload) as JsonObject });
      done(undefined, handed);
    });
  }

  dedupe<T>(key: string, work: () => Promise<T>, options?: { scope?: 'connection' }): Promise<T>;
  dedupe(key: string, work: () => Promise<void>, options: { scope: 'device' }): Promise<void>;
  dedupe(key: string, work: () => Promise<unknown>, options: { scope?: 'connection' | 'device' } = {}): Promise<unknown> {
    if (options.scope !== 'device') return once(this.seen, key, work);
    return new Promise<void>((resolve, reject) =>
      this.dedupeThen('', key, (finish) => work().then(() => finish(undefined), finish), (err) => (err ? reject(err) : resolve())),
    );
  }

  dedupeThen(name: string, id: string, work: (finish: Outcome<void>) => void, done: Outcome<void>): void {
    const recent = (this.recent ??= this.registry.memory(this.deviceId));
    const { ownership } = this.core;
    if (!ownership) return recent.run(id, name, work, done);
    // Multi mode: the device may have resent to another instance, which ran it then. The key is the
    // one dedupe() used (`name:id`), so that instances of both builds agree on it.
    const key = name === '' ? id : `${name}:${id}`;
    const elsewhere = (finish: Outcome<void>): void => {
      ownership
        .once(this.adapter, this.deviceId, key, () => new Promise<void>((resolve, reject) => work((err) => (err ? reject(err) : resolve()))))
        .then(() => finish(undefined), finish);
    };
    recent.run(id, name, elsewhere, done);
  }

  request(name: string, data: JsonObject, fallback: JsonObject, options: UplinkOptions = {}): Promise<PlatformAnswer> {
    return new Promise((resolve, reject) => this.requestThen(name, data, fallback, options, (err, answer) => (err ? reject(err) : resolve(answer as PlatformAnswer))));
  }

  requestThen(name: string, data: JsonObject, fallback: JsonObject, options: UplinkOptions, done: (err: Error | undefined, answer?: PlatformAnswer) => void): void {
    const answer = Object.hasOwn(this.registry.answers, name) ? this.registry.answers[name] : undefined;
    if (!answer || answer.mode === 'local') {
      return this.uplinkThen(name, data, options, (err) => (err ? done(err) : done(undefined, { data: fallback, source: 'local' })));
    }
    try {
      checkName(name);
    } catch (err) {
      return done(err as Error);
    }
    const { topics, requests } = this.core;
    const id = randomUUID();
    const reply = requests.wait(id, this.adapter, this.deviceId, name, answer.timeoutMs);
    this.publishEnvelope(topics.request(this.adapter, this.deviceId, name), 'request', name, data, options, id, (err, handed) => {
      if (err) {
        requests.cancel(id);
        return done(err);
      }
      // Buffered: the platform sees it only once the broker is back, too late for this answer.
      if (handed === 'buffered') {
        requests.cancel(id);
        return done(undefined, { data: fallback, source: 'fallback' });
      }
      reply.then((platform) => {
        if (!platform) return done(undefined, { data: fallback, source: 'fallback' });
        const { id: _id, data: answered, ...extra } = platform;
        done(undefined, { data: (answered as JsonObject | undefined) ?? {}, extra, source: 'mqtt' });
      }, done);
    });
  }

  /** Updates in one turn of the event loop (a burst of uploads from one device) are serialised and
   *  published once, the latest; every caller's promise settles with that publish. */
  setState(state: JsonObject, json?: string): Promise<void> {
    this.nextState = state;
    this.nextStateJson = json;
    this.statePublish ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const latest = this.nextState ?? state;
      const payload = this.nextStateJson ?? JSON.stringify(latest);
      this.nextState = undefined;
      this.nextStateJson = undefined;
      this.statePublish = undefined;
      this.core.discovery?.state(this.adapter, this.deviceId, latest);
      return this.core.link.retain(this.core.topics.device(this.adapter, this.deviceId, 'state'), payload);
    });
    return this.statePublish;
  }

  /** Ends the session from the core's side (liveness, shutdown); the adapter's close() is expected
   *  to call disconnect(), and is not trusted to. */
  close(reason: DisconnectReason): void {
    if (!this.alive) return;
    try {
      this.session.close(reason);
    } finally {
      this.disconnect(reason);
    }
  }

  /** A newer connection of the same device took over: close this one without going offline. */
  replaced(): void {
    if (!this.alive) return;
    this.alive = false;
    this.stopTimers();
    this.core.bridge.event('device_disconnected', this.adapter, 'replaced', { deviceId: this.deviceId, remote: this.remote });
    this.logger.info('connection replaced by a newer one');
    this.session.close('replaced');
  }

  disconnect(reason: DisconnectReason): void {
    if (!this.alive) return;
    this.alive = false;
    this.stopTimers();
    if (!this.registry.release(this, reason)) return;
    const { link, topics, bridge, ownership } = this.core;
    const availability = topics.device(this.adapter, this.deviceId, 'availability');
    bridge.event('device_disconnected', this.adapter, reason, { deviceId: this.deviceId, remote: this.remote });
    if (!ownership) {
      this.lastPublish = link.retain(availability, 'offline');
      this.logger.info({ reason }, 'device offline');
      return;
    }
    this.lastPublish = ownership.release(this.adapter, this.deviceId).then(
      // Only a connection the device dropped can be a move; a stop or a timeout says offline at once.
      (ours) => (ours && reason === 'closed' ? this.stillNobodys().then((nobodys) => this.goneOffline(nobodys, reason)) : this.goneOffline(ours, reason)),
      // Without the registry: offline is what this instance knows; a holder elsewhere corrects it.
      () => this.goneOffline(true, reason),
    );
  }

  /** A device that moved to another instance may drop its old connection before that instance's
   *  claim reaches the registry (the release then finds the record still ours): asked again after
   *  MOVE_GRACE_MS, such a device is held elsewhere and is not said offline. */
  private stillNobodys(): Promise<boolean> {
    const { ownership } = this.core;
    if (!ownership) return Promise.resolve(true);
    return new Promise<void>((resolve) => setTimeout(resolve, MOVE_GRACE_MS).unref())
      .then(() => ownership.held(this.adapter, this.deviceId))
      .then(
        (held) => !held,
        () => true,
      );
  }

  private goneOffline(ours: boolean, reason: DisconnectReason): Promise<void> {
    const { link, topics } = this.core;
    // Connected here again meanwhile: that connection said online after this one ended.
    if (this.registry.get(this.deviceId)) return Promise.resolve();
    if (!ours) {
      this.forgetRetained();
      this.logger.info({ reason }, 'connection ended; the device is held by another instance');
      return Promise.resolve();
    }
    this.logger.info({ reason }, 'device offline');
    return link.retain(topics.device(this.adapter, this.deviceId, 'availability'), 'offline');
  }

  /** Another instance holds the device: its retained topics are that one's to say after a reconnect. */
  private forgetRetained(): void {
    const { link, topics } = this.core;
    for (const kind of ['availability', 'info', 'state'] as const) link.forget(topics.device(this.adapter, this.deviceId, kind));
  }

  /** See Devices.movedAway. */
  movedAway(): void {
    if (!this.alive) return;
    this.alive = false;
    this.stopTimers();
    this.registry.release(this, 'replaced');
    this.forgetRetained();
    this.core.bridge.event('device_disconnected', this.adapter, 'replaced', { deviceId: this.deviceId, remote: this.remote });
    this.session.close('replaced');
  }

  /** Resolves when the last availability change was acknowledged (or could not be). */
  settled(): Promise<void> {
    return this.lastPublish;
  }

  private stopTimers(): void {
    clearTimeout(this.liveness);
    this.liveness = undefined;
    this.seen.clear();
    // Back as the most recently active device's: its next connection takes it over.
    if (this.recent) this.registry.remember(this.deviceId, this.recent);
  }
}

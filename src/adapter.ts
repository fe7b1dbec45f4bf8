// The contract between the core and a protocol adapter. The core knows topics, envelopes,
// commands and replies; an adapter knows bytes. An adapter never builds a topic string.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AdapterMetrics } from './metrics.js';
import type { Mappings } from './mappings.js';
import type { OutputConfig, AnswerConfig } from './config.js';
import type { AuthReason, ProtocolReason } from './errors.js';

export type JsonObject = Record<string, unknown>;

/** Why a device's connection ended; shown in `bridge/event` and the logs. */
export type DisconnectReason =
  | 'closed' // the device closed its connection
  | 'logout' // the device said goodbye
  | 'replaced' // a second connection of the same device took over
  | 'timeout' // silent for three heartbeat periods
  | 'protocol_error' // the byte stream could no longer be trusted
  | 'shutdown'; // the gateway is stopping

/** A device's session as the core holds it: where its commands go, and how it is ended
 *  (replacement, liveness, shutdown). The core routes each command to the session that holds the
 *  device now; an adapter keeps no list of its own of who is online. */
export interface DeviceSession {
  /** Sends a validated command to the device and resolves with its answer. */
  execute(command: DeviceCommand): Promise<CommandAnswer>;
  close(reason: DisconnectReason): void;
}

export interface DeviceIdentity {
  deviceId: string;
  /** `ip:port` of the device as seen by the gateway. */
  remote: string;
  /** Protocol facts for the retained `info` topic: type, version, mac, serial... */
  info?: JsonObject;
}

export interface ConnectOptions {
  /** Silence after which the device is offline and its session closed; 0 or absent: never. */
  livenessMs?: number;
}

export interface UplinkOptions {
  /** Paths in `data` (`a.b`) that hold base64 media; published on `media/{last segment}`. */
  media?: readonly string[];
  /** The device's untouched message, added as `raw` when `output.includeRaw` is on. */
  raw?: unknown;
  /** `data` serialised already, exactly as JSON.stringify(data) writes it (the gantry builds it from
   *  the JSON its retained state keeps anyway), published as it is; not used with `media`. */
  dataJson?: string;
}

/** A device request whose answer the platform decides (DESIGN.md "Device requests"). */
export interface PlatformAnswer {
  data: JsonObject;
  /** The platform's reply beside `id` and `data`, when it answered over MQTT: protocol-specific
   *  parts of the answer (a result code, say) for the adapter to read. */
  extra?: JsonObject;
  /** Where the answer came from. */
  source: 'mqtt' | 'local' | 'fallback';
}

export interface DeviceHandle {
  readonly adapter: string;
  readonly deviceId: string;
  readonly remote: string;
  readonly logger: Logger;
  /** Keeps the device alive (any message counts; heartbeats only do this). */
  touch(): void;
  setLiveness(ms: number): void;
  /** Adds facts to the retained `info` topic. */
  updateInfo(info: JsonObject): void;
  /** Publishes `event/{name}` (and its media) and resolves once the broker acknowledged all of it.
   *  Rejects with HandoverError when it cannot be handed over: answer the device with a failure;
   *  with ProtocolError `bad_name` when `name` cannot be a topic level (nothing is published). */
  uplink(name: string, data: JsonObject, options?: UplinkOptions): Promise<void>;
  /** uplink() with a callback, for a protocol's hot path: no promise per message. `done` gets the
   *  error uplink() would reject with; it may be called before uplinkThen returns. */
  uplinkThen(name: string, data: JsonObject, options: UplinkOptions, done: (err?: Error) => void): void;
  /** Runs `work` once per key: a retransmission (same key) gets the first run's result without a
   *  second publish. A failed run is forgotten, so the device's retry runs again. Bounded per device.
   *  Keys are remembered for this connection only (sequence numbers that restart with it), or, with
   *  `scope: 'device'`, across reconnects of the device (ids the device keeps: a wsdoor `eventid`
   *  resent on a new connection after its answer was lost with the old one); in multi-instance mode
   *  also across instances (the device may resend to another), which is why such work has no result. */
  dedupe<T>(key: string, work: () => Promise<T>, options?: { scope?: 'connection' }): Promise<T>;
  dedupe(key: string, work: () => Promise<void>, options: { scope: 'device' }): Promise<void>;
  /** dedupe(…, { scope: 'device' }) with callbacks, for a protocol's hot path: no promise, key string
   *  or memory lookup per message. `work` runs unless a run of (`name`, `id`) is remembered for the
   *  device (its last 256, across its connections); `done` gets that run's outcome, possibly before
   *  dedupeThen returns. A run whose work failed is forgotten. */
  dedupeThen(name: string, id: string, work: (finish: (err: unknown) => void) => void, done: (err: unknown) => void): void;
  /** A device request needing the platform: `mqtt` mode publishes `request/{name}` and waits for
   *  `request/{name}/reply`, `local` mode publishes `event/{name}`; both fall back to `fallback`. */
  request(name: string, data: JsonObject, fallback: JsonObject, options?: UplinkOptions): Promise<PlatformAnswer>;
  /** request() with a callback: in `local` mode (the default) no promise per message. */
  requestThen(name: string, data: JsonObject, fallback: JsonObject, options: UplinkOptions, done: (err: Error | undefined, answer?: PlatformAnswer) => void): void;
  /** Replaces the retained `state` topic (gantry). `json`: `state` serialised already (the adapter
   *  keeps the parts that did not change as JSON), published as it is. */
  setState(state: JsonObject, json?: string): Promise<void>;
  /** The adapter's word that this connection ended: availability offline, `device_disconnected`. */
  disconnect(reason: DisconnectReason): void;
}

export interface DeviceRegistry {
  /** Registers a device as online: retained availability and info, `device_connected`; its
   *  commands go to `session` from now on. A previous session of the same device is closed with
   *  reason `replaced`. */
  connect(identity: DeviceIdentity, session: DeviceSession, options?: ConnectOptions): DeviceHandle;
  /** The device online now, if any. */
  get(deviceId: string): DeviceHandle | undefined;
  /** A device that takes commands without being connected (a gantry with a configured control
   *  URL): its commands go to `session` whenever no connected session holds it. Not online. */
  reachable(deviceId: string, session: DeviceSession): void;
  /** Devices online. */
  readonly size: number;
}

export interface BridgeEvents {
  protocolError(reason: ProtocolReason, where?: { deviceId?: string; remote?: string }): void;
  authFailed(reason: AuthReason, where?: { deviceId?: string; remote?: string }): void;
}

/** A validated command on its way to the device. */
export interface DeviceCommand {
  /** The command's id (the caller's or one the gateway made). */
  id: string;
  deviceId: string;
  /** The protocol's own name (aliases are resolved by the core). */
  name: string;
  data: JsonObject;
  timeoutMs: number;
  /** Aborted when `timeoutMs` ran out: drop the pending state, the core answers `timeout`. */
  signal: AbortSignal;
}

/** The device's answer. `ok: false` becomes `error.type: device` with the device's code/message. */
export interface CommandAnswer {
  ok: boolean;
  code: number | string | null;
  message: string | null;
  data: JsonObject | null;
  /** Paths in `data` holding base64 media, published on `media/{last segment}`. */
  media?: readonly string[];
  /** A file the device answered with: its bytes are published retained on `media/{field}`, and
   *  the reply's `data.media` names that topic. */
  file?: { field: string; bytes: Buffer };
}

export interface AdapterContext<C = unknown> {
  readonly id: string;
  /** The adapter's own configuration section, validated and frozen. */
  readonly config: Readonly<C>;
  readonly output: Readonly<OutputConfig>;
  readonly deviceTimeZone: string;
  readonly logger: Logger;
  readonly metrics: AdapterMetrics;
  readonly devices: DeviceRegistry;
  readonly events: BridgeEvents;
  readonly mappings: Mappings;
  /** The gateway's HTTP server; add routes in `start()`, it listens after every adapter started. */
  readonly http: FastifyInstance;
  /** Follows what the platform publishes (retained, typically) on `{base}/{adapter}/+/{kind}`,
   *  e.g. the gantry `whitelist`. An empty payload is a cleared retained topic. A handler that
   *  throws has the message logged as ignored. */
  watch(kind: string, handler: (deviceId: string, payload: Buffer) => void): void;
}

export interface Adapter {
  readonly id: string;
  /** Opens the adapter's listener; resolves with its address (`host:port`), if it has its own. */
  start(): Promise<string | undefined>;
  /** Stops accepting and closes every connection, identified or not. */
  stop(): Promise<void>;
}

export type AdapterFactory<C = unknown> = (context: AdapterContext<C>) => Adapter;

export type { AnswerConfig };

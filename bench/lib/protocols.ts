// The IPC protocols of the bench workers (see ipc.ts), shared by both ends.
import type { GenReport } from './outcomes.js';
import type { StreamReport, TrackerWindow } from './tracker.js';

export interface RunArgs {
  tag: string;
  ratePerSec: number;
  durationMs: number;
  startAtUs: number;
  bucketMs: number;
  /** After the schedule, wait at most this long for the answers still due. */
  settleMs: number;
}

export interface WorkerStats {
  online: number;
  commands: number;
  heartbeats: number;
  rssMB: number;
  /** CPU since the previous stats call, % of one core. */
  cpuPercent: number;
}

export type SubscriberProtocol = {
  /** `persistent`: a session the broker keeps (clean: false), whose QoS 1 messages it stores. */
  connect: { args: { url: string; clientId: string; persistent?: boolean }; result: null };
  subscribe: { args: { filters: string[] }; result: null };
  begin: { args: TrackerWindow; result: null };
  progress: { args: null; result: { received: number; unique: number; stale: number; lastAtUs: number } };
  report: { args: { sent: Record<string, number> }; result: StreamReport };
  stats: { args: null; result: WorkerStats };
};

/** The simulated devices the uplink scenarios drive. */
export type DeviceKind = 'qyzn' | 'wsdoor' | 'wscam';

export interface LoginArgs {
  host: string;
  port: number;
  /** Several listeners (instances of a multi-mode gateway): the k-th serial connects to
   *  ports[k % ports.length] instead of `port`. */
  ports?: number[];
  /** qyzn: the gateway's GATE2MQTT_QYZN_SECRET, from which each terminal's password is derived. */
  secret: string;
  serials: string[];
  /** qyzn only; wsdoor and wscam heartbeat at the interval the gateway gives them. */
  heartbeatMs: number;
  concurrency: number;
  responseTimeoutMs: number;
}

/** The protocol of every device load worker (qyzn-load, ws-load). */
export type DeviceLoadProtocol = {
  login: { args: LoginArgs & { kind: DeviceKind }; result: { online: number; failed: number; errors: string[]; ms: number } };
  run: { args: RunArgs & { retryRefused: boolean }; result: GenReport };
  stats: { args: null; result: WorkerStats & { commandsBySerial?: Record<string, number> } };
  commandCounts: { args: null; result: { total: number; min: number; max: number; devices: number } };
  close: { args: null; result: null };
};

export type MqttLoadProtocol = {
  connect: { args: { url: string; clientId: string; inflightCap: number }; result: null };
  run: { args: RunArgs & { base: string; serials: string[] }; result: GenReport };
  stats: { args: null; result: WorkerStats };
};

export interface CommandReport {
  loop: GenReport['loop'];
  sent: number;
  /** Commands with exactly one reply, ok true. */
  okOnce: number;
  /** Replies with ok false, by error type. */
  failed: Record<string, number>;
  /** Commands that got no reply. */
  unanswered: number;
  /** Extra replies beyond the first, summed. */
  duplicates: number;
  replyUs: import('./stats.js').Summary;
  /** From the instant each command was published (the commander's timer lag left out). */
  replyFromSendUs: import('./stats.js').Summary;
  /** The same two, per group of devices, when the run named groups (e.g. direct / forwarded). */
  byGroup?: Record<string, { replyUs: import('./stats.js').Summary; replyFromSendUs: import('./stats.js').Summary }>;
}

export type CommanderProtocol = {
  connect: { args: { url: string; clientId: string; replyFilters: string[] }; result: null };
  run: { args: { tag: string; base: string; serials: string[]; command: string; ratePerSec: number; durationMs: number; startAtUs: number; settleMs: number; warmupMs: number; groups?: Record<string, string> }; result: CommandReport };
  stats: { args: null; result: WorkerStats };
};

export type EchoProtocol = {
  connect: { args: { url: string; clientId: string; filter: string }; result: null };
  stats: { args: null; result: WorkerStats };
};

export type GantryLoadProtocol = {
  /** One simulator per `target` (the gateway, the bare fastify), in one worker. */
  setup: { args: { target: string; url: string; gantries: number; auth: string; connections: number }; result: null };
  run: { args: RunArgs & { target: string }; result: GenReport };
  stats: { args: null; result: WorkerStats };
};

export type BareHttpProtocol = {
  listen: { args: null; result: { port: number } };
  stats: { args: null; result: WorkerStats };
};

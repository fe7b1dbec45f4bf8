// Prometheus metrics, gate2mqtt_* names, in a registry of the gateway's own (not prom-client's
// global one) so that several gateways in one process do not collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PauseReason } from './inbox.js';

export class Metrics {
  readonly registry = new Registry();
  readonly devicesConnected: Gauge<'adapter'>;
  readonly readsPaused: Gauge<'adapter' | 'reason'>;
  readonly messagesIn: Counter<'adapter' | 'name'>;
  readonly messagesOut: Counter<'adapter' | 'name'>;
  readonly commands: Counter<'adapter' | 'name' | 'outcome'>;
  readonly commandSeconds: Histogram<'adapter'>;
  readonly commandsForwarded: Counter<'adapter'>;
  readonly custodian: Gauge;
  readonly instancesLive: Gauge;
  readonly protocolErrors: Counter<'adapter' | 'reason'>;
  readonly handoverFailures: Counter<'adapter'>;
  readonly mqttConnected: Gauge;
  readonly bufferDepth: Gauge;
  readonly bufferBytes: Gauge;
  readonly bufferOldestAge: Gauge;
  readonly bufferDrained: Counter;
  readonly bufferExpired: Counter;
  private buffer: BufferGauges | undefined;
  private readonly pendingIn = new PendingCounts();
  private readonly pendingOut = new PendingCounts();
  /** Connections not read now, per adapter and reason: plain integers, read when scraped (a qyzn
   *  connection pauses and resumes as often as a chunk's frames wait for the broker). */
  private readonly paused = new Map<string, Record<PauseReason, number>>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.devicesConnected = new Gauge({
      name: 'gate2mqtt_devices_connected',
      help: 'Devices online, per adapter.',
      labelNames: ['adapter'],
      registers,
    });
    this.readsPaused = new Gauge({
      name: 'gate2mqtt_device_reads_paused',
      help: 'Device connections not read now, per adapter and reason: device_not_reading (answers to it fill the write buffer: it does not read them), backlog (its messages wait for the broker).',
      labelNames: ['adapter', 'reason'],
      registers,
      collect: () => {
        for (const [adapter, counts] of this.paused) {
          for (const reason of PAUSE_REASONS) this.readsPaused.set({ adapter, reason }, counts[reason]);
        }
      },
    });
    this.messagesIn = new Counter({
      name: 'gate2mqtt_messages_in_total',
      help: 'Messages received from devices, per adapter and protocol message name.',
      labelNames: ['adapter', 'name'],
      registers,
      collect: () => this.pendingIn.flush(this.messagesIn),
    });
    this.messagesOut = new Counter({
      name: 'gate2mqtt_messages_out_total',
      help: 'Messages sent to devices (commands and answers), per adapter and protocol message name.',
      labelNames: ['adapter', 'name'],
      registers,
      collect: () => this.pendingOut.flush(this.messagesOut),
    });
    this.commands = new Counter({
      name: 'gate2mqtt_commands_total',
      help: 'Commands by outcome: ok, unsupported, invalid, offline, timeout, device.',
      labelNames: ['adapter', 'name', 'outcome'],
      registers,
    });
    this.commandSeconds = new Histogram({
      name: 'gate2mqtt_command_duration_seconds',
      help: 'Time from a command on MQTT to its reply.',
      labelNames: ['adapter'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.commandsForwarded = new Counter({
      name: 'gate2mqtt_commands_forwarded_total',
      help: 'Multi mode: commands handed to the instance holding their device.',
      labelNames: ['adapter'],
      registers,
    });
    this.custodian = new Gauge({
      name: 'gate2mqtt_instance_custodian',
      help: 'Multi mode: 1 while this instance has custody of commands from the broker.',
      registers,
    });
    this.instancesLive = new Gauge({
      name: 'gate2mqtt_instances_live',
      help: 'Multi mode: live instances on this base topic, this one included, as of its last lease refresh.',
      registers,
    });
    this.protocolErrors = new Counter({
      name: 'gate2mqtt_protocol_errors_total',
      help: 'Malformed, oversized, unsigned or out-of-order device input, per adapter and reason.',
      labelNames: ['adapter', 'reason'],
      registers,
    });
    this.handoverFailures = new Counter({
      name: 'gate2mqtt_handover_failures_total',
      help: 'Device messages the broker did not acknowledge; the device got its failure code.',
      labelNames: ['adapter'],
      registers,
    });
    this.mqttConnected = new Gauge({
      name: 'gate2mqtt_mqtt_connected',
      help: '1 while the gateway is connected to its broker.',
      registers,
    });
    this.bufferDrained = new Counter({
      name: 'gate2mqtt_buffer_drained_total',
      help: 'Messages of the disk buffer published to the broker and acknowledged (buffer.mode disk).',
      registers,
    });
    this.bufferExpired = new Counter({
      name: 'gate2mqtt_buffer_expired_total',
      help: 'Messages of the disk buffer dropped unpublished for being older than buffer.maxAgeS.',
      registers,
    });
    this.bufferDepth = new Gauge({
      name: 'gate2mqtt_buffer_depth',
      help: 'Messages in the disk buffer, not yet acknowledged by the broker.',
      registers,
      collect: () => this.bufferDepth.set(this.buffer?.depth() ?? 0),
    });
    this.bufferBytes = new Gauge({
      name: 'gate2mqtt_buffer_bytes',
      help: 'Bytes of the messages in the disk buffer.',
      registers,
      collect: () => this.bufferBytes.set(this.buffer?.bytes() ?? 0),
    });
    this.bufferOldestAge = new Gauge({
      name: 'gate2mqtt_buffer_oldest_age_seconds',
      help: 'Age of the oldest message in the disk buffer (0 when empty).',
      registers,
      collect: async () => this.bufferOldestAge.set((await this.buffer?.oldestAgeS()) ?? 0),
    });
    if (options.defaultMetrics) {
      collectDefaultMetrics({ register: this.registry, prefix: 'gate2mqtt_' });
      // Gauges named like counters, which `promtool check metrics` rejects; the same counts remain
      // per type in gate2mqtt_nodejs_active_{handles,requests,resources}.
      for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) {
        this.registry.removeSingleMetric(`gate2mqtt_nodejs_${name}`);
      }
    }
  }

  /** The disk buffer's gauges read these when scraped. */
  watchBuffer(gauges: BufferGauges): void {
    this.buffer = gauges;
  }

  forAdapter(adapter: string): AdapterMetrics {
    const counts = { in: this.pendingIn.forAdapter(adapter), out: this.pendingOut.forAdapter(adapter) };
    let paused = this.paused.get(adapter);
    if (!paused) {
      paused = { device_not_reading: 0, backlog: 0 };
      this.paused.set(adapter, paused);
    }
    const reads = paused;
    return {
      messageIn: (name) => counts.in.set(name, (counts.in.get(name) ?? 0) + 1),
      messageOut: (name) => counts.out.set(name, (counts.out.get(name) ?? 0) + 1),
      readsPaused: (reason, delta) => {
        reads[reason] += delta;
      },
    };
  }

}

export interface BufferGauges {
  depth(): number;
  bytes(): number;
  oldestAgeS(): Promise<number>;
}

/** What an adapter counts itself. Devices, commands, hand-overs and protocol errors are counted by
 *  the core (protocol errors through `context.events.protocolError`). */
export interface AdapterMetrics {
  /** A message from a device; `name` is the protocol's name (bounded: use `unknown` for others). */
  messageIn(name: string): void;
  messageOut(name: string): void;
  /** A connection's reading paused for `reason` (+1), or that ended (-1): Inbox's `onPause`. */
  readsPaused(reason: PauseReason, delta: 1 | -1): void;
}

const PAUSE_REASONS: readonly PauseReason[] = ['device_not_reading', 'backlog'];

/** Counts per device message, handed to prom-client when it collects: its inc() hashes a label
 *  object every call, which showed in the uplink profile. Names are bounded (the protocol's own, or
 *  `unknown`), so is this map. */
class PendingCounts {
  private readonly adapters = new Map<string, Map<string, number>>();

  forAdapter(adapter: string): Map<string, number> {
    let counts = this.adapters.get(adapter);
    if (!counts) {
      counts = new Map();
      this.adapters.set(adapter, counts);
    }
    return counts;
  }

  flush(counter: Counter<'adapter' | 'name'>): void {
    for (const [adapter, counts] of this.adapters) {
      for (const [name, pending] of counts) {
        if (pending > 0) counter.inc({ adapter, name }, pending);
      }
      counts.clear();
    }
  }
}

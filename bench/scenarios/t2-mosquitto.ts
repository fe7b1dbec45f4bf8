// T2: the same as T1 with Mosquitto as the external broker (every arm uses it), twice: the
// machine's Mosquitto as installed (BENCH_MOSQUITTO_URL names another), and one of the bench's own
// with the settings the README recommends for high event rates. Mosquitto's max_inflight_messages
// (20 by default) is also the receive maximum it gives MQTT 5 clients, the most unacknowledged
// QoS 1 publishes a client may send it; the gateway and the floor keep to it (the MQTT.js
// baseline publisher does not: MQTT.js does not enforce it), so with the defaults their rate is
// 20 messages per round trip.
import { ownMosquitto } from '../../test/helpers/mosquitto.js';
import type { Scenario, Status } from '../lib/context.js';
import { throughput } from './throughput.js';

export const MOSQUITTO_URL = process.env.BENCH_MOSQUITTO_URL ?? 'mqtt://127.0.0.1:1883';

/** The README's "For Mosquitto" settings: receive maximum 100 (the gateway's mqtt.maxInflight),
 *  no queue limit, no Nagle. Given whole, after ownMosquitto's own lines (the last of a setting
 *  wins), so the label in the results is what ran. */
const TUNED_MOSQUITTO = ['max_inflight_messages 100', 'max_queued_messages 0', 'set_tcp_nodelay true'];

/** T2's verdict is the worse of its two. */
const WORST: Status[] = ['error', 'missed', 'not available yet', 'measured', 'met'];

export const t2: Scenario = {
  id: 'T2',
  title: 'qyzn uplink, Mosquitto (as installed, and tuned): events/s vs MQTT.js publisher',
  run: async (ctx) => {
    const installed = await throughput(ctx, { id: 'T2', brokerUrl: MOSQUITTO_URL, target: 0.6, devices: 100, label: 'installed' });
    const teardowns: Array<() => unknown> = [];
    try {
      const own = await ownMosquitto(
        {
          teardown: (fn) => void teardowns.push(fn),
          fail: (message) => {
            throw new Error(message);
          },
        },
        { config: TUNED_MOSQUITTO },
      );
      const tuned = await throughput(ctx, { id: 'T2', brokerUrl: own.url, target: 0.6, devices: 100, label: 'tuned' });
      return {
        status: WORST.find((status) => status === installed.status || status === tuned.status) ?? tuned.status,
        summary: `installed Mosquitto (${MOSQUITTO_URL}): ${installed.summary}; tuned (${TUNED_MOSQUITTO.join(', ')}): ${tuned.summary}`,
        checks: [...installed.checks, ...tuned.checks],
        generators: [...installed.generators, ...tuned.generators],
        notes: [...installed.notes.map((n) => `installed: ${n}`), ...tuned.notes.map((n) => `tuned: ${n}`)],
        details: { installed: installed.details, tuned: tuned.details },
      };
    } finally {
      for (const teardown of teardowns.reverse()) await teardown();
    }
  },
};

// T2: the same as T1 with the machine's Mosquitto as the external broker (both arms use it).
import type { Scenario } from '../lib/context.js';
import { throughput } from './throughput.js';

export const MOSQUITTO_URL = process.env.BENCH_MOSQUITTO_URL ?? 'mqtt://127.0.0.1:1883';

export const t2: Scenario = {
  id: 'T2',
  title: 'qyzn uplink, Mosquitto: events/s vs MQTT.js publisher',
  run: (ctx) => throughput(ctx, { id: 'T2', brokerUrl: MOSQUITTO_URL, target: 0.6, devices: 100 }),
};

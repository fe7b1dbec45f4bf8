// T1: qyzn uplink through the embedded broker, against MQTT.js -> the same aedes -> the same subscriber.
import type { Scenario } from '../lib/context.js';
import { throughput } from './throughput.js';

export const t1: Scenario = {
  id: 'T1',
  title: 'qyzn uplink, embedded broker: events/s vs MQTT.js publisher',
  run: (ctx) => throughput(ctx, { id: 'T1', brokerUrl: '', target: 0.85, devices: 100 }),
};

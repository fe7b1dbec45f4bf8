// The one MQTT subscriber every scenario measures with: it receives the events, reads the bench
// stamp in each, and counts per device what arrived, twice, out of order, and how late.
import type { MqttClient } from 'mqtt';
import { connectMqtt } from '../lib/mqtt-client.js';
import { nowUs } from '../lib/clock.js';
import { serve } from '../lib/ipc.js';
import { stampOf } from '../lib/payload.js';
import type { SubscriberProtocol } from '../lib/protocols.js';
import { StreamTracker, isBenchStamp } from '../lib/tracker.js';
import { selfStats } from './self.js';

let client: MqttClient | undefined;
let tracker: StreamTracker | undefined;
let stray = 0;

serve<SubscriberProtocol>(
  {
    async connect({ url, clientId, persistent = false }) {
      const session = persistent ? { clean: false, properties: { sessionExpiryInterval: 3600 } } : { clean: true };
      client = await connectMqtt(url, { clientId, protocolVersion: 5, reconnectPeriod: 1000, keepalive: 60, ...session });
      client.on('message', (_topic, payload) => {
        const at = nowUs();
        const stamp = stampOf(payload);
        if (!isBenchStamp(stamp)) {
          stray += 1;
          return;
        }
        tracker?.note(stamp, at);
      });
      return null;
    },
    async subscribe({ filters }) {
      if (!client) throw new Error('not connected');
      await client.subscribeAsync(filters, { qos: 1 });
      return null;
    },
    begin(window) {
      tracker = new StreamTracker(window);
      return null;
    },
    progress() {
      return { received: tracker?.received ?? 0, unique: tracker?.unique ?? 0, stale: (tracker?.stale ?? 0) + stray, lastAtUs: tracker?.lastAtUs ?? 0 };
    },
    report({ sent }) {
      if (!tracker) throw new Error('no run begun');
      return tracker.report(sent);
    },
    stats() {
      return selfStats({ online: client?.connected ? 1 : 0, commands: 0, heartbeats: 0 });
    },
  },
  async () => {
    await client?.endAsync(true);
  },
);

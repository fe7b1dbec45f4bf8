// T7's baseline: a responder that answers every command on the broker at once, the way the gateway
// answers for a device, so the baseline is the MQTT round trip without the gateway and the device.
import type { MqttClient } from 'mqtt';
import { connectMqtt } from '../lib/mqtt-client.js';
import { serve } from '../lib/ipc.js';
import type { EchoProtocol } from '../lib/protocols.js';
import { selfStats } from './self.js';

let client: MqttClient | undefined;
let answered = 0;

serve<EchoProtocol>(
  {
    async connect({ url, clientId, filter }) {
      const mq = await connectMqtt(url, { clientId, protocolVersion: 5, clean: true, reconnectPeriod: 1000 });
      client = mq;
      mq.on('message', (topic, payload, packet) => {
        if (packet.retain || topic.endsWith('/reply')) return;
        let id: unknown;
        try {
          id = (JSON.parse(payload.toString('utf8')) as { id?: unknown }).id;
        } catch {
          return;
        }
        answered += 1;
        mq.publish(`${topic}/reply`, JSON.stringify({ id, ok: true, code: 0, message: 'Success', data: {}, error: null }), { qos: 1 });
      });
      await mq.subscribeAsync(filter, { qos: 1 });
      return null;
    },
    stats() {
      return selfStats({ online: client?.connected ? 1 : 0, commands: answered, heartbeats: 0 });
    },
  },
  async () => {
    await client?.endAsync(true);
  },
);

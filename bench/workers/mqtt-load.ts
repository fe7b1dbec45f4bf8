// The baseline publisher: MQTT.js publishing, at QoS 1, the same envelope the gateway would
// publish for the same device message, on the same schedule, to the same broker. Its in-flight
// window is bounded like the gateway's (32 per simulated device, see MAX_IN_FLIGHT in the qyzn
// connection), beyond which messages wait in order, as they would in the terminals' sockets; and
// never wider than the broker's receive maximum (MQTT 5 forbids more unacknowledged QoS 1
// publishes; Mosquitto's max_inflight_messages, 20 by default), which the gateway and the floor
// keep to. Before 2026-12-06 it did not: on Mosquitto it sent more than it may, and Mosquitto's
// inbound queue, not the client, took the overload.
import type { MqttClient } from 'mqtt';
import { connectMqtt, receiveMaximum } from '../lib/mqtt-client.js';
import { nowUs } from '../lib/clock.js';
import { serve } from '../lib/ipc.js';
import { Outcomes, settle } from '../lib/outcomes.js';
import { envelope, eventTopic } from '../lib/payload.js';
import type { MqttLoadProtocol } from '../lib/protocols.js';
import { openLoop } from '../lib/schedule.js';
import { selfStats } from './self.js';

let client: MqttClient | undefined;
let inflightCap = 1024;

serve<MqttLoadProtocol>(
  {
    async connect(args) {
      client = await connectMqtt(args.url, { clientId: args.clientId, protocolVersion: 5, clean: true, reconnectPeriod: 1000 });
      inflightCap = Math.min(args.inflightCap, receiveMaximum(client) ?? Infinity);
      return null;
    },
    async run(args) {
      const mq = client;
      if (!mq) throw new Error('not connected');
      const outcomes = new Outcomes(`mqtt-load-${process.pid}`, args.startAtUs, args.bucketMs);
      const waiting: Array<() => void> = [];
      let inflight = 0;
      const publish = (serial: string, seq: number, scheduledUs: number): void => {
        inflight += 1;
        mq.publish(eventTopic(args.base, serial), envelope(serial, { r: args.tag, d: serial, s: seq, t: scheduledUs, a: nowUs() }), { qos: 1 }, (err) => {
          const at = nowUs();
          if (err) outcomes.refusedOne(at, true);
          else outcomes.acked(serial, seq, scheduledUs, at);
          inflight -= 1;
          const next = waiting.shift();
          if (next) next();
        });
      };
      const loop = await openLoop(args, (i, scheduledUs) => {
        const serial = args.serials[i % args.serials.length] as string;
        const seq = outcomes.next(serial);
        if (inflight < inflightCap) publish(serial, seq, scheduledUs);
        else waiting.push(() => publish(serial, seq, scheduledUs));
      });
      await settle(() => outcomes.inFlight <= 0, args.settleMs);
      return outcomes.report(loop);
    },
    stats() {
      return selfStats({ online: client?.connected ? 1 : 0, commands: 0, heartbeats: 0 });
    },
  },
  async () => {
    await client?.endAsync(true);
  },
);

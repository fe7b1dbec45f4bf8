// The bench's own MQTT clients (subscriber, baseline publisher, commander, responder) turn Nagle's
// algorithm off. MQTT.js leaves it on, and a QoS 1 exchange then waits for delayed ACKs: a round
// trip through aedes takes ~45 ms at p50 instead of ~0.5 ms (measured). The measuring clients
// must not add that to the gateway's figures; the gateway's own sockets are left as they are.
import { createConnection } from 'node:net';
import { MqttClient, type IClientOptions } from 'mqtt';

/** BENCH_CLIENT_NODELAY=0 leaves Nagle on in the bench's clients, to see what it costs. */
const NO_DELAY = process.env.BENCH_CLIENT_NODELAY !== '0';

/** The receive maximum each client's broker gave in its first CONNACK (MQTT 5: the most QoS 1
 *  publishes a client may have unacknowledged; MQTT.js does not keep to it by itself). */
const receiveMaximums = new WeakMap<MqttClient, number>();

export function receiveMaximum(client: MqttClient): number | undefined {
  return receiveMaximums.get(client);
}

export async function connectMqtt(url: string, options: IClientOptions): Promise<MqttClient> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'mqtt:' && parsed.protocol !== 'tcp:') throw new Error(`bench clients speak mqtt:// only, not ${url}`);
  const host = parsed.hostname;
  const port = Number(parsed.port || 1883);
  const client = new MqttClient(() => createConnection({ host, port, noDelay: NO_DELAY }), { protocolVersion: 5, ...options });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      client.end(true);
      reject(err);
    };
    client.once('error', onError);
    client.once('connect', (connack) => {
      client.off('error', onError);
      const most = connack.properties?.receiveMaximum;
      if (most !== undefined) receiveMaximums.set(client, most);
      // After the first connect the client reconnects by itself; a broker that cuts off a stalled
      // subscriber (drainTimeout, T8) must not end the bench with an unhandled error.
      client.on('error', () => undefined);
      resolve();
    });
  });
  return client;
}

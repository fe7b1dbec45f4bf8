// MQTT's first rule for a server: its first packet to a client is the CONNACK [MQTT-3.2.0-1].
// aedes 2.0.0-beta.1 breaks it for a persistent session: its connect restores the session's
// subscriptions (live, on the emitter) before it writes the CONNACK, and it writes whatever a
// subscription delivers as soon as the client is "connecting". A message published in that window
// reaches the client before its CONNACK, and MQTT.js, which reads nothing before a CONNACK, ends
// with "connack timeout". In a cluster the window is wide: each connect step is a Redis round
// trip, and a publish reaches the brokers over Redis after its publisher had its PUBACK (aedes
// acknowledges a QoS 1 publish before it publishes it), so a client reconnecting right after a
// burst meets the burst's tail. The queued messages (aedes writes them after the CONNACK) are
// not at fault.
//
// So a connection's live deliveries wait until aedes has finished the connect (its clientReady:
// CONNACK written, queued messages written); the deliveries are then made in the order they
// came, after the queued ones, which are older. A held message that the queue has just sent is
// not sent again: every message of a persistent session is queued before it is published, so the
// burst's tail is in both, and without this each of them would reach the client twice.
import { Readable } from 'node:stream';
import type { Aedes, Client } from 'aedes';

interface Published {
  brokerId?: string;
  brokerCounter?: number | string;
}

type Deliver = (packet: Published, done: () => void) => void;

/** What aedes's persistence has and its types leave out: the stream of a session's queued
 *  messages, which aedes reads after the CONNACK. */
interface Queues {
  outgoingStream(client: Client): Readable;
}

/** The one message that a copy is of, across brokers: aedes keys its duplicates so too. */
function messageKey(packet: Published): string | undefined {
  return packet.brokerId === undefined || packet.brokerCounter === undefined ? undefined : `${packet.brokerId}:${packet.brokerCounter}`;
}

/** What aedes's Client has and its types leave out: the functions a subscription delivers through
 *  (read when the subscription is made, so replacing them before the CONNECT is handled covers
 *  the restored ones). */
interface Deliveries {
  deliver0: Deliver;
  deliverQoS: Deliver;
}

const releases = new WeakMap<Client, () => void>();
/** What the queue sent each connecting client, by messageKey. */
const queued = new WeakMap<Client, Set<string>>();
const watched = new WeakSet<Aedes>();

function noop(): void {}

/** Holds what `client` is delivered until aedes has sent it its CONNACK and queued messages. */
export function deliverAfterConnack(broker: Aedes, client: Client): void {
  if (!watched.has(broker)) {
    watched.add(broker);
    broker.on('clientReady', (ready) => {
      releases.get(ready)?.();
      releases.delete(ready);
      queued.delete(ready);
    });
    const persistence = (broker as unknown as { persistence: Queues }).persistence;
    const outgoingStream = persistence.outgoingStream.bind(persistence);
    persistence.outgoingStream = (queuedFor) => {
      const stream = outgoingStream(queuedFor);
      const sent = queued.get(queuedFor);
      if (!sent) return stream;
      return Readable.from(
        (async function* noted(): AsyncGenerator<Published> {
          for await (const packet of stream as AsyncIterable<Published>) {
            const key = messageKey(packet);
            if (key !== undefined) sent.add(key);
            yield packet;
          }
        })(),
      );
    };
  }
  const target = client as unknown as Deliveries;
  let held: Array<{ packet: Published; deliver: () => void }> | undefined = [];
  const sent = new Set<string>();
  queued.set(client, sent);
  releases.set(client, () => {
    const list = held ?? [];
    held = undefined;
    for (const { packet, deliver } of list) {
      const key = messageKey(packet);
      if (key === undefined || !sent.has(key)) deliver();
    }
  });
  for (const name of ['deliver0', 'deliverQoS'] as const) {
    const deliver = target[name].bind(client);
    target[name] = (packet, done) => {
      if (!held) {
        deliver(packet, done);
        return;
      }
      // Taken at once: a `done` held back would hold the emitter (aedes's own lets 100 deliveries
      // wait at once, for every client) for as long as this client's connect takes. A message of
      // a persistent session is in its queue too, so one held when the connect fails is not lost.
      held.push({ packet, deliver: () => deliver(packet, noop) });
      done();
    };
  }
}

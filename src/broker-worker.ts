// The embedded broker in a worker thread (broker.thread): aedes, its listeners, logins, ACLs and
// store run here, beside the adapters' thread instead of in it. The gateway's side
// (src/broker-thread.ts) sends the publishes of one event-loop turn in one message and gets their
// acknowledgements, and the messages of its subscriptions, back the same way.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { EmbeddedBroker, type BrokerOptions } from './broker.js';
import { InProcessLink } from './inprocess.js';
import type { FromBroker, ToBroker, WorkerSetup } from './broker-thread.js';

const port = parentPort;
if (!port) throw new Error('src/broker-worker.ts runs as a worker thread (broker.thread)');
const setup = workerData as WorkerSetup;
// Its records go to the gateway's logger (src/broker-thread.ts), which writes them as its own.
const logger = pino({ level: setup.logLevel, base: null, timestamp: false }, { write: (line: string) => port.postMessage({ t: 'log', line } satisfies FromBroker) });
const broker = new EmbeddedBroker({ ...(setup.options as Omit<BrokerOptions, 'logger'>), logger });
const aedes = await broker.prepare();
// The gateway's window bounds and times what is in flight; this one only hands over.
const link = new InProcessLink({ broker: aedes, publishTimeoutMs: setup.publishTimeoutMs, maxInflight: setup.maxInflight, logger });
await link.start();

let out: Extract<FromBroker, { t: 'batch' }> | undefined;
/** What goes back to the gateway in this turn, sent once when the turn ends. */
function outgoing(): Extract<FromBroker, { t: 'batch' }> {
  if (!out) {
    out = { t: 'batch', acks: [], errors: [], messages: [] };
    setImmediate(() => {
      const batch = out;
      out = undefined;
      if (batch) port?.postMessage(batch);
    });
  }
  return out;
}

port.on('message', (message: ToBroker) => {
  switch (message.t) {
    case 'publish':
      for (const p of message.publishes) {
        const options = { retain: p.retain, ...(p.correlationData ? { correlationData: Buffer.from(p.correlationData) } : {}) };
        if (p.id < 0) {
          link.publishQueued(p.topic, Buffer.from(p.payload), options);
          continue;
        }
        link.send(p.topic, Buffer.from(p.payload), options, (err) => {
          const batch = outgoing();
          batch.acks.push(p.id);
          batch.errors.push(err ? err.message : '');
        });
      }
      return;
    case 'subscribe':
      link.subscribe(message.filter, (topic, payload, packet) => {
        // Copied to their own size: a view posted as it is takes its whole backing buffer along.
        const correlationData = packet.properties?.correlationData;
        outgoing().messages.push({
          sub: message.sub,
          topic,
          payload: new Uint8Array(payload),
          retain: packet.retain,
          responseTopic: packet.properties?.responseTopic,
          correlationData: correlationData ? new Uint8Array(correlationData) : undefined,
        });
      });
      return;
    case 'start':
      broker.start().then(
        (addresses) => port?.postMessage({ t: 'started', addresses } satisfies FromBroker),
        (err: unknown) => port?.postMessage({ t: 'failed', message: err instanceof Error ? err.message : String(err) } satisfies FromBroker),
      );
      return;
    case 'stop':
      void link
        .stop()
        .then(() => broker.stop())
        .then(() => port?.postMessage({ t: 'stopped' } satisfies FromBroker));
      return;
  }
});
port.postMessage({ t: 'prepared', brokerId: aedes.id } satisfies FromBroker);

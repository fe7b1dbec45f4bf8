// The embedded broker in a worker thread (broker.thread): aedes, its listeners, logins, ACLs and
// store run here, beside the adapters' thread instead of in it. The gateway's side
// (src/broker-thread.ts) sends the publishes of one event-loop turn in one message and gets their
// acknowledgements, and the messages of its subscriptions, back the same way.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { EmbeddedBroker, type BrokerOptions } from './broker.js';
import { InProcessLink } from './inprocess.js';
import { unpack, type FromBroker, type ToBroker, type WorkerSetup } from './broker-thread.js';

const port = parentPort;
if (!port) throw new Error('src/broker-worker.ts runs as a worker thread (broker.thread)');
const setup = workerData as WorkerSetup;
// Its records go to the gateway's logger (src/broker-thread.ts), which writes them as its own.
const logger = pino({ level: setup.logLevel, base: null, timestamp: false }, { write: (line: string) => port.postMessage({ t: 'log', line } satisfies FromBroker) });
const broker = new EmbeddedBroker({ ...(setup.options as Omit<BrokerOptions, 'logger'>), logger });
const aedes = await broker.prepare();
// The gateway's window bounds and times what is in flight; here it is only handed over (handOver).
const link = new InProcessLink({ broker: aedes, publishTimeoutMs: setup.publishTimeoutMs, maxInflight: setup.maxInflight, logger });
await link.start();

let out: Extract<FromBroker, { t: 'batch' }> | undefined;
/** What goes back to the gateway in this turn, sent once when the turn ends. */
function outgoing(): Extract<FromBroker, { t: 'batch' }> {
  if (!out) {
    out = { t: 'batch', acks: [], refused: [], messages: [] };
    setImmediate(() => {
      const batch = out;
      out = undefined;
      if (batch) port?.postMessage(batch);
    });
  }
  return out;
}

function refuse(id: number, why: string): void {
  outgoing().refused.push([id, why]);
}

port.on('message', (message: ToBroker) => {
  switch (message.t) {
    case 'publish':
      unpack(message, (id, topic, payload, retain, correlationData) => {
        const options = correlationData ? { retain, correlationData } : { retain };
        if (id < 0) return link.publishQueued(topic, payload, options);
        if (!link.connected) return refuse(id, 'the embedded broker is closed');
        link.handOver(topic, payload, options, (err) => (err ? refuse(id, err.message) : outgoing().acks.push(id)));
      });
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

// The embedded broker: aedes 2 (MQTT 3.1.1 and 5) over TCP and over WebSocket.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Logger } from 'pino';
import { nextBrokerId, openBrokerStore, type BrokerStore, type BrokerStoreOptions } from './broker-store.js';
import { PortInUseError } from './errors.js';
import { listen } from './listen.js';
import { batchWrites } from './writes.js';

export interface BrokerOptions {
  host: string;
  port: number;
  wsEnabled: boolean;
  wsPort: number;
  /** Default 60000 (aedes's own). */
  drainTimeoutMs?: number;
  logger: Logger;
  /** Default memory. */
  persistence?: BrokerStoreOptions['persistence'];
  dataDir?: string;
}


export interface BrokerAddresses {
  mqtt: string;
  ws: string | undefined;
}

const MOSQUITTO_HINT =
  '. A system Mosquitto often holds 1883: use it instead with GATE2MQTT_MQTT_URL=mqtt://127.0.0.1:1883';

export class EmbeddedBroker {
  private readonly options: BrokerOptions;
  private aedes: Aedes | undefined;
  private store: BrokerStore | undefined;
  private tcp: Server | undefined;
  private http: HttpServer | undefined;
  private wss: WebSocketServer | undefined;

  constructor(options: BrokerOptions) {
    this.options = options;
  }

  /** The running aedes, for the gateway's in-process link. */
  get instance(): Aedes {
    if (!this.aedes) throw new Error('the embedded broker is not started');
    return this.aedes;
  }

  /** Makes the broker without opening its listeners, so that the gateway's in-process
   *  subscriptions (commands) exist before any client can publish. */
  async prepare(): Promise<Aedes> {
    if (this.aedes) return this.aedes;
    const { logger } = this.options;
    // A subscriber that stops reading is cut off after drainTimeout; meanwhile publishes to it wait.
    const store = await openBrokerStore({ persistence: this.options.persistence ?? 'memory', dataDir: this.options.dataDir ?? '' });
    this.store = store;
    const aedes = await Aedes.createBroker({
      id: nextBrokerId(),
      drainTimeout: this.options.drainTimeoutMs ?? 60000,
      persistence: store.persistence,
    });
    this.aedes = aedes;
    // aedes emits what its persistence failed to do (a full disk) as 'error': without a listener
    // that would end the process. Its types leave the event out, hence the EventEmitter view.
    (aedes as EventEmitter).on('error', (err: Error) => logger.error({ err }, 'embedded broker store failed'));
    aedes.on('clientError', (client, err) => logger.debug({ client: client.id, err: err.message }, 'broker client error'));
    aedes.on('connectionError', (_client, err) => logger.debug({ err: err.message }, 'broker connection error'));
    return aedes;
  }

  async start(): Promise<BrokerAddresses> {
    const { host, port, wsEnabled, wsPort, logger } = this.options;
    const aedes = await this.prepare();

    // noDelay: QoS 1 is a small-packet ping-pong; Nagle would hold each PUBACK back by up to 40 ms.
    // batchWrites: what a turn delivers to a client leaves in one write, not one per PUBLISH.
    this.tcp = createServer({ noDelay: true }, (socket) => aedes.handle(batchWrites(socket)));
    const mqttPort = await listen(this.tcp, host, port, () =>
      new PortInUseError('the embedded MQTT broker', port, 'GATE2MQTT_BROKER_PORT', port === 1883 ? MOSQUITTO_HINT : ''),
    );
    let ws: string | undefined;
    if (wsEnabled) {
      this.http = createHttpServer();
      const boundWs = await listen(this.http, host, wsPort, () =>
        new PortInUseError('the embedded broker (MQTT over WebSocket)', wsPort, 'GATE2MQTT_BROKER_WS_PORT'),
      );
      // Attached after listen: before, ws would re-emit a listen error as its own, unhandled.
      this.wss = new WebSocketServer({ server: this.http, perMessageDeflate: false });
      this.wss.on('connection', (socket, request) => aedes.handle(createWebSocketStream(socket), request));
      ws = `ws://${host}:${boundWs}`;
    }
    logger.info({ mqtt: `${host}:${mqttPort}`, ws }, 'embedded MQTT broker listening');
    return { mqtt: `mqtt://${host}:${mqttPort}`, ws };
  }

  /** A URL the gateway itself connects to. */
  static localUrl(address: string): string {
    return address.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://127.0.0.1:');
  }

  async stop(): Promise<void> {
    const aedes = this.aedes;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const client of this.wss?.clients ?? []) client.terminate();
    await Promise.all([closeServer(this.tcp), closeServer(this.http)]);
    const store = this.store;
    this.store = undefined;
    await store?.close();
  }
}

function closeServer(server: Server | HttpServer | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  const closing = new Promise<void>((resolve) => server.close(() => resolve()));
  if ('closeAllConnections' in server) server.closeAllConnections();
  return closing;
}

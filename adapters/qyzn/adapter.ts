// The qyzn adapter: face-recognition terminals over the QYZN binary TCP protocol V3.7 (seed 002).
// The terminals connect to the gateway; each connection is a QyznConnection.
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Adapter, AdapterContext, AdapterFactory } from '../../src/adapter.js';
import { PortInUseError } from '../../src/errors.js';
import { listen } from '../../src/listen.js';
import { AllowList, type AuthOptions, type Registration } from './auth.js';
import type { QyznConfig } from './config.js';
import { QyznConnection, type ConnectionEnv } from './connection.js';
import { loadTables, type MediaFields, type Versions } from './tables.js';

/** Registrations remembered for `info` (mac, type) when a device later logs in without one. */
const REMEMBERED_DEVICES = 10_000;

export class QyznAdapter implements Adapter {
  readonly id = 'qyzn';
  private readonly context: AdapterContext<QyznConfig>;
  private server: Server | undefined;
  /** Every open connection, logged in or not, for stop(). */
  private readonly connections = new Set<QyznConnection>();
  private readonly registrations = new Map<string, Registration>();

  constructor(context: AdapterContext<QyznConfig>) {
    this.context = context;
  }

  async start(): Promise<string> {
    const env = this.environment();
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket, env));
    this.server = server;
    const { host, port } = this.context.config;
    await listen(server, host, port, () => new PortInUseError('the qyzn listener', port, 'GATE2MQTT_QYZN_PORT'));
    // Errors after the listen (e.g. EMFILE on accept) must not take the process down.
    server.on('error', (err) => this.context.logger.error({ err }, 'qyzn listener error'));
    const address = server.address() as AddressInfo;
    return `${address.address}:${address.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const connection of [...this.connections]) connection.close('shutdown');
    await closed;
  }

  private accept(socket: Socket, env: ConnectionEnv): void {
    const connection = new QyznConnection(socket, env);
    this.connections.add(connection);
    socket.once('close', () => this.connections.delete(connection));
    connection.start();
  }

  private environment(): ConnectionEnv {
    const { config, deviceTimeZone } = this.context;
    const { versions, media }: { versions: Versions; media: MediaFields } = loadTables(this.context.mappings);
    const auth: AuthOptions = { secret: this.secret(), maxClockSkewS: config.maxClockSkewS, allow: new AllowList(config.allowList), now: Date.now };
    return {
      context: this.context,
      auth,
      versions,
      media,
      deviceTimeZone,
      now: () => new Date(),
      recall: (serial) => this.registrations.get(serial),
      remember: (registration) => this.remember(registration),
    };
  }

  private secret(): string {
    if (this.context.config.secret) return this.context.config.secret;
    this.context.logger.warn(
      'qyzn.secret (GATE2MQTT_QYZN_SECRET) is not set: a random one is used, so every device must register again after each restart',
    );
    return randomBytes(32).toString('hex');
  }

  private remember(registration: Registration): void {
    this.registrations.delete(registration.serial);
    this.registrations.set(registration.serial, registration);
    if (this.registrations.size > REMEMBERED_DEVICES) {
      const oldest = this.registrations.keys().next().value;
      if (oldest !== undefined) this.registrations.delete(oldest);
    }
  }
}

export const createQyznAdapter: AdapterFactory<QyznConfig> = (context) => new QyznAdapter(context);

// The embedded broker: aedes 2 (MQTT 3.1.1 and 5) over TCP and over WebSocket, each plain or TLS.
// Open only on loopback until users are configured; with users, every client logs in and keeps to
// its topic ACL.
import { randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { EventEmitter } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { rootCertificates, createServer as createTlsServer, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { IClientOptions } from 'mqtt';
import type { Logger } from 'pino';
import { TopicAcl } from './acl.js';
import { clusterPrefix, nextBrokerId, openBrokerStore, type BrokerStore, type BrokerStoreOptions } from './broker-store.js';
import type { BrokerClusterConfig, BrokerUser } from './config.js';
import { deliverAfterConnack } from './connack-first.js';
import { ConfigError, PortInUseError } from './errors.js';
import { listen } from './listen.js';
import { PasswordCheck } from './passwd.js';
import { batchWrites } from './writes.js';

export interface BrokerOptions {
  /** Empty: 127.0.0.1 while there are no users, 0.0.0.0 once there are. */
  host: string;
  port: number;
  wsEnabled: boolean;
  wsPort: number;
  /** Default 60000 (aedes's own). */
  drainTimeoutMs?: number;
  /** No users: anyone who reaches the listeners may do anything. */
  users?: readonly BrokerUser[];
  /** Where `{base}` in the users' ACLs points. */
  baseTopic?: string;
  tls?: { cert: string; key: string; ca: string };
  /** The gateway connects to this broker over loopback (broker.inProcess false), with the
   *  internal login of loopbackLogin(). */
  loopbackClient?: boolean;
  logger: Logger;
  /** Default memory. */
  persistence?: BrokerStoreOptions['persistence'];
  dataDir?: string;
  /** Without a redisUrl: a standalone broker. */
  cluster?: BrokerClusterConfig;
}

/** What the gateway's own loopback client passes to MQTT.js: its login, and trust in this
 *  broker's certificate. */
export type LoopbackLogin = IClientOptions & Pick<ConnectionOptions, 'checkServerIdentity'>;

/** The gateway's own client: may do anything. */
const EVERYTHING = 'everything';
type Grant = TopicAcl | typeof EVERYTHING;

type Hooks = Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>;

const BAD_LOGIN = 4;
const NOT_AUTHORIZED = 5;

function refusal(message: string, code: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code as AuthenticateError['returnCode'] });
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
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
  private readonly passwords: PasswordCheck;
  private readonly acls: ReadonlyMap<string, TopicAcl>;
  private readonly grants = new WeakMap<Client, Grant>();
  /** Connections whose TLS client certificate the CA verified (broker.tls.ca). */
  private readonly certified = new WeakSet<object>();
  /** Made at start and kept in memory only: the gateway's own loopback client, never in a file. */
  private readonly internal = {
    username: `gate2mqtt-internal-${randomBytes(6).toString('hex')}`,
    password: randomBytes(32),
  };
  private tlsFiles: { cert: Buffer; key: Buffer; ca: Buffer | undefined } | undefined;

  constructor(options: BrokerOptions) {
    this.options = options;
    const users = options.users ?? [];
    this.passwords = new PasswordCheck(users);
    this.acls = new Map(users.map((u) => [u.username, new TopicAcl(u, options.baseTopic ?? '')]));
  }

  /** The address the listeners bind to. */
  get host(): string {
    return this.options.host || (this.acls.size > 0 ? '0.0.0.0' : '127.0.0.1');
  }

  /** What the gateway's own MQTT client (broker.inProcess false) connects with. */
  loopbackLogin(): LoopbackLogin {
    const login: LoopbackLogin = { username: this.internal.username, password: this.internal.password };
    const files = this.tlsFiles;
    if (files) {
      // Pinned to this broker's own certificate: the client connects to 127.0.0.1, which the
      // certificate need not name. The system's roots let a chain issued by a public CA verify.
      const own = new X509Certificate(files.cert).fingerprint256;
      login.ca = [...rootCertificates, files.cert.toString()];
      login.checkServerIdentity = (_host, cert) =>
        cert.fingerprint256 === own ? undefined : new Error('not the embedded broker\'s certificate');
    }
    return login;
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
    const cluster = this.options.cluster?.redisUrl ? this.options.cluster : undefined;
    const store = await openBrokerStore({
      persistence: this.options.persistence ?? 'memory',
      dataDir: this.options.dataDir ?? '',
      ...(cluster
        ? {
            cluster: {
              redisUrl: cluster.redisUrl,
              prefix: clusterPrefix(cluster.prefix, this.options.baseTopic ?? ''),
              onError: (err: Error) => logger.warn({ err: err.message }, 'embedded broker cluster: Redis connection failed'),
            },
          }
        : {}),
    });
    this.store = store;
    // Clustered, the brokers find each other through their heartbeats over Redis: one unheard for
    // 3 beats is taken for dead and the wills of its clients are published by the others.
    const aedes = await Aedes.createBroker({
      id: nextBrokerId(),
      drainTimeout: this.options.drainTimeoutMs ?? 60000,
      persistence: store.persistence,
      ...(store.mq ? { mq: store.mq, heartbeatInterval: cluster?.heartbeatMs ?? 1000 } : {}),
      ...this.hooks(),
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
    const { port, wsEnabled, wsPort, logger } = this.options;
    const host = this.host;
    const tls = this.readTls();
    this.tlsFiles = tls;
    const aedes = await this.prepare();

    // With a client CA, TLS itself refuses a client without a certificate, except when the
    // gateway's own client (which has none) connects over loopback: then the login hook checks it.
    const tlsOptions = tls
      ? { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: !this.options.loopbackClient } : {}) }
      : undefined;
    const accept = (socket: Socket): void => {
      if ((socket as TLSSocket).authorized === true) this.certified.add(socket);
      // batchWrites: what a turn delivers to a client leaves in one write, not one per PUBLISH.
      deliverAfterConnack(aedes, aedes.handle(batchWrites(socket)));
    };
    // noDelay: QoS 1 is a small-packet ping-pong; Nagle would hold each PUBACK back by up to 40 ms.
    this.tcp = tlsOptions
      ? createTlsServer({ ...tlsOptions, noDelay: true }, accept)
      : createServer({ noDelay: true }, accept);
    const mqttPort = await listen(this.tcp, host, port, () =>
      new PortInUseError('the embedded MQTT broker', port, 'GATE2MQTT_BROKER_PORT', port === 1883 ? MOSQUITTO_HINT : ''),
    );
    let ws: string | undefined;
    if (wsEnabled) {
      this.http = tlsOptions ? createHttpsServer(tlsOptions) : createHttpServer();
      const boundWs = await listen(this.http, host, wsPort, () =>
        new PortInUseError('the embedded broker (MQTT over WebSocket)', wsPort, 'GATE2MQTT_BROKER_WS_PORT'),
      );
      // Attached after listen: before, ws would re-emit a listen error as its own, unhandled.
      this.wss = new WebSocketServer({ server: this.http, perMessageDeflate: false });
      this.wss.on('connection', (socket, request) => {
        const stream = createWebSocketStream(socket);
        if ((request.socket as TLSSocket).authorized === true) this.certified.add(stream);
        deliverAfterConnack(aedes, aedes.handle(stream, request));
      });
      ws = `${tls ? 'wss' : 'ws'}://${host}:${boundWs}`;
    }
    const mqtt = `${tls ? 'mqtts' : 'mqtt'}://${host}:${mqttPort}`;
    logger.info({ mqtt, ws, users: this.acls.size, clientCertificates: Boolean(tls?.ca) }, 'embedded MQTT broker listening');
    if (this.acls.size === 0 && isLoopback(host)) {
      logger.info(`embedded broker on ${host} only (no broker.users): to open it to the network add users (gate2mqtt passwd) or set broker.host=0.0.0.0`);
    } else if (this.acls.size === 0) {
      logger.warn(`embedded broker on ${host} with no broker.users: anyone on the network can publish commands to every device; add users (gate2mqtt passwd)`);
    }
    return { mqtt, ws };
  }

  private readTls(): { cert: Buffer; key: Buffer; ca: Buffer | undefined } | undefined {
    const { cert, key, ca } = this.options.tls ?? { cert: '', key: '', ca: '' };
    if (!cert && !key && !ca) return undefined;
    if (!cert || !key) throw new ConfigError('broker.tls: cert and key go together (and ca needs both)');
    const read = (option: string, file: string): Buffer => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new ConfigError(`${option}: cannot read ${file}: ${(err as Error).message}`);
      }
    };
    return { cert: read('broker.tls.cert', cert), key: read('broker.tls.key', key), ca: ca ? read('broker.tls.ca', ca) : undefined };
  }

  /** aedes's hooks see only what comes over its listeners: the in-process link publishes and
   *  subscribes by calling aedes directly, the gateway being the one that owns every topic. */
  private hooks(): Hooks {
    const users = this.acls.size > 0;
    const certificates = Boolean(this.options.tls?.ca);
    if (!users && !(certificates && this.options.loopbackClient)) return {};
    const { logger } = this.options;
    const hooks: Hooks = {
      authenticate: (client, username, password, done) => {
        const remote = remoteOf(client);
        if (this.isInternal(username, password)) {
          this.grants.set(client, EVERYTHING);
          done(null, true);
          return;
        }
        if (certificates && !this.certified.has(client.conn)) {
          logger.info({ remote, username }, 'broker login refused: no client certificate signed by broker.tls.ca');
          done(refusal('a client certificate is required', NOT_AUTHORIZED), false);
          return;
        }
        if (!users) {
          done(null, true);
          return;
        }
        const acl = username === undefined ? undefined : this.acls.get(username);
        if (!acl || password === undefined) {
          logger.info({ remote, username }, 'broker login refused: unknown user or no password');
          done(refusal('bad user name or password', BAD_LOGIN), false);
          return;
        }
        this.passwords.verify(username as string, password).then(
          (ok) => {
            if (!ok) {
              logger.info({ remote, username }, 'broker login refused: wrong password');
              done(refusal('bad user name or password', BAD_LOGIN), false);
              return;
            }
            this.grants.set(client, acl);
            done(null, true);
          },
          (err: unknown) => {
            logger.error({ err, username }, 'broker login could not be checked');
            done(refusal('the login could not be checked', NOT_AUTHORIZED), false);
          },
        );
      },
    };
    if (!users) return hooks;
    hooks.authorizePublish = (client, packet, done) => {
      // A will left by a session of an earlier run has no client, hence no known user.
      const grant = client ? this.grants.get(client) : undefined;
      if (packet.topic.startsWith('$SYS/')) return done(new Error('$SYS/ topics are the broker\'s'));
      if (grant === EVERYTHING || grant?.mayPublish(packet.topic)) return done(null);
      logger.debug({ client: client?.id, topic: packet.topic }, 'publish refused by the ACL');
      return done(new Error(`not allowed to publish to ${packet.topic}`));
    };
    hooks.authorizeSubscribe = (client, subscription, done) => {
      const grant = this.grants.get(client);
      if (grant === EVERYTHING || grant?.maySubscribe(subscription.topic)) return done(null, subscription);
      logger.debug({ client: client.id, filter: subscription.topic }, 'subscription refused by the ACL');
      return done(null, null);
    };
    return hooks;
  }

  private isInternal(username: string | undefined, password: Buffer | undefined): boolean {
    if (!this.options.loopbackClient || username !== this.internal.username || !password) return false;
    return password.length === this.internal.password.length && timingSafeEqual(password, this.internal.password);
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

function remoteOf(client: Client): string | undefined {
  const socket = (client.req?.socket ?? client.conn) as Partial<Socket>;
  return socket.remoteAddress === undefined ? undefined : `${socket.remoteAddress}:${socket.remotePort}`;
}

function closeServer(server: Server | HttpServer | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  const closing = new Promise<void>((resolve) => server.close(() => resolve()));
  if ('closeAllConnections' in server) server.closeAllConnections();
  return closing;
}

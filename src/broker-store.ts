// Where the embedded broker keeps its state: aedes's in-memory persistence, or
// aedes-persistence-level over a LevelDB (classic-level) in broker.dataDir, so retained topics,
// persistent sessions with their queued messages, and wills survive a restart, kill -9 included
// (LevelDB's write-ahead log is replayed at open); or, clustered, Redis for both the state and the
// messages between the brokers.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import levelPersistence from 'aedes-persistence-level';
import redisPersistence from 'aedes-persistence-redis';
import { ClassicLevel } from 'classic-level';
import { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import { BrokerClusterError, BrokerStoreError, ConfigError } from './errors.js';

export interface BrokerClusterOptions {
  redisUrl: string;
  /** Resolved already: never empty. */
  prefix: string;
  /** What Redis reports once the store is open (a lost connection, each retry). */
  onError?: (err: Error) => void;
}

export interface BrokerStoreOptions {
  persistence: 'memory' | 'disk';
  dataDir: string;
  cluster?: BrokerClusterOptions;
}

export interface BrokerStore {
  /** What `Aedes.createBroker` takes as `persistence`; undefined: aedes's own memory one. */
  persistence: object | undefined;
  /** What `Aedes.createBroker` takes as `mq`; undefined: aedes's own in-process emitter. aedes
   *  closes it itself. */
  mq: object | undefined;
  /** aedes does not close its persistence: the broker's owner does, after aedes closed. */
  close(): Promise<void>;
}

export async function openBrokerStore(options: BrokerStoreOptions): Promise<BrokerStore> {
  if (options.cluster?.redisUrl) {
    if (options.persistence === 'disk') {
      throw new ConfigError('broker.persistence: must be memory with broker.cluster.redisUrl set: the cluster keeps its state in Redis');
    }
    return openClusterStore(options.cluster);
  }
  if (options.persistence === 'memory') return { persistence: undefined, mq: undefined, close: async () => undefined };
  const dir = resolve(options.dataDir);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new BrokerStoreError(dir, `cannot create it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer' });
  try {
    await db.open();
  } catch (err) {
    throw new BrokerStoreError(dir, openProblem(err), { cause: err });
  }
  return { persistence: levelPersistence(db), mq: undefined, close: () => db.close() };
}

/** A connection refused (or silent) at start fails within this, not after ioredis's own 10 s. */
const CONNECT_TIMEOUT_MS = 3000;

// aedes clusters through two parts that each need Redis: mqemitter-redis carries every publish
// (and aedes's own $SYS heartbeats, new-client and subscription notices) to the other brokers over
// Redis pub/sub, and aedes-persistence-redis keeps what a client must find on whichever broker it
// reconnects to: persistent sessions with their queued messages, retained topics, wills. The
// prefix keeps clusters apart on one Redis: keys through ioredis's keyPrefix, channels by hand,
// since pub/sub channels belong to no database and ioredis does not prefix them.
async function openClusterStore(cluster: BrokerClusterOptions): Promise<BrokerStore> {
  const { redisUrl, prefix } = cluster;
  const onError = cluster.onError ?? (() => undefined);
  const [db, subConn, pubConn] = [connection(redisUrl, prefix, onError), connection(redisUrl, '', onError), connection(redisUrl, '', onError)];
  const all = [db, subConn, pubConn];
  try {
    await Promise.all(all.map((c) => c.ready));
  } catch (err) {
    for (const c of all) c.redis.disconnect();
    throw new BrokerClusterError(redactUrl(redisUrl), (err as Error).message, { cause: err });
  }
  const publish = pubConn.redis.publish.bind(pubConn.redis) as (channel: string, message: Buffer) => Promise<number>;
  (pubConn.redis as unknown as { publish: typeof publish }).publish = (channel, message) => publish(prefix + channel, message);
  const mq = MQEmitterRedis({ subConn: subConn.redis, pubConn: pubConn.redis });
  // Where mqemitter-redis turns a topic filter into the channel or pattern it subscribes to.
  const channels = mq as unknown as { _subTopic(topic: string): string };
  const channelOf = channels._subTopic.bind(mq);
  channels._subTopic = (topic) => prefix + channelOf(topic);
  for (const c of all) markRepliesHandled(c.redis);
  const persistence = redisPersistence({ conn: db.redis });
  return {
    persistence,
    mq,
    close: async () => {
      // Replies come in order: once this PING is answered, what aedes sent before it closed is
      // done, and the persistence's destroy (which drops the connection) cuts nothing short.
      await db.redis.ping().catch(() => undefined);
      // mqemitter-redis is closed by aedes; the persistence's destroy unsubscribes from it (a
      // no-op on a closed one) and disconnects its own connection.
      await persistence.destroy();
      for (const c of all) c.redis.disconnect();
    },
  };
}

/** aedes-persistence-redis sends some commands without waiting for them (the LREM and RPUSH of a
 *  will, the LREM of a vanished queued packet), and mqemitter-redis its QUITs at close (seen
 *  rejected with "Connection is closed." about one test run in 8): one that fails would be an
 *  unhandled rejection, which ends a Node process. Each reply gets a handler of its own, so such
 *  a failure is only lost; whoever awaits a reply still gets its error. */
function markRepliesHandled(redis: Redis): void {
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    const reply = send(...args);
    if (reply instanceof Promise) reply.catch(() => undefined);
    return reply;
  };
}

interface Connection {
  redis: Redis;
  /** Rejects with what the first attempt met (ECONNREFUSED, a timeout, a refused login). */
  ready: Promise<void>;
}

function connection(url: string, keyPrefix: string, onError: (err: Error) => void): Connection {
  let open = false;
  let first: Error | undefined;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    ...(keyPrefix ? { keyPrefix } : {}),
    // No retry before the first connection (the start fails instead); ioredis's backoff after it.
    retryStrategy: (times) => (open ? Math.min(times * 100, 2000) : null),
  });
  redis.on('error', (err: Error) => {
    if (open) onError(err);
    else first ??= err;
  });
  const ready = redis.connect().then(
    () => {
      open = true;
    },
    (err: Error) => {
      // ioredis rejects with "Connection is closed."; the reason came as an 'error' event.
      throw first ?? err;
    },
  );
  return { redis, ready };
}

/** `gate2mqtt:{baseTopic}:` unless broker.cluster.prefix says otherwise. */
export function clusterPrefix(configured: string, baseTopic: string): string {
  const prefix = configured || `gate2mqtt:${baseTopic}:`;
  if (/[*?[\]\\]/.test(prefix)) {
    throw new ConfigError(`broker.cluster.prefix: the default one, ${prefix}, would have a Redis glob character (from baseTopic): set broker.cluster.prefix (GATE2MQTT_BROKER_CLUSTER_PREFIX)`);
  }
  return prefix;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function openProblem(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === 'LEVEL_LOCKED') return 'it is held by another running gateway (LevelDB LOCK)';
  return cause?.message ?? (err as Error).message;
}

/** The broker's id, new at each start and rising: aedes orders a session's queued messages by
 *  broker id, then by a counter that restarts at 0 with the process, so a fixed id would mix the
 *  messages queued before a restart with those after; and it publishes the wills left by a broker
 *  id that no longer beats, which a fixed id, alive again, never stops being. Host, process and a
 *  random part after the time: brokers of a cluster that start in the same millisecond must still
 *  tell each other apart (their heartbeats, wills and queued packets are keyed by it). No ':' nor
 *  '/': aedes-persistence-redis splits its keys at ':', and the id is a level of $SYS topics. */
export function nextBrokerId(): string {
  const now = Date.now();
  lastId = now > lastId ? now : lastId + 1;
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '_');
  return `gate2mqtt-${String(lastId).padStart(15, '0')}-${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
let lastId = 0;

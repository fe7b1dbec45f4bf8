// A NATS Server cluster of the test's own (3 nodes unless told): routes between every node,
// JetStream on each (NATS's MQTT needs it, and a server_name) and an MQTT listener per node, all on
// loopback, in a temp dir that holds each node's configuration, store and log. A test may SIGKILL
// a node and start it again on the same ports and store.
//
// Ports are picked below the kernel's ephemeral range: a node restarted on its own ports could
// otherwise find one of them taken as the local port of some outgoing connection (the survivors
// reconnect their routes to it in a loop while it is down).
//
// While a node is down (SIGKILLed), the survivors take MQTT connections, but a new QoS 1 SUBSCRIBE
// fails ("Unspecified error", after NATS's own 4 s timeout) about 1 time in 3, for as long as the
// node stays down (measured over 40 s): its JetStream consumer is given 3 replicas, one on the dead
// node, whose group then may wait out an election. Subscriptions made before the kill go on. A
// test subscribing on a survivor during an outage retries the SUBSCRIBE, with a deadline.
//
// NATS 2.9's MQTT is 3.1.1 only (a CONNECT at protocol level 5 is refused), and it does not deliver
// `$share` subscriptions: tests must not rely on either.
//
// NATS 2.9.10–2.9.15 can delete a QoS 1 message before every subscriber got it (measured here,
// 2026-12-07: a command or a forward lost in 2 of 3 runs of test/scale/nats.test.ts with the CPU
// taken by busy loops, 0 of 16 with the workaround below). The MQTT streams are interest-retention
// streams: a stream replica that applies a consumer's ack before the message itself (it lags; a
// starved node lags most) finds no interest in a message it cannot load, and proposes deleting it
// from every replica (server/stream.go `ackMsg`, "The ack reached us before the actual msg"); the
// other sessions' consumers then skip it. 2.9.16 keeps such early acks aside ("preAcks") instead.
// Up to 2.9.11 `consumer_replicas: 1` gives each consumer one replica: it reads, acks and deletes on
// its own node's replica only, so no ack can overtake a message there. 2.9.12 and later ignore the
// setting with a warning (upstream: an interest stream's consumers must match its replicas), so it
// is set whatever the version.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { type Teardown } from './harness.js';

export const NATS_SERVER = process.env.GATE2MQTT_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';

/** A cluster's start, and a node's restart, are given this long (measured: 2–5 s here). */
export const NATS_READY_MS = 30_000;

export interface NatsClusterOptions {
  /** How many nodes (default 3). */
  nodes?: number;
}

export interface NatsCluster {
  /** mqtt://127.0.0.1:port of each node, by index. */
  readonly urls: string[];
  /** nats://127.0.0.1:port (client port) of each node, by index. */
  readonly natsUrls: string[];
  /** http://127.0.0.1:port of each node's monitoring endpoint, by index. */
  readonly monitorUrls: string[];
  /** The temp dir: per node `nI.conf`, `nI.log` and the store `nI/`. */
  readonly dir: string;
  /** SIGKILLs node i (a crash) and resolves once it exited. */
  kill(i: number): Promise<void>;
  /** Starts node i again on its ports and store; resolves once it is ready (as `ready`). */
  restart(i: number): Promise<void>;
  /** Resolves once every running node (or those named) is ready: routes to every other running
   *  node, a JetStream meta leader seen, an MQTT CONNECT and a QoS 1 SUBSCRIBE granted. While a
   *  node is down this is one SUBSCRIBE that went through, not a promise for the next (see the
   *  header). */
  ready(nodes?: number[]): Promise<void>;
  /** Whether node i runs. */
  running(i: number): boolean;
  /** The tail of node i's log, for a failure message. */
  logTail(i: number, chars?: number): string;
  /** Kills every node and removes the temp dir (also done at teardown). */
  stop(): Promise<void>;
}

/** Runs the node under a shell that SIGKILLs it as soon as the shell's stdin (a pipe from this
 *  process) closes: on `kill`, and also when the test process dies without its teardown (tap's
 *  timeout kills it), which would otherwise leave the nodes running with their JetStream stores.
 *  The shell exits when the node does, so a node that dies on its own is seen as exited. */
const GUARD = [
  'exec 3<&0',
  '"$0" "$@" </dev/null &',
  'node=$!',
  '{ read -r _ <&3; kill -9 "$node" 2>/dev/null; } &',
  'guard=$!',
  'wait "$node"',
  'code=$?',
  'kill "$guard" 2>/dev/null',
  'exit "$code"',
].join('\n');

interface NodePorts {
  client: number;
  cluster: number;
  http: number;
  mqtt: number;
}

/** Ports this process has handed out: two nodes of one cluster (or two clusters of one test
 *  file) must not be given the same free port before either binds it. */
const taken = new Set<number>();

function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined && Number.isInteger(low) && Number.isInteger(high)) return [low, high];
  } catch {
    // Not Linux: take the IANA range the other systems use.
  }
  return [49152, 65535];
}

/** The range to pick from: below the ephemeral range, or above it if too little is left below. */
function pickRange(): [number, number] {
  const [low, high] = ephemeralRange();
  if (low - 1 - 20_000 >= 1000) return [20_000, low - 1];
  if (65_535 - (high + 1) >= 1000) return [high + 1, 65_535];
  throw new Error(`no port range outside the ephemeral range ${low}-${high} is large enough for a NATS cluster`);
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A random port outside the ephemeral range that nothing listens on now. Another process may
 *  still take it before the node binds it: a node that exits at start says so in its log. */
export async function freeFixedPort(): Promise<number> {
  const [from, to] = pickRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = randomInt(from, to + 1);
    if (taken.has(port)) continue;
    taken.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port found in ${from}-${to} after 200 tries`);
}

function nodeConfig(i: number, dir: string, clusterName: string, all: NodePorts[]): string {
  const own = all[i] as NodePorts;
  const routes = all.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p.cluster}`);
  return [
    `server_name: n${i}`,
    `listen: 127.0.0.1:${own.client}`,
    `http: 127.0.0.1:${own.http}`,
    // Limits, not reservations: the defaults (75% of memory and disk) would let a runaway test
    // fill the machine's disk.
    `jetstream { store_dir: "${join(dir, `n${i}`)}", max_mem: 256MB, max_file: 1GB }`,
    // One node alone is no cluster: with a cluster block JetStream would wait for peers.
    ...(all.length > 1
      ? ['cluster {', `  name: ${clusterName}`, `  listen: 127.0.0.1:${own.cluster}`, `  routes: [${routes.join(', ')}]`, '}']
      : []),
    // stream_replicas explicit: by default the first MQTT connection creates the MQTT streams
    // with as many replicas as nodes it knows of then, which may be 2 of 3; a 2-replica stream
    // has no quorum (stalls, for good) as soon as either of its nodes is killed. consumer_replicas:
    // see the header (2.9.10 loses messages without it).
    `mqtt { host: 127.0.0.1, port: ${own.mqtt}, stream_replicas: ${Math.min(all.length, 3)}, consumer_replicas: 1 }`,
    '',
  ].join('\n');
}

async function getJson(url: string): Promise<Record<string, unknown> | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    if (!response.ok) return undefined;
    return (await response.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Distinct servers node's routes lead to (a route may be doubled for a moment while two nodes
 *  dial each other at once). */
function routedServers(routez: Record<string, unknown> | undefined): number {
  const routes = routez?.routes;
  if (!Array.isArray(routes)) return 0;
  return new Set(routes.map((r) => (r as { remote_id?: unknown }).remote_id).filter((id) => typeof id === 'string')).size;
}

/** The meta leader node `self` sees, and how many meta peers it knows (itself included). */
function metaView(jsz: Record<string, unknown> | undefined, self: string): { leader: string | undefined; peers: number } {
  const meta = jsz?.meta_cluster as { leader?: unknown; replicas?: unknown } | undefined;
  const leader = typeof meta?.leader === 'string' && meta.leader !== '' ? meta.leader : undefined;
  const names = new Set<string>([self]);
  if (leader) names.add(leader);
  if (Array.isArray(meta?.replicas)) {
    for (const r of meta.replicas as Array<{ name?: unknown }>) if (typeof r.name === 'string') names.add(r.name);
  }
  return { leader, peers: names.size };
}

/** One MQTT CONNECT and a QoS 1 SUBSCRIBE; resolves with undefined once both were granted, else
 *  with why not. The SUBSCRIBE is part of ready because a CONNACK alone is not: for seconds after
 *  a node dies, NATS accepts connections but fails QoS 1 subscriptions (their JetStream consumers)
 *  with "Unspecified error". */
function mqttWorks(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const id = randomBytes(4).toString('hex');
    const client = mqtt.connect(url, { protocolVersion: 4, clean: true, clientId: `g2m-ready-${id}`, reconnectPeriod: 0, connectTimeout: 2000 });
    let answered = false;
    const done = (why: string | undefined): void => {
      if (answered) return;
      answered = true;
      // Errors after the answer (the socket closed under end) are no news.
      client.on('error', () => undefined);
      client.end(true);
      resolve(why);
    };
    client.once('connect', () => {
      client.subscribe(`g2m-ready/${id}`, { qos: 1 }, (err, granted) => {
        if (err) done(`SUBSCRIBE: ${err.message}`);
        else if (granted?.[0]?.qos !== 1) done(`SUBSCRIBE granted ${String(granted?.[0]?.qos)}`);
        else done(undefined);
      });
    });
    client.once('error', (err) => done(err.message));
    client.once('close', () => done('connection closed before the answer'));
  });
}

export async function natsCluster(t: Teardown, options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const count = options.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1) throw new Error(`a NATS cluster needs at least one node, not ${count}`);
  const dir = mkdtempSync(join(tmpdir(), 'g2m-nats-'));
  const clusterName = `g2m-${randomBytes(4).toString('hex')}`;
  const ports: NodePorts[] = [];
  for (let i = 0; i < count; i++) {
    ports.push({ client: await freeFixedPort(), cluster: await freeFixedPort(), http: await freeFixedPort(), mqtt: await freeFixedPort() });
  }
  for (let i = 0; i < count; i++) {
    mkdirSync(join(dir, `n${i}`));
    writeFileSync(join(dir, `n${i}.conf`), nodeConfig(i, dir, clusterName, ports));
  }
  const urls = ports.map((p) => `mqtt://127.0.0.1:${p.mqtt}`);
  const monitorUrls = ports.map((p) => `http://127.0.0.1:${p.http}`);
  const children: Array<ChildProcess | undefined> = new Array<ChildProcess | undefined>(count).fill(undefined);
  const exits: Array<Promise<void> | undefined> = new Array<Promise<void> | undefined>(count).fill(undefined);
  let stopped = false;

  const index = (i: number): number => {
    if (!Number.isInteger(i) || i < 0 || i >= count) throw new Error(`no NATS node ${i} (the cluster has ${count})`);
    return i;
  };
  const isRunning = (i: number): boolean => {
    const child = children[i];
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  };
  const logTail = (i: number, chars = 3000): string => {
    try {
      return readFileSync(join(dir, `n${index(i)}.log`), 'utf8').slice(-chars);
    } catch {
      return '(no log)';
    }
  };

  const launch = (i: number): void => {
    // The log is a file, not a pipe: a node must not stall on a test process too busy to read.
    const fd = openSync(join(dir, `n${i}.log`), 'a');
    const child = spawn('/bin/sh', ['-c', GUARD, NATS_SERVER, '-c', join(dir, `n${i}.conf`)], { stdio: ['pipe', fd, fd] });
    closeSync(fd);
    // The guard reads its stdin: EPIPE once it is gone is no news.
    child.stdin?.on('error', () => undefined);
    children[i] = child;
    exits[i] = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      // A missing shell is an 'error' without an 'exit'.
      child.once('error', () => resolve());
    });
  };

  const kill = async (i: number): Promise<void> => {
    const child = children[index(i)];
    const exit = exits[i];
    // The guard SIGKILLs the node once its stdin closes, then exits with it.
    if (child && isRunning(i)) child.stdin?.end();
    await exit;
  };

  const all = ports.map((_, i) => i);

  /** Node i's view of the cluster: what is missing for it to be ready, or undefined. */
  const clusterMissing = async (i: number): Promise<string | undefined> => {
    const [routez, jsz] = await Promise.all([getJson(`${monitorUrls[i]}/routez`), getJson(`${monitorUrls[i]}/jsz`)]);
    const routed = routedServers(routez);
    const peers = all.filter((j) => j !== i && isRunning(j)).length;
    const meta = metaView(jsz, `n${i}`);
    if (routed < peers || (count > 1 && meta.leader === undefined)) {
      return `routes to ${routed}/${peers} running nodes, meta leader ${meta.leader ?? 'none'}`;
    }
    if (count > 1) {
      // Only the leader lists the meta group's peers.
      const leader = Number(meta.leader?.slice(1));
      const view = meta.leader === `n${i}` ? meta : metaView(await getJson(`${monitorUrls[leader]}/jsz`), meta.leader ?? '');
      if (view.peers < count) return `routes up, meta leader ${meta.leader ?? 'none'} knows ${view.peers}/${count} peers`;
    }
    return undefined;
  };

  /** Waits until every node in `which` is ready, polling: first every one of them has its routes
   *  to every other running node and sees a meta leader and all nodes as meta peers, then MQTT
   *  works on each. In that order because the first MQTT CONNECT of the cluster creates its
   *  streams: one made before every node joined would be placed on fewer peers (and the
   *  configured stream_replicas could not be met). Fails with each node's state and log tail at
   *  the deadline, or at once if one of them exited. */
  const ready = async (which: number[], what: string): Promise<void> => {
    const started = Date.now();
    const state = new Map<number, string>();
    for (;;) {
      const missing = await Promise.all(which.map((i) => (isRunning(i) ? clusterMissing(i) : Promise.resolve('exited'))));
      which.forEach((i, k) => state.set(i, missing[k] ?? 'cluster joined'));
      if (missing.every((m) => m === undefined)) {
        const refused = await Promise.all(which.map((i) => mqttWorks(urls[i] as string)));
        which.forEach((i, k) => state.set(i, refused[k] === undefined ? 'ready' : `cluster joined, MQTT: ${refused[k]}`));
        if (refused.every((r) => r === undefined)) return;
      }
      const dead = which.filter((i) => !isRunning(i));
      const late = Date.now() - started > NATS_READY_MS;
      if (dead.length > 0 || late) {
        const report = which
          .map((i) => `node ${i} (${urls[i]}): ${state.get(i) ?? 'not checked'}\n--- n${i}.log (tail) ---\n${logTail(i, 1500)}`)
          .join('\n');
        throw new Error(
          `${what}: ${dead.length > 0 ? `node(s) ${dead.join(', ')} exited` : `not ready within ${NATS_READY_MS} ms`} (dir ${dir})\n${report}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(children.map((_, i) => kill(i)));
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);

  for (const i of all) launch(i);
  await ready(all, `the NATS cluster of ${count} nodes`);

  return {
    urls,
    natsUrls: ports.map((p) => `nats://127.0.0.1:${p.client}`),
    monitorUrls,
    dir,
    kill,
    restart: async (i: number): Promise<void> => {
      if (stopped) throw new Error('this NATS cluster was stopped');
      if (isRunning(index(i))) throw new Error(`NATS node ${i} is running; kill it first`);
      launch(i);
      await ready([i], `NATS node ${i} restarted`);
    },
    ready: (nodes?: number[]) => ready(nodes?.map(index) ?? all.filter(isRunning), 'the running NATS nodes'),
    running: (i: number) => isRunning(index(i)),
    logTail,
    stop,
  };
}

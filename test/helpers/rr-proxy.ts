// A TCP proxy in front of several gateway instances, as a load balancer would be: each new
// connection goes to the next backend in round-robin order and is then relayed byte for byte
// (with backpressure), so it serves the qyzn TCP protocol, WebSocket and HTTP alike. A backend
// that refuses the connection (its instance was killed) is skipped for the next ones in order.
//
// The unit is the connection, not the request: an HTTP client that reuses a keep-alive
// connection stays on the backend that connection went to. A test that wants its requests spread
// opens a connection per request (an agent without keep-alive).
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { type Teardown } from './harness.js';

/** How long one backend gets to accept a connection before the next is tried: loopback answers
 *  a refused connect at once, so this only bounds a backend that does not answer at all. */
const CONNECT_MS = 2000;

export interface RoundRobinProxy {
  /** host:port the proxy listens on (127.0.0.1, a free port). */
  readonly address: string;
  /** Replaces the backends (host:port); the round-robin turn starts again at the first. Open
   *  connections stay where they are. */
  setBackends(list: string[]): void;
  /** Connections handed to each backend (and accepted by it), by host:port; every backend of
   *  the list is there, 0 if none. */
  counts(): Record<string, number>;
  /** The next connection goes to `next` (host:port, in the list or not) and nowhere else: if it
   *  refuses, that connection is closed rather than placed on another backend, because a test
   *  that pins wants the device on that instance. A pinned connection takes no round-robin turn. */
  pin(next: string): void;
  /** Client connections relayed to a backend now. */
  open(): number;
  /** Stops listening and destroys every proxied connection, both sides (also done at teardown). */
  close(): Promise<void>;
}

function parse(backend: string): { host: string; port: number } {
  const at = backend.lastIndexOf(':');
  const port = Number(backend.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) throw new Error(`a backend is host:port, not "${backend}"`);
  return { host: backend.slice(0, at).replace(/^\[|\]$/g, ''), port };
}

export async function roundRobinProxy(t: Teardown, backends: string[]): Promise<RoundRobinProxy> {
  let list = [...backends];
  list.forEach(parse);
  let turn = 0;
  let pinned: string | undefined;
  let closed = false;
  const handed = new Map<string, number>();
  const sockets = new Set<Socket>();
  let pairs = 0;

  /** Tries the backends in `order`, one after another, until one accepts. */
  const attach = (client: Socket, order: string[]): void => {
    const backend = order[0];
    if (backend === undefined || closed || client.destroyed) {
      client.destroy();
      return;
    }
    const { host, port } = parse(backend);
    const upstream = connect({ host, port });
    sockets.add(upstream);
    upstream.setTimeout(CONNECT_MS);
    const fail = (): void => {
      upstream.destroy();
      sockets.delete(upstream);
      attach(client, order.slice(1));
    };
    upstream.once('timeout', fail);
    upstream.once('error', fail);
    // The client gave up while we were still trying: nothing more to try for.
    const abandon = (): void => {
      upstream.destroy();
      sockets.delete(upstream);
    };
    client.once('close', abandon);
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      upstream.removeListener('timeout', fail);
      upstream.removeListener('error', fail);
      client.removeListener('close', abandon);
      handed.set(backend, (handed.get(backend) ?? 0) + 1);
      relay(client, upstream);
    });
  };

  /** Relays both ways until either side ends or fails; then the pair goes. A FIN from one side
   *  is passed on after what it had sent (end flushes), and the pair is destroyed once that is
   *  written: no half-open pair lingers, so whatever the other side would still have sent after a
   *  half-close is lost (none of the gateway's protocols half-closes). */
  const relay = (client: Socket, upstream: Socket): void => {
    let gone = false;
    pairs++;
    const destroy = (): void => {
      if (gone) return;
      gone = true;
      pairs--;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('error', destroy);
      from.on('close', destroy);
      from.once('end', () => to.end(destroy));
      from.pipe(to, { end: false });
    }
  };

  const server = createServer({ allowHalfOpen: true }, (client) => {
    // Before anything else: an error with no listener would crash the test process.
    client.on('error', () => client.destroy());
    if (closed) {
      client.destroy();
      return;
    }
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    let order: string[];
    if (pinned !== undefined) {
      order = [pinned];
      pinned = undefined;
    } else if (list.length === 0) {
      order = [];
    } else {
      const first = turn % list.length;
      turn = first + 1;
      order = [...list.slice(first), ...list.slice(0, first)];
    }
    // Until a backend takes it, the client's bytes wait in its socket (not flowing without a
    // reader), to be piped on once connected.
    attach(client, order);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await stopped;
  };
  t.teardown(close);

  return {
    address: `127.0.0.1:${port}`,
    setBackends(next: string[]): void {
      next.forEach(parse);
      list = [...next];
      turn = 0;
    },
    counts: () => Object.fromEntries([...list.map((b): [string, number] => [b, 0]), ...handed]),
    pin(next: string): void {
      parse(next);
      pinned = next;
    },
    open: () => pairs,
    close,
  };
}

// What one event-loop turn writes to a socket leaves in one syscall: the qyzn answers
// (holdUntilTurnEnds) and the embedded broker's deliveries (batchWrites; aedes corks each packet
// only until the next tick, from separate callbacks).
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import t from 'tap';
import { batchWrites, holdUntilTurnEnds } from '../../src/writes.js';

interface Pair {
  server: Socket;
  client: Socket;
  /** Writes the server socket handed to the kernel. */
  syscalls(): number;
  close(): Promise<void>;
}

async function pair(batched: boolean): Promise<Pair> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const accepted = once(listener, 'connection') as Promise<[Socket]>;
  const client = connect(address.port, '127.0.0.1');
  const [raw] = await accepted;
  const server = batched ? batchWrites(raw) : raw;
  // Observed, not replaced: every chunk still goes through the real socket.
  let writes = 0;
  const internals = server as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = internals._write.bind(server);
  const writev = internals._writev.bind(server);
  internals._write = (...a) => {
    writes += 1;
    write(...a);
  };
  internals._writev = (...a) => {
    writes += 1;
    writev(...a);
  };
  return {
    server,
    client,
    syscalls: () => writes,
    close: async () => {
      client.destroy();
      server.destroy();
      await new Promise((resolve) => listener.close(resolve));
    },
  };
}

/** What aedes does per delivery: mqtt-packet corks, writes and uncorks on the next tick; the next
 *  delivery settles in a later callback of the same turn. */
function writeLikeAedes(socket: Socket, packets: Buffer[]): void {
  let i = 0;
  const next = (): void => {
    const packet = packets[i++];
    if (!packet) return;
    socket.cork();
    socket.write(packet);
    process.nextTick(() => {
      socket.uncork();
      queueMicrotask(next);
    });
  };
  queueMicrotask(next);
}

function receive(client: Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`received ${got} of ${bytes} bytes`)), 5000);
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= bytes) {
        clearTimeout(deadline);
        resolve(Buffer.concat(chunks));
      }
    });
  });
}

const packets = Array.from({ length: 100 }, (_, i) => Buffer.from(`packet ${String(i).padStart(3, '0')};`));
const expected = Buffer.concat(packets);

t.test('one turn of corked packet writes leaves in one write, in order', async (t) => {
  const p = await pair(true);
  t.teardown(p.close);
  const received = receive(p.client, expected.length);
  writeLikeAedes(p.server, packets);
  t.equal((await received).toString(), expected.toString());
  t.equal(p.syscalls(), 1, 'one write for 100 packets');
});

t.test('holdUntilTurnEnds: writes from separate callbacks of a turn leave in one write', async (t) => {
  const p = await pair(false);
  t.teardown(p.close);
  const received = receive(p.client, expected.length);
  for (const packet of packets) {
    queueMicrotask(() => {
      holdUntilTurnEnds(p.server);
      p.server.write(packet);
    });
  }
  t.equal((await received).toString(), expected.toString());
  t.equal(p.syscalls(), 1);
});

t.test('without it, the same writes cost one syscall each (what the batching saves)', async (t) => {
  const p = await pair(false);
  t.teardown(p.close);
  const received = receive(p.client, expected.length);
  writeLikeAedes(p.server, packets);
  await received;
  // Loopback writes usually complete at once, so nearly every packet is its own syscall.
  t.ok(p.syscalls() > packets.length / 2, `${p.syscalls()} writes for ${packets.length} packets`);
});

t.test('end() right after corked writes still delivers everything, then the end', async (t) => {
  const p = await pair(true);
  t.teardown(p.close);
  const received = receive(p.client, expected.length);
  const ended = once(p.client, 'end');
  for (const packet of packets) {
    p.server.cork();
    p.server.write(packet);
    process.nextTick(() => p.server.uncork());
  }
  p.server.end();
  t.equal((await received).toString(), expected.toString());
  await ended;
  t.pass('the peer saw the end after all bytes');
});

t.test('a socket past its buffer still drains', async (t) => {
  const p = await pair(true);
  t.teardown(p.close);
  const big = Buffer.alloc(4 * 1024 * 1024, 7);
  p.client.pause();
  p.server.cork();
  const accepted = p.server.write(big);
  process.nextTick(() => p.server.uncork());
  t.equal(accepted, false, 'write reports the full buffer');
  const drained = once(p.server, 'drain');
  const received = receive(p.client, big.length);
  p.client.resume();
  await drained;
  t.equal((await received).length, big.length);
});

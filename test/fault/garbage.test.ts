// Fault test (issue 11): 20 s of garbage on every listener of a gateway in its own process, while
// one well-behaved device of each protocol keeps sending an event and answering a command every
// second. The gateway must stay the same process, keep its RSS bounded, serve every device
// message and command, and count every bad input as a protocol_error.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { HEADER_SIZE, MAGIC, MsgType } from '../../adapters/qyzn/constants.js';
import { encodeFrame } from '../../adapters/qyzn/encoder.js';
import { MiB } from '../../src/config-kit.js';
import { GantrySimulator } from '../../sim/gantry/simulator.js';
import { QyznSimulator } from '../../sim/qyzn/simulator.js';
import { CamSimulator } from '../../sim/wscam/simulator.js';
import { DoorSimulator } from '../../sim/wsdoor/simulator.js';
import { Commands, type Reply } from '../helpers/commands.js';
import { connectClient, until, within } from '../helpers/harness.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.js';

const FLOOD_MS = 20_000;
/** Longest a working device may wait for an answer (an event's, a command's reply). */
const DEVICE_DEADLINE_MS = 20_000;
/** Deadlines of the gateway under test, short so that the flood sees them fire several times. */
const IDENTIFY_MS = 8000;
const HEADERS_MS = 3000;
const REQUEST_MS = 5000;
/** How long the test waits, past the gateway's own deadline, for it to close a connection: the
 *  start of the flood opens 2,600 connections at once, and both processes share two cores. */
const GRACE_MS = 10_000;
/** The gateway's default bounds, which the oversize inputs are many times over. */
const WS_MAX = 8 * MiB;
const BODY_MAX = 8 * MiB;
/** Idle TCP connections held open, by listener: 2,600 in all (the machine allows ~20,000 fds). */
const IDLE = { qyzn: 800, http: 500, wsdoor: 350, wscam: 350, mqtt: 400, mqttWs: 200 } as const;
/** Concurrent workers per kind of garbage and listener. */
const WORKERS = 2;
/** RSS the connection churn may add (see the bound below). */
const CHURN_ALLOWANCE = 400 * MiB;

// --- bookkeeping ---------------------------------------------------------------------------------

interface Tally {
  /** Inputs sent (connections, frames, requests). */
  sent: number;
  /** ...whose connection the gateway closed (or answered, for HTTP). */
  refused: number;
  /** Bytes written. */
  bytes: number;
  /** What came back when it was not the refusal expected, for the failure message. */
  other: Map<string, number>;
}

const tallies = new Map<string, Tally>();
function tally(kind: string): Tally {
  let found = tallies.get(kind);
  if (!found) tallies.set(kind, (found = { sent: 0, refused: 0, bytes: 0, other: new Map() }));
  return found;
}

/** mulberry32: garbage that a failure can be replayed from (the seed is printed). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const SEED = Date.now() >>> 0;
const random = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

/** Random JSON: objects with the protocols' own keys among random ones, nested a little. */
function randomJson(depth = 0): unknown {
  const keys = ['message', 'data', 'code', 'sn', 'operate', 'request_id', 'timestamp', 'gantryId', 'method', 'version', 'eventid', 'x', '中文', ''];
  const roll = random();
  if (depth > 3 || roll < 0.3) return pick([null, true, 0, -1, 1e308, 'str', '', 'QYZN', '205', 'heartbeat', 'register', '\u0000']);
  if (roll < 0.45) return Array.from({ length: Math.floor(random() * 4) }, () => randomJson(depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = Math.floor(random() * 5); i >= 0; i--) out[pick(keys)] = randomJson(depth + 1);
  return out;
}
function randomJsonText(): string {
  const text = JSON.stringify(randomJson());
  // Now and then not JSON at all, or cut short.
  const roll = random();
  return roll < 0.1 ? text.slice(0, Math.floor(text.length / 2)) : roll < 0.15 ? `${text}}` : text;
}

function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

/** All sockets the test opened, destroyed at the end. */
const sockets = new Set<Socket>();
function open(address: string): Promise<Socket> {
  const { host, port } = hostPort(address);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // Read whatever comes back: unread data would hold back the end of a closed connection.
    socket.resume();
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves when the socket has closed, or after `ms` with false. */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Resolves with the first bytes the peer sends (or undefined if it closes first / after `ms`). */
function firstData(socket: Socket, ms: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(undefined), ms);
    const done = (value: Buffer | undefined): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(value);
    };
    const onData = (chunk: Buffer): void => done(chunk);
    const onClose = (): void => done(undefined);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** Writes chunks of `chunk` bytes until `total` are written or the peer answers or closes; resolves
 *  with the bytes written. Waits for drain, so the test never buffers what the gateway refuses. */
async function stream(socket: Socket, total: number, chunk: number, until: Promise<unknown>): Promise<number> {
  let stop = false;
  void until.then(() => (stop = true));
  const block = randomBytes(chunk);
  let written = 0;
  while (!stop && !socket.destroyed && written < total) {
    const size = Math.min(chunk, total - written);
    written += size;
    if (!socket.write(size === chunk ? block : block.subarray(0, size))) {
      await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), until]);
    }
  }
  return written;
}

// --- WebSocket by hand: what no ws client would send -------------------------------------------

async function wsOpen(address: string, path = '/'): Promise<Socket> {
  const socket = await open(address);
  const { host } = hostPort(address);
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
      (path === '/mqtt' ? 'Sec-WebSocket-Protocol: mqtt\r\n' : '') +
      '\r\n',
  );
  let head = Buffer.alloc(0);
  await within(
    new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        if (head.includes('\r\n\r\n')) {
          socket.off('data', onData);
          if (head.toString('latin1').startsWith('HTTP/1.1 101')) resolve();
          else reject(new Error(`no upgrade: ${head.toString('latin1').split('\r\n')[0] ?? ''}`));
        }
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('closed during the upgrade')));
    }),
    'the WebSocket upgrade',
  );
  return socket;
}

/** A masked client frame; `declared` announces another length than the payload's. */
function wsFrame(opcode: number, payload: Buffer, options: { fin?: boolean; declared?: number } = {}): Buffer {
  const length = options.declared ?? payload.length;
  const head: number[] = [(options.fin === false ? 0 : 0x80) | opcode];
  if (length < 126) head.push(0x80 | length);
  else if (length < 65536) head.push(0x80 | 126, length >> 8, length & 0xff);
  else {
    head.push(0x80 | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(...big);
  }
  const mask = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] = (masked[i] as number) ^ (mask[i % 4] as number);
  return Buffer.concat([Buffer.from(head), mask, masked]);
}

// --- the floods ------------------------------------------------------------------------------------

type Flood = ((stopped: () => boolean) => Promise<void>) & { idle?: true };

let endFlood: () => void = () => undefined;
/** Settles when the flood is over: what idle connections wait for besides their close. */
const floodOver = new Promise<void>((resolve) => (endFlood = resolve));

function note(kind: string, what: string): void {
  const other = tally(kind).other;
  other.set(what, (other.get(what) ?? 0) + 1);
}

/** Runs `once` again and again until the flood ends; a failed attempt is counted, not thrown. */
function repeat(kind: string, once: () => Promise<void>): Flood {
  return async (stopped) => {
    while (!stopped()) {
      try {
        await once();
      } catch (err) {
        note(kind, `failed: ${(err as Error).message}`);
        // A refused connect (the accept queue full) is tried again after a turn of the loop.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
}

/** Connect, send `bytes`, and wait for the gateway to close the connection. */
function sendAndExpectClose(kind: string, address: string, bytes: () => Buffer, ms = GRACE_MS): Flood {
  return repeat(kind, async () => {
    const socket = await open(address);
    const payload = bytes();
    socket.write(payload);
    const entry = tally(kind);
    entry.sent += 1;
    entry.bytes += payload.length;
    if (await closedWithin(socket, ms)) entry.refused += 1;
    else note(kind, 'not closed');
    socket.destroy();
  });
}

/** `count` idle connections, each opened again when the gateway closes it. */
function idle(kind: string, count: number, opener: () => Promise<Socket>): Flood {
  const flood: Flood = async (stopped) => {
    await Promise.all(
      Array.from({ length: count }, async () => {
        while (!stopped()) {
          let socket: Socket;
          try {
            socket = await opener();
          } catch (err) {
            note(kind, `connect failed: ${(err as Error).message}`);
            await Promise.race([floodOver, new Promise((resolve) => setTimeout(resolve, 50))]);
            continue;
          }
          tally(kind).sent += 1;
          const closing = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
          if (await Promise.race([closing, floodOver.then(() => false)])) tally(kind).refused += 1;
          else socket.destroy();
        }
      }),
    );
  };
  flood.idle = true;
  return flood;
}

function qyznFloods(address: string): Flood[] {
  const header = (datasize: number, msgType: number = MsgType.REQUEST): Buffer => {
    const h = Buffer.alloc(HEADER_SIZE);
    MAGIC.copy(h, 0);
    h.writeUInt8(3, 4);
    h.writeUInt8(msgType, 5);
    h.writeUInt32LE(Math.floor(Date.now() / 1000), 8);
    h.writeUInt32LE(Math.floor(random() * 0xffffffff), 12);
    h.writeUInt32LE(datasize, 16);
    return h;
  };
  const randomFrames = repeat('qyzn random JSON frames', async () => {
    const socket = await open(address);
    socket.resume();
    const entry = tally('qyzn random JSON frames');
    for (let i = 0; i < 50 && !socket.destroyed; i++) {
      const body = Buffer.from(randomJsonText());
      const frame = encodeFrame({ version: 3, msgType: pick([MsgType.REQUEST, MsgType.NOTIFICATION]), seq: i }, body);
      entry.sent += 1;
      entry.bytes += frame.length;
      if (!socket.write(frame)) await new Promise((resolve) => socket.once('drain', resolve));
    }
    socket.end();
    if (await closedWithin(socket, GRACE_MS)) entry.refused += 1;
    else note('qyzn random JSON frames', 'not closed');
    socket.destroy();
  });
  return [
    sendAndExpectClose('qyzn random bytes', address, () => {
      const bytes = randomBytes(1 + Math.floor(random() * 4096));
      if (bytes.subarray(0, 4).equals(MAGIC)) bytes[0] = 0;
      return bytes;
    }),
    // 100 MiB declared before login (the bound is 64 KiB): refused on the header.
    sendAndExpectClose('qyzn oversized frames (100 MiB declared)', address, () => Buffer.concat([header(100 * MiB), randomBytes(1024)])),
    // Half a frame, then the device stops sending: the login deadline ends it.
    sendAndExpectClose('qyzn truncated frames', address, () => Buffer.concat([header(1000), randomBytes(500)]), IDENTIFY_MS + GRACE_MS),
    sendAndExpectClose('qyzn unknown message types', address, () => Buffer.concat([header(2, 0x7f), Buffer.from('{}')])),
    randomFrames,
    randomFrames,
    idle('qyzn idle connections', IDLE.qyzn, () => open(address)),
  ];
}

// Masked once: masking 100 MiB in JavaScript would cost the floods more than the gateway.
const FRAGMENT = randomBytes(MiB);
const FIRST_FRAGMENT = wsFrame(2, FRAGMENT, { fin: false });
const MIDDLE_FRAGMENT = wsFrame(0, FRAGMENT, { fin: false });
const LAST_FRAGMENT = wsFrame(0, FRAGMENT);

function wsFloods(adapter: string, address: string, idleCount: number): Flood[] {
  const upgraded = (kind: string, send: (socket: Socket) => Promise<void>): Flood =>
    repeat(kind, async () => {
      const socket = await wsOpen(address);
      socket.resume();
      tally(kind).sent += 1;
      await send(socket);
      if (await closedWithin(socket, IDENTIFY_MS + GRACE_MS)) tally(kind).refused += 1;
      else note(kind, 'not closed');
      socket.destroy();
    });
  return [
    // Not even HTTP: Node's parser refuses it before any WebSocket exists.
    sendAndExpectClose(`${adapter} random bytes before the upgrade`, address, () => randomBytes(1 + Math.floor(random() * 4096))),
    upgraded(`${adapter} random bytes after the upgrade`, async (socket) => {
      // At least the two bytes a frame header starts with: ws checks them only once both are in
      // (one byte alone would wait for the identify deadline instead).
      const bytes = randomBytes(2 + Math.floor(random() * 4096));
      // An unmasked or reserved-bit frame: broken framing whatever follows.
      bytes[0] = ((bytes[0] as number) | 0x70) & 0xff;
      tally(`${adapter} random bytes after the upgrade`).bytes += bytes.length;
      socket.write(bytes);
    }),
    upgraded(`${adapter} random JSON messages`, async (socket) => {
      for (let i = 0; i < 20 && !socket.destroyed; i++) {
        const frame = wsFrame(pick([1, 1, 1, 2]), Buffer.from(randomJsonText()));
        tally(`${adapter} random JSON messages`).bytes += frame.length;
        socket.write(frame);
      }
    }),
    // Half a frame: the identify deadline ends it.
    upgraded(`${adapter} truncated frames`, async (socket) => {
      socket.write(wsFrame(1, randomBytes(100), { declared: 1000 }));
    }),
    // 100 MiB in one frame: refused on its header (maxPayload), before any byte is buffered.
    upgraded(`${adapter} 100 MiB messages`, async (socket) => {
      socket.write(wsFrame(2, Buffer.alloc(0), { declared: 100 * MiB }));
      tally(`${adapter} 100 MiB messages`).bytes += await stream(socket, 100 * MiB, 256 * 1024, firstData(socket, 10_000));
    }),
    // 100 MiB in 1 MiB fragments: refused once the message passes maxPayload.
    upgraded(`${adapter} 100 MiB fragmented messages`, async (socket) => {
      const answered = firstData(socket, 10_000);
      let done = false;
      void answered.then(() => (done = true));
      for (let i = 0; i < 100 && !done && !socket.destroyed; i++) {
        const frame = i === 0 ? FIRST_FRAGMENT : i === 99 ? LAST_FRAGMENT : MIDDLE_FRAGMENT;
        tally(`${adapter} 100 MiB fragmented messages`).bytes += frame.length;
        if (!socket.write(frame)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), answered]);
      }
    }),
    idle(`${adapter} idle WebSocket connections`, idleCount, () => wsOpen(address)),
  ];
}

function httpFloods(address: string): Flood[] {
  const { host } = hostPort(address);
  const head = (extra: string): string => `POST /monitor.do HTTP/1.1\r\nHost: ${host}\r\n${extra}`;
  const json = repeat('http random JSON uploads', async () => {
    const body = Buffer.from(randomJsonText());
    const md5 = random() < 0.5 ? `binfile-md5: ${(await import('node:crypto')).createHash('md5').update(body).digest('hex')}\r\n` : '';
    const auth = random() < 0.5 ? 'binfile-auth: 123456\r\n' : '';
    const socket = await open(address);
    socket.write(`${head(`${md5}${auth}content-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`)}`);
    socket.write(body);
    const entry = tally('http random JSON uploads');
    entry.sent += 1;
    entry.bytes += body.length;
    if (await firstData(socket, GRACE_MS)) entry.refused += 1;
    else note('http random JSON uploads', 'no answer');
    socket.destroy();
  });
  return [
    sendAndExpectClose('http random bytes', address, () => randomBytes(1 + Math.floor(random() * 4096))),
    json,
    json,
    // A body cut short: the request deadline ends it.
    sendAndExpectClose('http truncated bodies', address, () => Buffer.from(`${head('content-length: 1000\r\n\r\n')}{"gantryId":`), REQUEST_MS + GRACE_MS),
    // 50 MiB, chunked, so only counting the bytes can refuse it: 413 at bodyLimit.
    repeat('http 50 MiB bodies', async () => {
      const socket = await open(address);
      socket.write(head('content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n'));
      const answer = firstData(socket, 10_000);
      const entry = tally('http 50 MiB bodies');
      entry.sent += 1;
      let written = 0;
      const chunk = randomBytes(256 * 1024);
      const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
      let answered: Buffer | undefined;
      let done = false;
      void answer.then((a) => ((answered = a), (done = true)));
      while (!done && !socket.destroyed && written < 50 * MiB) {
        written += chunk.length;
        if (!socket.write(framed)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), answer]);
      }
      entry.bytes += written;
      await answer;
      // Closing with unread bytes resets the connection, which may discard the 413 before it is read.
      const status = answered?.toString('latin1').split('\r\n')[0] ?? (socket.destroyed ? 'reset' : 'no answer');
      if (status.startsWith('HTTP/1.1 413') || status === 'reset') entry.refused += 1;
      note('http 50 MiB bodies', status);
      socket.destroy();
    }),
    // Slow headers: a byte every 200 ms, never the blank line; the headers deadline ends it.
    repeat('http slow headers', async () => {
      const socket = await open(address);
      const entry = tally('http slow headers');
      entry.sent += 1;
      socket.write(head(''));
      const closed = closedWithin(socket, HEADERS_MS + GRACE_MS);
      const drip = setInterval(() => socket.destroyed || socket.write('x'), 200);
      const ok = await closed;
      clearInterval(drip);
      if (ok) entry.refused += 1;
      socket.destroy();
    }),
    idle('http idle connections', IDLE.http, () => open(address)),
  ];
}

function brokerFloods(mqttAddress: string, wsAddress: string | undefined): Flood[] {
  const floods = [
    sendAndExpectClose('mqtt random bytes', mqttAddress, () => {
      // At least the two bytes set below (a single 0x00 would wait for its length byte until
      // aedes's connectTimeout).
      const bytes = randomBytes(2 + Math.floor(random() * 4096));
      // Packet type 0 (reserved) with remaining length 0: refused at once. A long declared length
      // would be buffered until aedes's connectTimeout (30 s) before the type is checked.
      bytes[0] = 0x00;
      bytes[1] = 0x00;
      return bytes;
    }),
    idle('mqtt idle connections', IDLE.mqtt, () => open(mqttAddress)),
  ];
  if (wsAddress) {
    floods.push(
      repeat('mqtt-ws random bytes', async () => {
        const socket = await wsOpen(wsAddress, '/mqtt');
        socket.resume();
        const bytes = randomBytes(1 + Math.floor(random() * 4096));
        bytes[0] = 0x00;
        bytes[1] = 0x00;
        socket.write(wsFrame(2, bytes));
        const entry = tally('mqtt-ws random bytes');
        entry.sent += 1;
        entry.bytes += bytes.length;
        if (await closedWithin(socket, GRACE_MS)) entry.refused += 1;
        else note('mqtt-ws random bytes', 'not closed');
        socket.destroy();
      }),
      idle('mqtt-ws idle connections', IDLE.mqttWs, () => wsOpen(wsAddress, '/mqtt')),
    );
  }
  return floods;
}

// --- the gateway's side ------------------------------------------------------------------------

async function protocolErrors(gateway: GatewayProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${gateway.addresses.http}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^gate2mqtt_protocol_errors_total\{adapter="([^"]+)",reason="([^"]+)"\} (\d+)$/gm)) {
    out.set(`${m[1]}/${m[2]}`, Number(m[3]));
  }
  return out;
}

t.test('20 s of garbage on every listener: same process, bounded RSS, devices served, errors counted', async (t) => {
  const gantrySim = new GantrySimulator({ controlPort: 0, gantries: ['G0002110010021100001'], edition: 'v1.03', reactToCommands: false, errorRate: 0 });
  await gantrySim.start();
  t.teardown(() => gantrySim.stop());
  const gateway = await startGatewayProcess(t, {
    env: {
      GATE2MQTT_QYZN_LOGIN_TIMEOUT_MS: String(IDENTIFY_MS),
      GATE2MQTT_WSDOOR_IDENTIFY_TIMEOUT_MS: String(IDENTIFY_MS),
      GATE2MQTT_WSCAM_IDENTIFY_TIMEOUT_MS: String(IDENTIFY_MS),
      GATE2MQTT_HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
      GATE2MQTT_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
      GATE2MQTT_GANTRY_CONTROL_URL: `http://{ip}:${gantrySim.controlPort}/remotecontrol.do`,
      GATE2MQTT_GANTRY_MAX_REQUESTS_PER_MINUTE: '0',
    },
  });
  const { addresses, base } = gateway;
  const adapters = addresses.adapters;
  const inbox = await connectClient(t, addresses.mqtt);
  await inbox.subscribe([`${base}/+/+/event/+`, `${base}/+/+/command/+/reply`]);
  const commands = new Commands(t, inbox, base);
  const countEvents = (adapter: string, deviceId: string, name: string): number =>
    inbox.history((topic) => topic === `${base}/${adapter}/${deviceId}/event/${name}`).length;

  // --- one working device of each protocol -------------------------------------------------------
  const qyzn = new QyznSimulator({ ...hostPort(adapters.qyzn as string), serial: 'FAULTQ0001', secret: 'process-test-secret', heartbeatMs: 5000 });
  await qyzn.start();
  t.teardown(() => qyzn.destroy());
  const door = new DoorSimulator({ url: `ws://${adapters.wsdoor as string}/`, sn: 'FAULTD0001', answerTimeoutMs: 10_000 });
  await door.start();
  t.teardown(() => door.close().catch(() => undefined));
  const cam = new CamSimulator({ url: `ws://${adapters.wscam as string}/`, sn: 'FAULTC0001', answerTimeoutMs: 10_000, hbInterval: 10 });
  await cam.start();
  t.teardown(() => cam.close().catch(() => undefined));
  gantrySim.setUploadUrl(`http://${addresses.http}/monitor.do`);
  const gantryId = 'G0002110010021100001';

  interface Device {
    name: string;
    event(): Promise<boolean>;
    command(): Promise<Reply>;
    received(): number;
  }
  const devices: Device[] = [
    {
      name: 'qyzn',
      event: async () => (await qyzn.snapshotFace()).result === 0,
      command: () => commands.send('qyzn', 'FAULTQ0001', 'open_door', { id: `q-${Date.now()}` }),
      received: () => countEvents('qyzn', 'FAULTQ0001', 'snapshot_face'),
    },
    {
      name: 'wsdoor',
      event: async () => (await door.sendEvent()).code === '200',
      command: () => commands.send('wsdoor', 'FAULTD0001', 'selectUser', { id: `d-${Date.now()}`, data: {} }),
      received: () => countEvents('wsdoor', 'FAULTD0001', 'realtimeEvent'),
    },
    {
      name: 'wscam',
      event: async () => (await cam.uploadSnapshot()).ret === 0,
      command: () => commands.send('wscam', 'FAULTC0001', 'get_dev_config', { id: `c-${Date.now()}` }),
      received: () => countEvents('wscam', 'FAULTC0001', 'upload_snapshot'),
    },
    {
      name: 'gantry',
      event: async () => (await gantrySim.upload(gantryId, 'computerStatusUpdate')).answer.code === '1000',
      command: () => commands.send('gantry', gantryId, 'getBatteryTestResult', { id: `g-${Date.now()}` }),
      received: () => countEvents('gantry', gantryId, 'computerStatusUpdate'),
    },
  ];
  const work = new Map(devices.map((d) => [d.name, { sent: 0, acked: 0, commands: 0, answered: 0, slowest: 0, errors: [] as string[] }]));
  // A gantry is known once it has uploaded: its commands before that are answered offline.
  const gantryWork = work.get('gantry') as NonNullable<ReturnType<typeof work.get>>;
  gantryWork.sent += 1;
  if ((await gantrySim.upload(gantryId, 'computerStatusUpdate')).answer.code === '1000') gantryWork.acked += 1;
  let flooding = true;
  const stopped = (): boolean => !flooding;
  /** One of a device's jobs once a second until the flood is over (the first before it, to show
   *  the device works at all); each outcome within the harness deadline. */
  const everySecond = async <T>(name: string, job: () => Promise<T>, count: (outcome: T) => void): Promise<void> => {
    const w = work.get(name) as NonNullable<ReturnType<typeof work.get>>;
    do {
      const tick = Date.now();
      try {
        // Generous: tap runs another test file beside this one on the same two cores.
        count(await within(job(), `${name}: an answer`, DEVICE_DEADLINE_MS));
      } catch (err) {
        w.errors.push((err as Error).message);
      }
      w.slowest = Math.max(w.slowest, Date.now() - tick);
      // The pace of a device, not a wait for an outcome.
      const left = 1000 - (Date.now() - tick);
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    } while (flooding);
  };
  const deviceLoops = devices.flatMap((device) => {
    const w = work.get(device.name) as NonNullable<ReturnType<typeof work.get>>;
    return [
      everySecond(device.name, device.event, (ok) => {
        w.sent += 1;
        if (ok) w.acked += 1;
        else w.errors.push('event refused');
      }),
      everySecond(device.name, device.command, (reply) => {
        w.commands += 1;
        if (reply.ok) w.answered += 1;
        else w.errors.push(`command failed: ${JSON.stringify(reply)}`);
      }),
    ];
  });

  // --- RSS, sampled -------------------------------------------------------------------------------
  const rssBefore = gateway.rss() as number;
  let rssMax = rssBefore;
  const sampler = setInterval(() => {
    const rss = gateway.rss();
    if (rss !== undefined && rss > rssMax) rssMax = rss;
  }, 100);
  t.teardown(() => clearInterval(sampler));
  const errorsBefore = await protocolErrors(gateway);

  // --- the flood ------------------------------------------------------------------------------------
  const floods: Flood[] = [
    ...qyznFloods(adapters.qyzn as string),
    ...wsFloods('wsdoor', adapters.wsdoor as string, IDLE.wsdoor),
    ...wsFloods('wscam', adapters.wscam as string, IDLE.wscam),
    ...httpFloods(addresses.http),
    ...brokerFloods(addresses.mqtt.replace(/^mqtt:\/\//, ''), addresses.mqttWs?.replace(/^ws:\/\//, '')),
  ];
  // The idle connections first (each kind once: `count` of them), so that opening 2,600 at once
  // does not eat into the deadlines of the first garbage inputs.
  const idleTotal = Object.values(IDLE).reduce((sum, n) => sum + n, 0);
  const idleOpened = (): number => [...tallies].filter(([kind]) => kind.includes('idle')).reduce((sum, [, v]) => sum + v.sent, 0);
  const running = floods.filter((flood) => flood.idle).map((flood) => flood(stopped));
  await until(() => idleOpened() >= idleTotal, `${idleTotal} idle connections open`, 20_000);
  running.push(...floods.filter((flood) => !flood.idle).flatMap((flood) => Array.from({ length: WORKERS }, () => flood(stopped))));
  const floodStart = Date.now();
  await new Promise((resolve) => setTimeout(resolve, FLOOD_MS));
  flooding = false;
  endFlood();
  await within(Promise.all(running), 'the floods to wind down', 15_000);
  const floodMs = Date.now() - floodStart;
  await within(Promise.all(deviceLoops), 'the devices to finish their last round', DEVICE_DEADLINE_MS + 5000);
  for (const socket of sockets) socket.destroy();
  clearInterval(sampler);

  // --- what the gateway did ------------------------------------------------------------------------
  t.equal(gateway.child.exitCode, null, 'the gateway process is still running');
  t.doesNotThrow(() => process.kill(gateway.pid, 0), `the same process (pid ${gateway.pid}) is alive`);
  const rssAfter = gateway.rss() as number;

  for (const device of devices) {
    const w = work.get(device.name) as NonNullable<ReturnType<typeof work.get>>;
    t.same(w.errors, [], `${device.name}: no refusal, no missed deadline`);
    t.equal(w.acked, w.sent, `${device.name}: every event acknowledged`);
    t.equal(w.answered, w.commands, `${device.name}: every command replied ok`);
    t.ok(w.sent >= FLOOD_MS / 1000 / 4 && w.commands >= FLOOD_MS / 1000 / 4, `${device.name}: kept working through the flood (${w.sent} events, ${w.commands} commands)`);
    await within(
      (async () => {
        while (device.received() < w.acked) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      `${device.name}: every acknowledged event on MQTT`,
    ).catch(() => undefined);
    t.equal(device.received(), w.acked, `${device.name}: every acknowledged event arrived on MQTT, once`);
  }

  const errorsAfter = await protocolErrors(gateway);
  const delta = new Map<string, number>();
  for (const [key, value] of errorsAfter) {
    const rose = value - (errorsBefore.get(key) ?? 0);
    if (rose > 0) delta.set(key, rose);
  }
  const rose = (key: string): number => delta.get(key) ?? 0;
  const refused = (kind: string): number => tallies.get(kind)?.refused ?? 0;
  const sent = (kind: string): number => tallies.get(kind)?.sent ?? 0;

  // Each kind of garbage, and the reason it must raise (at least once per input that the gateway
  // refused and the test saw refused).
  const expected: Array<[string, string]> = [
    ['qyzn random bytes', 'qyzn/bad_magic'],
    ['qyzn oversized frames (100 MiB declared)', 'qyzn/oversize'],
    ['qyzn unknown message types', 'qyzn/unknown_type'],
    ['qyzn idle connections', 'qyzn/auth_failed'],
    ['wsdoor random bytes after the upgrade', 'wsdoor/bad_frame'],
    ['wsdoor 100 MiB messages', 'wsdoor/oversize'],
    ['wsdoor idle WebSocket connections', 'wsdoor/identify_timeout'],
    ['wscam random bytes after the upgrade', 'wscam/bad_frame'],
    ['wsdoor random bytes before the upgrade', 'wsdoor/bad_request'],
    ['wscam random bytes before the upgrade', 'wscam/bad_request'],
    ['wscam 100 MiB messages', 'wscam/oversize'],
    ['wscam idle WebSocket connections', 'wscam/identify_timeout'],
    ['http random bytes', 'gantry/bad_request'],
    ['http idle connections', 'gantry/bad_request'],
    ['http 50 MiB bodies', 'gantry/oversize'],
  ];
  for (const [kind, key] of expected) {
    t.ok(refused(kind) > 0, `${kind}: refused by the gateway (${refused(kind)} of ${sent(kind)})`);
    t.ok(rose(key) >= refused(kind), `${kind}: each counted as ${key} (${rose(key)} counted, ${refused(kind)} refused)`);
  }
  for (const adapter of ['qyzn', 'wsdoor', 'wscam', 'gantry']) {
    t.ok([...delta.keys()].some((key) => key.startsWith(`${adapter}/`)), `${adapter}: protocol errors counted`);
  }
  // Inputs that must be refused whole, whatever the reason.
  for (const kind of [
    'qyzn truncated frames',
    'wsdoor truncated frames',
    'wscam truncated frames',
    'wsdoor 100 MiB fragmented messages',
    'wscam 100 MiB fragmented messages',
    'http truncated bodies',
    'http slow headers',
    'mqtt random bytes',
  ]) {
    t.equal(refused(kind), sent(kind), `${kind}: every one closed by the gateway (${refused(kind)} of ${sent(kind)})`);
  }

  // RSS: what the gateway may hold at once is its bounds times the inputs that can reach them
  // together, not what was sent: per WebSocket adapter WORKERS fragmented messages of up to
  // maxPayload, WORKERS bodies of up to bodyLimit (72 MiB), plus the heap of the connection churn:
  // the same flood without any oversize input (~20,000 connections accepted in 20 s, 2,600 held)
  // was measured at +285 to +300 MiB, V8 growing its heap lazily. Buffering the 100 MiB messages of the
  // workers adds over 1 GiB (measured: 1,482 MiB with maxPayload raised to 1 GiB).
  const bound = rssBefore + 2 * WORKERS * WS_MAX + WORKERS * BODY_MAX + CHURN_ALLOWANCE;
  t.ok(rssMax < bound, `RSS stayed under ${mb(bound)} MiB (max ${mb(rssMax)})`);

  // --- the figures ---------------------------------------------------------------------------------
  t.comment(`seed ${SEED}; flood ${floodMs} ms, ${WORKERS} workers per kind`);
  t.comment('inputs sent per kind (refused = closed or answered by the gateway):');
  for (const [kind, v] of [...tallies].sort()) {
    const other = [...v.other].map(([what, n]) => `${what} ×${n}`).join(', ');
    t.comment(`  ${kind}: ${v.sent} sent, ${v.refused} refused, ${mb(v.bytes)} MiB${other ? ` (also: ${other})` : ''}`);
  }
  t.comment('protocol errors counted (gate2mqtt_protocol_errors_total, rise during the test):');
  for (const [key, value] of [...delta].sort()) t.comment(`  ${key}: ${value}`);
  t.comment(`RSS before ${mb(rssBefore)} MiB, max ${mb(rssMax)} MiB, after ${mb(rssAfter)} MiB, bound ${mb(bound)} MiB`);
  for (const device of devices) {
    const w = work.get(device.name) as NonNullable<ReturnType<typeof work.get>>;
    t.comment(`  ${device.name}: ${w.sent} events sent, ${w.acked} acknowledged, ${device.received()} received on MQTT; ${w.answered} of ${w.commands} commands answered; slowest answer ${w.slowest} ms`);
  }
});

function mb(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}

// The floor: the contractual work of a qyzn event (and of a gantry upload), written as plainly as it
// can be, on the same aedes and the same sockets as the gateway, so that the bench can say how far
// the gateway is from what this work costs at all. Per qyzn event it decodes the 20-byte header,
// parses the body with the same __proto__-refusing parser, builds the same envelope, publishes it
// QoS 1, and answers the terminal only in the broker's callback, with one buffer per answer; a
// retransmission (same seq) is answered without a second publish. Callbacks on the hot path,
// topic strings built once per device, no framework layer. Not a gateway: no sessions, commands,
// bounds beyond the frame size, or metrics beyond the event loop's delay.
//
// Started by bench/lib/gateway.ts like the gateway (`entry: 'floor'`), configured by the same
// GATE2MQTT_* variables: the embedded broker on BROKER_PORT, or GATE2MQTT_MQTT_URL (MQTT.js, as the
// gateway's link); qyzn terminals on QYZN_PORT; POST /monitor.do and GET /readyz, /metrics on
// HTTP_PORT. BENCH_FLOOR_BROKER=thread runs its aedes in a worker_thread instead (T11, the second
// core): the publishes of a turn go to it in one message, its acknowledgements come back the same way.
import { hash, randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { Aedes } from 'aedes';
import Fastify from 'fastify';
import mqtt from 'mqtt';
import sjson from 'secure-json-parse';

const env = (name: string, fallback = ''): string => process.env[`GATE2MQTT_${name}`] ?? fallback;
const BASE = env('BASE_TOPIC', 'gate2mqtt');
const HOST = '127.0.0.1';
const SAFE = { protoAction: 'error', constructorAction: 'error' } as const;
const MAX_BODY = 64 * 1024;
const MAX_IN_FLIGHT = 32;
const HEADER = 20;
const MAGIC = 0x4e5a5951; // "QYZN" read as a little-endian u32
const RECENT = 64;

type Publish = (topic: string, payload: string, retain: boolean, done: (err?: Error) => void) => void;

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

interface Broker {
  publish: Publish;
  close(): Promise<void>;
}

async function broker(): Promise<Broker> {
  const url = env('MQTT_URL');
  if (url !== '') {
    const client = mqtt.connect(url, { clientId: env('MQTT_CLIENT_ID', `floor-${process.pid}`), protocolVersion: 5, clean: true });
    const receiveMaximum = await new Promise<number | undefined>((resolve, reject) => {
      client.once('connect', (connack) => resolve(connack.properties?.receiveMaximum));
      client.once('error', reject);
    });
    (client.stream as Socket).setNoDelay(true);
    // MQTT 5 forbids more unacknowledged QoS 1 publishes than the broker's receive maximum
    // (Mosquitto's max_inflight_messages, 20 by default), and MQTT.js does not keep to it: the
    // gateway does (min of it and mqtt.maxInflight, 100), so the floor holds the same window.
    const limit = Math.min(Number(env('MQTT_MAX_INFLIGHT', '100')), receiveMaximum ?? Infinity);
    const queue: Array<[string, string, boolean, (err?: Error) => void] | undefined> = [];
    let head = 0;
    let inFlight = 0;
    const send = (topic: string, payload: string, retain: boolean, done: (err?: Error) => void): void => {
      inFlight += 1;
      client.publish(topic, payload, { qos: 1, retain }, (err) => {
        inFlight -= 1;
        done(err ?? undefined);
        const next = queue[head];
        if (next === undefined) return;
        queue[head++] = undefined;
        if (head === queue.length) queue.length = head = 0;
        send(...next);
      });
    };
    return {
      publish: (topic, payload, retain, done) => (inFlight < limit ? send(topic, payload, retain, done) : void queue.push([topic, payload, retain, done])),
      close: () => client.endAsync(),
    };
  }
  return process.env.BENCH_FLOOR_BROKER === 'thread' ? threadBroker() : embeddedBroker();
}

async function embeddedBroker(): Promise<Broker> {
  const aedes = await Aedes.createBroker({});
  const server = createServer({ noDelay: true }, (socket) => {
    // The gateway's broker holds a client's writes until the turn ends (src/writes.ts); so does this.
    const cork = socket.cork.bind(socket);
    let held = false;
    socket.cork = (): void => {
      if (!held) {
        held = true;
        cork();
        setImmediate(() => {
          held = false;
          socket.uncork();
        });
      }
      cork();
    };
    aedes.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(Number(env('BROKER_PORT')), HOST, resolve));
  const live = `${aedes.id}#live`;
  const retained = `${aedes.id}#retained`;
  return {
    publish: (topic, payload, retain, done) =>
      aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain, dup: false, brokerId: retain ? retained : live } as never, (err?: Error | null) => done(err ?? undefined)),
    close: () => new Promise<void>((resolve) => aedes.close(() => server.close(() => resolve()))),
  };
}

/** One turn's publishes, as the main thread hands them to the broker thread. */
interface Batch {
  ids: number[];
  topics: string[];
  payloads: string[];
  retains: boolean[];
}

/** Acknowledgements of one turn: the ids, and an error message per id ('' for none). */
interface Acks {
  ids: number[];
  errors: string[];
}

async function threadBroker(): Promise<Broker> {
  // tsx's loader does not reach a worker through --import: the worker registers it, then loads this file.
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(boot, { eval: true });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  const waiting = new Map<number, (err?: Error) => void>();
  let next = 0;
  let batch: Batch | undefined;
  worker.on('message', (acks: Acks) => {
    acks.ids.forEach((id, i) => {
      const done = waiting.get(id);
      waiting.delete(id);
      const error = acks.errors[i];
      done?.(error ? new Error(error) : undefined);
    });
  });
  return {
    publish(topic, payload, retain, done) {
      if (!batch) {
        batch = { ids: [], topics: [], payloads: [], retains: [] };
        setImmediate(() => {
          worker.postMessage(batch);
          batch = undefined;
        });
      }
      const id = next++;
      waiting.set(id, done);
      batch.ids.push(id);
      batch.topics.push(topic);
      batch.payloads.push(payload);
      batch.retains.push(retain);
    },
    close: async () => {
      await worker.terminate();
    },
  };
}

/** The broker thread: the embedded broker, fed in batches. */
async function brokerThread(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const { publish } = await embeddedBroker();
  let acks: Acks | undefined;
  const ack = (id: number, err?: Error): void => {
    if (!acks) {
      acks = { ids: [], errors: [] };
      setImmediate(() => {
        port.postMessage(acks);
        acks = undefined;
      });
    }
    acks.ids.push(id);
    acks.errors.push(err ? err.message : '');
  };
  port.on('message', (batch: Batch) => {
    batch.ids.forEach((id, i) => publish(batch.topics[i] as string, batch.payloads[i] as string, batch.retains[i] as boolean, (err) => ack(id, err)));
  });
  port.postMessage('ready');
}

/** Set once the broker is up, before any device can connect. */
let publish: Publish = () => {
  throw new Error('no broker yet');
};

/** `{"id":"…","ts":"…","adapter":"…","deviceId":"…","name":"…","data":` with the constant parts once. */
function envelope(prefix: string, data: unknown): string {
  return `{"id":"${randomUUID()}","ts":"${new Date().toISOString()}"${prefix}${JSON.stringify(data)}}`;
}

const SUCCESS = Buffer.from('{"result":0,"desc":"Success","data":{}}');
const FAILED = Buffer.from('{"result":-1,"desc":"Operation failed","data":{}}');
const INVALID = Buffer.from('{"result":104,"desc":"Invalid parameter","data":{}}');
const UNREGISTERED = Buffer.from('{"result":100,"desc":"Unregistered","data":{}}');

function frame(version: number, msgType: number, seq: number, body: Buffer | undefined): Buffer {
  const size = body?.length ?? 0;
  const out = Buffer.allocUnsafe(HEADER + size);
  out.writeUInt32LE(MAGIC, 0);
  out[4] = version;
  out[5] = msgType;
  out[6] = 1;
  out[7] = 0;
  out.writeUInt32LE(Math.floor(Date.now() / 1000), 8);
  out.writeUInt32LE(seq, 12);
  out.writeUInt32LE(size, 16);
  body?.copy(out, HEADER);
  return out;
}

class Terminal {
  private readonly socket: Socket;
  private pending: Buffer | undefined;
  private deviceId: string | undefined;
  private prefix = '';
  private topic = '';
  private inFlight = 0;
  /** The last RECENT seqs published, by seq % RECENT: a retransmission is answered, not published. */
  private readonly seqs = new Float64Array(RECENT).fill(-1);
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', () => socket.destroy());
  }

  private read(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    while (buf.length - at >= HEADER) {
      if (buf.readUInt32LE(at) !== MAGIC) return void this.socket.destroy();
      const size = buf.readUInt32LE(at + 16);
      if (size > MAX_BODY) return void this.socket.destroy();
      if (buf.length - at < HEADER + size) break;
      this.frame(buf[at + 4] as number, buf[at + 5] as number, buf.readUInt32LE(at + 12), buf.subarray(at + HEADER, at + HEADER + size));
      at += HEADER + size;
    }
    this.pending = at === buf.length ? undefined : buf.subarray(at);
  }

  private frame(version: number, msgType: number, seq: number, body: Buffer): void {
    if (msgType === 1) return this.send(frame(version, 1, seq, undefined));
    if (msgType !== 3) return;
    let message: unknown;
    let data: unknown;
    try {
      const parsed = sjson.parse(body, undefined, SAFE) as { message?: unknown; data?: unknown };
      message = parsed.message;
      data = parsed.data ?? {};
    } catch {
      return this.send(frame(version, 4, seq, INVALID));
    }
    if (typeof message !== 'string' || typeof data !== 'object' || data === null) return this.send(frame(version, 4, seq, INVALID));
    if (message === 'login') return this.login(version, seq, data as { uuid?: unknown });
    if (this.deviceId === undefined) return this.send(frame(version, 4, seq, UNREGISTERED));
    if (this.seqs[seq % RECENT] === seq) return this.send(frame(version, 4, seq, SUCCESS));
    this.seqs[seq % RECENT] = seq;
    if (++this.inFlight === MAX_IN_FLIGHT) this.socket.pause();
    publish(this.topic + message, envelope(`${this.prefix}"${message}","data":`, data), false, (err) => {
      if (this.inFlight-- === MAX_IN_FLIGHT) this.socket.resume();
      if (err) this.seqs[seq % RECENT] = -1;
      this.send(frame(version, 4, seq, err ? FAILED : SUCCESS));
    });
  }

  private login(version: number, seq: number, data: { uuid?: unknown }): void {
    if (typeof data.uuid !== 'string' || data.uuid === '') return this.send(frame(version, 4, seq, INVALID));
    this.deviceId = data.uuid;
    this.prefix = `,"adapter":"qyzn","deviceId":${JSON.stringify(data.uuid)},"name":`;
    this.topic = `${BASE}/qyzn/${data.uuid}/event/`;
    this.send(frame(version, 4, seq, SUCCESS));
  }

  private send(bytes: Buffer): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(this.uncork);
    }
    this.socket.write(bytes);
  }
}

async function main(): Promise<void> {
  const started = await broker();
  publish = started.publish;
  const qyzn = createServer({ noDelay: true }, (socket) => new Terminal(socket));
  await new Promise<void>((resolve) => qyzn.listen(Number(env('QYZN_PORT')), HOST, resolve));

  // The gantry floor: the body checked against binfile-md5, parsed, its event and its state published.
  const http = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 });
  // The raw bytes, whatever the content type: the MD5 is over them, and the parse is the floor's own.
  http.removeAllContentTypeParsers();
  http.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  http.post('/monitor.do', (request, reply) => {
    const body = request.body as Buffer;
    const md5 = request.headers['binfile-md5'];
    if (typeof md5 !== 'string' || md5.toLowerCase() !== hash('md5', body, 'hex')) return void reply.send({ code: '1002', msg: 'md5' });
    let upload: Record<string, unknown>;
    try {
      upload = sjson.parse(body, undefined, SAFE) as typeof upload;
    } catch {
      return void reply.send({ code: '1001', msg: 'json' });
    }
    const gantryId = typeof upload.gantryId === 'string' ? upload.gantryId : '';
    const named = upload.method ?? upload[' method'];
    const method = typeof named === 'string' ? named : 'unknown';
    const prefix = `,"adapter":"gantry","deviceId":${JSON.stringify(gantryId)},"name":${JSON.stringify(method)},"data":`;
    let left = 2;
    const done = (err?: Error): void => {
      if (--left === 0 || err) reply.send(err ? { code: '1005', msg: 'failed' } : { code: '1000', msg: '成功' });
    };
    publish(`${BASE}/gantry/${gantryId}/event/${method}`, envelope(prefix, upload), false, done);
    publish(`${BASE}/gantry/${gantryId}/state`, JSON.stringify(upload), true, done);
  });
  http.get('/readyz', (_request, reply) => void reply.send('ok'));
  // The event loop's delay since the last scrape, in the names prom-client gives the gateway's.
  http.get('/metrics', (_request, reply) => {
    const text = `gate2mqtt_nodejs_eventloop_lag_p99_seconds ${loop.percentile(99) / 1e9}\ngate2mqtt_nodejs_eventloop_lag_max_seconds ${loop.max / 1e9}\n`;
    loop.reset();
    void reply.type('text/plain').send(text);
  });
  await http.listen({ host: HOST, port: Number(env('HTTP_PORT')) });

  process.once('SIGTERM', () => {
    qyzn.close();
    void Promise.all([http.close(), started.close()]).then(() => process.exit(0));
  });
}

if (isMainThread) await main();
else await brokerThread();

// A fleet of simulated ETC gantries for tests, demos and load: each uploads the messages of its
// edition (v0.37 or v1.03) to /monitor.do, and one control server answers /remotecontrol.do for all
// of them as a cabinet would. What a gantry sends and answers is written from the seeds here, apart
// from the adapter's reading of them (decode.ts, typing.ts), so a misreading shared by both ends
// does not hide itself in the tests; only the constants, code tables and the body MD5 are shared.
import { EventEmitter, once } from 'node:events';
import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { formatWall } from '../../src/clock.js';
import {
  Code,
  CODE_MESSAGES,
  CONTROL_PATH,
  ERROR_WORDS,
  HEADER_AUTH,
  HEADER_MD5,
  UPLOAD_METHODS,
  type UploadMethod,
} from '../../adapters/gantry/constants.js';
import { md5Hex } from '../../adapters/gantry/sign.js';
import { idsFrom } from '../common/ids.js';
import { TINY_JPEG } from '../common/jpeg.js';

type Json = Record<string, unknown>;

export type Edition = 'v0.37' | 'v1.03';
/** How getCabinetImageVedio is answered: a good file, a file with a wrong or no binfile-md5, or 1009. */
export type ImageMode = 'file' | 'badMd5' | 'noMd5' | 'missing';

const messageOf = (code: string): string => (CODE_MESSAGES as Readonly<Record<string, string>>)[code] ?? '';

export interface SimulatorOptions {
  /** Upload URL (`http://host:port/monitor.do` or `https://...`); without it the simulator only answers commands. */
  url?: string;
  /** CA certificate (PEM) to trust for an https:// upload URL, e.g. a gateway's self-signed one. */
  ca?: Buffer | string;
  /** How many gantries, or their ids. Default 1. */
  gantries?: number | string[];
  /** With a number of gantries, the id of the first; the others count up from it. Default
   *  FIRST_GANTRY_ID. */
  firstId?: string;
  /** Which edition each gantry speaks; `both` alternates. Default `both`. */
  edition?: Edition | 'both';
  /** Seconds between a gantry's uploads; 0 (default) uploads only when asked. */
  intervalS?: number;
  /** Control server port; 0 picks a free one; undefined: no control server. */
  controlPort?: number;
  controlHost?: string;
  auth?: string;
  timeZone?: string;
  /** Chance that a measurement is NoData/GetFailed/NotSupport. Default 0.05. */
  errorRate?: number;
  /** Chance that an alarm (warningMsg, water, smoke, lightning) is up. Default 0.1. */
  alarmRate?: number;
  /** PRNG seed, for repeatable values. */
  seed?: number;
  /** Upload at once after updateNow or a door unlock, as a cabinet does. Default true. */
  reactToCommands?: boolean;
}

export interface SimGantry {
  gantryId: string;
  edition: Edition;
  version: '1000' | '1001';
  cabinets: number;
  computers: number;
  /** v0.37's table declares doors an ObjectArray; these gantries send it as an array. */
  doorsAsArray: boolean;
  cardVersion: string;
  intervalS: number;
  server: string;
  frontDoorOpen: boolean;
  backDoorOpen: boolean;
  defendMode: '0' | '1';
  powerMode: string;
  airOn: boolean;
  batteryTesting: boolean;
  rectifierOn: boolean;
  /** cmd 4 set points, as sent. */
  airSetPoints: { refrigeration?: string; heating?: string };
  /** cmd 1 reboots through the relay, with the relay's address. */
  reboots: { ip?: string; port?: string }[];
  cards: Json[];
}

export interface Tamper {
  /** Another auth code; null leaves the header out. */
  auth?: string | null;
  /** Another binfile-md5; `wrong` a valid-looking wrong one; null leaves the header out. */
  md5?: string | null;
  /** Seconds added to timeStamp. */
  clockOffsetS?: number;
  version?: string;
  /** Changes the body before it is serialized. */
  mutate?: (body: Json) => void;
  /** Sends exactly this text (binfile-md5 computed over it unless md5 is given). */
  rawBody?: string;
}

export interface UploadResult {
  gantryId: string;
  method: UploadMethod;
  status: number;
  /** The answer as parsed JSON, with its raw text. */
  answer: Json;
  answerText: string;
  /** What was sent. */
  body: Json | undefined;
  text: string;
  headers: Record<string, string>;
}

/** An upload sent on the simulator's own (by its timer, or after a command) that got no answer. */
export interface UploadFailure {
  gantryId: string;
  method: UploadMethod;
  error: Error;
}

export interface ControlRecord {
  gantryId: string | undefined;
  method: string | undefined;
  /** The object under the method's name. */
  data: Json | undefined;
  body: Json | undefined;
  headers: IncomingMessage['headers'];
  /** The code answered, or `file`. */
  answered: string;
}

/** mulberry32: small, seedable, good enough for plausible sensor values. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The gantry of the seeds' examples, which the docs address. */
export const FIRST_GANTRY_ID = 'G000211001002110010';

export class GantrySimulator extends EventEmitter {
  readonly gantries: SimGantry[];
  /** getCabinetImageVedio answers; tests switch it. */
  imageMode: ImageMode = 'file';
  /** When set, every control request is answered with this code (e.g. 1007). */
  forcedCode: string | undefined;
  private readonly options: Required<Omit<SimulatorOptions, 'url' | 'ca' | 'controlPort' | 'gantries' | 'firstId' | 'edition'>> & SimulatorOptions;
  private readonly random: () => number;
  private server: Server | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly pending = new Set<Promise<unknown>>();
  private stopped = false;
  // Own agents, so that stop() can end the keep-alive connections the uploads left open.
  private readonly httpAgent = new HttpAgent({ keepAlive: true });
  private httpsAgent: HttpsAgent;

  constructor(options: SimulatorOptions = {}) {
    super();
    this.options = {
      intervalS: 0,
      controlHost: '127.0.0.1',
      auth: '123456',
      timeZone: 'Asia/Shanghai',
      errorRate: 0.05,
      alarmRate: 0.1,
      seed: 20191130,
      reactToCommands: true,
      ...options,
    };
    this.random = prng(this.options.seed);
    this.httpsAgent = new HttpsAgent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) });
    const ids = Array.isArray(options.gantries) ? options.gantries : idsFrom(options.firstId ?? FIRST_GANTRY_ID, options.gantries ?? 1);
    const edition = options.edition ?? 'both';
    this.gantries = ids.map((gantryId, i): SimGantry => {
      const ed: Edition = edition === 'both' ? (i % 2 === 0 ? 'v0.37' : 'v1.03') : edition;
      return {
        gantryId,
        edition: ed,
        // v1.03 documents 1000; its own cabinet example sends 1001, so its gantries use both.
        version: ed === 'v0.37' ? '1001' : i % 4 === 1 ? '1000' : '1001',
        cabinets: i % 3 === 2 ? 2 : 1,
        computers: 2,
        doorsAsArray: ed === 'v0.37' && i % 4 === 2,
        cardVersion: '0',
        intervalS: this.options.intervalS,
        server: options.url ?? '',
        frontDoorOpen: false,
        backDoorOpen: false,
        defendMode: '1',
        powerMode: '0',
        airOn: true,
        batteryTesting: false,
        rectifierOn: true,
        airSetPoints: {},
        reboots: [],
        cards: [],
      };
    });
  }

  /** Where the gantries upload from now on (a platform started after the simulator, say). */
  setUploadUrl(url: string, ca?: Buffer | string): void {
    this.options.url = url;
    if (ca !== undefined) {
      this.options.ca = ca;
      this.httpsAgent.destroy();
      this.httpsAgent = new HttpsAgent({ keepAlive: true, ca });
    }
    for (const g of this.gantries) if (g.server === '') g.server = url;
  }

  gantry(gantryId: string): SimGantry {
    const g = this.gantries.find((x) => x.gantryId === gantryId);
    if (!g) throw new Error(`no simulated gantry ${gantryId}`);
    return g;
  }

  /** Starts the control server (when a port is given) and the upload timers (when an interval is). */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.options.controlPort !== undefined) {
      this.server = createServer((req, res) => {
        this.track(this.onControl(req, res)).catch((err: unknown) => this.emit('error', err));
      });
      this.server.listen(this.options.controlPort, this.options.controlHost);
      await once(this.server, 'listening');
    }
    if (this.options.url && this.options.intervalS > 0) {
      this.gantries.forEach((g, i) => {
        // Spread the fleet over the interval, as real gantries boot at different times.
        const first = setTimeout(() => this.tick(g), ((i + 1) * this.options.intervalS * 1000) / (this.gantries.length + 1));
        this.timers.set(g.gantryId, first);
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.pending]);
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    if (this.server) {
      const server = this.server;
      this.server = undefined;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** `http://host:port/remotecontrol.do` of the control server. */
  get controlUrl(): string {
    if (!this.server) throw new Error('the control server is not running');
    const { port } = this.server.address() as AddressInfo;
    return `http://${this.options.controlHost}:${port}${CONTROL_PATH}`;
  }

  get controlPort(): number {
    if (!this.server) throw new Error('the control server is not running');
    return (this.server.address() as AddressInfo).port;
  }

  /** Resolves with the next event of that name matching `filter`, or rejects after `deadlineMs`:
   *  tests wait for what happens, never sleep, and never hang on what does not. */
  next<T>(event: 'upload' | 'uploadFailed' | 'control', filter: (value: T) => boolean = () => true, deadlineMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off(event, listener);
        reject(new Error(`deadline: no matching ${event} within ${deadlineMs} ms`));
      }, deadlineMs);
      timer.unref();
      const listener = (value: T): void => {
        if (!filter(value)) return;
        clearTimeout(timer);
        this.off(event, listener);
        resolve(value);
      };
      this.on(event, listener);
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  private tick(g: SimGantry): void {
    if (this.stopped) return;
    const jitter = 0.9 + this.random() * 0.2;
    this.timers.set(g.gantryId, setTimeout(() => this.tick(g), Math.max(1, g.intervalS) * 1000 * jitter));
    for (const method of UPLOAD_METHODS) this.uploadOnItsOwn(g.gantryId, method);
  }

  /** An upload no caller waits for. A platform that is down (restarting, say) is what a gantry
   *  meets now and then: an `uploadFailed`, not an `error`, which would end a process that does
   *  not listen for it; the timer goes on, and a later upload reaches the platform once it is back. */
  private uploadOnItsOwn(gantryId: string, method: UploadMethod): void {
    this.upload(gantryId, method).catch((err: unknown) => {
      const failure: UploadFailure = { gantryId, method, error: err instanceof Error ? err : new Error(String(err)) };
      this.emit('uploadFailed', failure);
    });
  }

  // ---- values ----

  private num(min: number, max: number, digits = 2): string {
    return (min + this.random() * (max - min)).toFixed(digits);
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  /** A measurement, or now and then one of the seeds' error words. */
  private measure(min: number, max: number, digits = 2): string {
    if (this.chance(this.options.errorRate)) return ERROR_WORDS[Math.floor(this.random() * ERROR_WORDS.length)] as string;
    return this.num(min, max, digits);
  }

  private alarms(candidates: readonly string[]): string {
    if (!this.chance(this.options.alarmRate)) return '';
    return candidates.filter(() => this.chance(0.5)).join(',') || (candidates[0] as string);
  }

  private deviceTime(agoMs: number): string {
    return formatWall(Date.now() - agoMs, this.options.timeZone, 'yyyy-MM-dd HH:mm:ss.SSS');
  }

  /** The body of one upload, in the gantry's edition (stray spaces where its seed has them). */
  message(gantryId: string, method: UploadMethod, nowMs = Date.now()): Json {
    const g = this.gantry(gantryId);
    const m = method === 'queryAndGetCardInfo' ? ' method' : 'method';
    const envelope: Json = { gantryId: g.gantryId, [m]: method, timeStamp: String(Math.floor(nowMs / 1000)), version: g.version };
    if (method === 'computerStatusUpdate') return { ...envelope, computerStatus: this.computers(g) };
    if (method === 'cabinetStatusUpdate') return { ...envelope, cabinetStatus: this.cabinet(g, 1 + Math.floor(this.random() * g.cabinets)) };
    return { ...envelope, data: { ' curVersion': g.cardVersion } };
  }

  private computers(g: SimGantry): Json[] {
    const index = this.gantries.indexOf(g) + 1;
    return Array.from({ length: g.computers }, (_, i) => ({
      id: String(i + 1),
      // The v1.03 example leaves these two out although its table lists them.
      ...(g.edition === 'v0.37' ? { isMonitorComputer: i === g.computers - 1 ? '1' : '0', isMainComputer: i === 0 ? '1' : '0' } : {}),
      sysDiskUsage: this.measure(20, 95),
      sysDiskSize: '104857600',
      dataDiskUsage: this.measure(10, 99.99),
      dataDiskSize: '1048576000',
      memoryUsage: this.measure(15, 90),
      memorySize: '8388608',
      netUsage: this.measure(0, 60),
      cpuUsage: this.measure(1, 100),
      cpuTemperature: this.measure(35, 85, 0),
      ip: `192.168.${index % 250}.${i + 10}`,
    }));
  }

  private cabinet(g: SimGantry, id: number): Json {
    const doors: Json = {
      status: '1',
      defendMode: g.defendMode,
      frontDoorClosed: g.frontDoorOpen ? '0' : '1',
      frontDoorLocked: g.frontDoorOpen ? '0' : '1',
      frontDoorUnlockType: g.frontDoorOpen ? '2' : '0',
      frontDoorUnlockCardId: 'NoData',
      frontDoorOpenIllegally: '0',
      frontDoorChangeTime: this.deviceTime(g.frontDoorOpen ? 1000 : 3_600_000),
      backDoorClosed: g.backDoorOpen ? '0' : '1',
      backDoorLocked: g.backDoorOpen ? '0' : '1',
      backDoorUnlockType: g.backDoorOpen ? '2' : '0',
      backDoorUnlockCardId: 'NoData',
      backDoorOpenIllegally: '0',
      backDoorChangeTime: this.deviceTime(g.backDoorOpen ? 1000 : 86_400_000),
    };
    if (!g.frontDoorOpen && !g.backDoorOpen && this.chance(this.options.alarmRate)) {
      Object.assign(doors, { backDoorClosed: '0', backDoorUnlockType: '1', backDoorUnlockCardId: '1234567', backDoorChangeTime: this.deviceTime(5000) });
    }
    const water = this.chance(this.options.alarmRate / 2);
    const smoke = this.chance(this.options.alarmRate / 4);
    const v037 = g.edition === 'v0.37';
    return {
      id: String(id),
      elec: [
        {
          id: '1',
          status: '1',
          voltage: this.measure(210, 235, 1),
          current: this.measure(5, 20, 1),
          power: this.measure(1, 4.4),
          frequency: this.measure(49.8, 50.2),
          elecConsumption: this.num(1000, 90000, 1),
          warningMsg: this.alarms(['输入过压', '输入欠压', '交流L1相缺相', '交流L2相缺相', '交流L3相缺相']),
        },
      ],
      rectifier: [
        g.rectifierOn
          ? {
              id: '1',
              status: '1',
              currentLimiting: '0',
              outputVoltage: this.measure(53, 54.5),
              outputCurrent: this.measure(5, 30),
              outputPower: this.measure(0.2, 1.6),
              // v0.37's example list is written with a space after the comma.
              warningMsg: this.alarms(['整流模块故障', ' 输出电压欠压']),
            }
          : { id: '1', status: '1', currentLimiting: '0', outputVoltage: '0', outputCurrent: '0', outputPower: '0', warningMsg: '整流模块已关机' },
      ],
      ups: [
        {
          id: '1',
          status: '1',
          runningState: g.batteryTesting ? '5' : '1',
          inputVoltage: this.measure(215, 230, 1),
          inputCurrent: this.measure(0.5, 3),
          outputVoltage: this.measure(215, 230, 1),
          outputCurrent: this.measure(2, 10),
          powerRate: this.measure(80, 100, 0),
          surplusTime: this.chance(0.3) ? 'NotSupport' : this.measure(30, 240, 0),
          remainCapacity: this.measure(50, 100, 0),
          temperature: this.measure(20, 45, 1),
          warningMsg: this.alarms(['电池熔丝断']),
        },
      ],
      airConditioners: [1, 2].map((n) => ({
        id: String(n),
        status: '1',
        errorMsg: '',
        isWorking: g.airOn && g.powerMode === '0' ? '1' : '0',
        workMode: '1',
        systemWarning: '1',
        temperatureWarning: this.chance(this.options.alarmRate / 2) ? '0' : '1',
      })),
      thermohygrometer: { status: '1', temperature: this.measure(18, 38, 1), humidity: this.measure(20, 80, 1) },
      waterloggingSensor: { status: '1', isWarning: water ? '1' : '0', warningChangeTime: this.deviceTime(water ? 2000 : 7 * 86_400_000) },
      doors: g.doorsAsArray ? [doors] : doors,
      smokeSensor: { status: '1', isWarning: smoke ? '1' : '0', warningChangeTime: this.deviceTime(smoke ? 3000 : 30 * 86_400_000) },
      [v037 ? ' thunderSpd' : 'thunderSpd']: [
        {
          id: '1',
          status: this.chance(this.options.alarmRate / 4) ? '0' : '1',
          [v037 ? ' lightningCount ' : 'lightningCount']: this.chance(0.3) ? 'NotSupport' : String(Math.floor(this.random() * 5)),
        },
      ],
    };
  }

  // ---- uploads ----

  async upload(gantryId: string, method: UploadMethod, tamper: Tamper = {}): Promise<UploadResult> {
    const url = this.options.url;
    if (!url) throw new Error('the simulator has no upload url');
    return this.track(this.send(url, gantryId, method, tamper));
  }

  /** One round of every gantry's three uploads. */
  async uploadAll(): Promise<UploadResult[]> {
    const out: UploadResult[] = [];
    for (const g of this.gantries) {
      for (const method of UPLOAD_METHODS) {
        out.push(await this.upload(g.gantryId, method));
      }
    }
    return out;
  }

  private async send(url: string, gantryId: string, method: UploadMethod, tamper: Tamper): Promise<UploadResult> {
    const g = this.gantry(gantryId);
    let body: Json | undefined;
    let text: string;
    if (tamper.rawBody !== undefined) {
      text = tamper.rawBody;
    } else {
      body = this.message(gantryId, method, Date.now() + (tamper.clockOffsetS ?? 0) * 1000);
      if (tamper.version !== undefined) body.version = tamper.version;
      tamper.mutate?.(body);
      text = JSON.stringify(body);
    }
    const headers: Record<string, string> = { 'content-type': 'application/json;charset=UTF-8' };
    const sum = tamper.md5 === 'wrong' ? md5Hex(`${text} `) : tamper.md5 === undefined ? md5Hex(text) : tamper.md5;
    if (sum !== null) headers[HEADER_MD5] = sum;
    const auth = tamper.auth === undefined ? this.options.auth : tamper.auth;
    if (auth !== null) headers[HEADER_AUTH] = auth;
    const res = await this.post(url, headers, text);
    const answerText = res.text;
    let answer: Json = {};
    try {
      answer = JSON.parse(answerText) as Json;
    } catch {
      answer = { unparsed: answerText };
    }
    if (method === 'queryAndGetCardInfo' && answer.code === Code.OK) {
      const data = answer.data as Json | undefined;
      if (data?.isExistLatestVersion === 1 && typeof data.latestVersion === 'string') g.cardVersion = data.latestVersion;
    }
    const result: UploadResult = { gantryId, method, status: res.status, answer, answerText, body, text, headers };
    this.emit('upload', result);
    return result;
  }

  /** node:http(s) rather than fetch: fetch cannot be told to trust a self-signed gateway. */
  private post(url: string, headers: Record<string, string>, text: string): Promise<{ status: number; text: string }> {
    const target = new URL(url);
    const body = Buffer.from(text, 'utf8');
    const options = { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } };
    return new Promise((resolve, reject) => {
      const onResponse = (res: IncomingMessage): void => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      };
      const req =
        target.protocol === 'https:'
          ? httpsRequest(target, { ...options, agent: this.httpsAgent }, onResponse)
          : httpRequest(target, { ...options, agent: this.httpAgent }, onResponse);
      req.on('error', reject);
      req.end(body);
    });
  }

  // ---- control server ----

  private async onControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: ControlRecord = { gantryId: undefined, method: undefined, data: undefined, body: undefined, headers: req.headers, answered: '' };
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 1024 * 1024) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const raw = Buffer.concat(chunks);
    const answer = (code: string, extra: Json = {}): void => {
      const text = JSON.stringify({ code, msg: messageOf(code), ...extra });
      res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', [HEADER_MD5]: md5Hex(text) }).end(text);
      record.answered = code;
      this.emit('control', record);
    };
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== CONTROL_PATH) {
      res.writeHead(404).end();
      return;
    }
    if (req.headers[HEADER_AUTH] !== this.options.auth) return answer(Code.NO_RIGHT);
    if (req.headers[HEADER_MD5] !== md5Hex(raw)) return answer(Code.BAD_SIGNATURE);
    let body: Json;
    try {
      body = JSON.parse(raw.toString('utf8')) as Json;
    } catch {
      return answer(Code.BAD_PARAMS);
    }
    record.body = body;
    record.gantryId = typeof body.gantryId === 'string' ? body.gantryId : undefined;
    record.method = typeof body.method === 'string' ? body.method : undefined;
    const g = this.gantries.find((x) => x.gantryId === record.gantryId);
    const data = record.method ? body[record.method] : undefined;
    record.data = typeof data === 'object' && data !== null ? (data as Json) : undefined;
    if (!g || !record.data || typeof body.timeStamp !== 'string' || typeof body.version !== 'string') return answer(Code.BAD_PARAMS);
    if (this.forcedCode) return answer(this.forcedCode);
    const control = CONTROL_HANDLERS[record.method as string];
    if (!control) return answer(Code.BAD_PARAMS);
    const outcome = control(this, g, record.data);
    if (outcome.kind === 'image') return this.answerImage(g, record, res);
    answer(outcome.code, outcome.extra);
    if (outcome.uploadNext && this.options.reactToCommands && this.options.url && !this.stopped) {
      this.uploadOnItsOwn(g.gantryId, outcome.uploadNext);
    }
  }

  private answerImage(g: SimGantry, record: ControlRecord, res: ServerResponse): void {
    if (this.imageMode === 'missing') {
      const text = JSON.stringify({ code: Code.NO_MEDIA, msg: messageOf(Code.NO_MEDIA) });
      // v0.37 answers the failure under an image Content-Type, v1.03 under application/json.
      const type = g.edition === 'v0.37' ? 'image/jpeg' : 'application/json';
      res.writeHead(200, { 'content-type': type }).end(text);
      record.answered = Code.NO_MEDIA;
      this.emit('control', record);
      return;
    }
    const stamp = formatWall(Date.now(), this.options.timeZone, 'yyyyMMddHHmmssSSS');
    const headers: Record<string, string> = {
      'content-type': 'image/jpeg',
      'content-disposition': `attachment;filename=${g.gantryId}_${stamp}.jpg`,
      [HEADER_AUTH]: this.options.auth,
    };
    if (this.imageMode === 'file') headers[HEADER_MD5] = md5Hex(TINY_JPEG);
    if (this.imageMode === 'badMd5') headers[HEADER_MD5] = md5Hex('not the picture');
    res.writeHead(200, headers).end(TINY_JPEG);
    record.answered = 'file';
    this.emit('control', record);
  }

  /** The battery test report of cmd 10, as the seed's table describes it. */
  batteryReport(): Json {
    return {
      testStartTime: this.deviceTime(3_600_000),
      testResult: '2',
      efficiency: this.num(85, 99),
      dischargeTime: this.num(0.5, 2),
      dischargeEndVoltage: this.num(43, 46),
      dischargeAvCurrent: this.num(8, 15),
      dischargeAhCurrent: this.num(10, 30),
      testTemperature: this.num(20, 30, 1),
      testEndCourse: '2',
    };
  }
}

type ControlOutcome = { kind: 'json'; code: string; extra?: Json; uploadNext?: UploadMethod } | { kind: 'image' };
type ControlHandler = (sim: GantrySimulator, g: SimGantry, data: Json) => ControlOutcome;

const ok = (uploadNext?: UploadMethod, extra?: Json): ControlOutcome => ({
  kind: 'json',
  code: Code.OK,
  ...(extra ? { extra } : {}),
  ...(uploadNext ? { uploadNext } : {}),
});

function settings(g: SimGantry, data: Json, uploadNext: UploadMethod): ControlOutcome {
  if (typeof data.setFrequency === 'string' && /^\d+$/.test(data.setFrequency)) g.intervalS = Number(data.setFrequency);
  if (typeof data.setServer === 'string') g.server = data.setServer;
  return ok(data.updateNow === '1' ? uploadNext : undefined);
}

/** What a cabinet does for each cmd; values arrive as strings, as the seeds send them. */
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

const CABINET_CMDS: Record<string, (sim: GantrySimulator, g: SimGantry, data: Json) => ControlOutcome> = {
  '1': (_s, g, d) => {
    g.reboots.push({ ...(text(d.rebootIp) ? { ip: text(d.rebootIp) } : {}), ...(text(d.rebootPort) ? { port: text(d.rebootPort) } : {}) });
    return ok();
  },
  '2': (_s, g, d) => {
    if (d.unlockDoorId === '1') g.frontDoorOpen = true;
    if (d.unlockDoorId === '2') g.backDoorOpen = true;
    return ok('cabinetStatusUpdate');
  },
  '3': (_s, g, d) => {
    g.airOn = d.airOperate === '1';
    return ok();
  },
  '4': (_s, g, d) => {
    const refrigeration = text(d.autoRefrigerationTemp);
    const heating = text(d.autoHeatingTemp);
    if (refrigeration !== undefined) g.airSetPoints.refrigeration = refrigeration;
    if (heating !== undefined) g.airSetPoints.heating = heating;
    return ok();
  },
  '5': (_s, g, d) => {
    g.powerMode = typeof d.mode === 'string' ? d.mode : '0';
    return ok();
  },
  '6': (_s, g, d) => {
    g.defendMode = d.isDoorDefend === '1' ? '1' : '0';
    return ok();
  },
  '7': (_s, g, d) => {
    g.cards = Array.isArray(d.cardInfos) ? (d.cardInfos as Json[]) : [];
    return ok();
  },
  '8': (_s, g, d) => {
    g.rectifierOn = d.onOff !== '0';
    return ok();
  },
  '9': (_s, g, d) => {
    g.batteryTesting = d.testStartStop === '1';
    return ok();
  },
  '10': (sim) => ok(undefined, { batterysTestResult: sim.batteryReport() }),
};

const CONTROL_HANDLERS: Record<string, ControlHandler> = {
  computerControl: (_sim, g, data) => settings(g, data, 'computerStatusUpdate'),
  cabinetControl: (sim, g, data) => {
    if (data.cmd === undefined) return settings(g, data, 'cabinetStatusUpdate');
    const cmd = CABINET_CMDS[String(data.cmd)];
    return cmd ? cmd(sim, g, data) : { kind: 'json', code: Code.BAD_PARAMS };
  },
  getCabinetImageVedio: () => ({ kind: 'image' }),
};

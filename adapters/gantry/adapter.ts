// The gantry adapter: ETC gantry cabinets and computers upload over HTTP POST /monitor.do on the
// gateway's shared HTTP server; commands go back as HTTP POSTs to each gantry's control URL.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {
  Adapter,
  AdapterContext,
  CommandAnswer,
  DeviceCommand,
  DeviceHandle,
  DeviceSession,
  JsonObject,
} from '../../src/adapter.js';
import { isObject } from '../../src/json.js';
import { CommandError } from '../../src/errors.js';
import { checkGantryOverrides, type GantryConfig, type GantryOverride } from './config.js';
import {
  Code,
  DEFAULT_VERSION,
  HEADER_AUTH,
  HEADER_MD5,
  UPLOAD_PATH,
  UPLOAD_PATH_DOUBLE_SLASH,
  type BusinessCode,
  type UploadMethod,
} from './constants.js';
import { checkUpload, decodeControlAnswer, parseJson, type Upload } from './decode.js';
import { answerBody, encodeControlRequest } from './encode.js';
import { RateLimiter } from './rate.js';
import { md5Hex } from './sign.js';
import { FieldTyper, type Quality, type Typed } from './typing.js';
import { cardAnswer, cardAnswerFromPlatform, currentCardVersion, parseWhitelist, type Whitelist } from './whitelist.js';

/** What a gantry's latest accepted upload taught: sent back with its commands. */
interface LastUpload {
  version: string;
  /** Its source address: the {ip} of its control URL. */
  ip: string;
}

interface Accepted {
  upload: Upload;
  handle: DeviceHandle;
}

type UploadHandler = (accepted: Accepted) => Promise<JsonObject | undefined>;

interface GantryState {
  version: string;
  updatedAt: string;
  computers: Record<string, JsonObject>;
  cabinets: Record<string, JsonObject>;
  cardVersion?: string;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** IPv4 clients of a dual-stack socket show up as ::ffff:a.b.c.d; the gantry's URL wants a.b.c.d. */
function plainIp(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function hostForUrl(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/** The quality entries of one entry of a status array, re-rooted at that entry. */
function qualityUnder(quality: Quality, prefix: string): Quality | undefined {
  const out: Quality = {};
  const below = `${prefix}.`;
  for (const [path, word] of Object.entries(quality)) {
    if (path.startsWith(below)) out[path.slice(below.length)] = word;
    else if (path === prefix) out[''] = word;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

async function readLimited(res: Response, limit: number): Promise<Buffer | undefined> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks, total);
}

export class GantryAdapter implements Adapter {
  readonly id = 'gantry';
  private readonly context: AdapterContext<GantryConfig>;
  private typer: FieldTyper | undefined;
  private limiter: RateLimiter | undefined;
  private stopped = false;
  /** Per gantry, kept after it went offline: its version goes with its commands. */
  private readonly lastUploads = new Map<string, LastUpload>();
  /** The session of every gantry: a gantry has no connection, its commands are HTTP requests. */
  private readonly control: DeviceSession = {
    execute: (command) => this.execute(command),
    close: () => undefined,
  };
  private readonly states = new Map<string, GantryState>();
  private readonly whitelists = new Map<string, Whitelist>();

  private readonly handlers: Readonly<Record<UploadMethod, UploadHandler>> = {
    computerStatusUpdate: (a) => this.statusUpdate(a, 'computerStatus', 'computers'),
    cabinetStatusUpdate: (a) => this.statusUpdate(a, 'cabinetStatus', 'cabinets'),
    queryAndGetCardInfo: (a) => this.cardQuery(a),
  };

  constructor(context: AdapterContext<GantryConfig>) {
    this.context = context;
  }

  async start(): Promise<string | undefined> {
    const { config, logger } = this.context;
    checkGantryOverrides(config.gantries);
    this.stopped = false;
    this.typer = new FieldTyper(this.context.mappings.read<unknown>('fields'), this.context.deviceTimeZone);
    this.limiter = new RateLimiter(config.maxRequestsPerMinute);
    const uploads = async (app: FastifyInstance): Promise<void> => {
      // Encapsulated: the core's routes keep their JSON parser; here MD5 needs the raw bytes.
      app.removeAllContentTypeParsers();
      app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
      app.setErrorHandler((err: { code?: string; statusCode?: number; message: string }, req, reply) => {
        const remote = `${plainIp(req.ip)}:${req.socket.remotePort ?? 0}`;
        const status = err.statusCode ?? 500;
        if (status >= 500) {
          logger.error({ err, remote }, 'gantry upload failed');
          return this.send(reply, Code.SYSTEM_ERROR, undefined, 500);
        }
        this.context.events.protocolError(err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'oversize' : 'bad_request', { remote });
        return this.send(reply, Code.BAD_PARAMS, undefined, status);
      });
      const handler = (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => this.onUpload(req, reply);
      app.post(UPLOAD_PATH, handler);
      // With ignoreDuplicateSlashes the router already maps //monitor.do here; a second route would clash.
      if (!app.initialConfig.ignoreDuplicateSlashes) app.post(UPLOAD_PATH_DOUBLE_SLASH, handler);
    };
    await this.context.http.register(uploads);
    this.context.watch('whitelist', (gantryId, payload) => this.holdWhitelist(gantryId, payload));
    // A gantry whose control URL needs no {ip} takes commands before (and between) its uploads.
    for (const [gantryId, override] of Object.entries(config.gantries)) {
      if (override.controlUrl !== undefined && !override.controlUrl.includes('{ip}')) this.context.devices.reachable(gantryId, this.control);
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  /** Holds (or, with an empty payload, drops) the card whitelist of a gantry, as retained on
   *  `{base}/gantry/{gantryId}/whitelist`. Throws when the payload is not a whitelist. */
  holdWhitelist(gantryId: string, payload: unknown): void {
    const empty = payload === undefined || payload === null || payload === '' || (Buffer.isBuffer(payload) && payload.length === 0);
    if (empty) {
      this.whitelists.delete(gantryId);
      return;
    }
    const value = typeof payload === 'string' || Buffer.isBuffer(payload) ? parseJson(payload) : payload;
    this.whitelists.set(gantryId, parseWhitelist(value));
  }

  /** The whitelist held for a gantry, if any (what its next queryAndGetCardInfo is answered from). */
  whitelist(gantryId: string): Readonly<Whitelist> | undefined {
    return this.whitelists.get(gantryId);
  }

  private override(gantryId: string): GantryOverride | undefined {
    return Object.hasOwn(this.context.config.gantries, gantryId) ? this.context.config.gantries[gantryId] : undefined;
  }

  private authFor(gantryId: string): string {
    return this.override(gantryId)?.auth ?? this.context.config.auth;
  }

  private send(reply: FastifyReply, code: BusinessCode, data?: JsonObject, status = 200): FastifyReply {
    const body = answerBody(code, data);
    return reply
      .code(status)
      .header('content-type', 'application/json;charset=UTF-8')
      .header(HEADER_MD5, md5Hex(body))
      .send(body);
  }

  private async onUpload(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const ip = plainIp(req.ip);
    const remote = `${ip}:${req.socket.remotePort ?? 0}`;
    if (this.stopped || !this.typer || !this.limiter) return this.send(reply, Code.SYSTEM_ERROR);
    const limiter = this.limiter;
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const nowMs = Date.now();
    const result = checkUpload(
      raw,
      { md5: firstHeader(req.headers[HEADER_MD5]), auth: firstHeader(req.headers[HEADER_AUTH]) },
      {
        typer: this.typer,
        authFor: (id) => this.authFor(id),
        allow: (id) => limiter.allow(id, nowMs),
        maxClockSkewS: this.context.config.maxClockSkewS,
        nowMs,
      },
    );
    if (!result.ok) {
      this.context.metrics.messageIn('unknown');
      const where = result.gantryId === undefined ? { remote } : { deviceId: result.gantryId, remote };
      // Every refusal is reported, 1005 included: it costs the sender a whole request, as a bad
      // MD5 does, so bridge/event grows no faster than the refused traffic itself.
      if (result.code === Code.NO_RIGHT) this.context.events.authFailed(result.detail, where);
      else this.context.events.protocolError(result.reason, where);
      this.context.logger.debug({ ...where, code: result.code, reason: result.reason }, result.detail);
      return this.send(reply, result.code);
    }
    const { upload } = result;
    this.context.metrics.messageIn(upload.method);
    const handle = this.heard(upload, ip, remote);
    try {
      const data = await this.handlers[upload.method]({ upload, handle });
      return this.send(reply, Code.OK, data);
    } catch (err) {
      handle.logger.warn({ err, method: upload.method }, 'gantry upload not handed over; answered 1008');
      return this.send(reply, Code.SYSTEM_ERROR);
    }
  }

  /** Every accepted upload keeps its gantry online; the first one (again) connects it. */
  private heard(upload: Upload, ip: string, remote: string): DeviceHandle {
    const { gantryId, version } = upload;
    const previous = this.lastUploads.get(gantryId);
    this.lastUploads.set(gantryId, { version, ip });
    const handle = this.context.devices.get(gantryId);
    if (handle) {
      handle.touch();
      if (previous?.ip !== ip || previous.version !== version) handle.updateInfo({ version, ip });
      return handle;
    }
    const intervalS = this.override(gantryId)?.reportIntervalS ?? this.context.config.reportIntervalS;
    return this.context.devices.connect({ deviceId: gantryId, remote, info: { version, ip } }, this.control, { livenessMs: intervalS * 3000 });
  }

  private typed(upload: Upload): Typed {
    const typed = (this.typer as FieldTyper).upload(upload.method, upload.body);
    if (typed.undeclared.length > 0) {
      this.context.logger.debug({ deviceId: upload.gantryId, fields: typed.undeclared }, 'undeclared gantry fields passed on as sent');
    }
    return typed;
  }

  private async statusUpdate(
    { upload, handle }: Accepted,
    field: 'computerStatus' | 'cabinetStatus',
    section: 'computers' | 'cabinets',
  ): Promise<undefined> {
    const typed = this.typed(upload);
    // Same bytes again (the device missed our answer and retried): answered, not published twice.
    await handle.dedupe(`${upload.method}:${upload.md5}`, async () => {
      await handle.uplink(upload.method, typed.data, { raw: upload.raw });
      const state = this.stateOf(upload);
      const entries = typed.data[field];
      const list = Array.isArray(entries) ? entries : [entries];
      list.forEach((entry, i) => {
        if (!isObject(entry)) return;
        const prefix = Array.isArray(entries) ? `${field}[${i}]` : field;
        const quality = qualityUnder(typed.quality, prefix);
        const id = typeof entry.id === 'string' && entry.id !== '' ? entry.id : String(i + 1);
        state[section][id] = { ...entry, ...(quality ? { quality } : {}), updatedAt: state.updatedAt };
      });
      await this.publishState(handle, state);
    }, { scope: 'device' });
    return undefined;
  }

  private async cardQuery({ upload, handle }: Accepted): Promise<JsonObject> {
    const typed = this.typed(upload);
    const curVersion = currentCardVersion(isObject(upload.body.data) ? upload.body.data : {});
    // Not deduplicated: a query only reads, and a repeated one deserves the whitelist as it is now.
    const held = this.whitelists.get(upload.gantryId);
    let answer: JsonObject;
    if (held) {
      await handle.uplink(upload.method, typed.data, { raw: upload.raw });
      answer = cardAnswer(curVersion, held);
    } else {
      const fallback = cardAnswer(curVersion, undefined);
      const reply = await handle.request(upload.method, typed.data, fallback, { raw: upload.raw });
      try {
        answer = cardAnswerFromPlatform(reply.data, curVersion);
      } catch (err) {
        handle.logger.warn({ err }, 'the platform answer to queryAndGetCardInfo is not a whitelist; answered 0');
        answer = fallback;
      }
    }
    const state = this.stateOf(upload);
    state.cardVersion = curVersion;
    await this.publishState(handle, state);
    return answer;
  }

  private stateOf(upload: Upload): GantryState {
    let state = this.states.get(upload.gantryId);
    if (!state) {
      state = { version: upload.version, updatedAt: '', computers: {}, cabinets: {} };
      this.states.set(upload.gantryId, state);
    }
    state.version = upload.version;
    state.updatedAt = new Date().toISOString();
    return state;
  }

  /** The event already went out; a state that fails to go is refreshed by the next upload. */
  private async publishState(handle: DeviceHandle, state: GantryState): Promise<void> {
    try {
      await handle.setState({ ...state });
    } catch (err) {
      handle.logger.warn({ err }, 'gantry state not published');
    }
  }

  /** The core sends a command here only while the gantry is online (so its {ip} is known) or has a
   *  control URL without {ip} (DESIGN.md "Commands"). */
  private controlUrl(gantryId: string): string {
    const template = this.override(gantryId)?.controlUrl ?? this.context.config.controlUrl;
    const ip = this.lastUploads.get(gantryId)?.ip ?? '';
    return template.replaceAll('{ip}', hostForUrl(ip)).replaceAll('{gantryId}', encodeURIComponent(gantryId));
  }

  private async execute(command: DeviceCommand): Promise<CommandAnswer> {
    const { deviceId, name, data, signal } = command;
    const typer = this.typer;
    if (!typer) throw new CommandError('offline', 'the gantry adapter is not started');
    const url = this.controlUrl(deviceId);
    const auth = this.authFor(deviceId);
    const request = encodeControlRequest({
      gantryId: deviceId,
      method: name,
      data,
      version: this.lastUploads.get(deviceId)?.version ?? DEFAULT_VERSION,
      nowMs: Date.now(),
      auth,
      timeZone: this.context.deviceTimeZone,
    });
    this.context.metrics.messageOut(name);
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers: request.headers, body: new Uint8Array(request.body), signal });
    } catch (err) {
      if (signal.aborted) throw err;
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new CommandError('offline', `gantry ${deviceId} cannot be reached at ${url}: ${cause}`);
    }
    const where = { deviceId, remote: new URL(url).host };
    const body = await readLimited(res, this.context.config.maxAnswerBytes);
    if (body === undefined) {
      this.context.events.protocolError('oversize', where);
      return { ok: false, code: null, message: `answer larger than gantry.maxAnswerBytes (${this.context.config.maxAnswerBytes})`, data: null };
    }
    const { problem, ...answer } = decodeControlAnswer(
      name,
      { status: res.status, header: (h) => res.headers.get(h) ?? undefined, body },
      { typer, auth },
    );
    // A gantry's own error code (1007, 1009) is an answer; an answer that breaks the protocol is
    // bad input like a bad upload, and is reported the same way besides the `device` reply.
    if (problem === 'bad_auth') this.context.events.authFailed(answer.message ?? problem, where);
    else if (problem !== undefined) this.context.events.protocolError(problem, where);
    return answer;
  }
}

export function createGantryAdapter(context: AdapterContext<GantryConfig>): GantryAdapter {
  return new GantryAdapter(context);
}

// The gantry wire protocol: upload checks and answers (decode side), control requests and the
// reading of their answers (encode side), and the door-card whitelist answer. No I/O here: the
// adapter feeds bytes and headers in and sends what comes out.
import { hash, timingSafeEqual } from 'node:crypto';
import type { CommandAnswer, JsonObject } from '../../src/adapter.js';
import { ProtocolError, type ProtocolReason } from '../../src/errors.js';
import { isObject, parseJson as parseSafeJson, trimKeys } from '../../src/json.js';
import {
  CODE_MESSAGES,
  Code,
  HEADER_AUTH,
  HEADER_MD5,
  KNOWN_VERSIONS,
  UPLOAD_METHODS,
  type BusinessCode,
  type UploadMethod,
} from './constants.js';
import { FieldTyper } from './typing.js';
import { isIsoInstant, toDeviceTime } from '../../src/clock.js';
import { isValidTopicLevel } from '../../src/topics.js';

/** Parses device JSON, refusing prototype-poisoning keys; the size bound was checked before the
 *  bytes were buffered (the HTTP body limit, gantry.maxAnswerBytes). Throws ProtocolError. */
export function parseJson(text: string | Buffer): unknown {
  return parseSafeJson(text, Number.POSITIVE_INFINITY);
}

export function md5Hex(bytes: Buffer | string): string {
  // One-shot: a Hash object per upload showed in the gantry profile.
  return hash('md5', bytes, 'hex');
}

/** Compares secrets in constant time: hashing first gives equal-length inputs whatever was sent. */
export function secretMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  let a = expectedDigests.get(expected);
  if (!a) {
    a = hash('sha256', expected, 'buffer');
    expectedDigests.set(expected, a);
  }
  return timingSafeEqual(a, hash('sha256', given, 'buffer'));
}

/** Digests of the configured secrets (few: a default and the per-gantry codes). */
const expectedDigests = new Map<string, Buffer>();

/** `binfile-md5` is the MD5 of the raw body bytes; devices write it in either case. */
export function md5Matches(bytes: Buffer, header: string | undefined, md5 = md5Hex(bytes)): boolean {
  if (header === undefined || !/^[0-9a-fA-F]{32}$/.test(header.trim())) return false;
  return timingSafeEqual(Buffer.from(md5, 'hex'), Buffer.from(header.trim(), 'hex'));
}

/** The answer body exactly as the seeds write it: string code, the seed's own msg. */
export function answerBody(code: BusinessCode, data?: JsonObject): string {
  return JSON.stringify(data === undefined ? { code, msg: CODE_MESSAGES[code] } : { code, msg: CODE_MESSAGES[code], data });
}

/** Per-key token bucket: `perMinute` requests, refilled evenly; 0 turns it off. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 10_000,
  ) {}

  allow(key: string, nowMs: number, perMinute = this.perMinute): boolean {
    if (perMinute <= 0) return true;
    const bucket = this.buckets.get(key) ?? { tokens: perMinute, at: nowMs };
    bucket.tokens = Math.min(perMinute, bucket.tokens + ((nowMs - bucket.at) * perMinute) / 60_000);
    bucket.at = nowMs;
    if (!this.buckets.has(key)) {
      if (this.buckets.size >= this.maxKeys) this.prune(nowMs);
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Drops buckets that have refilled: they hold nothing a new bucket would not. */
  private prune(nowMs: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((nowMs - bucket.at) * this.perMinute) / 60_000 >= this.perMinute) this.buckets.delete(key);
    }
    if (this.buckets.size >= this.maxKeys) this.buckets.clear();
  }
}

export interface Upload {
  gantryId: string;
  method: UploadMethod;
  version: string;
  /** Device clock, Unix seconds. */
  timeStamp: number;
  /** The body with every key trimmed (values as sent). */
  body: JsonObject;
  /** The body as the device sent it, for `output.includeRaw`. */
  raw: unknown;
  md5: string;
}

export type Refusal = {
  ok: false;
  code: BusinessCode;
  /** For metrics and `bridge/event`; `bad_auth` is an `auth_failed`. */
  reason: ProtocolReason | 'bad_auth';
  detail: string;
  gantryId?: string;
};
export type CheckResult = { ok: true; upload: Upload } | Refusal;

export interface CheckOptions {
  typer: FieldTyper;
  /** The binfile-auth expected from this gantry. */
  authFor(gantryId: string): string;
  /** Rate bound per gantry; false answers 1005. */
  allow(gantryId: string): boolean;
  maxClockSkewS: number;
  nowMs: number;
}

function refuse(code: BusinessCode, reason: Refusal['reason'], detail: string, gantryId?: string): Refusal {
  return gantryId === undefined ? { ok: false, code, reason, detail } : { ok: false, code, reason, detail, gantryId };
}

const UPLOAD_METHOD_SET: ReadonlySet<string> = new Set(UPLOAD_METHODS);

/** A device clock written in milliseconds (13 digits) is read as such rather than as 1e12 seconds. */
function unixSeconds(value: unknown): number | undefined {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d{1,19}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1e11 ? Math.floor(n / 1000) : n;
}

/** Runs every check of an upload, in the order that spends least on a bad request: integrity,
 *  parse, identity, authority, rate, version, clock, then the fields. */
export function checkUpload(raw: Buffer, headers: { md5?: string; auth?: string }, options: CheckOptions): CheckResult {
  if (headers.md5 === undefined) return refuse(Code.BAD_SIGNATURE, 'missing_md5', `no ${HEADER_MD5} header`);
  const md5 = md5Hex(raw);
  if (!md5Matches(raw, headers.md5, md5)) return refuse(Code.BAD_SIGNATURE, 'bad_md5', `${HEADER_MD5} does not match the body`);
  let parsed: unknown;
  let body: unknown;
  try {
    parsed = parseJson(raw.toString('utf8'));
    body = trimKeys(parsed);
  } catch (err) {
    const reason = err instanceof ProtocolError ? err.reason : 'bad_json';
    return refuse(Code.BAD_PARAMS, reason, err instanceof Error ? err.message : String(err));
  }
  if (!isObject(body)) return refuse(Code.BAD_PARAMS, 'bad_json', 'the body is not a JSON object');
  const gantryId = body.gantryId;
  if (!isValidTopicLevel(gantryId)) return refuse(Code.BAD_PARAMS, 'bad_identity', 'gantryId is missing or not a valid topic level');
  if (!secretMatches(options.authFor(gantryId), headers.auth)) {
    return refuse(Code.NO_RIGHT, 'bad_auth', `${HEADER_AUTH} is ${headers.auth === undefined ? 'missing' : 'wrong'}`, gantryId);
  }
  if (!options.allow(gantryId)) return refuse(Code.TOO_FREQUENT, 'rate_limited', 'too many requests', gantryId);
  const version = typeof body.version === 'string' ? body.version.trim() : typeof body.version === 'number' ? String(body.version) : undefined;
  if (version === undefined) return refuse(Code.BAD_PARAMS, 'missing_fields', 'version is missing', gantryId);
  if (!KNOWN_VERSIONS.includes(version)) return refuse(Code.UNKNOWN_VERSION, 'unknown_version', `version ${version} is not one of ${KNOWN_VERSIONS.join(', ')}`, gantryId);
  const timeStamp = unixSeconds(body.timeStamp);
  if (timeStamp === undefined) return refuse(Code.BAD_PARAMS, 'missing_fields', 'timeStamp is missing or not Unix seconds', gantryId);
  if (options.maxClockSkewS > 0 && Math.abs(options.nowMs / 1000 - timeStamp) > options.maxClockSkewS) {
    return refuse(Code.CLOCK_SKEW, 'clock_skew', `timeStamp ${timeStamp} is more than ${options.maxClockSkewS} s off`, gantryId);
  }
  const method = typeof body.method === 'string' ? body.method.trim() : '';
  if (!UPLOAD_METHOD_SET.has(method)) return refuse(Code.BAD_PARAMS, 'unknown_method', `method ${JSON.stringify(method)} is not an upload`, gantryId);
  const missing = options.typer.missing(method, body);
  if (missing.length > 0) return refuse(Code.BAD_PARAMS, 'missing_fields', `missing ${missing.join(', ')}`, gantryId);
  return {
    ok: true,
    upload: { gantryId, method: method as UploadMethod, version, timeStamp, body, raw: parsed, md5 },
  };
}

// ---- door-card whitelist (queryAndGetCardInfo) ----

export interface CardInfo {
  cardId: string;
  validTime: string;
  invalidTime: string;
}
export interface Whitelist {
  latestVersion: string;
  cardInfos: CardInfo[];
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Reads a whitelist as held on MQTT or answered by the platform; throws naming what is wrong. */
export function parseWhitelist(value: unknown): Whitelist {
  const t = trimKeys(value);
  if (!isObject(t)) throw new Error('a whitelist must be an object {latestVersion, cardInfos}');
  const latestVersion = text(t.latestVersion);
  if (!latestVersion) throw new Error('latestVersion is missing');
  if (!Array.isArray(t.cardInfos)) throw new Error('cardInfos must be an array');
  const cardInfos = t.cardInfos.map((card, i): CardInfo => {
    const c = isObject(card) ? card : {};
    const cardId = text(c.cardId);
    const validTime = text(c.validTime);
    const invalidTime = text(c.invalidTime);
    if (!cardId || validTime === undefined || invalidTime === undefined) {
      throw new Error(`cardInfos[${i}] needs cardId, validTime and invalidTime`);
    }
    return { cardId, validTime, invalidTime };
  });
  return { latestVersion, cardInfos };
}

/** The device writes 0 when it has no list yet; an unreadable version is treated the same way. */
export function currentCardVersion(data: JsonObject): string {
  const v = text(data.curVersion);
  return v === undefined || v === '' ? '0' : v;
}

/** yyyyMMddHHmmss versions compare as strings (DESIGN.md "Device requests"). */
export function cardAnswer(curVersion: string, whitelist: Whitelist | undefined): JsonObject {
  if (whitelist && whitelist.latestVersion > curVersion) {
    return { isExistLatestVersion: 1, latestVersion: whitelist.latestVersion, cardInfos: whitelist.cardInfos };
  }
  return { isExistLatestVersion: 0 };
}

/** The platform may answer in the device's own shape (the seed's example, stray spaces and string
 *  flag included) or hand over a whitelist; either way the device gets clean keys and an integer. */
export function cardAnswerFromPlatform(reply: unknown, curVersion: string): JsonObject {
  const t = trimKeys(reply);
  if (!isObject(t)) return { isExistLatestVersion: 0 };
  if (t.isExistLatestVersion === undefined) {
    return t.latestVersion === undefined ? { isExistLatestVersion: 0 } : cardAnswer(curVersion, parseWhitelist(t));
  }
  if (text(t.isExistLatestVersion) !== '1') return { isExistLatestVersion: 0 };
  const list = parseWhitelist(t);
  return { isExistLatestVersion: 1, latestVersion: list.latestVersion, cardInfos: list.cardInfos };
}

// ---- control requests (encode) ----

/** Every value of the protocol is a string; callers may write numbers, the device gets strings. */
function stringify(value: unknown): unknown {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(stringify);
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stringify(v)]));
  return value;
}

export function commandData(method: string, data: JsonObject, timeZone: string): JsonObject {
  const out = stringify(data) as JsonObject;
  // An event gives door times as ISO 8601; the device looks them up by its own wall clock.
  if (method === 'getCabinetImageVedio' && typeof out.doorOpenTime === 'string' && isIsoInstant(out.doorOpenTime)) {
    out.doorOpenTime = toDeviceTime(out.doorOpenTime, timeZone) ?? out.doorOpenTime;
  }
  return out;
}

export interface ControlRequest {
  body: Buffer;
  headers: Record<string, string>;
}

export function encodeControlRequest(p: {
  gantryId: string;
  method: string;
  data: JsonObject;
  version: string;
  nowMs: number;
  auth: string;
  timeZone: string;
}): ControlRequest {
  const body = Buffer.from(
    JSON.stringify({
      gantryId: p.gantryId,
      method: p.method,
      timeStamp: String(Math.floor(p.nowMs / 1000)),
      version: p.version,
      [p.method]: commandData(p.method, p.data, p.timeZone),
    }),
    'utf8',
  );
  return {
    body,
    headers: {
      'content-type': 'application/json;charset=UTF-8',
      [HEADER_MD5]: md5Hex(body),
      [HEADER_AUTH]: p.auth,
    },
  };
}

// ---- control answers (decode) ----

export interface ControlResponse {
  status: number;
  header(name: string): string | undefined;
  body: Buffer;
}

/** `attachment;filename=G000211001002110010_20191103120000123.jpg`, quoted or RFC 5987 encoded. */
export function attachmentFilename(disposition: string | undefined): string | undefined {
  if (!disposition) return undefined;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      return star[1].trim();
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/.exec(disposition);
  return (plain?.[2] ?? plain?.[1])?.trim();
}

function looksJson(res: ControlResponse): boolean {
  const type = res.header('content-type') ?? '';
  if (/json/i.test(type)) return true;
  if (res.header(HEADER_MD5) !== undefined || /attachment/i.test(res.header('content-disposition') ?? '')) return false;
  // v0.37 answers 1009 with an image Content-Type and a JSON body: the bytes decide.
  const first = res.body.subarray(0, 64).toString('utf8').trimStart();
  return first.startsWith('{');
}

function numericCode(code: unknown): number | string | null {
  if (typeof code === 'number') return code;
  if (typeof code !== 'string') return null;
  const t = code.trim();
  return /^\d+$/.test(t) ? Number(t) : t;
}

/** A control answer, and when the gantry broke the protocol in it (rather than answering an error
 *  code of its own), the reason to report on `bridge/event`. */
export type DecodedAnswer = CommandAnswer & { problem?: ProtocolReason | 'bad_auth' };

/** Maps a device's answer to a command onto CommandAnswer; a file goes to `media/{method}`. */
export function decodeControlAnswer(
  method: string,
  res: ControlResponse,
  options: { typer: FieldTyper; auth: string },
): DecodedAnswer {
  if (looksJson(res)) {
    let parsed: unknown;
    try {
      parsed = trimKeys(parseJson(res.body.toString('utf8')));
    } catch (err) {
      const problem = err instanceof ProtocolError && err.reason === 'unsafe_key' ? 'unsafe_key' : 'bad_json';
      return { ok: false, code: null, message: `unreadable JSON answer: ${err instanceof Error ? err.message : String(err)}`, data: null, problem };
    }
    if (!isObject(parsed)) return { ok: false, code: null, message: 'the answer is not a JSON object', data: null, problem: 'bad_json' };
    const { code, msg, ...rest } = parsed;
    const typed = options.typer.commandAnswer(method, rest);
    const data = Object.keys(typed.data).length > 0 ? typed.data : null;
    const message = typeof msg === 'string' ? msg : null;
    if (code === undefined) return { ok: false, code: null, message: message ?? `HTTP ${res.status} answer without a code`, data, problem: 'missing_fields' };
    return { ok: String(code).trim() === Code.OK, code: numericCode(code), message, data };
  }
  if (res.status < 200 || res.status >= 300) return { ok: false, code: null, message: `HTTP ${res.status}`, data: null, problem: 'bad_answer' };
  const md5 = md5Hex(res.body);
  const file = {
    filename: attachmentFilename(res.header('content-disposition')) ?? `${method}.bin`,
    contentType: res.header('content-type') ?? 'application/octet-stream',
    bytes: res.body.length,
    md5,
  };
  const sentMd5 = res.header(HEADER_MD5);
  if (sentMd5 === undefined) return { ok: false, code: null, message: `file answer without ${HEADER_MD5}`, data: file, problem: 'missing_md5' };
  if (!md5Matches(res.body, sentMd5)) {
    return { ok: false, code: null, message: `${HEADER_MD5} ${sentMd5} does not match the file (${md5})`, data: file, problem: 'bad_md5' };
  }
  const sentAuth = res.header(HEADER_AUTH);
  if (sentAuth !== undefined && !secretMatches(options.auth, sentAuth)) {
    return { ok: false, code: null, message: `${HEADER_AUTH} of the file answer is wrong`, data: file, problem: 'bad_auth' };
  }
  return {
    ok: true,
    code: null,
    message: null,
    data: file,
    file: { field: method, bytes: res.body },
  };
}

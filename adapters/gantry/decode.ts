// Reading what a gantry sends: the checks of an upload, in the order that spends least on a bad
// request, and its answer to a control request. No I/O here: the adapter feeds bytes and headers in.
import type { CommandAnswer, JsonObject } from '../../src/adapter.js';
import { ProtocolError, type ProtocolReason } from '../../src/errors.js';
import { isObject, parseJson as parseSafeJson, trimKeys } from '../../src/json.js';
import { isValidTopicLevel } from '../../src/topics.js';
import { Code, HEADER_AUTH, HEADER_MD5, KNOWN_VERSIONS, UPLOAD_METHODS, type BusinessCode, type UploadMethod } from './constants.js';
import { md5Hex, md5Matches, secretMatches } from './sign.js';
import type { FieldTyper } from './typing.js';

/** Parses device JSON, refusing prototype-poisoning keys; the size bound was checked before the
 *  bytes were buffered (the HTTP body limit, gantry.maxAnswerBytes). Throws ProtocolError. */
export function parseJson(text: string | Buffer): unknown {
  return parseSafeJson(text, Number.POSITIVE_INFINITY);
}

// ---- uploads ----

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

type Refusal = {
  ok: false;
  code: BusinessCode;
  /** For metrics and `bridge/event`; `bad_auth` is an `auth_failed`. */
  reason: ProtocolReason | 'bad_auth';
  detail: string;
  gantryId?: string;
};
type CheckResult = { ok: true; upload: Upload } | Refusal;

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

// ---- the answer to a control request ----

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
type DecodedAnswer = CommandAnswer & { problem?: ProtocolReason | 'bad_auth' };

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

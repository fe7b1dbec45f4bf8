// The control client, the session of every gantry: a gantry keeps no connection, so each command is
// an HTTP POST to its control URL, whose answer is read within gantry.maxAnswerBytes and decoded.
import type { AdapterContext, CommandAnswer, DeviceCommand, DeviceSession } from '../../src/adapter.js';
import { CommandError } from '../../src/errors.js';
import { authOf, overrideOf, type GantryConfig } from './config.js';
import { DEFAULT_VERSION } from './constants.js';
import { decodeControlAnswer } from './decode.js';
import { encodeControlRequest } from './encode.js';
import type { FieldTyper } from './typing.js';

/** What a gantry's latest accepted upload taught: sent back with its commands. */
export interface LastUpload {
  version: string;
  /** Its source address: the {ip} of its control URL. */
  ip: string;
}

function hostForUrl(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
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

export class GantryControl implements DeviceSession {
  constructor(
    private readonly context: AdapterContext<GantryConfig>,
    private readonly lastUploads: ReadonlyMap<string, LastUpload>,
    /** Types the answers as the uploads are typed. */
    private readonly typer: FieldTyper,
  ) {}

  async execute(command: DeviceCommand): Promise<CommandAnswer> {
    const { deviceId, name, data, signal } = command;
    const url = this.controlUrl(deviceId);
    const auth = authOf(this.context.config, deviceId);
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
      { typer: this.typer, auth },
    );
    // A gantry's own error code (1007, 1009) is an answer; an answer that breaks the protocol is
    // bad input like a bad upload, and is reported the same way besides the `device` reply.
    if (problem === 'bad_auth') this.context.events.authFailed(problem, where);
    else if (problem !== undefined) this.context.events.protocolError(problem, where);
    return answer;
  }

  /** Nothing to close: a gantry's commands are requests of their own. */
  close(): void {}

  /** The core sends a command here only while the gantry is online (so its {ip} is known) or has a
   *  control URL without {ip} (DESIGN.md "Commands"). */
  private controlUrl(gantryId: string): string {
    const template = overrideOf(this.context.config, gantryId)?.controlUrl ?? this.context.config.controlUrl;
    const ip = this.lastUploads.get(gantryId)?.ip ?? '';
    return template.replaceAll('{ip}', hostForUrl(ip)).replaceAll('{gantryId}', encodeURIComponent(gantryId));
  }
}

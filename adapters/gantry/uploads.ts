// What a gantry's upload is answered: it is checked (decode.ts), its gantry is heard (connected, or
// kept online), and its method's handler hands it over; http.ts sends the answer.
import type { AdapterContext, DeviceHandle, DeviceSession, JsonObject, PlatformAnswer } from '../../src/adapter.js';
import { isObject } from '../../src/json.js';
import { authOf, overrideOf, type GantryConfig } from './config.js';
import { Code, type BusinessCode, type UploadMethod } from './constants.js';
import type { LastUpload } from './control.js';
import { checkUpload, type Upload } from './decode.js';
import type { RateLimiter } from './rate.js';
import { statusUpload, type GantryStates } from './state.js';
import type { FieldTyper, Typed } from './typing.js';
import { cardAnswer, cardAnswerFromPlatform, currentCardVersion, type Whitelists } from './whitelist.js';

/** An upload as the route received it. */
export interface UploadRequest {
  raw: Buffer;
  md5: string | undefined;
  auth: string | undefined;
  /** The sender's address, as the {ip} of its control URL. */
  ip: string;
  remote: string;
}

/** The answer's business code, and its data where the method answers with some. */
export interface UploadAnswer {
  code: BusinessCode;
  data?: JsonObject;
}

/** What the uploads share with the rest of the adapter. */
interface UploadParts {
  typer: FieldTyper;
  limiter: RateLimiter;
  /** Written here, read by the control client. */
  lastUploads: Map<string, LastUpload>;
  /** The session every gantry is connected with. */
  control: DeviceSession;
  whitelists: Whitelists;
  states: GantryStates;
}

interface Accepted {
  upload: Upload;
  handle: DeviceHandle;
}

type UploadHandler = (accepted: Accepted) => Promise<JsonObject | undefined>;

export class Uploads {
  private readonly handlers: Readonly<Record<UploadMethod, UploadHandler>> = {
    computerStatusUpdate: (a) => this.statusUpdate(a, 'computerStatus', 'computers'),
    cabinetStatusUpdate: (a) => this.statusUpdate(a, 'cabinetStatus', 'cabinets'),
    queryAndGetCardInfo: (a) => this.cardQuery(a),
  };

  constructor(
    private readonly context: AdapterContext<GantryConfig>,
    private readonly parts: UploadParts,
  ) {}

  async answer(req: UploadRequest): Promise<UploadAnswer> {
    const { limiter } = this.parts;
    const nowMs = Date.now();
    const result = checkUpload(
      req.raw,
      { md5: req.md5, auth: req.auth },
      {
        typer: this.parts.typer,
        authFor: (id) => authOf(this.context.config, id),
        allow: (id) => limiter.allow(id, nowMs),
        maxClockSkewS: this.context.config.maxClockSkewS,
        nowMs,
      },
    );
    if (!result.ok) {
      this.context.metrics.messageIn('unknown');
      const where = result.gantryId === undefined ? { remote: req.remote } : { deviceId: result.gantryId, remote: req.remote };
      // Every refusal is reported, 1005 included: it costs the sender a whole request, as a bad
      // MD5 does, so bridge/event grows no faster than the refused traffic itself.
      if (result.reason === 'bad_auth') this.context.events.authFailed(result.reason, where);
      else this.context.events.protocolError(result.reason, where);
      this.context.logger.debug({ ...where, code: result.code, reason: result.reason }, result.detail);
      return { code: result.code };
    }
    const { upload } = result;
    this.context.metrics.messageIn(upload.method);
    const handle = this.heard(upload, req.ip, req.remote);
    try {
      const data = await this.handlers[upload.method]({ upload, handle });
      return { code: Code.OK, data };
    } catch (err) {
      handle.logger.warn({ err, method: upload.method }, 'gantry upload not handed over; answered 1008');
      return { code: Code.SYSTEM_ERROR };
    }
  }

  /** Every accepted upload keeps its gantry online; the first one (again) connects it. */
  private heard(upload: Upload, ip: string, remote: string): DeviceHandle {
    const { gantryId, version } = upload;
    const previous = this.parts.lastUploads.get(gantryId);
    this.parts.lastUploads.set(gantryId, { version, ip });
    const handle = this.context.devices.get(gantryId);
    if (handle) {
      handle.touch();
      if (previous?.ip !== ip || previous.version !== version) handle.updateInfo({ version, ip });
      return handle;
    }
    const intervalS = overrideOf(this.context.config, gantryId)?.reportIntervalS ?? this.context.config.reportIntervalS;
    return this.context.devices.connect({ deviceId: gantryId, remote, info: { version, ip } }, this.parts.control, { livenessMs: intervalS * 3000 });
  }

  private typed(upload: Upload): Typed {
    const typed = this.parts.typer.upload(upload.method, upload.body, true);
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
      // Serialised once: the event's data and the retained state's entries are the same JSON.
      const status = statusUpload(typed, field);
      await handle.uplink(upload.method, typed.data, { raw: upload.raw, dataJson: status.dataJson });
      await this.parts.states.status(handle, upload, status, section);
    }, { scope: 'device' });
    return undefined;
  }

  private async cardQuery({ upload, handle }: Accepted): Promise<JsonObject> {
    const typed = this.typed(upload);
    const curVersion = currentCardVersion(isObject(upload.body.data) ? upload.body.data : {});
    // Not deduplicated: a query only reads, and a repeated one deserves the whitelist as it is now.
    const held = this.parts.whitelists.get(upload.gantryId);
    let answer: JsonObject;
    let source: 'whitelist' | PlatformAnswer['source'];
    if (held) {
      await handle.uplink(upload.method, typed.data, { raw: upload.raw });
      answer = cardAnswer(curVersion, held);
      source = 'whitelist';
    } else {
      const fallback = cardAnswer(curVersion, undefined);
      const reply = await handle.request(upload.method, typed.data, fallback, { raw: upload.raw });
      source = reply.source;
      try {
        answer = cardAnswerFromPlatform(reply.data, curVersion);
      } catch (err) {
        handle.logger.warn({ err }, 'the platform answer to queryAndGetCardInfo is not a whitelist; answered 0');
        answer = fallback;
        source = 'fallback';
      }
    }
    await this.parts.states.cardVersion(handle, upload, curVersion);
    // Beside `command answered` and `platform reply`: which list a gantry was given, found by its
    // id and the query's own timeStamp and binfile-md5 when it seems not to have its cards.
    const cards = Array.isArray(answer.cardInfos) ? answer.cardInfos.length : 0;
    const { isExistLatestVersion, latestVersion } = answer;
    handle.logger.debug({ name: upload.method, timeStamp: upload.timeStamp, md5: upload.md5, curVersion, source, isExistLatestVersion, latestVersion, cards }, 'whitelist answered');
    return answer;
  }
}

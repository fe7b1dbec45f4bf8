// The gantry adapter: ETC gantry cabinets and computers upload over HTTP POST /monitor.do on the
// gateway's shared HTTP server; commands go back as HTTP POSTs to each gantry's control URL.
// The parts: http.ts (routes) → uploads.ts (state.ts, whitelist.ts); control.ts (commands).
import type { Adapter, AdapterContext } from '../../src/adapter.js';
import { checkGantryOverrides, type GantryConfig } from './config.js';
import { Code } from './constants.js';
import { GantryControl, type LastUpload } from './control.js';
import { uploadRoutes } from './http.js';
import { RateLimiter } from './rate.js';
import { GantryStates } from './state.js';
import { FieldTyper } from './typing.js';
import { Uploads } from './uploads.js';
import { Whitelists, type Whitelist } from './whitelist.js';

export class GantryAdapter implements Adapter {
  readonly id = 'gantry';
  private readonly context: AdapterContext<GantryConfig>;
  private stopped = false;
  /** Per gantry, kept after it went offline: its version goes with its commands. */
  private readonly lastUploads = new Map<string, LastUpload>();
  private readonly states = new GantryStates();
  private readonly whitelists = new Whitelists();

  constructor(context: AdapterContext<GantryConfig>) {
    this.context = context;
  }

  async start(): Promise<string | undefined> {
    const { config } = this.context;
    checkGantryOverrides(config.gantries);
    this.stopped = false;
    const typer = new FieldTyper(this.context.mappings.read<unknown>('fields'), this.context.deviceTimeZone);
    // The session of every gantry: a gantry has no connection, its commands are HTTP requests.
    const control = new GantryControl(this.context, this.lastUploads, typer);
    const limiter = new RateLimiter(config.maxRequestsPerMinute);
    const { lastUploads, whitelists, states } = this;
    const uploads = new Uploads(this.context, { typer, limiter, lastUploads, control, whitelists, states });
    await this.context.http.register(uploadRoutes(this.context, async (req) => (this.stopped ? { code: Code.SYSTEM_ERROR } : uploads.answer(req))));
    this.context.watch('whitelist', (gantryId, payload) => this.whitelists.hold(gantryId, payload));
    // A gantry whose control URL needs no {ip} takes commands before (and between) its uploads.
    for (const [gantryId, override] of Object.entries(config.gantries)) {
      if (override.controlUrl !== undefined && !override.controlUrl.includes('{ip}')) this.context.devices.reachable(gantryId, control);
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  /** The whitelist held for a gantry, if any (what its next queryAndGetCardInfo is answered from). */
  whitelist(gantryId: string): Readonly<Whitelist> | undefined {
    return this.whitelists.get(gantryId);
  }
}

export function createGantryAdapter(context: AdapterContext<GantryConfig>): GantryAdapter {
  return new GantryAdapter(context);
}

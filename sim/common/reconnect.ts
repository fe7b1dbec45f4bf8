// A simulated device's connection kept up the way a real device keeps its own: when it cannot
// connect or its connection ends, it pauses, tries again, and identifies itself from scratch, since
// the gateway on the other end may be a new process that knows nothing of it (a new qyzn secret,
// no session). The simulator CLIs run their devices through this. The simulator classes do not:
// a test that closes a device, or has the gateway close it, wants it to stay closed.

export interface Backoff {
  /** Pause before the first retry. */
  firstMs: number;
  /** The pause doubles at each failed attempt, up to this. */
  maxMs: number;
  /** Each pause is up to this share shorter or longer: a fleet cut off at once does not come
   *  back in one burst. */
  jitter: number;
}

export const DEVICE_BACKOFF: Readonly<Backoff> = { firstMs: 1000, maxMs: 10_000, jitter: 0.1 };

/** The pause before retry number `retry` (0 for the first). */
export function retryDelay(retry: number, backoff: Readonly<Backoff> = DEVICE_BACKOFF, random: () => number = Math.random): number {
  const nominal = Math.min(backoff.maxMs, backoff.firstMs * 2 ** retry);
  return Math.round(Math.min(backoff.maxMs, nominal * (1 + backoff.jitter * (2 * random() - 1))));
}

/** What a protocol's simulator says about one device's connection. */
export interface DeviceLink {
  /** Names the device in the log lines. */
  readonly name: string;
  /** Connects and identifies (register, login, hello), as at power-on; rejects when it could not. */
  up(): Promise<void>;
  /** Resolves, with why, once the connection `up` made has ended. */
  down(): Promise<string>;
  /** Ends what a failed `up` left open, before the next attempt. */
  drop(): Promise<void>;
}

export interface KeepOptions {
  /** false: no second attempt, the device stays down (`--no-reconnect`). */
  reconnect: boolean;
  /** One line per ended connection or failed attempt, and per reconnection. */
  log(line: string): void;
  backoff?: Readonly<Backoff>;
}

const STOPPED = Symbol('stopped');

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/** One device kept connected until stop(). */
export class KeptLink {
  /** Up and identified, and that connection has not ended yet. */
  online = false;
  /** How many times it came up. */
  ups = 0;
  readonly done: Promise<void>;
  private stopped = false;
  private endStop: () => void = () => undefined;
  private readonly stopping: Promise<typeof STOPPED>;
  private endPause: (() => void) | undefined;

  constructor(
    readonly link: DeviceLink,
    private readonly options: KeepOptions,
  ) {
    this.stopping = new Promise((resolve) => (this.endStop = () => resolve(STOPPED)));
    this.done = this.run();
  }

  /** No attempt after this: a pause before the next one ends at once, an attempt under way is let
   *  finish. Resolves when the loop has ended, so that what the caller closes next stays closed. */
  stop(): Promise<void> {
    this.stopped = true;
    this.endStop();
    this.endPause?.();
    return this.done;
  }

  private async run(): Promise<void> {
    let retry = 0;
    let retrying = false;
    while (!this.stopped) {
      let why: string;
      try {
        await this.link.up();
        this.ups += 1;
        this.online = true;
        retry = 0;
        // After any attempt that ended, the first one up included (a gateway stopped during its
        // login): the line that closes what the "reconnecting" lines opened.
        if (retrying) this.options.log(`${this.link.name}: reconnected`);
        const down = this.link.down().finally(() => (this.online = false));
        const ended = await Promise.race([down, this.stopping]);
        if (ended === STOPPED) return;
        why = ended;
      } catch (err) {
        why = err instanceof Error ? err.message : String(err);
        await this.link.drop().catch(() => undefined);
      }
      if (this.stopped) return;
      if (!this.options.reconnect) {
        this.options.log(`${this.link.name}: ${why}`);
        return;
      }
      const delay = retryDelay(retry, this.options.backoff);
      retry += 1;
      retrying = true;
      this.options.log(`${this.link.name}: ${why}, reconnecting in ${seconds(delay)} s`);
      await this.pause(delay);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.endPause?.(), ms);
      this.endPause = () => {
        clearTimeout(timer);
        this.endPause = undefined;
        resolve();
      };
    });
  }
}

/** A CLI's devices, each kept connected, until Ctrl-C, SIGTERM or the duration (and, without
 *  reconnect, until every one has gone down for good). */
export class Fleet {
  readonly links: readonly KeptLink[];

  constructor(links: readonly DeviceLink[], options: KeepOptions) {
    this.links = links.map((link) => new KeptLink(link, options));
  }

  get online(): number {
    return this.links.filter((kept) => kept.online).length;
  }

  /** Devices that did not come up once. */
  get neverUp(): number {
    return this.links.filter((kept) => kept.ups === 0).length;
  }

  /** Resolves once the run is over and every device has stopped trying; nothing is closed yet. */
  async run(durationS: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let onSignal: () => void = () => undefined;
    await new Promise<void>((resolve) => {
      onSignal = resolve;
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      if (durationS > 0) timer = setTimeout(resolve, durationS * 1000);
      void Promise.all(this.links.map((kept) => kept.done)).then(() => resolve());
    });
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all(this.links.map((kept) => kept.stop()));
  }
}

// Multi-instance mode: several gateways on one broker and base topic. A registry in Redis says
// which instance (and which boot of it) holds each device's connection, which instances are alive
// (a lease each), and which one has custody of commands (one more lease). Redis and not the broker:
// what the design needs from a broker (`$share`, retained messages seen from every node) is missing
// in some of the brokers it must run on (docs/scale-out.md), while atomic records with
// compare-and-delete work the same everywhere.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { InstanceError } from './errors.js';

export interface InstanceIdentity {
  /** instance.id, or `{hostname}-{http.port}`. */
  id: string;
  /** Random per start: a restarted instance is told apart from the one that died. */
  bootId: string;
  /** mqtt.clientId, or `gate2mqtt-{id}`. */
  clientId: string;
}

export function instanceIdentity(config: Readonly<GatewayConfig>): InstanceIdentity {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-');
  const id = config.instance.id || `${host}-${config.http.port}`;
  return { id, bootId: randomBytes(6).toString('hex'), clientId: config.mqtt.clientId || `gate2mqtt-${id}` };
}

/** `{id}/{boot}`: what the registry's records name. Instance ids have no "/". */
export function holderOf(identity: Pick<InstanceIdentity, 'id' | 'bootId'>): string {
  return `${identity.id}/${identity.bootId}`;
}

export function instanceOfHolder(holder: string): string {
  return holder.slice(0, holder.lastIndexOf('/'));
}

// The Lua scripts run atomically in Redis: no record is read and then written by two instances
// interleaved. Keys are built here with the prefix (not ioredis's keyPrefix), since the scripts
// also name keys they compute.

/** A live holder: the instance's lease still names that boot. */
const LIVE = `
local function live(prefix, holder)
  local slash = string.find(holder, '/[^/]*$')
  if not slash then return false end
  return redis.call('GET', prefix .. 'instance:' .. string.sub(holder, 1, slash - 1)) == string.sub(holder, slash + 1)
end
`;

const SCRIPTS = {
  // KEYS: owner record, the claimer's set of devices. ARGV: holder, member. The newest connection
  // wins, as within one instance; the previous holder is returned to be told.
  claim: {
    numberOfKeys: 2,
    lua: `local old = redis.call('GET', KEYS[1]); redis.call('SET', KEYS[1], ARGV[1]); redis.call('SADD', KEYS[2], ARGV[2]); return old`,
  },
  // KEYS: owner record, the releaser's set. ARGV: holder, member. 1 when the record was still ours.
  release: {
    numberOfKeys: 2,
    lua: `redis.call('SREM', KEYS[2], ARGV[2]); if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]); return 1 end; return 0`,
  },
  // KEYS: owner record. ARGV: prefix. The holder if it is alive.
  owner: {
    numberOfKeys: 1,
    lua: `${LIVE} local v = redis.call('GET', KEYS[1]); if v and live(ARGV[1], v) then return v end; return false`,
  },
  // KEYS: lease. ARGV: value, ms. 1 kept (it never left us), 2 taken (it was free), 0 another's.
  lease: {
    numberOfKeys: 1,
    lua: `local v = redis.call('GET', KEYS[1]); if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]); return 1 end; if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]); return 2 end; return 0`,
  },
  // KEYS: a retransmission key. ARGV: holder, ms. 'run' when it is this caller's to run now,
  // 'done' when some instance published it, 'wait' while another runs it.
  seen: {
    numberOfKeys: 1,
    lua: `if redis.call('SET', KEYS[1], 'pending:' .. ARGV[1], 'PX', ARGV[2], 'NX') then return 'run' end; if redis.call('GET', KEYS[1]) == 'done' then return 'done' end; return 'wait'`,
  },
  // KEYS: lease. ARGV: value. Deleted only if ours.
  drop: {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]); return 1 end; return 0`,
  },
  // KEYS: the boots set. ARGV: prefix. Every live holder.
  liveHolders: {
    numberOfKeys: 1,
    lua: `${LIVE} local out = {}; for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do if live(ARGV[1], h) then table.insert(out, h) end end; return out`,
  },
  // KEYS: the boots set. ARGV: prefix, a holder. Releases the devices a dead holder still holds
  // and forgets it; returns them (false when the holder is alive after all).
  reap: {
    numberOfKeys: 1,
    lua: `${LIVE}
if live(ARGV[1], ARGV[2]) then return false end
local owned = ARGV[1] .. 'owned:' .. ARGV[2]
local out = {}
for _, d in ipairs(redis.call('SMEMBERS', owned)) do
  local k = ARGV[1] .. 'owner:' .. d
  if redis.call('GET', k) == ARGV[2] then redis.call('DEL', k); table.insert(out, d) end
end
redis.call('DEL', owned)
redis.call('SREM', KEYS[1], ARGV[2])
return out`,
  },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type Scripted = Redis & Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>;

export interface RegistryOptions {
  url: string;
  /** Empty: `gate2mqtt:{base}:`. */
  prefix: string;
  base: string;
  identity: InstanceIdentity;
  leaseMs: number;
  logger: Logger;
}

/** What a tick learned, for the gateway to act on. */
export interface Tick {
  custodian: boolean;
  /** Live holders other than this one. */
  others: string[];
  /** Devices (`{adapter}/{deviceId}`) of dead instances, released now: the caller says them offline. */
  reaped: Array<{ holder: string; devices: string[] }>;
  /** This boot had been reaped while alive (stalled longer than its lease): its devices must be
   *  claimed again. */
  revived: boolean;
}

export class OwnerRegistry {
  readonly holder: string;
  private readonly options: RegistryOptions;
  private readonly prefix: string;
  private readonly redis: Scripted;
  /** Custody is ours for commands received in [custodySince, custodyUntil): since it was taken
   *  (when Redis said so: the previous holder's lease had run out by then), until a tenth of the
   *  lease before it can run out, counted from when the last refresh was sent (Redis counts from
   *  later). A refresh that finds the lease still ours extends it without a gap. */
  private custodySince = 0;
  private custodyUntil = 0;

  constructor(options: RegistryOptions) {
    this.options = options;
    this.holder = holderOf(options.identity);
    this.prefix = options.prefix || `gate2mqtt:${options.base}:`;
    const redis = new Redis(options.url, {
      lazyConnect: true,
      // A command waits for a reconnect at most this long, then fails: the caller decides.
      maxRetriesPerRequest: 2,
      connectTimeout: 5000,
      enableOfflineQueue: true,
    });
    redis.on('error', (err: Error) => options.logger.warn({ err: err.message }, 'Redis (owner registry)'));
    for (const [name, script] of Object.entries(SCRIPTS)) redis.defineCommand(name, script);
    this.redis = redis as Scripted;
  }

  private key(kind: string, rest: string): string {
    return `${this.prefix}${kind}:${rest}`;
  }

  /** Connects and takes this instance's lease. An id held by a live boot is refused after waiting
   *  out one lease (a restart right after a crash finds its old lease still there). */
  async start(): Promise<void> {
    const { identity, leaseMs, url } = this.options;
    try {
      await this.redis.connect();
    } catch (err) {
      throw new InstanceError(`multi-instance mode needs Redis for the device owner registry (instance.redisUrl): ${redactUrl(url)}: ${(err as Error).message}`);
    }
    const deadline = Date.now() + leaseMs * 1.5;
    for (;;) {
      const held = await this.redis.set(this.key('instance', identity.id), identity.bootId, 'PX', leaseMs, 'NX');
      if (held === 'OK') break;
      if (Date.now() > deadline) {
        const other = await this.redis.get(this.key('instance', identity.id));
        await this.redis.quit().catch(() => undefined);
        throw new InstanceError(
          `instance.id ${identity.id} is online already (boot ${other ?? '?'}); two instances may not share an id: set instance.id (GATE2MQTT_INSTANCE_ID)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, leaseMs / 4)));
    }
    await this.redis.sadd(this.key('boots', 'all'), this.holder);
  }

  /** Whether a command received at `received` is this instance's to act on. */
  custodyAt(received: number): boolean {
    return this.custodySince > 0 && this.custodySince <= received && received < this.custodyUntil;
  }

  /** Custody was ours and lapsed here only (a late refresh, a busy event loop): the next refresh
   *  tells whether it never left us. */
  custodyLapsed(received: number): boolean {
    return this.custodySince > 0 && this.custodySince <= received && received >= this.custodyUntil;
  }

  /** Refreshes this instance's lease and custody (taking custody if free), finds dead instances
   *  and releases their devices. Called every third of the lease. */
  async tick(options: { custody: boolean }): Promise<Tick> {
    const { identity, leaseMs } = this.options;
    const started = Date.now();
    const own = await this.redis.lease(this.key('instance', identity.id), identity.bootId, leaseMs);
    if (own !== 1) {
      // Our lease lapsed (a stall longer than it) and somebody took our id: custody is not ours.
      this.custodySince = 0;
      this.custodyUntil = 0;
      throw new Error(`the lease of instance.id ${identity.id} is held by another boot`);
    }
    // A stall longer than the lease may have had this boot reaped as dead (its records deleted,
    // its devices said offline): it is alive again, and says so.
    const revived = (await this.redis.sadd(this.key('boots', 'all'), this.holder)) === 1;
    const custody = options.custody ? ((await this.redis.lease(this.key('custodian', 'commands'), this.holder, leaseMs)) as number) : 0;
    if (custody === 0) {
      this.custodySince = 0;
      this.custodyUntil = 0;
    } else {
      if (custody === 2 || this.custodySince === 0) this.custodySince = Date.now();
      this.custodyUntil = started + leaseMs * 0.9;
    }
    const live = (await this.redis.liveHolders(this.key('boots', 'all'), this.prefix)) as string[];
    const reaped: Tick['reaped'] = [];
    if (custody !== 0) {
      const all = await this.redis.smembers(this.key('boots', 'all'));
      for (const holder of all) {
        if (holder === this.holder || live.includes(holder)) continue;
        const devices = (await this.redis.reap(this.key('boots', 'all'), this.prefix, holder)) as string[] | null;
        if (devices) reaped.push({ holder, devices });
      }
    }
    return { custodian: custody !== 0, others: live.filter((h) => h !== this.holder), reaped, revived };
  }

  /** This instance holds the device now; returns the previous holder if that was another. */
  async claim(adapter: string, deviceId: string): Promise<string | undefined> {
    const member = `${adapter}/${deviceId}`;
    const old = (await this.redis.claim(this.key('owner', member), this.key('owned', this.holder), this.holder, member)) as string | null;
    return old !== null && old !== this.holder ? old : undefined;
  }

  /** True when the record still named this instance (and is now gone): only then is the device
   *  offline; otherwise another instance holds it. */
  async release(adapter: string, deviceId: string): Promise<boolean> {
    const member = `${adapter}/${deviceId}`;
    return (await this.redis.release(this.key('owner', member), this.key('owned', this.holder), this.holder, member)) === 1;
  }

  /** The live holder of the device, if any. */
  async owner(adapter: string, deviceId: string): Promise<string | undefined> {
    const holder = (await this.redis.owner(this.key('owner', `${adapter}/${deviceId}`), this.prefix)) as string | null;
    return holder ?? undefined;
  }

  /** A device-scoped retransmission key (wsdoor `eventid`, wscam `request_id`) across instances:
   *  `work` runs unless another instance ran it; a run going on elsewhere is waited for. A failed
   *  run is forgotten, as within one instance. Kept `keepMs` once done. */
  async once(member: string, key: string, work: () => Promise<void>, options: { pendingMs: number; keepMs: number }): Promise<void> {
    const k = this.key('seen', `${member}:${key}`);
    const deadline = Date.now() + options.pendingMs;
    for (;;) {
      const state = (await this.redis.seen(k, this.holder, options.pendingMs)) as 'run' | 'done' | 'wait';
      if (state === 'done') return;
      if (state === 'run') break;
      // Another instance is publishing it (the device moved meanwhile); its lease on the key ends
      // with pendingMs, after which this one runs it.
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    try {
      await work();
    } catch (err) {
      await this.redis.drop(k, `pending:${this.holder}`).catch(() => undefined);
      throw err;
    }
    await this.redis.set(k, 'done', 'PX', options.keepMs);
  }

  /** Live holders other than this one. */
  async others(): Promise<string[]> {
    const live = (await this.redis.liveHolders(this.key('boots', 'all'), this.prefix)) as string[];
    return live.filter((h) => h !== this.holder);
  }

  /** A clean stop: custody and the lease given up, this boot forgotten. Devices were released one by one. */
  async stop(): Promise<void> {
    const { identity } = this.options;
    this.custodySince = 0;
    this.custodyUntil = 0;
    try {
      await this.redis.drop(this.key('custodian', 'commands'), this.holder);
      await this.redis.drop(this.key('instance', identity.id), identity.bootId);
      await this.redis.srem(this.key('boots', 'all'), this.holder);
      await this.redis.del(this.key('owned', this.holder));
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'owner registry not cleaned up; the lease runs out instead');
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

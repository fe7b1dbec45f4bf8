// Password hashes for broker.users and http.auth.users, and the `gate2mqtt passwd` subcommand that
// makes them. A hash names its own parameters ($scrypt$N=16384,r=8,p=1$salt$hash), so a file made
// today still verifies when the defaults grow.
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** About 50 ms and 16 MiB per verification on the machines the gateway runs on. */
const DEFAULT_COST = { N: 16384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Bounds on what a configured hash may ask for: a typo (N=16384000) must not cost the gateway
 *  gigabytes per login attempt. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

const FORMAT = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function parse(text: string): ScryptHash | string {
  const m = FORMAT.exec(text);
  if (!m) return 'must be a hash made by `gate2mqtt passwd` ($scrypt$N=...,r=...,p=...$salt$hash), never a clear password';
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 2 || N > MAX_N || (N & (N - 1)) !== 0) return `scrypt N must be a power of two from 2 to ${MAX_N}`;
  if (r < 1 || r > MAX_R) return `scrypt r must be from 1 to ${MAX_R}`;
  if (p < 1 || p > MAX_P) return `scrypt p must be from 1 to ${MAX_P}`;
  const salt = Buffer.from(m[4] as string, 'base64');
  const hash = Buffer.from(m[5] as string, 'base64');
  if (salt.length < 8) return 'the salt is shorter than 8 bytes';
  if (hash.length < 16) return 'the hash is shorter than 16 bytes';
  return { N, r, p, salt, hash };
}

/** Why `text` is not a usable password hash, or undefined when it is one. */
export function passwordHashProblem(text: unknown): string | undefined {
  if (typeof text !== 'string') return 'must be a string made by `gate2mqtt passwd`';
  const parsed = parse(text);
  return typeof parsed === 'string' ? parsed : undefined;
}

function derive(password: string | Buffer, salt: Buffer, cost: { N: number; r: number; p: number }, length: number): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r * cost.p + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password, salt, length, options, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, DEFAULT_COST, KEY_BYTES);
  const { N, r, p } = DEFAULT_COST;
  return `$scrypt$N=${N},r=${r},p=${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Runs on libuv's thread pool, so a flood of wrong passwords slows logins, not the gateway. */
export async function verifyPassword(password: string | Buffer, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (typeof parsed === 'string') return false;
  const key = await derive(password, parsed.salt, parsed, parsed.hash.length);
  return timingSafeEqual(key, parsed.hash);
}

/** Username/password pairs checked against hashes, with recent successes remembered: an HTTP
 *  client sends basic auth with every request, and scrypt is meant to be slow. The cache holds a
 *  SHA-256 of the pair, never the password, and is bounded. */
export class PasswordCheck {
  private readonly hashes: ReadonlyMap<string, string>;
  private readonly recent = new Map<string, true>();
  private readonly limit: number;

  constructor(users: ReadonlyArray<{ username: string; password: string }>, limit = 256) {
    this.hashes = new Map(users.map((u) => [u.username, u.password]));
    this.limit = limit;
  }

  get empty(): boolean {
    return this.hashes.size === 0;
  }

  async verify(username: string, password: string | Buffer): Promise<boolean> {
    const stored = this.hashes.get(username);
    if (stored === undefined) return false;
    const key = createHash('sha256').update(stored).update('\0').update(username).update('\0').update(password).digest('base64');
    if (this.recent.has(key)) {
      // Re-inserted: the map's order is then the order of last use, and the oldest goes first.
      this.recent.delete(key);
      this.recent.set(key, true);
      return true;
    }
    if (!(await verifyPassword(password, stored))) return false;
    this.recent.set(key, true);
    if (this.recent.size > this.limit) this.recent.delete(this.recent.keys().next().value as string);
    return true;
  }
}

export interface PasswdIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
}

/** `gate2mqtt passwd`: one line from stdin (prompted without echo on a terminal), its hash on
 *  stdout. Returns the exit code. */
export async function runPasswd(io: PasswdIo): Promise<number> {
  const password = io.stdin.isTTY ? await promptHidden(io) : await firstLine(io.stdin);
  if (password === undefined || password === '') {
    io.stderr.write('gate2mqtt passwd: no password given (type it, or pipe it in on one line)\n');
    return 2;
  }
  io.stdout.write(`${await hashPassword(password)}\n`);
  return 0;
}

function firstLine(input: Readable): Promise<string | undefined> {
  return new Promise((resolve) => {
    const lines = createInterface({ input, crlfDelay: Infinity });
    let line: string | undefined;
    lines.once('line', (text) => {
      line = text;
      lines.close();
    });
    lines.once('close', () => resolve(line));
  });
}

async function promptHidden(io: PasswdIo): Promise<string | undefined> {
  const ask = async (prompt: string): Promise<string> => {
    io.stderr.write(prompt);
    io.stdin.setRawMode?.(true);
    io.stdin.resume();
    let typed = '';
    try {
      return await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer): void => {
          for (const char of chunk.toString('utf8')) {
            if (char === '\r' || char === '\n') {
              io.stdin.off('data', onData);
              resolve(typed);
              return;
            }
            if (char === '\u0003') {
              io.stdin.off('data', onData);
              reject(new Error('interrupted'));
              return;
            }
            typed = char === '\u007f' || char === '\b' ? typed.slice(0, -1) : typed + char;
          }
        };
        io.stdin.on('data', onData);
      });
    } finally {
      io.stdin.setRawMode?.(false);
      io.stdin.pause();
      io.stderr.write('\n');
    }
  };
  try {
    const first = await ask('Password: ');
    const again = await ask('Again: ');
    if (first !== again) {
      io.stderr.write('gate2mqtt passwd: the two passwords differ\n');
      return undefined;
    }
    return first;
  } catch {
    return undefined;
  }
}

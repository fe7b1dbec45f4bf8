// How fast each embedded store appends 256-byte records durably, one sync per record and one per
// group of 100: what chose the disk buffer's store and its group commit (docs/benchmarks.md,
// "Disk buffer").
//   node --import tsx bench/buffer-append.ts [--seconds 3] [--dir /tmp] [--modules DIR]
// classic-level is the gateway's own dependency. better-sqlite3 12.x and lmdb are not: install
// them apart (`npm install --prefix /tmp/benchdeps better-sqlite3@12 lmdb`) and pass
// --modules /tmp/benchdeps/node_modules; a store that cannot be loaded is reported as such.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClassicLevel } from 'classic-level';

const RECORD = Buffer.alloc(256, 0x61);

interface Store {
  name: string;
  /** Writes `count` records and resolves once they are synced. */
  append(count: number): Promise<void>;
  close(): Promise<void>;
}

type Opener = (dir: string) => Promise<Store>;

function keyOf(seq: number): string {
  return seq.toString(16).padStart(16, '0');
}

const classicLevel: Opener = async (dir) => {
  const db = new ClassicLevel<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await db.open();
  let seq = 0;
  return {
    name: 'classic-level 3 batch({sync: true})',
    append: (count) => db.batch(Array.from({ length: count }, () => ({ type: 'put' as const, key: keyOf(seq++), value: RECORD })), { sync: true }),
    close: () => db.close(),
  };
};

interface SqliteStatement {
  run(...args: unknown[]): unknown;
}
interface SqliteDatabase {
  pragma(text: string): unknown;
  exec(text: string): unknown;
  prepare(text: string): SqliteStatement;
  transaction(fn: (count: number) => void): (count: number) => void;
  close(): void;
}

function sqlite(modules: string | undefined): Opener {
  return async (dir) => {
    const Database = load<new (file: string) => SqliteDatabase>(modules, 'better-sqlite3');
    const db = new Database(join(dir, 'buffer.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE entries (id INTEGER PRIMARY KEY, value BLOB)');
    const insert = db.prepare('INSERT INTO entries (value) VALUES (?)');
    const many = db.transaction((count: number) => {
      for (let i = 0; i < count; i++) insert.run(RECORD);
    });
    const version = (load<{ version?: string }>(modules, 'better-sqlite3/package.json').version ?? '?').split('.')[0];
    return {
      name: `better-sqlite3 ${version} WAL synchronous=FULL (blocks the event loop)`,
      append: async (count) => many(count),
      close: async () => db.close(),
    };
  };
}

interface LmdbDatabase {
  put(key: string, value: Buffer): Promise<boolean>;
  close(): Promise<void>;
}

function lmdb(modules: string | undefined): Opener {
  return async (dir) => {
    const { open } = load<{ open(options: object): LmdbDatabase }>(modules, 'lmdb');
    // lmdb groups the puts of one turn of the event loop into one transaction; with
    // noSync false (the default) that transaction is synced before the promises resolve.
    const db = open({ path: join(dir, 'lmdb'), encoding: 'binary' });
    let seq = 0;
    return {
      name: 'lmdb 3 put() (one synced transaction per turn)',
      append: async (count) => {
        await Promise.all(Array.from({ length: count }, () => db.put(keyOf(seq++), RECORD)));
      },
      close: () => db.close(),
    };
  };
}

function load<T>(modules: string | undefined, name: string): T {
  const require = createRequire(modules ? join(modules, 'noop.js') : import.meta.url);
  return require(name) as T;
}

async function measure(open: Opener, group: number, seconds: number, base: string): Promise<{ name: string; perSecond: number } | { name: string; error: string }> {
  const dir = mkdtempSync(join(base, 'g2m-append-'));
  let store: Store | undefined;
  try {
    store = await open(dir);
    const until = performance.now() + seconds * 1000;
    const started = performance.now();
    let records = 0;
    while (performance.now() < until) {
      await store.append(group);
      records += group;
    }
    return { name: store.name, perSecond: records / ((performance.now() - started) / 1000) };
  } catch (err) {
    return { name: open.name, error: (err as Error).message.split('\n')[0] ?? '' };
  } finally {
    await store?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { seconds: { type: 'string' }, dir: { type: 'string' }, modules: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write('node --import tsx bench/buffer-append.ts [--seconds 3] [--dir DIR] [--modules NODE_MODULES_OF_BETTER_SQLITE3_AND_LMDB]\n');
    return;
  }
  const seconds = Number(values.seconds ?? 3);
  const base = values.dir ?? tmpdir();
  const stores: Array<[string, Opener]> = [
    ['classic-level', classicLevel],
    ['better-sqlite3', sqlite(values.modules)],
    ['lmdb', lmdb(values.modules)],
  ];
  process.stdout.write(`256-byte records, ${seconds} s per row, in ${base}\n\n| store | group of 1 (records/s) | group of 100 (records/s) |\n| --- | ---: | ---: |\n`);
  for (const [label, open] of stores) {
    const one = await measure(open, 1, seconds, base);
    const hundred = await measure(open, 100, seconds, base);
    const cell = (r: typeof one): string => ('error' in r ? `not run: ${r.error}` : Math.round(r.perSecond).toLocaleString('en-US'));
    process.stdout.write(`| ${'name' in one && !('error' in one) ? one.name : label} | ${cell(one)} | ${cell(hundred)} |\n`);
  }
}

await main();

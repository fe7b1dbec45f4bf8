// Where the embedded broker keeps its state: aedes's in-memory persistence, or
// aedes-persistence-level over a LevelDB (classic-level) in broker.dataDir, so retained topics,
// persistent sessions with their queued messages, and wills survive a restart, kill -9 included
// (LevelDB's write-ahead log is replayed at open).
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import levelPersistence from 'aedes-persistence-level';
import { ClassicLevel } from 'classic-level';
import { BrokerStoreError } from './errors.js';

export interface BrokerStoreOptions {
  persistence: 'memory' | 'disk';
  dataDir: string;
}

export interface BrokerStore {
  /** What `Aedes.createBroker` takes as `persistence`; undefined: aedes's own memory one. */
  persistence: object | undefined;
  /** aedes does not close its persistence: the broker's owner does, after aedes closed. */
  close(): Promise<void>;
}

export async function openBrokerStore(options: BrokerStoreOptions): Promise<BrokerStore> {
  if (options.persistence === 'memory') return { persistence: undefined, close: async () => undefined };
  const dir = resolve(options.dataDir);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new BrokerStoreError(dir, `cannot create it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer' });
  try {
    await db.open();
  } catch (err) {
    throw new BrokerStoreError(dir, openProblem(err), { cause: err });
  }
  return { persistence: levelPersistence(db), close: () => db.close() };
}

function openProblem(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === 'LEVEL_LOCKED') return 'it is held by another running gateway (LevelDB LOCK)';
  return cause?.message ?? (err as Error).message;
}

/** The broker's id, new at each start and rising: aedes orders a session's queued messages by
 *  broker id, then by a counter that restarts at 0 with the process, so a fixed id would mix the
 *  messages queued before a restart with those after; and it publishes the wills left by a broker
 *  id that no longer beats, which a fixed id, alive again, never stops being. */
export function nextBrokerId(): string {
  const now = Date.now();
  lastId = now > lastId ? now : lastId + 1;
  return `gate2mqtt-${String(lastId).padStart(15, '0')}`;
}
let lastId = 0;

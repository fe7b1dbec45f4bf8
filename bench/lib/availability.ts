// The wsdoor, wscam and gantry adapters are being finished in parallel: a scenario that needs one
// runs only when its simulator exists and the adapter is wired into src/adapters.ts, and otherwise
// reports "not available yet" instead of failing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { builtinAdapters } from '../../src/adapters.js';
import { ROOT } from './gateway.js';

export function wiredAdapters(): string[] {
  const { config } = loadConfig({ env: {}, args: [] });
  return builtinAdapters(config).map((d) => d.id);
}

/** Why `adapter` cannot be benchmarked yet, or undefined when it can. */
export function unavailable(adapter: 'wsdoor' | 'wscam' | 'gantry'): string | undefined {
  if (!existsSync(join(ROOT, 'sim', adapter, 'simulator.ts'))) return `sim/${adapter}/simulator.ts does not exist yet`;
  if (!wiredAdapters().includes(adapter)) return `the ${adapter} adapter is not wired into src/adapters.ts yet`;
  return undefined;
}

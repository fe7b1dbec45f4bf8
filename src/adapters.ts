// The built-in adapters, each with its configuration section.
import type { GatewayConfig } from './config.js';
import type { AdapterDefinition } from './gateway.js';
import { createGantryAdapter } from '../adapters/gantry/adapter.js';
import { createQyznAdapter } from '../adapters/qyzn/adapter.js';

export function builtinAdapters(config: Readonly<GatewayConfig>): AdapterDefinition[] {
  return [
    { id: 'qyzn', factory: createQyznAdapter as AdapterDefinition['factory'], config: config.qyzn },
    { id: 'gantry', factory: createGantryAdapter as AdapterDefinition['factory'], config: config.gantry },
  ];
}

// The built-in adapters, each with its configuration section.
import type { GatewayConfig } from './config.js';
import type { AdapterDefinition } from './gateway.js';
import { createGantryAdapter } from '../adapters/gantry/adapter.js';
import { createQyznAdapter } from '../adapters/qyzn/adapter.js';
import { createWscamAdapter } from '../adapters/wscam/adapter.js';
import { createWsdoorAdapter } from '../adapters/wsdoor/adapter.js';

export function builtinAdapters(config: Readonly<GatewayConfig>): AdapterDefinition[] {
  return [
    { id: 'qyzn', factory: createQyznAdapter, config: config.qyzn },
    { id: 'gantry', factory: createGantryAdapter, config: config.gantry },
    { id: 'wsdoor', factory: createWsdoorAdapter, config: config.wsdoor },
    { id: 'wscam', factory: createWscamAdapter, config: config.wscam },
  ];
}

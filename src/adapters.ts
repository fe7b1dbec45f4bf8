// The built-in adapters, each with its configuration section.
import type { GatewayConfig } from './config.js';
import type { AdapterDefinition } from './gateway.js';

export function builtinAdapters(config: Readonly<GatewayConfig>): AdapterDefinition[] {
  void config;
  return [];
}

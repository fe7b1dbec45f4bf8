// The wsdoor adapter in a real gateway, and simulated terminals torn down with the test.
import type { DeepPartial, GatewayConfig } from '../../src/config.js';
import type { AdapterDefinition } from '../../src/gateway.js';
import { createWsdoorAdapter } from '../../adapters/wsdoor/adapter.js';
import type { WsdoorConfig } from '../../adapters/wsdoor/config.js';
import { DoorSimulator, type DoorSimulatorOptions } from '../../adapters/wsdoor/simulator.js';
import { testConfig, type Teardown } from '../helpers/harness.js';
import { startWsGateway, type WsGateway } from '../helpers/ws-gateway.js';

export { bridgeEvent } from '../helpers/ws-gateway.js';

export interface DoorGateway extends WsGateway {
  door(sn: string, options?: Partial<DoorSimulatorOptions>): Promise<DoorSimulator>;
}

export function wsdoorDefinition(config: WsdoorConfig): AdapterDefinition & { config: WsdoorConfig } {
  return { id: 'wsdoor', factory: createWsdoorAdapter as AdapterDefinition['factory'], config };
}

export async function startWsdoor(
  t: Teardown,
  adapter: DeepPartial<WsdoorConfig> = {},
  gateway: DeepPartial<GatewayConfig> = {},
): Promise<DoorGateway> {
  const g = await startWsGateway(t, wsdoorDefinition(testConfig({ wsdoor: adapter }).wsdoor), gateway);
  return {
    ...g,
    door: async (sn, options = {}) => {
      const door = new DoorSimulator({ url: g.url, sn, autoHeartbeat: false, ...options });
      await door.connect();
      t.teardown(() => door.close().catch(() => undefined));
      return door;
    },
  };
}

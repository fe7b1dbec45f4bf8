// The wscam adapter in a real gateway, and simulated cameras torn down with the test.
import type { DeepPartial, GatewayConfig } from '../../src/config.js';
import type { AdapterDefinition } from '../../src/gateway.js';
import { createWscamAdapter } from '../../adapters/wscam/adapter.js';
import type { WscamConfig } from '../../adapters/wscam/config.js';
import { CamSimulator, type CamSimulatorOptions } from '../../adapters/wscam/simulator.js';
import { testConfig, type Teardown } from '../helpers/harness.js';
import { startWsGateway, type WsGateway } from '../helpers/ws-gateway.js';

export { bridgeEvent } from '../helpers/ws-gateway.js';

export interface CamGateway extends WsGateway {
  camera(sn: string, options?: Partial<CamSimulatorOptions>): Promise<CamSimulator>;
}

export function wscamDefinition(config: WscamConfig): AdapterDefinition & { config: WscamConfig } {
  return { id: 'wscam', factory: createWscamAdapter as AdapterDefinition['factory'], config };
}

export async function startWscam(
  t: Teardown,
  adapter: DeepPartial<WscamConfig> = {},
  gateway: DeepPartial<GatewayConfig> = {},
): Promise<CamGateway> {
  const g = await startWsGateway(t, wscamDefinition(testConfig({ wscam: adapter }).wscam), gateway);
  return {
    ...g,
    camera: async (sn, options = {}) => {
      const camera = new CamSimulator({ url: g.url, sn, autoHeartbeat: false, ...options });
      await camera.connect();
      t.teardown(() => camera.close().catch(() => undefined));
      return camera;
    },
  };
}

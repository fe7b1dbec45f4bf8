// npm run sim:wsdoor -- --url ws://127.0.0.1:8081/ --devices 10 --rate 5
import { runSimulatorCli } from '../ws-common/sim-cli.js';
import { DoorSimulator } from './simulator.js';
import { portFromEnv } from '../common/gateway-env.js';

process.exitCode = await runSimulatorCli(
  {
    name: 'wsdoor',
    device: 'access-control terminal',
    defaultUrl: `ws://127.0.0.1:${portFromEnv('GATE2MQTT_WSDOOR_PORT', 8081)}/`,
    defaultFirstId: '486468465489',
    identify: 'register, 205',
    traffic: 'realtimeEvent (207)',
    create: (options) => new DoorSimulator(options),
  },
  process.argv.slice(2),
);

// npm run sim:wscam -- --url ws://127.0.0.1:8082/ --devices 10 --rate 5
import { runSimulatorCli } from '../ws-common/sim-cli.js';
import { CamSimulator } from './simulator.js';
import { portFromEnv } from '../common/gateway-env.js';

process.exitCode = await runSimulatorCli(
  {
    name: 'wscam',
    device: 'snapshot camera',
    defaultUrl: `ws://127.0.0.1:${portFromEnv('GATE2MQTT_WSCAM_PORT', 8082)}/`,
    defaultFirstId: '200000000001',
    identify: 'its first heartbeat',
    traffic: 'upload_snapshot',
    create: (options) => new CamSimulator(options),
  },
  process.argv.slice(2),
);

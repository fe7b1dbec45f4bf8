// npm run sim:gantry -- --url http://127.0.0.1:8080/monitor.do --gantries 3 --interval 10 --control-port 3699
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_CONTROL_PORT, UPLOAD_PATH } from '../../adapters/gantry/constants.js';
import { idsFrom } from '../common/ids.js';
import { FIRST_GANTRY_ID, GantrySimulator, type Edition, type ImageMode, type UploadFailure } from './simulator.js';
import { portFromEnv } from '../common/gateway-env.js';

const HELP = `Simulated ETC gantries (both protocol editions) for gate2mqtt.

Usage: npm run sim:gantry -- [options]
       node --import tsx sim/gantry/simulator-cli.ts [options]

Uploads computerStatusUpdate, cabinetStatusUpdate and queryAndGetCardInfo from each gantry every
--interval seconds, with binfile-auth/binfile-md5 headers, alarms and NoData/GetFailed/NotSupport
values, and answers POST /remotecontrol.do (computerControl, cabinetControl cmd 1-10,
getCabinetImageVedio with a JPEG file) on --control-port for all of them. An upload that fails
(the gateway down) is logged, and the next one goes out at its time, as a gantry's would.

Options:
  --url URL            upload address          (default http://127.0.0.1:$GATE2MQTT_HTTP_PORT/monitor.do, port 8080 when unset; https:// too)
  --ca FILE            CA certificate (PEM) to trust for an https:// upload address
  --gantries N         number of gantries      (default 3)
  --first-id ID        id of gantry 1; the others count up from it (default ${FIRST_GANTRY_ID},
                       then ${idsFrom(FIRST_GANTRY_ID, 2)[1] ?? ''}...)
  --interval S         seconds between uploads (default 300, as the seeds say; 0: one round, then serve commands)
  --control-port P     control server port     (default 3699; 0 picks a free port)
  --control-host H     control server address  (default 0.0.0.0)
  --auth CODE          binfile-auth code       (default $GATE2MQTT_GANTRY_AUTH or 123456)
  --edition E          v0.37, v1.03 or both    (default both, alternating)
  --time-zone TZ       device clock zone       (default Asia/Shanghai)
  --error-rate P       chance of NoData/GetFailed/NotSupport per measurement (default 0.05)
  --alarm-rate P       chance of an alarm per message (default 0.1)
  --image MODE         getCabinetImageVedio answer: file, badMd5, noMd5, missing (default file)
  --seed N             random seed (default 20191130)
  -h, --help           this text
`;

function number(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0, not ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      ca: { type: 'string' },
      gantries: { type: 'string' },
      'first-id': { type: 'string' },
      interval: { type: 'string' },
      'control-port': { type: 'string' },
      'control-host': { type: 'string' },
      auth: { type: 'string' },
      edition: { type: 'string' },
      'time-zone': { type: 'string' },
      'error-rate': { type: 'string' },
      'alarm-rate': { type: 'string' },
      image: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const edition = values.edition ?? 'both';
  if (!['v0.37', 'v1.03', 'both'].includes(edition)) throw new Error('--edition must be v0.37, v1.03 or both');
  const image = values.image ?? 'file';
  if (!['file', 'badMd5', 'noMd5', 'missing'].includes(image)) throw new Error('--image must be file, badMd5, noMd5 or missing');
  const intervalS = number(values.interval, 'interval', 300);
  const sim = new GantrySimulator({
    url: values.url ?? `http://127.0.0.1:${portFromEnv('GATE2MQTT_HTTP_PORT', 8080)}${UPLOAD_PATH}`,
    ...(values.ca ? { ca: readFileSync(values.ca) } : {}),
    gantries: number(values.gantries, 'gantries', 3),
    firstId: values['first-id'] ?? FIRST_GANTRY_ID,
    intervalS,
    controlPort: number(values['control-port'], 'control-port', DEFAULT_CONTROL_PORT),
    controlHost: values['control-host'] ?? '0.0.0.0',
    auth: values.auth ?? process.env.GATE2MQTT_GANTRY_AUTH ?? '123456',
    edition: edition as Edition | 'both',
    timeZone: values['time-zone'] ?? 'Asia/Shanghai',
    errorRate: number(values['error-rate'], 'error-rate', 0.05),
    alarmRate: number(values['alarm-rate'], 'alarm-rate', 0.1),
    seed: number(values.seed, 'seed', 20191130),
  });
  sim.imageMode = image as ImageMode;
  sim.on('upload', (r: { gantryId: string; method: string; status: number; answer: { code?: unknown; msg?: unknown } }) => {
    console.log(`${new Date().toISOString()} ${r.gantryId} ${r.method} → HTTP ${r.status} ${String(r.answer.code)} ${String(r.answer.msg ?? '')}`);
  });
  sim.on('control', (c: { gantryId?: string; method?: string; data?: unknown; answered: string }) => {
    console.log(`${new Date().toISOString()} ${c.gantryId ?? '?'} ${c.method ?? '?'} ${JSON.stringify(c.data ?? {})} ← answered ${c.answered}`);
  });
  sim.on('uploadFailed', (f: UploadFailure) => console.error(`${new Date().toISOString()} ${f.gantryId} ${f.method} upload failed: ${f.error.message}`));
  sim.on('error', (err: Error) => console.error(`${new Date().toISOString()} ${err.message}`));
  await sim.start();
  console.log(`gantries: ${sim.gantries.map((g) => `${g.gantryId} (${g.edition}, version ${g.version})`).join(', ')}`);
  console.log(`control: ${sim.controlUrl}`);
  if (intervalS === 0) await sim.uploadAll().catch((err: Error) => console.error(err.message));
  const stop = (): void => {
    void sim.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
});

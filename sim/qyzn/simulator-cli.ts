// Command line of the QYZN terminal simulator:
//   npm run sim:qyzn -- --host 127.0.0.1 --port 9000 --devices 10 --rate 5
import { parseArgs } from 'node:util';
import { idsFrom } from '../common/ids.js';
import { Fleet, type DeviceLink } from '../common/reconnect.js';
import { QyznSimulator, type Behaviour } from './simulator.js';
import { portFromEnv } from '../common/gateway-env.js';

/** The terminal the docs' examples address. */
const FIRST_SERIAL = '0c16d06a45914b758ca226ef325422a3';

const HELP = `QYZN face-terminal simulator: terminals that register, log in, heartbeat and send
snapshot_face / qrcode_data to a gate2mqtt qyzn listener, and answer its commands.

Usage: npm run sim:qyzn -- [options]
       node --import tsx sim/qyzn/simulator-cli.ts [options]

  --host HOST            gateway address (default 127.0.0.1)
  --port PORT            qyzn listener port (default $GATE2MQTT_QYZN_PORT or 9000)
  --devices N            terminals to run (default 1)
  --rate R               snapshot_face and qrcode_data per second per terminal, in turn (default 1; 0: none)
  --first-id ID          serial of terminal 1 (default ${FIRST_SERIAL}); the others count
                         up from it: a hex serial in hex (...325422a3, ...325422a4), else its trailing number
  --secret S             log in with the password derived from S (GATE2MQTT_QYZN_SECRET of the gateway);
                         without it, the passwd the gateway answers at register is used
  --no-register          log in without registering first (needs --secret)
  --wrong-password       log in with a wrong password (the gateway answers 100)
  --wrong-sign           register with a wrong sign (the gateway answers 104)
  --heartbeat SECONDS    heartbeat period (default 25; 0: none)
  --header-version V     QYZN header version to speak (default 3)
  --answer MODE          how commands are answered: ok (default), silent, or a result code such as 109
  --duration SECONDS     stop after this long (default 0: until Ctrl-C)
  --logout               send logout before stopping
  --no-reconnect         a terminal whose connection ends (or cannot be made) stays down; by default
                         it retries after 1 s, doubling to 10 s, and registers and logs in again
                         (only logs in with --no-register)
  --help                 this text
`;

interface CliOptions {
  host: string;
  port: number;
  devices: number;
  rate: number;
  firstId: string;
  secret: string | undefined;
  register: boolean;
  wrongPassword: boolean;
  wrongSign: boolean;
  heartbeatS: number;
  headerVersion: number;
  answer: Behaviour;
  durationS: number;
  logout: boolean;
  reconnect: boolean;
}

function number(name: string, text: string | undefined, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number >= ${min}, not ${JSON.stringify(text)}`);
  return value;
}

function behaviour(text: string | undefined): Behaviour {
  if (text === undefined || text === 'ok') return 'answer';
  if (text === 'silent') return 'silent';
  const result = Number(text);
  if (!Number.isInteger(result)) throw new Error(`--answer must be ok, silent or a result code, not ${JSON.stringify(text)}`);
  return { result };
}

function parse(argv: string[]): CliOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      devices: { type: 'string' },
      rate: { type: 'string' },
      'first-id': { type: 'string' },
      secret: { type: 'string' },
      'no-register': { type: 'boolean' },
      'wrong-password': { type: 'boolean' },
      'wrong-sign': { type: 'boolean' },
      heartbeat: { type: 'string' },
      'header-version': { type: 'string' },
      answer: { type: 'string' },
      duration: { type: 'string' },
      logout: { type: 'boolean' },
      'no-reconnect': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const options: CliOptions = {
    host: values.host ?? '127.0.0.1',
    port: number('port', values.port, portFromEnv('GATE2MQTT_QYZN_PORT', 9000), 1),
    devices: number('devices', values.devices, 1, 1),
    rate: number('rate', values.rate, 1),
    firstId: values['first-id'] ?? FIRST_SERIAL,
    secret: values.secret,
    register: !values['no-register'],
    wrongPassword: values['wrong-password'] ?? false,
    wrongSign: values['wrong-sign'] ?? false,
    heartbeatS: number('heartbeat', values.heartbeat, 25),
    headerVersion: number('header-version', values['header-version'], 3, 2),
    answer: behaviour(values.answer),
    durationS: number('duration', values.duration, 0),
    logout: values.logout ?? false,
    reconnect: !values['no-reconnect'],
  };
  if (!options.register && options.secret === undefined) throw new Error('--no-register needs --secret');
  return options;
}

async function bringUp(sim: QyznSimulator, options: CliOptions): Promise<void> {
  // Before connecting: the gateway may send a command as soon as the login makes the device online.
  sim.answerWith('*', options.answer);
  await sim.connect();
  if (options.register) {
    const registered = await sim.register();
    if (registered.result !== 0) throw new Error(`register refused: ${registered.result} ${registered.desc ?? ''}`);
  }
  const login = await sim.login();
  if (login.result !== 0) throw new Error(`login refused: ${login.result} ${login.desc ?? ''}`);
  await sim.syncTime();
  sim.startTraffic(options.rate);
}

/** A terminal's connection: each time up, it registers (unless --no-register) and logs in as at
 *  power-on, since a restarted gateway answers with new credentials. */
function link(sim: QyznSimulator, options: CliOptions): DeviceLink {
  return {
    name: sim.options.serial,
    up: () => bringUp(sim, options),
    down: async () => {
      await sim.closed;
      return 'connection closed';
    },
    drop: async () => {
      sim.destroy();
      await sim.closed;
    },
  };
}

function report(sims: QyznSimulator[]): void {
  const total = { online: 0, sent: 0, answered: 0, failed: 0, commands: 0 };
  for (const sim of sims) {
    if (sim.connected) total.online += 1;
    total.sent += sim.stats.sent;
    total.answered += sim.stats.answered;
    total.failed += sim.stats.failed;
    total.commands += sim.stats.commands;
  }
  process.stdout.write(`${new Date().toISOString()} online ${total.online}/${sims.length} sent ${total.sent} answered ${total.answered} failed ${total.failed} commands ${total.commands}\n`);
}

async function main(): Promise<number> {
  let options: CliOptions | 'help';
  let serials: string[];
  try {
    options = parse(process.argv.slice(2));
    serials = options === 'help' ? [] : idsFrom(options.firstId, options.devices);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const opts = options;
  const sims = serials.map(
    (serial) =>
      new QyznSimulator({
        host: opts.host,
        port: opts.port,
        serial,
        heartbeatMs: opts.heartbeatS * 1000,
        headerVersion: opts.headerVersion,
        wrongPassword: opts.wrongPassword,
        wrongRegisterSign: opts.wrongSign,
        ...(opts.secret !== undefined ? { secret: opts.secret } : {}),
      }),
  );
  const fleet = new Fleet(
    sims.map((sim) => link(sim, opts)),
    { reconnect: opts.reconnect, log: (line) => process.stdout.write(`${line}\n`) },
  );
  const ticker = setInterval(() => report(sims), 5000);
  await fleet.run(opts.durationS);
  clearInterval(ticker);
  for (const sim of sims) sim.stopTraffic();
  await Promise.all(sims.map((s) => s.drain()));
  if (opts.logout) await Promise.allSettled(sims.filter((s) => s.connected).map((s) => s.logout()));
  await Promise.allSettled(sims.map((s) => s.close()));
  report(sims);
  return fleet.neverUp === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

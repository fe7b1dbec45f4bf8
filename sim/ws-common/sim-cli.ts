// The command line both simulators share: N devices against one gateway URL, traffic at a rate,
// a stats line every few seconds, reconnection when the gateway goes away, a clean close on Ctrl-C
// or after --duration.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { idsFrom } from '../common/ids.js';
import { Fleet, type DeviceLink } from '../common/reconnect.js';
import type { CloseInfo, SimConnectOptions, SimStats } from './simulator.js';

/** What the CLI drives on each simulated device. */
export interface CliDevice {
  readonly sn: string;
  readonly stats: SimStats;
  readonly closed: Promise<CloseInfo>;
  start(): Promise<unknown>;
  startTraffic(ratePerS: number): void;
  /** Stops the traffic and waits for the answers still due. */
  settle(): Promise<void>;
  close(): Promise<CloseInfo>;
}

export interface SimulatorCliSpec {
  /** Adapter id, e.g. `wsdoor`. */
  name: string;
  device: string;
  defaultUrl: string;
  /** The sn of device 1: the one the docs' examples address. */
  defaultFirstId: string;
  /** What a device sends to identify itself, e.g. `register, 205`. */
  identify: string;
  /** What --rate sends, e.g. `realtimeEvent (207)`. */
  traffic: string;
  create(options: SimConnectOptions & { sn: string }): CliDevice;
}

const REPORT_MS = 5000;

function usage(spec: SimulatorCliSpec): string {
  return `Usage: npm run sim:${spec.name} -- [options]
       node --import tsx sim/${spec.name}/simulator-cli.ts [options]

Simulates ${spec.device}s connecting to a gate2mqtt ${spec.name} listener. Each one connects,
identifies, heartbeats, sends ${spec.traffic} at --rate and answers every command.

Options:
  --url URL          gateway listener, ws:// or wss:// (default ${spec.defaultUrl})
  --devices N        how many devices (default 1)
  --rate R           ${spec.traffic} per second per device; 0 sends none (default 1)
  --first-id ID      sn of device 1; the others count up from its trailing number
                     (default ${spec.defaultFirstId}, then ${idsFrom(spec.defaultFirstId, 2)[1] ?? ''}...)
  --duration S       stop after S seconds; 0 runs until Ctrl-C (default 0)
  --no-reconnect     a device whose connection ends (or cannot be made) stays down; by default it
                     retries after 1 s, doubling to 10 s, and identifies itself again (${spec.identify})
  --ca FILE          CA certificate (PEM) to trust for wss://
  --insecure         accept any wss:// certificate
  -h, --help         this text
`;
}

function positive(name: string, text: string, integer: boolean): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`--${name} must be a ${integer ? 'whole ' : ''}number >= 0, not ${JSON.stringify(text)}`);
  }
  return value;
}

function totals(devices: readonly CliDevice[]): SimStats {
  const sum: SimStats = { sent: 0, acked: 0, refused: 0, skipped: 0, commands: 0 };
  for (const device of devices) for (const key of Object.keys(sum) as Array<keyof SimStats>) sum[key] += device.stats[key];
  return sum;
}

/** Runs the CLI; resolves with the process exit code. */
export async function runSimulatorCli(spec: SimulatorCliSpec, argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        url: { type: 'string', default: spec.defaultUrl },
        devices: { type: 'string', default: '1' },
        rate: { type: 'string', default: '1' },
        'first-id': { type: 'string', default: spec.defaultFirstId },
        duration: { type: 'string', default: '0' },
        ca: { type: 'string' },
        insecure: { type: 'boolean', default: false },
        'no-reconnect': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage(spec)}`);
    return 2;
  }
  if (values.help) {
    out.write(usage(spec));
    return 0;
  }
  let count: number;
  let rate: number;
  let duration: number;
  let sns: string[];
  try {
    count = positive('devices', values.devices, true);
    rate = positive('rate', values.rate, false);
    duration = positive('duration', values.duration, false);
    sns = idsFrom(values['first-id'], count);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const connect: SimConnectOptions = { url: values.url };
  if (values.ca) connect.ca = readFileSync(values.ca);
  if (values.insecure) connect.rejectUnauthorized = false;
  const devices = sns.map((sn) => spec.create({ ...connect, sn }));
  const fleet = new Fleet(
    devices.map((device) => link(spec, device, rate)),
    { reconnect: !values['no-reconnect'], log: (line) => out.write(`${line}\n`) },
  );

  const report = (): void => {
    const s = totals(devices);
    out.write(
      `${spec.name}: ${fleet.online}/${count} connected, ${s.sent} sent, ${s.acked} acked, ${s.refused} refused, ${s.skipped} skipped, ${s.commands} commands answered\n`,
    );
  };
  const timer = setInterval(report, REPORT_MS);
  await fleet.run(duration);
  clearInterval(timer);
  await Promise.allSettled(devices.map((device) => device.settle()));
  report();
  await Promise.allSettled(devices.map((device) => device.close()));
  return fleet.neverUp === 0 ? 0 : 1;
}

/** A device's connection: each time up, it identifies itself as at power-on. */
function link(spec: SimulatorCliSpec, device: CliDevice, rate: number): DeviceLink {
  return {
    name: `${spec.name} ${device.sn}`,
    up: async () => {
      await device.start();
      device.startTraffic(rate);
    },
    down: async () => {
      const info = await device.closed;
      return `connection closed (${info.code}${info.reason ? ` ${info.reason}` : ''})`;
    },
    drop: async () => {
      await device.close();
    },
  };
}

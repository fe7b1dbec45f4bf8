// A load generator of QYZN terminals: the project's own QyznSimulator, one TCP connection per
// terminal, logged in with the password derived from the gateway's secret. Uplink load follows the
// open-loop schedule (device-run.ts); commands from the gateway are answered by the simulator at
// once (its default behaviour).
import { bringUp, runDevices, type LoadDevice } from '../lib/device-run.js';
import { serve } from '../lib/ipc.js';
import { EVENT_NAME, eventData } from '../lib/payload.js';
import type { DeviceLoadProtocol } from '../lib/protocols.js';
import { QyznSimulator } from '../../sim/qyzn/simulator.js';
import { selfStats } from './self.js';

let sims: QyznSimulator[] = [];
let name = `qyzn-load-${process.pid}`;

function loadDevice(sim: QyznSimulator): LoadDevice {
  return {
    serial: sim.options.serial,
    get connected() {
      return sim.connected;
    },
    send(stamp) {
      const frameSeq = sim.peekSeq();
      const answer = sim.request(EVENT_NAME, eventData(stamp)).then((r) => r.result === 0);
      // The same frame, byte for byte (seed 3.2): the gateway must not publish it twice.
      return { answer, retransmit: () => sim.retransmit(frameSeq).then((r) => r.result === 0) };
    },
  };
}

serve<DeviceLoadProtocol>(
  {
    async login(args) {
      const started = Date.now();
      name = `qyzn-load[${args.serials[0] ?? ''}..]`;
      const portOf = new Map(args.serials.map((serial, k) => [serial, args.ports?.length ? (args.ports[k % args.ports.length] as number) : args.port]));
      const { online, failed, errors } = await bringUp(args.serials, args.concurrency, async (serial) => {
        const sim = new QyznSimulator({ host: args.host, port: portOf.get(serial) ?? args.port, serial, secret: args.secret, heartbeatMs: args.heartbeatMs, responseTimeoutMs: args.responseTimeoutMs });
        try {
          await sim.connect();
          const answer = await sim.login();
          if (answer.result !== 0) throw new Error(`login refused: ${answer.result}`);
          return sim;
        } catch (err) {
          sim.destroy();
          throw err;
        }
      });
      // Serial order, not login order: the schedule's round-robin is then the same every run.
      sims = online.sort((a, b) => (a.options.serial < b.options.serial ? -1 : 1));
      return { online: sims.length, failed, errors, ms: Date.now() - started };
    },
    run: (args) => runDevices(name, sims.map(loadDevice), args),
    stats() {
      let commands = 0;
      let heartbeats = 0;
      for (const sim of sims) {
        commands += sim.stats.commands;
        heartbeats += sim.stats.heartbeats;
      }
      return selfStats({ online: sims.filter((s) => s.connected).length, commands, heartbeats });
    },
    commandCounts() {
      const counts = sims.map((s) => s.stats.commands);
      return { total: counts.reduce((a, b) => a + b, 0), min: Math.min(...counts), max: Math.max(...counts), devices: counts.length };
    },
    close() {
      for (const sim of sims) sim.destroy();
      sims = [];
      return null;
    },
  },
  async () => {
    for (const sim of sims) sim.destroy();
  },
);

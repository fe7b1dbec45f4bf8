// T3's gantry load: the project's GantrySimulator uploading the seed's cabinetStatusUpdate body
// (POST /monitor.do, binfile-md5 and binfile-auth headers) on the open-loop schedule, over at most
// `connections` keep-alive connections: fetch's pool opens a connection only when every open one
// is busy, so bounding the uploads in flight bounds the connections.
import { runDevices, type LoadDevice } from '../lib/device-run.js';
import { serve } from '../lib/ipc.js';
import type { GantryLoadProtocol } from '../lib/protocols.js';
import { GantrySimulator } from '../../sim/gantry/simulator.js';
import { selfStats } from './self.js';

/** The gantry seeds' success code. */
const OK = '1000';

/** At most `limit` uploads in flight, the others waiting in arrival order. */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const go = (): void => {
        this.active += 1;
        work()
          .then(resolve, reject)
          .finally(() => {
            this.active -= 1;
            this.waiting.shift()?.();
          });
      };
      if (this.active < this.limit) go();
      else this.waiting.push(go);
    });
  }
}

const targets = new Map<string, { sim: GantrySimulator; limiter: Limiter }>();

serve<GantryLoadProtocol>(
  {
    async setup({ target, url, gantries, auth, connections }) {
      // Uploads only when asked (intervalS 0), no control server: the schedule drives them.
      const sim = new GantrySimulator({ url, gantries, auth, intervalS: 0 });
      await sim.start();
      targets.set(target, { sim, limiter: new Limiter(connections) });
      return null;
    },
    run(args) {
      const target = targets.get(args.target);
      if (!target) throw new Error(`${args.target} not set up`);
      const { sim: s, limiter } = target;
      const upload = (gantryId: string): Promise<boolean> =>
        limiter.run(() => s.upload(gantryId, 'cabinetStatusUpdate')).then((r) => r.status === 200 && r.answer.code === OK);
      const devices: LoadDevice[] = s.gantries.map((g) => ({
        serial: g.gantryId,
        connected: true,
        send: () => ({ answer: upload(g.gantryId), retransmit: () => upload(g.gantryId) }),
      }));
      return runDevices(`gantry-load-${args.target}`, devices, { ...args, retryRefused: false });
    },
    stats() {
      return selfStats({ online: targets.size, commands: 0, heartbeats: 0 });
    },
  },
  async () => {
    await Promise.all([...targets.values()].map((t) => t.sim.stop()));
  },
);

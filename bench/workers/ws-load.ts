// A load generator of WebSocket devices: the project's DoorSimulator (wsdoor access terminals) or
// CamSimulator (wscam snapshot cameras), one WebSocket per device. Uplink load follows the same
// open-loop schedule as the qyzn terminals (device-run.ts); the bench stamp rides in the event's
// data, which both adapters publish as sent.
import { bringUp, runDevices, type LoadDevice } from '../lib/device-run.js';
import { serve } from '../lib/ipc.js';
import { wscamFields, wsdoorEventData } from '../lib/payload.js';
import type { DeviceKind, DeviceLoadProtocol } from '../lib/protocols.js';
import { DoorSimulator } from '../../sim/wsdoor/simulator.js';
import { CamSimulator } from '../../sim/wscam/simulator.js';
import { encodeUploadSnapshot } from '../../sim/wscam/codec.js';
import { selfStats } from './self.js';

/** wsdoor's success code and wscam's success ret (docs/wsdoor.md, docs/wscam.md). */
const DOOR_OK = '200';
const CAM_OK = 0;

interface Fleet {
  kind: DeviceKind;
  devices: LoadDevice[];
  open(): number;
  commands(): number;
  heartbeats(): number;
  close(): void;
}

let fleet: Fleet | undefined;
let name = `ws-load-${process.pid}`;

function doorDevice(sim: DoorSimulator, isOpen: () => boolean): LoadDevice {
  return {
    serial: sim.sn,
    get connected() {
      return isOpen();
    },
    send(stamp) {
      const eventid = `${stamp.r}-${stamp.s}`;
      const answer = sim.sendEvent({ eventid, type: '1', data: wsdoorEventData(stamp) }).then((r) => r.code === DOOR_OK);
      return { answer, retransmit: () => sim.resendEvent(eventid).then((r) => r.code === DOOR_OK) };
    },
  };
}

function camDevice(cam: CamSimulator, isOpen: () => boolean): LoadDevice {
  return {
    serial: cam.sn,
    get connected() {
      return isOpen();
    },
    send(stamp) {
      const requestId = `${stamp.r}-${stamp.s}`;
      const fields = wscamFields(stamp);
      const message = { ...encodeUploadSnapshot({ requestId, timestamp: cam.nowS(), sn: cam.sn }, fields.data), ...fields };
      const answer = cam.request(message).then((a) => a.ret === CAM_OK);
      return { answer, retransmit: () => cam.resend(requestId).then((a) => a.ret === CAM_OK) };
    },
  };
}

/** Open until its close event: the simulators' own `closed` is a promise. */
function tracked(closed: Promise<unknown>): () => boolean {
  let open = true;
  void closed.then(() => (open = false));
  return () => open;
}

serve<DeviceLoadProtocol>(
  {
    async login(args) {
      const started = Date.now();
      const url = `ws://${args.host}:${args.port}/`;
      name = `${args.kind}-load[${args.serials[0] ?? ''}..]`;
      if (args.kind === 'wsdoor') {
        const { online, failed, errors } = await bringUp(args.serials, args.concurrency, async (sn) => {
          const sim = new DoorSimulator({ url, sn });
          const answer = await sim.start();
          if (answer.code !== DOOR_OK) throw new Error(`register refused: ${answer.code}`);
          return { sim, open: tracked(sim.closed) };
        });
        fleet = {
          kind: 'wsdoor',
          devices: online.map((d) => doorDevice(d.sim, d.open)),
          open: () => online.filter((d) => d.open()).length,
          commands: () => online.reduce((n, d) => n + d.sim.stats.commands, 0),
          heartbeats: () => 0,
          close: () => online.forEach((d) => void d.sim.close().catch(() => undefined)),
        };
        return { online: online.length, failed, errors, ms: Date.now() - started };
      }
      if (args.kind === 'wscam') {
        const { online, failed, errors } = await bringUp(args.serials, args.concurrency, async (sn) => {
          const cam = new CamSimulator({ url, sn });
          const answer = await cam.start();
          if (answer.ret !== CAM_OK) throw new Error(`heartbeat refused: ${String(answer.ret)}`);
          return { cam, open: tracked(cam.closed) };
        });
        fleet = {
          kind: 'wscam',
          devices: online.map((d) => camDevice(d.cam, d.open)),
          open: () => online.filter((d) => d.open()).length,
          commands: () => online.reduce((n, d) => n + d.cam.stats.commands, 0),
          heartbeats: () => 0,
          close: () => online.forEach((d) => void d.cam.close().catch(() => undefined)),
        };
        return { online: online.length, failed, errors, ms: Date.now() - started };
      }
      throw new Error(`ws-load does not drive ${args.kind}`);
    },
    run(args) {
      if (!fleet) throw new Error('no device logged in');
      return runDevices(name, fleet.devices, args);
    },
    stats() {
      return selfStats({ online: fleet?.open() ?? 0, commands: fleet?.commands() ?? 0, heartbeats: fleet?.heartbeats() ?? 0 });
    },
    commandCounts() {
      const total = fleet?.commands() ?? 0;
      return { total, min: 0, max: 0, devices: fleet?.devices.length ?? 0 };
    },
    close() {
      fleet?.close();
      fleet = undefined;
      return null;
    },
  },
  async () => {
    fleet?.close();
  },
);

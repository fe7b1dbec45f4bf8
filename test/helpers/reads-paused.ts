// One scenario for every adapter that holds a connection: a device stops reading what the gateway
// sends it. The gateway must stop reading that device (not buffer without bound), say so in
// gate2mqtt_device_reads_paused{reason="device_not_reading"}, go on serving the others, and once
// the device reads again deliver every command and answer and publish what the device sent
// meanwhile, once. Each adapter's test says how its device does each step.
import type { Test } from 'tap';
import type { Inbox } from './harness.js';
import { within } from './harness.js';

export interface StalledDevice {
  adapter: string;
  httpUrl: string;
  /** Subscribed to the stalled device's event topic (nothing else arrives there). */
  watcher: Inbox;
  events: string;
  pauseReading(): void;
  resumeReading(): void;
  /** A command with a 2 MiB payload to the stalled device; resolves with its reply's `ok`. */
  bigCommand(k: number): Promise<boolean>;
  /** Another device's event, answered and published. */
  roundTrip(): Promise<void>;
  /** An event from the stalled device, sent now; resolves once the gateway answered it. */
  sendHeld(): Promise<void>;
  /** After resumeReading: the device answers the commands it got (a simulator may do it itself). */
  answerCommands(count: number): Promise<void>;
}

/** The value of gate2mqtt_device_reads_paused for `adapter` and `reason` (-1: absent). */
export async function readsPaused(httpUrl: string, adapter: string, reason: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = new RegExp(`^gate2mqtt_device_reads_paused\\{adapter="${adapter}",reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  return line ? Number(line[1]) : -1;
}

/** Like `until`, for a condition read from the gateway's HTTP side. */
async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  let over = false;
  const check = async (): Promise<void> => {
    while (!over && !(await condition())) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  try {
    await within(check(), what);
  } finally {
    over = true;
  }
}

export const BIG_PAYLOAD = Buffer.alloc(2 * 1024 * 1024, 7).toString('base64');

export async function stalledDevice(t: Test, d: StalledDevice): Promise<void> {
  const paused = (): Promise<number> => readsPaused(d.httpUrl, d.adapter, 'device_not_reading');
  t.equal(await paused(), 0, 'no connection paused at first');
  d.pauseReading();
  // Big commands until the kernel's socket buffers are full and the gateway's own write buffer
  // stays full. On loopback the kernel takes ~4 MB (the sender's tcp_wmem maximum, the receiver's
  // initial window) before it stops: a pause seen before that may be one the kernel still drains,
  // after which the gateway rightly reads again. So at least 3 commands (8.4 MB), and a pause that
  // outlasts another device's round trip with nothing more sent.
  const replies: Array<Promise<boolean>> = [];
  for (let k = 0; ; k++) {
    if (k === 16) throw new Error('16 commands of 2 MiB sent to a device that reads nothing, and the gateway never stopped reading it');
    replies.push(d.bigCommand(k));
    await d.roundTrip();
    if (k < 2 || (await paused()) !== 1) continue;
    await d.roundTrip();
    if ((await paused()) === 1) break;
  }
  t.pass('gate2mqtt_device_reads_paused{reason="device_not_reading"} is 1');

  // What the device sends now waits in its socket, unread; the others are served meanwhile.
  const held = d.sendHeld();
  await d.roundTrip();
  await d.roundTrip();
  t.equal(d.watcher.unread(d.events), 0, 'the stalled device\'s event was not taken meanwhile');
  t.equal(await paused(), 1, 'and it is still not read');

  d.resumeReading();
  await d.answerCommands(replies.length);
  t.ok((await Promise.all(replies)).every((ok) => ok), `the ${replies.length} commands answered ok`);
  await held;
  t.pass('the held event answered');
  await d.watcher.take(d.events);
  await waitFor(async () => (await paused()) === 0, 'the device to be read again');
  t.pass('read again: the gauge is back at 0');
  t.equal(d.watcher.unread(d.events), 0, 'its event published once');
}

// What a broker holds retained under a filter, read as a new subscriber gets it: count and bytes.
// Read after a measuring window, so the reading client's queue in the broker is not in the
// gateway's RSS while it is measured.
import { connectMqtt } from './mqtt-client.js';
import { sleep } from './clock.js';

export interface RetainedTally {
  messages: number;
  payloadBytes: number;
  topicBytes: number;
  /** The largest single payload, bytes. */
  maxPayloadBytes: number;
}

/** Waits for `expected` retained messages, or until none came for `quietMs` (an arm with nothing
 *  retained ends there). */
export async function retainedUnder(url: string, filter: string, expected: number, quietMs = 2000, timeoutMs = 60_000): Promise<RetainedTally> {
  const client = await connectMqtt(url, { clientId: `bench-retained-${process.pid}-${Date.now()}`, clean: true, reconnectPeriod: 0 });
  const tally: RetainedTally = { messages: 0, payloadBytes: 0, topicBytes: 0, maxPayloadBytes: 0 };
  let last = Date.now();
  client.on('message', (topic, payload, packet) => {
    // Live messages published meanwhile are not what the broker held.
    if (!packet.retain) return;
    tally.messages += 1;
    tally.payloadBytes += payload.length;
    tally.topicBytes += Buffer.byteLength(topic);
    tally.maxPayloadBytes = Math.max(tally.maxPayloadBytes, payload.length);
    last = Date.now();
  });
  try {
    await client.subscribeAsync(filter, { qos: 0 });
    const until = Date.now() + timeoutMs;
    last = Date.now();
    while (tally.messages < expected && Date.now() - last < quietMs && Date.now() < until) await sleep(50);
    return tally;
  } finally {
    await client.endAsync(true);
  }
}

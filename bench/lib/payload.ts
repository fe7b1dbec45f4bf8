// The load message: a qyzn snapshot_face without images, about 200 bytes of JSON data, with the
// bench stamp inside its data so it survives the gateway unchanged into the event envelope. The
// baseline publisher sends the same envelope the gateway would publish, so the broker and the
// subscriber carry the same bytes in both arms of a comparison.
import { randomUUID } from 'node:crypto';
import type { BenchStamp } from './tracker.js';

/** The event name the qyzn load uses: answered after the broker's acknowledgement, published on event/snapshot_face. */
export const EVENT_NAME = 'snapshot_face';

export function eventData(stamp: BenchStamp): Record<string, unknown> {
  return {
    personId: '5907d9b6bede435faf0828177e5bce07',
    fullName: 'Han Meimei',
    type: 1,
    score: 92,
    result: 1,
    snaptime: '2026-11-25 08:00:00',
    bodyTemp: 36.5,
    bench: stamp,
  };
}

export function eventTopic(base: string, deviceId: string): string {
  return `${base}/qyzn/${deviceId}/event/${EVENT_NAME}`;
}

export function eventFilter(base: string): string {
  return `${base}/qyzn/+/event/${EVENT_NAME}`;
}

/** What the gateway publishes for the event (README "Events"), built the same way. */
export function envelope(deviceId: string, stamp: BenchStamp): string {
  return JSON.stringify({ id: randomUUID(), ts: new Date().toISOString(), adapter: 'qyzn', deviceId, name: EVENT_NAME, data: eventData(stamp) });
}

/** The stamp inside a published envelope, if it is one of ours: in `data` (qyzn, wscam) or in the
 *  realtimeEvent's own `data` (wsdoor: `{eventid, type, data: {...}}`). */
export function stampOf(payload: Buffer): unknown {
  try {
    const parsed = JSON.parse(payload.toString('utf8')) as { data?: { bench?: unknown; data?: { bench?: unknown } } };
    return parsed.data?.bench ?? parsed.data?.data?.bench;
  } catch {
    return undefined;
  }
}

/** The stamp as a JSON object, for the simulators' JsonObject parameters. */
export function stampJson(stamp: BenchStamp): { r: string; d: string; s: number; t: number; a?: number } {
  return stamp.a === undefined ? { r: stamp.r, d: stamp.d, s: stamp.s, t: stamp.t } : { r: stamp.r, d: stamp.d, s: stamp.s, t: stamp.t, a: stamp.a };
}

/** wsdoor realtimeEvent `data.data`: a passage without its snapshot, about 200 bytes with the envelope fields. */
export function wsdoorEventData(stamp: BenchStamp): { userId: string; door: string; name: string; note: string; bench: ReturnType<typeof stampJson> } {
  return { userId: '77986', door: '0', name: 'Han Meimei', note: 'gate 3 lane 2 entrance', bench: stampJson(stamp) };
}

/** wscam upload_snapshot fields beside the envelope: no image (an empty data), about 200 bytes. */
export function wscamFields(stamp: BenchStamp): { data: string; plate: string; lane: string; note: string; bench: ReturnType<typeof stampJson> } {
  return { data: '', plate: 'HU-A12345', lane: '2', note: 'gate 3 lane 2 entrance camera', bench: stampJson(stamp) };
}

export const EVENT_NAMES = { qyzn: EVENT_NAME, wsdoor: 'realtimeEvent', wscam: 'upload_snapshot' } as const;

export function deviceEventFilter(base: string, kind: keyof typeof EVENT_NAMES): string {
  return `${base}/${kind}/+/event/${EVENT_NAMES[kind]}`;
}

/** Serials of the simulated terminals: `B<group><index>`, valid topic levels. */
export function serials(group: string, count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `B${group}${String(from + i).padStart(5, '0')}`);
}

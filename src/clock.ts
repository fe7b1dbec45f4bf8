// Device wall clocks: times without a zone (`yyyy-MM-dd HH:mm:ss[.zzz]`, `yyyyMMddHHmmssSSS`) in the
// configured device time zone, to and from instants, through Intl: a date library would be a
// dependency for a few dozen lines. Every adapter formats device times here.

let isoMs = -1;
let iso = '';

/** `new Date().toISOString()`, built once per millisecond: every event's envelope carries one. */
export function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    iso = new Date(now).toISOString();
  }
  return iso;
}

const DEVICE_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallFromParts(utcMs: number, timeZone: string): Wall {
  const wall: Wall = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timeZone).formatToParts(new Date(utcMs))) {
    if (part.type in wall) wall[part.type as keyof Wall] = Number(part.value);
  }
  return wall;
}

function wallAsUtc(w: Wall): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
}

/** Zone offsets change only on quarter hours: one Intl lookup per zone and quarter hour serves
 *  every device time inside it (Intl's formatToParts was the gantry upload's costliest call). */
const QUARTER_HOUR_MS = 15 * 60 * 1000;
const OFFSETS_KEPT = 4096;
/** Per zone, by quarter-hour index: numeric keys, so a lookup builds no string. */
const offsets = new Map<string, Map<number, number>>();

/** Offset of `timeZone` from UTC at the instant `utcMs`, in milliseconds. */
function offsetAt(utcMs: number, timeZone: string): number {
  const quarter = Math.floor(utcMs / QUARTER_HOUR_MS);
  let zone = offsets.get(timeZone);
  if (!zone) {
    zone = new Map();
    offsets.set(timeZone, zone);
  }
  let offset = zone.get(quarter);
  if (offset === undefined) {
    const whole = Math.floor(utcMs / 1000) * 1000;
    offset = wallAsUtc(wallFromParts(whole, timeZone)) - whole;
    if (zone.size >= OFFSETS_KEPT) zone.clear();
    zone.set(quarter, offset);
  }
  return offset;
}

function wallAt(utcMs: number, timeZone: string): Wall {
  const local = new Date(Math.floor(utcMs / 1000) * 1000 + offsetAt(utcMs, timeZone));
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
  };
}

function pad(n: number, width = 2): string {
  return String(Math.abs(n)).padStart(width, '0');
}

const offsetTexts = new Map<number, string>();

function formatOffset(offsetMs: number): string {
  let text = offsetTexts.get(offsetMs);
  if (text === undefined) {
    const minutes = Math.round(offsetMs / 60000);
    const sign = minutes < 0 ? '-' : '+';
    text = `${sign}${pad(Math.trunc(Math.abs(minutes) / 60))}:${pad(Math.abs(minutes) % 60)}`;
    // Few distinct offsets exist (whole quarter hours within ±14 h).
    if (offsetTexts.size < 256) offsetTexts.set(offsetMs, text);
  }
  return text;
}

/** `2019-08-28 14:11:01.321` in `timeZone` → `2019-08-28T14:11:01.321+08:00`; undefined when it is
 *  not a device time or names a day that does not exist. Per gantry upload there are several, so
 *  the matched digits are reused as written rather than converted back and forth. */
export function deviceTimeToIso(text: string, timeZone: string): string | undefined {
  const m = DEVICE_TIME.exec(text.trim());
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  const msText = m[7] === undefined ? '000' : m[7].padEnd(3, '0');
  const wallMs = Date.UTC(year, month - 1, day, hour, minute, second, Number(msText));
  const check = new Date(wallMs);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    check.getUTCHours() !== hour ||
    check.getUTCMinutes() !== minute ||
    check.getUTCSeconds() !== second
  ) {
    return undefined;
  }
  // Two passes settle the offset near a DST change; zones without DST need only the first.
  let offset = offsetAt(wallMs, timeZone);
  const second2 = offsetAt(wallMs - offset, timeZone);
  if (second2 !== offset) offset = second2;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${msText}${formatOffset(offset)}`;
}

/** An instant (ISO 8601 with a zone, or epoch ms) as the device writes it: `yyyy-MM-dd HH:mm:ss.zzz`. */
export function toDeviceTime(instant: string | number, timeZone: string): string | undefined {
  const utcMs = typeof instant === 'number' ? instant : ISO_WITH_ZONE.test(instant) ? Date.parse(instant) : NaN;
  if (!Number.isFinite(utcMs)) return undefined;
  const w = wallAt(utcMs, timeZone);
  const ms = ((utcMs % 1000) + 1000) % 1000;
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}.${pad(ms, 3)}`;
}

export function isIsoInstant(text: string): boolean {
  return ISO_WITH_ZONE.test(text);
}

export type WallPattern = 'yyyy-MM-dd HH:mm:ss' | 'yyyy-MM-dd HH:mm:ss.SSS' | 'yyyyMMddHHmmss' | 'yyyyMMddHHmmssSSS';

/** The wall clock of `timeZone` at an instant, written the way a device writes it. */
export function formatWall(instant: Date | number, timeZone: string, pattern: WallPattern): string {
  const utcMs = typeof instant === 'number' ? instant : instant.getTime();
  const w = wallAt(utcMs, timeZone);
  const ms = pad(((utcMs % 1000) + 1000) % 1000, 3);
  const date = [pad(w.year, 4), pad(w.month), pad(w.day)];
  const time = [pad(w.hour), pad(w.minute), pad(w.second)];
  switch (pattern) {
    case 'yyyy-MM-dd HH:mm:ss':
      return `${date.join('-')} ${time.join(':')}`;
    case 'yyyy-MM-dd HH:mm:ss.SSS':
      return `${date.join('-')} ${time.join(':')}.${ms}`;
    case 'yyyyMMddHHmmss':
      return `${date.join('')}${time.join('')}`;
    case 'yyyyMMddHHmmssSSS':
      return `${date.join('')}${time.join('')}${ms}`;
  }
}

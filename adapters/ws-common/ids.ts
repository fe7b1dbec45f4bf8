// Correlation ids for commands (wsdoor commandId, wscam request_id). The seed's commandIds are
// local times (`20240115144330`); ours add a 4-digit sequence and stay below 19 digits, so firmware
// that parses them as int64 still can.
import { formatWall } from '../../src/clock.js';

export interface DeviceClock {
  /** `yyyy-MM-dd HH:mm:ss` in the device time zone (wsdoor heartbeat `time`). */
  format(date: Date): string;
}

export function deviceClock(timeZone: string): DeviceClock {
  return { format: (date) => formatWall(date, timeZone, 'yyyy-MM-dd HH:mm:ss') };
}

export class CorrelationIds {
  private sequence = 0;
  private readonly clock: DeviceClock;

  constructor(timeZone: string) {
    this.clock = deviceClock(timeZone);
  }

  next(inUse: (id: string) => boolean = () => false): string {
    const stamp = this.clock.format(new Date()).replace(/\D/g, '');
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const id = `${stamp}${String(this.sequence++ % 10_000).padStart(4, '0')}`;
      if (!inUse(id)) return id;
    }
    throw new Error('no free correlation id: 10000 commands pending within one second');
  }
}

// Register and login checks (4.2.2, 4.2.3; DESIGN "Protocol facts"), pure so they can be tested
// without a socket. A failure names the result the device gets and the reason for bridge/event.
import type { JsonObject } from '../../src/adapter.js';
import type { AuthReason, ProtocolReason } from '../../src/errors.js';
import { isValidTopicLevel } from '../../src/topics.js';
import { Result } from './constants.js';
import { derivePassword, deriveUuid, loginSign, registerSign, signMatches } from './sign.js';

export interface AuthOptions {
  secret: string;
  /** 0: timestamps are not checked. */
  maxClockSkewS: number;
  allow: AllowList;
  now: () => number;
}

/** A refusal: for the credentials (`auth_failed`), or for malformed input (`protocol_error`). */
export type Refusal = { ok: false; result: number; message: string } & (
  | { kind: 'auth'; reason: AuthReason }
  | { kind: 'protocol'; reason: ProtocolReason }
);

export type AuthOutcome<T> = ({ ok: true } & T) | Refusal;

export interface Registration {
  serial: string;
  mac: string;
  type: string | undefined;
  uuid: string;
  passwd: string;
}

export interface Login {
  deviceId: string;
  /** Firmware version from the login data. */
  version: string | undefined;
}

/** Serials or MACs; MACs match whatever their case and separators. */
export class AllowList {
  private readonly serials: ReadonlySet<string>;
  private readonly macs: ReadonlySet<string>;

  constructor(entries: readonly string[]) {
    const clean = entries.map((e) => e.trim()).filter((e) => e !== '');
    this.serials = new Set(clean);
    this.macs = new Set(clean.map(normalMac));
  }

  get open(): boolean {
    return this.serials.size === 0;
  }

  allows(serial: string, mac?: string): boolean {
    return this.open || this.serials.has(serial) || (mac !== undefined && mac !== '' && this.macs.has(normalMac(mac)));
  }
}

function normalMac(mac: string): string {
  return mac.replace(/[\s:.-]/g, '').toUpperCase();
}

/** Strings as the device sent them; numbers are accepted too (a timestamp is often one). */
function text(data: JsonObject, key: string): string | undefined {
  const value = data[key];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function fail(result: number, reason: ProtocolReason, message: string): Refusal {
  return { ok: false, kind: 'protocol', result, reason, message };
}

function deny(result: number, reason: AuthReason, message: string): Refusal {
  return { ok: false, kind: 'auth', result, reason, message };
}

function skewed(timestamp: string, options: AuthOptions): boolean {
  if (options.maxClockSkewS <= 0) return false;
  const seconds = Number(timestamp);
  return !Number.isFinite(seconds) || Math.abs(options.now() / 1000 - seconds) > options.maxClockSkewS;
}

export function checkRegister(data: JsonObject, options: AuthOptions): AuthOutcome<Registration> {
  const serial = text(data, 'serial');
  const mac = text(data, 'mac');
  const timestamp = text(data, 'timestamp');
  if (serial === undefined || mac === undefined || timestamp === undefined || data.sign === undefined) {
    return fail(Result.INVALID_PARAMETER, 'bad_register', 'register lacks serial, mac, timestamp or sign');
  }
  if (!isValidTopicLevel(serial)) return fail(Result.INVALID_PARAMETER, 'bad_identity', `serial ${JSON.stringify(serial)} is not a valid device identity`);
  if (!signMatches(registerSign(serial, mac, timestamp), data.sign)) return deny(Result.INVALID_PARAMETER, 'bad_sign', 'register sign does not match');
  if (skewed(timestamp, options)) return deny(Result.INVALID_PARAMETER, 'clock_skew', `register timestamp ${timestamp} is too far from the gateway clock`);
  if (!options.allow.allows(serial, mac)) return deny(Result.INVALID_PARAMETER, 'not_allowed', `serial ${serial} / mac ${mac} is not on the allow list`);
  const uuid = deriveUuid(serial);
  return { ok: true, serial, mac, type: text(data, 'type'), uuid, passwd: derivePassword(options.secret, uuid) };
}

/** `registered` is what a register on the same connection established, for a MAC allow list. */
export function checkLogin(data: JsonObject, options: AuthOptions, registered?: Registration): AuthOutcome<Login> {
  const uuid = text(data, 'uuid');
  const timestamp = text(data, 'timestamp');
  if (uuid === undefined || timestamp === undefined || data.sign === undefined) {
    return fail(Result.INVALID_PARAMETER, 'bad_login', 'login lacks uuid, timestamp or sign');
  }
  if (!isValidTopicLevel(uuid)) return fail(Result.INVALID_PARAMETER, 'bad_identity', `uuid ${JSON.stringify(uuid)} is not a valid device identity`);
  // A wrong sign means the device holds credentials of another secret: "Unregistered" makes it
  // register again and fetch the current ones (4.2.3).
  if (!signMatches(loginSign(uuid, derivePassword(options.secret, uuid), timestamp), data.sign)) {
    return deny(Result.UNREGISTERED, 'bad_sign', 'login sign does not match the derived password');
  }
  if (skewed(timestamp, options)) return deny(Result.INVALID_PARAMETER, 'clock_skew', `login timestamp ${timestamp} is too far from the gateway clock`);
  const mac = registered?.uuid === uuid ? registered.mac : undefined;
  if (!options.allow.allows(uuid, mac)) return deny(Result.UNREGISTERED, 'not_allowed', `uuid ${uuid} is not on the allow list`);
  return { ok: true, deviceId: uuid, version: text(data, 'version') };
}

// Signs and derived credentials (4.2.2, 4.2.3; DESIGN "Protocol facts"). Nothing is stored: a
// device's uuid is its serial and its password is derived from the gateway's secret.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SIGN_MAGIC } from './constants.js';

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** md5(serial + mac + timestamp + magic), lowercase hex. */
export function registerSign(serial: string, mac: string, timestamp: string): string {
  return md5(serial + mac + timestamp + SIGN_MAGIC);
}

/** md5(uuid + passwd + timestamp + magic), lowercase hex. */
export function loginSign(uuid: string, passwd: string, timestamp: string): string {
  return md5(uuid + passwd + timestamp + SIGN_MAGIC);
}

/** The uuid the platform hands out at register: the serial itself, so the MQTT identity is stable. */
export function deriveUuid(serial: string): string {
  return serial;
}

/** First 16 hex characters of HMAC-SHA256(secret, uuid): the seed's passwd is 16 characters. */
export function derivePassword(secret: string, uuid: string): string {
  return createHmac('sha256', secret).update(uuid, 'utf8').digest('hex').slice(0, 16);
}

/** Constant-time comparison; a device writing its hex in capitals still matches. */
export function signMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected.toLowerCase(), 'utf8');
  const b = Buffer.from(given.trim().toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

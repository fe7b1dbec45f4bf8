// The gantry's body MD5 (`binfile-md5`) and auth code (`binfile-auth`), checked on what comes in and
// written on what goes out; the simulator signs with the same md5Hex.
import { hash, timingSafeEqual } from 'node:crypto';

export function md5Hex(bytes: Buffer | string): string {
  // One-shot: a Hash object per upload showed in the gantry profile.
  return hash('md5', bytes, 'hex');
}

/** Digests of the configured secrets (few: a default and the per-gantry codes). */
const expectedDigests = new Map<string, Buffer>();

/** Compares secrets in constant time: hashing first gives equal-length inputs whatever was sent. */
export function secretMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  let a = expectedDigests.get(expected);
  if (!a) {
    a = hash('sha256', expected, 'buffer');
    expectedDigests.set(expected, a);
  }
  return timingSafeEqual(a, hash('sha256', given, 'buffer'));
}

/** `binfile-md5` is the MD5 of the raw body bytes; devices write it in either case. */
export function md5Matches(bytes: Buffer, header: string | undefined, md5 = md5Hex(bytes)): boolean {
  if (header === undefined || !/^[0-9a-fA-F]{32}$/.test(header.trim())) return false;
  return timingSafeEqual(Buffer.from(md5, 'hex'), Buffer.from(header.trim(), 'hex'));
}

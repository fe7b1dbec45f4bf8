// The ids of a simulated fleet: the first is the one a user gives (by default the one the docs
// address), the others count up from it, so that a second device is the docs' second device too.

/** Made of hex digits only, with a letter among them: a serial such as a QYZN terminal's, which
 *  counts in hex (`…325422a3`, `…325422a4`). An id of decimal digits only counts in decimal. */
const HEX_SERIAL = /^(?=.*[a-f])[0-9a-f]+$|^(?=.*[A-F])[0-9A-F]+$/;
const TRAILING_NUMBER = /^(.*?)(\d+)$/;

/** `count` ids: `first`, then `first` counted up by one each time (the trailing number, or the
 *  whole id when it is a hex serial), zero-padded to the width `first` has. */
export function idsFrom(first: string, count: number): string[] {
  if (first === '') throw new Error('--first-id must not be empty');
  if (count <= 1) return count === 1 ? [first] : [];
  if (HEX_SERIAL.test(first)) {
    const start = BigInt(`0x${first}`);
    const upper = first !== first.toLowerCase();
    return Array.from({ length: count }, (_, i) => {
      const hex = (start + BigInt(i)).toString(16).padStart(first.length, '0');
      return upper ? hex.toUpperCase() : hex;
    });
  }
  const match = TRAILING_NUMBER.exec(first);
  if (!match) throw new Error(`--first-id ${JSON.stringify(first)} does not end in a number to count the other devices up from`);
  const [, head = '', digits = ''] = match;
  const start = BigInt(digits);
  return Array.from({ length: count }, (_, i) => `${head}${(start + BigInt(i)).toString().padStart(digits.length, '0')}`);
}

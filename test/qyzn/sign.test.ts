import t from 'tap';
import { SIGN_MAGIC } from '../../adapters/qyzn/constants.js';
import { deriveUuid, derivePassword, loginSign, registerSign, signMatches } from '../../adapters/qyzn/sign.js';
import { GOLDEN_DATA } from './fixtures/frames.js';

t.test('the seed register frame (1.4) carries a valid sign', async (t) => {
  const { serial, mac, timestamp, sign } = GOLDEN_DATA;
  t.equal(registerSign(serial, mac, timestamp), sign);
  t.ok(signMatches(registerSign(serial, mac, timestamp), sign));
});

t.test('the sign magic is the seed one', async (t) => {
  t.equal(SIGN_MAGIC, 'P3K0eikSRSJHliME');
});

// Vectors computed outside Node: `openssl dgst -sha256 -hmac s3cret` and `md5sum`.
t.test('password derivation: first 16 hex chars of HMAC-SHA256(secret, uuid)', async (t) => {
  t.equal(deriveUuid(GOLDEN_DATA.serial), GOLDEN_DATA.serial);
  t.equal(derivePassword('s3cret', GOLDEN_DATA.serial), '52196d836e31d12b');
  t.not(derivePassword('other', GOLDEN_DATA.serial), '52196d836e31d12b');
  t.match(derivePassword('', 'x'), /^[0-9a-f]{16}$/);
});

t.test('login sign: md5(uuid + passwd + timestamp + magic), lowercase hex', async (t) => {
  t.equal(loginSign(GOLDEN_DATA.serial, '52196d836e31d12b', '1564535879'), 'ee3ede5849e659e23edecf2250a4c779');
});

t.test('sign comparison', async (t) => {
  const sign = registerSign('a', 'B', '1');
  t.ok(signMatches(sign, sign.toUpperCase()), 'capital hex accepted');
  t.ok(signMatches(sign, ` ${sign} `), 'padding ignored');
  t.notOk(signMatches(sign, sign.slice(1)), 'shorter refused');
  t.notOk(signMatches(sign, `${sign.slice(0, 31)}0` === sign ? `${sign.slice(0, 31)}1` : `${sign.slice(0, 31)}0`), 'one digit off refused');
  t.notOk(signMatches(sign, undefined), 'missing refused');
  t.notOk(signMatches(sign, 12345), 'number refused');
});

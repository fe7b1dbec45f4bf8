// The ids a simulated fleet takes: the docs' devices by default, counting up from the first.
import t from 'tap';
import { idsFrom } from '../../sim/common/ids.js';

t.test('a decimal id counts up its trailing number, keeping its width', async (t) => {
  t.same(idsFrom('486468465489', 3), ['486468465489', '486468465490', '486468465491'], 'wsdoor, as the docs number them');
  t.same(idsFrom('200000000001', 2), ['200000000001', '200000000002'], 'wscam');
  t.same(idsFrom('G000211001002110010', 2), ['G000211001002110010', 'G000211001002110011'], 'gantry: the number after the G');
  t.same(idsFrom('cli0001', 3), ['cli0001', 'cli0002', 'cli0003']);
  t.same(idsFrom('door9', 2), ['door9', 'door10'], 'a number that outgrows its width grows');
  t.same(idsFrom('SN-099', 2), ['SN-099', 'SN-100']);
});

t.test('a hex serial counts in hex, in its own case, carrying across digits', async (t) => {
  t.same(idsFrom('0c16d06a45914b758ca226ef325422a3', 2), ['0c16d06a45914b758ca226ef325422a3', '0c16d06a45914b758ca226ef325422a4'], 'qyzn, as the docs write it');
  t.same(idsFrom('0c16d06a45914b758ca226ef325422ff', 2)[1], '0c16d06a45914b758ca226ef32542300');
  t.same(idsFrom('0C16D06A45914B758CA226EF325422A9', 2)[1], '0C16D06A45914B758CA226EF325422AA');
});

t.test('one device takes any id; more need a number to count up', async (t) => {
  t.same(idsFrom('door', 1), ['door']);
  t.same(idsFrom('anything', 0), []);
  t.throws(() => idsFrom('door', 2), /--first-id "door" does not end in a number/);
  t.throws(() => idsFrom('', 1), /--first-id must not be empty/);
});

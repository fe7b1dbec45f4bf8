import t from 'tap';
import { decodeMessage, decodeResponse } from '../../adapters/qyzn/body.js';
import { trimKeys } from '../../src/json.js';
import { ProtocolError } from '../../src/errors.js';

const b = (text: string): Buffer => Buffer.from(text, 'utf8');

function reason(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ProtocolError ? err.reason : `not a ProtocolError: ${String(err)}`;
  }
  return undefined;
}

t.test('messages decode', async (t) => {
  const cases: Array<[string, string, { message: string; data: object }]> = [
    ['plain', '{"message":"sync_time","data":{"timestamp":"20190531145826123"}}', { message: 'sync_time', data: { timestamp: '20190531145826123' } }],
    ['no data', '{"message":"sync_person"}', { message: 'sync_person', data: {} }],
    ['null data', '{"message":"open_door","data":null}', { message: 'open_door', data: {} }],
    ['padded keys and name', '{" message ":" logout ","data":{" a ":{" b":1}}}', { message: 'logout', data: { a: { b: 1 } } }],
    ['utf-8 names', '{"message":"snapshot_face","data":{"fullName":"韩梅梅"}}', { message: 'snapshot_face', data: { fullName: '韩梅梅' } }],
  ];
  for (const [name, text, want] of cases) {
    const got = decodeMessage(b(text));
    t.same({ message: got.message, data: got.data }, want, name);
  }
  t.same(decodeMessage(b('{" message ":"x"}')).raw, { ' message ': 'x' }, 'raw keeps the keys untouched');
});

t.test('bad bodies are ProtocolErrors with a reason', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['not JSON', '{"message":', 'bad_json'],
    ['seed-style broken example', '{"message":"snapshot_face","data":{{"a":1}}}', 'bad_json'],
    ['array', '[1,2]', 'bad_json'],
    ['empty', '', 'bad_json'],
    ['__proto__', '{"message":"x","data":{"__proto__":{"polluted":1}}}', 'unsafe_key'],
    ['constructor.prototype', '{"message":"x","data":{"constructor":{"prototype":{"polluted":1}}}}', 'unsafe_key'],
    ['padded __proto__', '{"message":"x","data":{" __proto__ ":{"polluted":1}}}', 'unsafe_key'],
    ['no message', '{"data":{}}', 'bad_message'],
    ['empty message', '{"message":"  "}', 'bad_message'],
    ['data not an object', '{"message":"x","data":"y"}', 'bad_message'],
  ];
  for (const [name, text, want] of cases) t.equal(reason(() => decodeMessage(b(text))), want, name);
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');
});

t.test('responses decode', async (t) => {
  t.same(decodeResponse(b('{"result":0,"desc":"Success","data":{"image":"x"}}')), { result: 0, desc: 'Success', data: { image: 'x' }, extra: {} });
  t.same(decodeResponse(b('{"result":"104","desc":"bad"}')), { result: 104, desc: 'bad', data: undefined, extra: {} }, 'string result');
  t.same(decodeResponse(b('{"result":0,"desc":"Success","data":[{"groupKey":"time"}],"RspMsg":"get_time"}')), {
    result: 0,
    desc: 'Success',
    data: [{ groupKey: 'time' }],
    extra: { RspMsg: 'get_time' },
  });
  t.same(decodeResponse(b('{"message":"device_call_result","result":-1}')).extra, { message: 'device_call_result' });
  t.equal(reason(() => decodeResponse(b('{"desc":"no result"}'))), 'bad_message');
  t.equal(reason(() => decodeResponse(b('{"result":1.5}'))), 'bad_message');
  t.equal(reason(() => decodeResponse(b('{"result":'))), 'bad_json');
});

t.test('trimKeys leaves values alone', async (t) => {
  t.same(trimKeys({ ' a': [{ ' b ': ' c ' }] }), { a: [{ b: ' c ' }] });
  t.equal(trimKeys('x'), 'x');
});

// Table tests of the small pure pieces every input path relies on.
import t from 'tap';
import { MAX_DEPTH, parseJson, parseJsonObject, trimKeys } from '../../src/json.js';
import type { ProtocolError } from '../../src/errors.js';
import { Topics, isValidTopicLevel } from '../../src/topics.js';
import { matcher } from '../../src/mqtt.js';
import { extractMedia } from '../../src/media.js';

function reasonOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return (err as ProtocolError).reason;
  }
}

t.test('parseJson refuses what it must, with a reason', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['{"a":1}', null],
    ['[1,2]', null],
    ['{"a":', 'bad_json'],
    ['{"__proto__":{"x":1}}', 'unsafe_key'],
    ['{"a":{"constructor":{"prototype":{}}}}', 'unsafe_key'],
    ['x'.repeat(101), 'oversize'],
  ];
  for (const [input, reason] of cases) t.equal(reasonOf(() => parseJson(input, 100)), reason, input);
  t.equal(reasonOf(() => parseJsonObject('[1]', 100)), 'bad_json');
});

t.test('device identities must be one topic level', async (t) => {
  for (const ok of ['0c16d06a45914b758ca226ef325422a3', 'G-001', '门禁1']) t.ok(isValidTopicLevel(ok), ok);
  for (const bad of ['', 'a/b', 'a+', '#', 'a\u0000b', 'a\u0001b', 'a\nb', 'a\u007fb', 'a\u0085b', ' a', 'a ', 'x'.repeat(257), '\ud800', 'a\udc00', 5, null]) {
    t.notOk(isValidTopicLevel(bad), JSON.stringify(bad));
  }
  t.ok(isValidTopicLevel('x'.repeat(256)), '256 characters');
  t.ok(isValidTopicLevel('a b'), 'inner white space');
});

t.test('topics parse back into their parts', async (t) => {
  const topics = new Topics('site/g2m');
  t.same(topics.parse('site/g2m/qyzn/dev1/command/open_door', 'command', false), { adapter: 'qyzn', deviceId: 'dev1', name: 'open_door' });
  t.same(topics.parse('site/g2m/gantry/G1/request/queryAndGetCardInfo/reply', 'request', true), {
    adapter: 'gantry', deviceId: 'G1', name: 'queryAndGetCardInfo',
  });
  t.equal(topics.parse('site/g2m/qyzn/dev1/command/open_door/reply', 'command', false), undefined);
  t.equal(topics.parse('other/qyzn/dev1/command/x', 'command', false), undefined);
});

t.test('topic filters match as MQTT does', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/b/c/d', false],
    ['a/#', 'a/b/c', true],
    ['a/#', 'a', true],
    ['a/b', 'a/b', true],
    ['a/+', 'a', false],
  ];
  for (const [filter, topic, expected] of cases) t.equal(matcher(filter)(topic), expected, `${filter} ~ ${topic}`);
});

t.test('media: bytes out, data untouched in inline mode, a reference in reference mode', async (t) => {
  const data = { snap: { pic: `data:image/jpeg;base64,${Buffer.from('xyz').toString('base64')}` }, other: 1 };
  const inline = extractMedia(data, ['snap.pic', 'missing.path'], 'inline', (f) => `m/${f}`);
  t.equal(inline.data, data);
  t.same(inline.media, [{ field: 'pic', bytes: Buffer.from('xyz') }]);
  const ref = extractMedia(data, ['snap.pic'], 'reference', (f) => `m/${f}`);
  t.match(ref.data, { snap: { pic: { media: 'm/pic', bytes: 3, sha256: /^[0-9a-f]{64}$/ } }, other: 1 });
  t.match(data.snap.pic, /^data:image/, 'the caller’s object is not changed');
  const faces = { faces: [{ image: 'YQ==' }, { id: 2 }, { image: 'Yg==' }] };
  const many = extractMedia(faces, ['faces[].image'], 'reference', (f) => `m/${f}`);
  t.same(many.media.map((m) => [m.field, m.bytes.toString()]), [['image', 'a'], ['image', 'b']]);
  t.match(many.data, { faces: [{ image: { media: 'm/image', bytes: 1 } }, { id: 2 }, { image: { media: 'm/image' } }] });
  t.same(faces.faces[0], { image: 'YQ==' });
});

t.test('trimKeys trims at every depth, copies only when something changes, refuses unsafe keys', async (t) => {
  const clean = JSON.parse('{"a": [{"b": 1}], "c": {"d": "  e  "}}') as unknown;
  t.equal(trimKeys(clean), clean, 'nothing to trim: the same object, no copy');
  t.same(trimKeys(JSON.parse('{" a ": [{" b": 1}], "c": {"d ": " e "}}')), { a: [{ b: 1 }], c: { d: ' e ' } });
  for (const text of ['{" a": {" constructor": 1}}', '{" a": [{"__proto__ ": 1}]}', '{"prototype": 1}']) {
    t.throws(() => trimKeys(JSON.parse(text)), { name: 'ProtocolError', reason: 'unsafe_key' }, text);
  }
  const deep = '{"a":'.repeat(MAX_DEPTH + 1) + '1' + '}'.repeat(MAX_DEPTH + 1);
  t.throws(() => trimKeys(JSON.parse(deep)), { name: 'ProtocolError', reason: 'bad_message' }, 'nesting past MAX_DEPTH');
});

t.test('trimKeys copies only the path to what changed, in order, leaving its input as it was', async (t) => {
  const text = '{"id": 1, "same": {"x": [1, {"y": 2}]}, "list": [{"k": 1}, {" k": 2}, {"k": 3}], "deep": {"a": {" b": 1}}, "z": 0}';
  const input = JSON.parse(text) as Record<string, unknown> & { same: unknown; list: unknown[]; deep: { a: unknown } };
  const out = trimKeys(input) as typeof input;
  t.same(out, { id: 1, same: { x: [1, { y: 2 }] }, list: [{ k: 1 }, { k: 2 }, { k: 3 }], deep: { a: { b: 1 } }, z: 0 });
  t.same(Object.keys(out), ['id', 'same', 'list', 'deep', 'z'], 'key order kept');
  t.not(out, input, 'the top level holds a change below it: copied');
  t.equal(out.same, input.same, 'an untouched subtree is shared, not copied');
  t.not(out.list, input.list, 'the array holding the change: copied');
  t.equal(out.list[0], input.list[0], 'its untouched items are shared');
  t.equal(out.list[2], input.list[2]);
  t.not(out.deep, input.deep);
  t.same(input, JSON.parse(text), 'the input is not changed');
  t.same(trimKeys(JSON.parse('{"a": 1, " a": 2, "b ": 3}')), { a: 2, b: 3 }, 'a later key that trims to an earlier one wins, as JSON.parse would');
});

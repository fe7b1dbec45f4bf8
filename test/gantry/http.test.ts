// The upload route on the gateway's real HTTP server: both paths, the body bound, and the core's
// own routes left as they were.
import t from 'tap';
import { connectClient, startGateway } from '../helpers/harness.js';

t.test('POST /monitor.do and //monitor.do reach the gantry checks; an oversize body gets 413 and 1002', async (t) => {
  const { base, mqttUrl, httpUrl } = await startGateway(t, { config: { http: { bodyLimitBytes: 1024 } } });
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe(`${base}/bridge/event`);
  for (const path of ['/monitor.do', '//monitor.do']) {
    const res = await fetch(`${httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'binfile-md5': '0'.repeat(32) }, body: '{"a":1}' });
    t.same(await res.json(), { code: '1004', msg: '无效的签名' }, `${path}`);
    t.match(await inbox.json(`${base}/bridge/event`), { type: 'protocol_error', adapter: 'gantry', reason: 'bad_md5' });
  }
  const big = await fetch(`${httpUrl}/monitor.do`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2048) });
  t.equal(big.status, 413);
  t.same(await big.json(), { code: '1002', msg: '参数有误' });
  t.match(await inbox.json(`${base}/bridge/event`), { type: 'protocol_error', adapter: 'gantry', reason: 'oversize' });
  t.same(await (await fetch(`${httpUrl}/healthz`)).json(), { status: 'ok' }, 'the core’s routes are untouched');
});

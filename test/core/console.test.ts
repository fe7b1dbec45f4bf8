// The web console at GET /: in Debian's Chromium (playwright-core), a simulated terminal comes
// online on the page, its event arrives live, and a command sent from the form reaches the device
// and comes back with its reply; behind http.auth; bad requests answered 4xx, the gateway goes on.
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import t from 'tap';
import { TINY_JPEG_BASE64 } from '../../sim/common/jpeg.js';
import { DoorSimulator } from '../../sim/wsdoor/simulator.js';
import type { AdapterContext } from '../../src/adapter.js';
import type { Devices } from '../../src/devices.js';
import type { AdapterDefinition } from '../../src/gateway.js';
import { MAX_STREAMS } from '../../src/console/server.js';
import { hashPassword } from '../../src/passwd.js';
import { ROOT } from '../../src/paths.js';
import { EchoAdapter, EchoDevice, echoAdapter, type EchoConfig } from '../helpers/echo-adapter.js';
import { connectClient, DEADLINE_MS, startGateway, within, type Started, type Teardown } from '../helpers/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function door(t: Teardown, g: Started, sn: string): Promise<DoorSimulator> {
  const sim = new DoorSimulator({ url: `ws://${g.gateway.addresses().adapters.wsdoor as string}/door`, sn, autoHeartbeat: false, answerTimeoutMs: DEADLINE_MS });
  await sim.connect();
  t.teardown(() => sim.close().catch(() => undefined));
  return sim;
}

async function browser(t: Teardown): Promise<Browser> {
  const launched = await within(chromium.launch({ executablePath: CHROMIUM }), 'Chromium to start', 30_000);
  t.teardown(() => launched.close());
  return launched;
}

/** Waits, within the deadline, until the element's text matches. */
async function text(page: Page, selector: string, pattern: RegExp): Promise<void> {
  await page.waitForFunction(
    ([sel, source]) => [...document.querySelectorAll(sel as string)].some((el) => new RegExp(source as string).test(el.textContent ?? '')),
    [selector, pattern.source],
    { timeout: DEADLINE_MS },
  );
}

t.test('in a real browser: a device comes online, its event arrives live, a command from the form comes back with its reply', async (t) => {
  const users = [{ username: 'ops', password: await hashPassword('ops-secret') }];
  const g = await startGateway(t, { config: { http: { auth: { token: '', users } } } });
  const inbox = await connectClient(t, g.mqttUrl);
  await inbox.subscribe(`${g.base}/wsdoor/+/command/+/reply`);
  const context = await (await browser(t)).newContext({ httpCredentials: { username: 'ops', password: 'ops-secret' }, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));

  const response = await page.goto(`${g.httpUrl}/`);
  t.equal(response?.status(), 200, 'the page, with basic auth');
  await text(page, '#bridge-state', /^online$/);
  await text(page, '#adapters', new RegExp(`wsdoor${g.gateway.addresses().adapters.wsdoor as string}`));
  await text(page, '#feed-status', /^live$/);

  const sn = 'door-console-1';
  const terminal = await door(t, g, sn);
  await terminal.register();
  await text(page, `tr.device[data-device="${sn}"]`, /online/);
  await text(page, '#bridge-events li', new RegExp(`device_connected.*${sn}`));

  await page.click(`button.watch[data-device="${sn}"]`);
  await text(page, '#device-title', new RegExp(`^wsdoor/${sn}$`));
  // The device's feed is open (it listens before it answers): the next event cannot be missed.
  await text(page, '#feed-status', /^live$/);
  await terminal.sendEvent({ eventid: 'ev-console-1', data: { userId: '77986', img: TINY_JPEG_BASE64, door: '0' } });
  await text(page, '#device-feed li.device-event', /event\/realtimeEvent[\s\S]*ev-console-1/);
  await text(page, `tr.device[data-device="${sn}"] td.messages-in`, /^1$/);

  // The form is built from mappings/wsdoor/commands.json: addUser's fields, role an enum.
  await page.selectOption('#command-name', 'addUser');
  t.same(
    await page.$$eval('#command-fields [data-key]', (inputs) => inputs.map((i) => (i as HTMLInputElement).dataset.key)),
    ['user', 'userId', 'pwd', 'name', 'role', 'img'],
    'one field per property of the schema',
  );
  await page.fill('[data-key="user"]', 'zhangsan');
  await page.fill('[data-key="userId"]', 'u-42');
  await page.fill('[data-key="pwd"]', '1234');
  await page.fill('[data-key="name"]', 'Zhang San');
  await page.selectOption('[data-key="role"]', { label: '1' });
  await page.fill('[data-key="img"]', TINY_JPEG_BASE64);
  await page.click('#command-send');
  await text(page, '#command-reply.ok', /"ok": true[\s\S]*"code": "200"/);
  t.match(terminal.users.get('u-42'), { user: 'zhangsan', name: 'Zhang San', role: '1', img: TINY_JPEG_BASE64 }, 'the terminal got the user');
  const onMqtt = await inbox.json(`${g.base}/wsdoor/${sn}/command/addUser/reply`);
  t.match(onMqtt, { ok: true, code: '200' }, 'the reply is on MQTT too');

  // A query with one parameter, its answer shown.
  await page.selectOption('#command-name', 'selectUser');
  await page.fill('[data-key="userId"]', 'u-42');
  await page.click('#command-send');
  await text(page, '#command-reply.ok', /"code": "203"[\s\S]*"name": "Zhang San"/);
  await text(page, `tr.device[data-device="${sn}"] td:nth-child(7)`, /^2$/);
  // The picture of the page, with a device, its event and a reply on it: into docs/ when asked
  // (GATE2MQTT_TEST_SCREENSHOT=1), so that a test run leaves the work tree as it was.
  const shot = process.env.GATE2MQTT_TEST_SCREENSHOT === '1' ? join(ROOT, 'docs/console.png') : join(t.testdir(), 'console.png');
  const png = await page.screenshot({ path: shot, fullPage: true });
  t.same(png.subarray(1, 4), Buffer.from('PNG'), `a screenshot in ${shot}`);

  // What the schema refuses never reaches the device, and the page says why.
  await page.selectOption('#command-name', 'deleteUser');
  await page.click('#command-send');
  await text(page, '#command-reply.failed', /"type": "invalid"[\s\S]*userId/);
  t.ok(terminal.users.has('u-42'), 'nothing was deleted');

  await text(page, `tr.device[data-device="${sn}"] td:nth-child(7)`, /^2$/); // the refused one never reached it

  // Filters: by text, then by availability once the terminal is gone.
  await page.fill('#filter-q', 'no-such-door');
  await text(page, 'table.devices[data-adapter="wsdoor"]', /no device/);
  await page.fill('#filter-q', 'console');
  await text(page, `tr.device[data-device="${sn}"]`, /online/);
  await terminal.close();
  await text(page, `tr.device[data-device="${sn}"]`, /offline\s*closed/);
  await page.selectOption('#filter-online', 'true');
  await text(page, 'table.devices[data-adapter="wsdoor"]', /no device/);
  t.same(errors, [], 'no script error on the page');
});

t.test('in a real browser: what a device names itself is shown as text, never run as markup', async (t) => {
  const g = await startGateway(t);
  // A topic level (no "/"), so a valid identity: only the page's escaping stands in its way.
  const sn = '<img src=x onerror="window.pwned=1">';
  const terminal = await door(t, g, sn);
  await terminal.register();
  const page = await (await browser(t)).newPage();
  await page.goto(`${g.httpUrl}/`);
  await text(page, '#feed-status', /^live$/);
  t.equal(await page.locator('#overview img').count(), 0, 'no element made of it, server-rendered');
  await terminal.sendEvent({ eventid: 'ev-x' });
  await page.click('button.watch');
  await text(page, '#device-title', /^wsdoor\/<img src=x onerror="window.pwned=1">$/);
  await text(page, '#bridge-events', /device_connected/);
  await terminal.close();
  await text(page, 'tr.device', /offline/);
  t.equal(await page.locator('img').count(), 0, 'none after the script refreshed the page either');
  t.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined, 'nothing ran');
});

t.test('http.auth guards the page, its script, its data, its feed and its command path', async (t) => {
  const users = [{ username: 'ops', password: await hashPassword('ops-secret') }];
  const g = await startGateway(t, { config: { http: { auth: { token: 'tok-console', users } } } });
  const routes: Array<[string, string]> = [
    ['GET', '/'],
    ['GET', '/console/app.js'],
    ['GET', '/console/app.css'],
    ['GET', '/console/overview'],
    ['GET', '/console/api/state'],
    ['GET', '/console/api/commands/wsdoor'],
    ['GET', '/console/events'],
    ['POST', '/console/api/command'],
  ];
  for (const [method, path] of routes) {
    const body = method === 'POST' ? JSON.stringify({ adapter: 'wsdoor', deviceId: 'x', name: 'selectUser' }) : undefined;
    const headers = { 'content-type': 'application/json' };
    const denied = await within(fetch(`${g.httpUrl}${path}`, { method, headers, body }), `${method} ${path}`);
    t.equal(denied.status, 401, `${method} ${path} without credentials`);
    t.notMatch(await denied.text(), /gate2mqtt console|wsdoor/, 'and nothing of it');
    for (const authorization of ['Bearer tok-console', basic('ops', 'ops-secret')]) {
      const controller = new AbortController();
      const allowed = await within(fetch(`${g.httpUrl}${path}`, { method, headers: { ...headers, authorization }, body, signal: controller.signal }), `${method} ${path}`);
      t.equal(allowed.status, 200, `${method} ${path} with ${authorization.split(' ')[0]}`);
      controller.abort();
    }
  }
});

t.test('bad requests get a clear 4xx and the gateway goes on; the feed is bounded', async (t) => {
  const g = await startGateway(t);
  const post = async (body: string, type = 'application/json'): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await within(fetch(`${g.httpUrl}/console/api/command`, { method: 'POST', headers: { 'content-type': type }, body }), 'POST /console/api/command');
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  // What a cross-site HTML form can send: refused, so a browser holding credentials cannot be made to command.
  t.match(await post('{"adapter":"wsdoor"}', 'text/plain'), { status: 415, body: { error: { code: 'G2M_ERR_CONSOLE_REQUEST', message: /application\/json/ } } }, 'text/plain');
  t.match(await post('adapter=wsdoor', 'application/x-www-form-urlencoded'), { status: 415 }, 'a url-encoded form');
  t.match(await post('{"adapter":'), { status: 400 }, 'not JSON');
  t.match(await post('[1]'), { status: 400, body: { error: { message: /JSON object/ } } });
  t.match(await post(JSON.stringify({ adapter: 'wsdoor', deviceId: 'a/b', name: 'selectUser' })), { status: 400, body: { error: { message: /deviceId contains "\/"/ } } });
  t.match(await post(JSON.stringify({ adapter: 'wsdoor', deviceId: 7, name: 'selectUser' })), { status: 400, body: { error: { message: 'deviceId must be a string' } } });
  t.match(await post(JSON.stringify({ adapter: 'nope', deviceId: 'd', name: 'x' })), { status: 404, body: { error: { message: 'no adapter nope runs here' } } });
  t.match(await post(JSON.stringify({ adapter: 'wsdoor', deviceId: 'absent', name: 'selectUser' })), { status: 200, body: { ok: false, error: { type: 'offline' } } });
  t.match(await post(JSON.stringify({ adapter: 'wsdoor', deviceId: 'absent', name: 'nope' })), { status: 200, body: { ok: false, error: { type: 'unsupported' } } });
  t.match(await post(JSON.stringify({ adapter: 'wsdoor', deviceId: 'absent', name: 'selectUser', timeoutMs: 0 })), { status: 200, body: { error: { type: 'invalid', message: /timeoutMs/ } } });
  t.equal((await fetch(`${g.httpUrl}/console/api/commands/nope`)).status, 404);
  t.equal((await fetch(`${g.httpUrl}/console/events?adapter=nope`)).status, 404);

  // A device's feed: its events only, long strings (a base64 image) cut.
  const watched = await door(t, g, 'door-feed-1');
  await watched.register();
  const other = await door(t, g, 'door-feed-2');
  await other.register();
  const controller = new AbortController();
  t.teardown(() => controller.abort());
  const feed = await fetch(`${g.httpUrl}/console/events?adapter=wsdoor&device=door-feed-1`, { signal: controller.signal });
  t.equal(feed.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = (feed.body as ReadableStream<Uint8Array>).getReader();
  let seen = '';
  const until = async (pattern: RegExp): Promise<void> => {
    while (!pattern.test(seen)) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the feed ended');
      seen += Buffer.from(value).toString();
    }
  };
  await within(until(/: open/), 'the feed to open');
  const image = Buffer.alloc(3000, 7).toString('base64');
  await other.sendEvent({ eventid: 'not-this-one', data: { userId: '1', img: image, door: '0' } });
  await watched.sendEvent({ eventid: 'this-one', data: { userId: '1', img: image, door: '0' } });
  await within(until(/event: device\ndata: .*this-one/), 'the watched device event');
  t.notMatch(seen, /not-this-one/, 'not another device\'s event');
  t.match(seen, /"img":"[^"]{200}… \(4000 chars\)"/, 'the image is cut in the feed');
  t.notMatch(seen, new RegExp(image.slice(0, 400)), 'not streamed whole');

  // Past MAX_STREAMS feeds a new one is refused, not queued.
  const opened: AbortController[] = [];
  t.teardown(() => opened.forEach((c) => c.abort()));
  for (let i = 1; i < MAX_STREAMS; i++) {
    const c = new AbortController();
    opened.push(c);
    t.equal((await fetch(`${g.httpUrl}/console/events`, { signal: c.signal })).status, 200);
  }
  const refused = await fetch(`${g.httpUrl}/console/events`);
  t.equal(refused.status, 503, `feed ${MAX_STREAMS + 1} refused`);
  t.match(await refused.json(), { error: { message: new RegExp(`${MAX_STREAMS} live feeds`) } });
  opened.pop()?.abort();
  await within(
    (async () => {
      for (;;) {
        const again = await fetch(`${g.httpUrl}/console/events`, { signal: controller.signal });
        if (again.status === 200) return;
        await again.body?.cancel();
        await new Promise((resolve) => setImmediate(resolve));
      }
    })(),
    'a feed to be taken once one closed',
  );
  t.equal((await fetch(`${g.httpUrl}/healthz`)).status, 200, 'the gateway goes on');
  // Open feeds do not hold up the shutdown, and are ended by it.
  await within(g.gateway.stop(), 'the gateway to stop with feeds open', 5000);
  await within(
    (async () => {
      // Ended or cut (the server destroys its connections at stop): either way, over.
      while (!(await reader.read().catch(() => ({ done: true }))).done);
    })(),
    'the feed to end',
  );
});

t.test('a console observer that throws does not turn a message the broker took into a device failure', async (t) => {
  const definition: AdapterDefinition = {
    ...echoAdapter(),
    factory: ((context: AdapterContext<EchoConfig>) => {
      (context.devices as Devices).observe(() => {
        throw new Error('a broken observer');
      });
      return new EchoAdapter(context);
    }) as AdapterDefinition['factory'],
  };
  const g = await startGateway(t, { adapters: [definition] });
  const inbox = await connectClient(t, g.mqttUrl);
  await inbox.subscribe(`${g.base}/echo/d-obs/event/+`);
  const device = await EchoDevice.connect(g.gateway.addresses().adapters.echo as string, 'd-obs');
  t.teardown(() => device.close());
  device.send({ event: 'pass', key: 'k1', data: { n: 1 } });
  t.same(await device.next(), { ack: 'pass', ok: true }, 'the device is acknowledged');
  t.match(await inbox.json(`${g.base}/echo/d-obs/event/pass`), { data: { n: 1 } });
});

t.test('http.console false: no console routes', async (t) => {
  const g = await startGateway(t, { config: { http: { console: false } } });
  t.equal((await fetch(`${g.httpUrl}/`)).status, 404);
  t.equal((await fetch(`${g.httpUrl}/console/api/state`)).status, 404);
  t.equal((await fetch(`${g.httpUrl}/metrics`)).status, 200);
});

// The AsyncAPI document: generated from the code and mappings/ and current, valid for the AsyncAPI
// project's own parser, complete (every topic kind and every command and alias, with QoS 1 and
// the retain flag each has), its command schemas agreeing with what the gateway accepts, and served
// at GET /asyncapi.json for the running base topic, behind http.auth.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { API_ADAPTERS, ASYNCAPI_DOC, asyncApiDocument, asyncApiYaml } from '../../src/asyncapi.js';
import { Mappings } from '../../src/mappings.js';
import { ROOT } from '../../src/paths.js';
import { ERROR, WARNING, parseAsyncApi, payloadValidator } from '../helpers/asyncapi.js';
import { startGateway, within } from '../helpers/harness.js';

t.test('docs/asyncapi.yaml is generated from the current code and mappings (npm run docs:asyncapi)', async (t) => {
  t.equal(readFileSync(ASYNCAPI_DOC, 'utf8'), asyncApiYaml());
});

t.test('@asyncapi/parser reads the document without an error or a warning', async (t) => {
  const { document, diagnostics } = await parseAsyncApi();
  const serious = diagnostics.filter((d) => d.severity === ERROR || d.severity === WARNING);
  t.same(
    serious.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`),
    [],
    'no errors or warnings',
  );
  t.ok(document, 'a document');
  t.equal(document?.version(), '3.0.0');
});

t.test('the parser refuses a document broken on purpose: the check is not a formality', async (t) => {
  const broken = asyncApiDocument() as { operations: Record<string, { bindings: { mqtt: { qos: number } } }> };
  (broken.operations.sendDeviceEvent as { bindings: { mqtt: { qos: number } } }).bindings.mqtt.qos = 3;
  const { document, diagnostics } = await parseAsyncApi(JSON.stringify(broken));
  t.equal(document, undefined);
  t.ok(diagnostics.some((d) => d.severity === ERROR && d.path.join('.').includes('sendDeviceEvent')), 'an error at the broken binding');
});

t.test('every topic kind, every command and alias of every adapter, QoS 1, retain as published', async (t) => {
  const { document } = await parseAsyncApi();
  if (!document) throw new Error('no document');
  const retained: Record<string, boolean> = {
    sendBridgeState: true,
    sendBridgeInfo: true,
    sendBridgeEvent: false,
    sendDeviceAvailability: true,
    sendDeviceInfo: true,
    sendDeviceState: true,
    sendDeviceEvent: false,
    sendDeviceMedia: true,
    sendDeviceRequest: false,
    receiveDeviceRequestReply: false,
    receiveGantryWhitelist: true,
  };
  for (const [id, retain] of Object.entries(retained)) {
    const op = document.operations().get(id);
    t.ok(op, id);
    t.same(op?.bindings().get('mqtt')?.value(), { qos: 1, retain }, `${id}: QoS 1, retain ${String(retain)}`);
  }
  const event = document.channels().get('deviceEvent');
  t.equal(event?.address(), 'gate2mqtt/{adapter}/{deviceId}/event/{name}');
  t.same(
    event?.parameters().all().map((p) => p.id()),
    ['adapter', 'deviceId', 'name'],
  );
  let commands = 0;
  for (const adapter of API_ADAPTERS) {
    for (const name of new Mappings(adapter).commandNames()) {
      commands++;
      const op = document.operations().get(`receive_${adapter}_${name}`);
      t.equal(op?.action(), 'receive', `${adapter} ${name}: the gateway receives it`);
      t.same(
        op?.channels().all().map((c) => c.address()),
        [`gate2mqtt/${adapter}/{deviceId}/command/${name}`],
      );
      t.equal(op?.reply()?.channel()?.address(), `gate2mqtt/${adapter}/{deviceId}/command/${name}/reply`, `${adapter} ${name}: its reply`);
      t.same(op?.bindings().get('mqtt')?.value(), { qos: 1, retain: false });
    }
  }
  t.ok(commands > 50, `${commands} commands and aliases`);
  const receiving = document.operations().all().filter((op) => op.action() === 'receive').length;
  t.equal(receiving, commands + 2, 'no other command operations: the commands, request replies and whitelists');
});

t.test("each command's payload schema takes what the gateway's own check of its data takes", async (t) => {
  const { document } = await parseAsyncApi();
  if (!document) throw new Error('no document');
  const validator = payloadValidator();
  for (const adapter of API_ADAPTERS) {
    const mappings = new Mappings(adapter);
    for (const name of mappings.commandNames()) {
      const resolved = mappings.command(name);
      if (!resolved) throw new Error(`${adapter} ${name}`);
      const message = document.allMessages().get(`${adapter}_${name}_command`);
      const validate = validator(message?.payload()?.json());
      const defaults = Object.keys(resolved.defaults ?? {});
      // An empty data is the one sample every command has. The gateway lays an alias's defaults
      // under it; JSON Schema cannot say "valid once merged", so an alias's schema may be looser
      // than the gateway, never stricter (a generated client must not refuse a valid command).
      const gateway = resolved.validate({ ...resolved.defaults });
      const documented = validate({ id: 'x', data: {} });
      if (defaults.length === 0) t.equal(documented, gateway, `${adapter} ${name}: data {} is ${gateway ? 'accepted' : 'refused'} by both`);
      else if (gateway) t.ok(documented, `${adapter} ${name}: data {} accepted by the gateway, and so by the document`);
      for (const key of defaults) {
        const wrong = { [key]: { not: 'a value' } };
        t.notOk(resolved.validate({ ...resolved.defaults, ...wrong }), `${adapter} ${name}: ${key} an object is refused by the gateway`);
        t.notOk(validate({ data: wrong }), `${adapter} ${name}: and by the document`);
      }
      t.notOk(validate({ timeoutMs: 0 }), `${adapter} ${name}: timeoutMs 0 is refused`);
      t.notOk(validate({ data: 'text' }), `${adapter} ${name}: data must be an object`);
    }
  }
});

t.test('GET /asyncapi.json serves the document for the running base topic', async (t) => {
  const { httpUrl, base } = await startGateway(t);
  const response = await within(fetch(`${httpUrl}/asyncapi.json`), 'GET /asyncapi.json');
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type'), /^application\/json/);
  const served = (await response.json()) as { channels: Record<string, { address: string }> };
  t.same(served, asyncApiDocument({ base }));
  t.equal(served.channels.deviceEvent?.address, `${base}/{adapter}/{deviceId}/event/{name}`);
  const { diagnostics } = await parseAsyncApi(JSON.stringify(served));
  t.same(
    diagnostics.filter((d) => d.severity === ERROR).map((d) => d.message),
    [],
    'valid as served',
  );
});

t.test('with http.auth, /asyncapi.json needs the token', async (t) => {
  const { httpUrl } = await startGateway(t, { config: { http: { auth: { token: 'api-token', users: [] } } } });
  t.equal((await within(fetch(`${httpUrl}/asyncapi.json`), 'GET without a token')).status, 401);
  const allowed = await within(fetch(`${httpUrl}/asyncapi.json`, { headers: { authorization: 'Bearer api-token' } }), 'GET with the token');
  t.equal(allowed.status, 200);
  t.match(await allowed.json(), { asyncapi: '3.0.0' });
});

t.test('the README links the document and names the route', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  t.match(readme, '](docs/asyncapi.yaml)');
  t.match(readme, '/asyncapi.json');
  t.match(readme, 'npm run docs:asyncapi');
});

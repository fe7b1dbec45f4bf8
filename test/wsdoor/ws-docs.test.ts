// The pages of both WebSocket adapters (docs/wsdoor.md, docs/wscam.md) are part of the feature:
// every option and topic is there, and every example is pasteable (each command's mosquitto_pub
// payload passes its schema, each YAML block loads). Kept beside ws-common.test.ts, which covers
// what the two adapters share.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { isObject } from '../../src/json.js';
import { Mappings } from '../../src/mappings.js';
import { ROOT } from '../../src/paths.js';
import { wscamConfigSchema } from '../../adapters/wscam/config.js';
import { CONTROL_TYPES } from '../../adapters/wscam/constants.js';
import { wsdoorConfigSchema } from '../../adapters/wsdoor/config.js';

const pages = [
  { adapter: 'wsdoor', schema: wsdoorConfigSchema, topics: ['availability', 'info', 'event/realtimeEvent', 'media/img'] },
  { adapter: 'wscam', schema: wscamConfigSchema, topics: ['availability', 'info', 'event/upload_snapshot', 'media/data'] },
] as const;

function blocks(page: string, language: string): string[] {
  return [...page.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1] as string);
}

/** Every `mosquitto_pub ... -t '<topic>' ... -m '<payload>'` line of the page. */
function publishes(page: string): Array<{ topic: string; payload: string }> {
  return [...page.matchAll(/^mosquitto_pub .*-t '([^']+)'.* -m '([^']+)'$/gm)].map((m) => ({ topic: m[1] as string, payload: m[2] as string }));
}

for (const { adapter, schema, topics } of pages) {
  const page = readFileSync(join(ROOT, 'docs', `${adapter}.md`), 'utf8');

  t.test(`${adapter}: every option, with its variable`, async (t) => {
    for (const [key, spec] of Object.entries(schema)) {
      t.ok(page.includes(`\`${adapter}.${key}\``), `${adapter}.${key}`);
      const env = (spec as { env?: string }).env;
      if (env) t.ok(page.includes(env), env);
    }
    for (const topic of topics) t.ok(page.includes(`gate2mqtt/${adapter}/{sn}/${topic}\``), topic);
  });

  t.test(`${adapter}: a pasteable mosquitto_pub for every command, passing its schema`, async (t) => {
    const mappings = new Mappings(adapter);
    const examples = publishes(page);
    const covered = new Set<string>();
    for (const { topic, payload } of examples) {
      const name = new RegExp(`^gate2mqtt/${adapter}/[^/]+/command/([^/]+)$`).exec(topic)?.[1];
      const command = name === undefined ? undefined : mappings.command(name);
      if (!t.ok(command, `${topic} is a command topic`) || !command || !name) continue;
      const body = JSON.parse(payload) as unknown;
      if (!isObject(body)) {
        t.fail(`${name}: the payload is a JSON object`);
        continue;
      }
      // As the router checks it: an alias's defaults laid under the data sent.
      const data = { ...(command.defaults ?? {}), ...(isObject(body.data) ? body.data : {}) };
      t.ok(command.validate(data), `${name}: ${JSON.stringify(body.data)} passes the schema`);
      const type = isObject(body.data) && isObject(body.data.cmd_data) ? body.data.cmd_data.type : undefined;
      covered.add(typeof type === 'string' ? `${name}:${type}` : name);
    }
    const expected = mappings.commandNames().flatMap((name) => (name === 'control_cmd' ? CONTROL_TYPES.map((type) => `${name}:${type}`) : [name]));
    t.same([...covered].sort(), expected.sort(), 'one example per command (each control_cmd type)');
  });

  t.test(`${adapter}: the YAML example loads as it is`, async (t) => {
    const yaml = blocks(page, 'yaml');
    t.equal(yaml.length, 1);
    const dir = mkdtempSync(join(tmpdir(), `g2m-${adapter}-docs-`));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, yaml[0] ?? '');
    const { config } = loadConfig({ file, env: {}, args: [] });
    t.match(config[adapter], { enabled: true, allowSn: Array, maxPayloadBytes: 8 * 1024 * 1024 });
  });
}

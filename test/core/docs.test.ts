// The docs are part of the feature: the configuration reference is generated from the schema and
// must be current, the example file must load, and the README must show the two commands.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CONFIG_DOC, configReference } from '../../src/config-docs.js';
import { loadConfig } from '../../src/config.js';
import { ROOT } from '../../src/paths.js';
import { Mappings } from '../../src/mappings.js';

t.test('docs/configuration.md is generated from the current schema (npm run docs:config)', async (t) => {
  t.equal(readFileSync(CONFIG_DOC, 'utf8'), configReference());
});

t.test('the example configuration loads as it is', async (t) => {
  const { config } = loadConfig({ file: join(ROOT, 'config/gate2mqtt.example.yaml'), env: {}, args: [] });
  t.equal(config.baseTopic, 'gate2mqtt');
  t.equal(config.qyzn.answers.qrcode_data.mode, 'mqtt');
});

t.test('the README shows the two commands first and links the references', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('npm ci && npm start');
  const test = readme.indexOf('npm ci && npm test');
  t.ok(start > 0 && test > 0, 'both commands are there');
  t.ok(start < readme.indexOf('## Topics'), 'before the references');
  t.match(readme, /docs\/configuration\.md/);
});

t.test('every command and alias of every adapter is documented in its page', async (t) => {
  for (const adapter of ['gantry', 'qyzn', 'wsdoor', 'wscam']) {
    const page = readFileSync(join(ROOT, 'docs', `${adapter}.md`), 'utf8');
    t.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), `docs/${adapter}.md`, `the README links docs/${adapter}.md`);
    for (const name of new Mappings(adapter).commandNames()) t.ok(page.includes(`\`${name}\``), `${adapter} ${name}`);
  }
});

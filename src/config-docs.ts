// Writes docs/configuration.md from the convict schema, so the reference cannot drift from the
// code (a test compares the two). Run: npm run docs:config
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { schema } from './config.js';
import { ROOT } from './paths.js';

interface Row {
  path: string;
  doc: string;
  defaultValue: unknown;
  env: string | undefined;
  arg: string | undefined;
  sensitive: boolean;
}

function rows(node: object, prefix = ''): Row[] {
  const out: Row[] = [];
  for (const [key, value] of Object.entries(node) as Array<[string, Record<string, unknown>]>) {
    const path = `${prefix}${key}`;
    if (value && typeof value === 'object' && 'default' in value) {
      out.push({
        path,
        doc: String(value.doc ?? ''),
        defaultValue: value.default,
        env: value.env as string | undefined,
        arg: value.arg as string | undefined,
        sensitive: value.sensitive === true,
      });
    } else if (value && typeof value === 'object') {
      out.push(...rows(value, `${path}.`));
    }
  }
  return out;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function configReference(): string {
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config.ts and adapters/*/config.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'Every option can be set in the configuration file (`--config FILE` or `GATE2MQTT_CONFIG`, JSON or YAML, by its',
    'path), and many by an environment variable or a command-line flag. Flags win over the environment, which wins',
    'over the file. `npm start -- --print-config` shows the effective configuration with secrets redacted.',
    '',
    '| option | environment | flag | default | meaning |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const row of rows(schema)) {
    const shown = `\`${JSON.stringify(row.defaultValue)}\``;
    lines.push(
      `| \`${row.path}\` | ${row.env ? `\`${row.env}\`` : ''} | ${row.arg ? `\`--${row.arg}\`` : ''} | ${shown} | ${cell(row.doc)}${row.sensitive ? ' (secret: redacted when printed)' : ''} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export const CONFIG_DOC = join(ROOT, 'docs', 'configuration.md');

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  mkdirSync(dirname(CONFIG_DOC), { recursive: true });
  writeFileSync(CONFIG_DOC, configReference());
  process.stdout.write(`wrote ${CONFIG_DOC}\n`);
}

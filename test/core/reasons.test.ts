// The reasons of bridge/event and of the protocol-error metric are a public contract: the README's
// list is exactly the union in src/errors.ts, and no adapter reports a reason outside it.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../../src/paths.js';

function union(source: string, name: string): string[] {
  const code = source.replace(/\/\/.*$/gm, '');
  const start = code.indexOf(`export type ${name} =`);
  const body = code.slice(start, code.indexOf(';', start));
  return [...body.matchAll(/\| '([a-z_]+)'/g)].map((m) => m[1] as string);
}

function tokens(table: string): string[] {
  return [...table.matchAll(/^\| ((?:`[a-z_]+`(?:, )?)+) \|/gm)].flatMap((m) => [...(m[1] as string).matchAll(/`([a-z_]+)`/g)].map((n) => n[1] as string));
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

t.test('the README lists every reason of the catalogue, and only those', async (t) => {
  const errors = readFileSync(join(ROOT, 'src/errors.ts'), 'utf8');
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Reasons'), readme.indexOf('### Identities'));
  const [protocol, auth] = section.split('`auth_failed` reasons:') as [string, string];
  t.same(tokens(protocol).sort(), union(errors, 'ProtocolReason').sort(), 'protocol_error reasons');
  t.same(tokens(auth).sort(), union(errors, 'AuthReason').sort(), 'auth_failed reasons');
});

t.test('no error code outside src/errors.ts', async (t) => {
  const offenders = [...files(join(ROOT, 'src')), ...files(join(ROOT, 'adapters'))]
    .filter((file) => !file.endsWith(join('src', 'errors.ts')))
    .filter((file) => /['`]G2M_ERR_/.test(readFileSync(file, 'utf8')));
  t.same(offenders, [], 'G2M_ERR_* codes are made only by the catalogue');
});

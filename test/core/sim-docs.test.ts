// Every simulator command the docs show can be pasted: each `npm run <script>` names a script of
// package.json, and each file under sim/ that a page names exists. And the shipped code (src/,
// adapters/: the build and the package's `files`) never imports sim/, test/ or bench/.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../../src/paths.js';

const pages = ['README.md', 'sim/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

t.test('every npm script and sim/ file the docs name exists', async (t) => {
  for (const page of pages) {
    const text = readFileSync(join(ROOT, page), 'utf8');
    for (const [, script] of text.matchAll(/npm run ([\w:-]+)(?=[\s`,)]|$)/gm)) t.ok(scripts.includes(script as string), `${page}: npm run ${script}`);
    for (const [path] of text.matchAll(/\bsim\/[\w/.-]+\.ts\b/g)) t.ok(existsSync(join(ROOT, path)), `${page}: ${path}`);
  }
  for (const protocol of ['qyzn', 'gantry', 'wsdoor', 'wscam']) t.ok(scripts.includes(`sim:${protocol}`), `sim:${protocol}`);
});

t.test('src/ and adapters/ import nothing from sim/, test/ or bench/', async (t) => {
  for (const dir of ['src', 'adapters']) {
    for (const file of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(ROOT, dir, file), 'utf8');
      t.notMatch(text, /from '(\.\.\/)+(sim|test|bench)\//, `${dir}/${file}`);
    }
  }
});

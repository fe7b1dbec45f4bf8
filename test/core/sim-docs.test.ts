// Every simulator command the docs show can be pasted: each `npm run <script>` names a script of
// package.json, each file under sim/ that a page names exists, and each option a page's Simulator
// section names is one its CLI takes (a renamed option leaves no stale name behind). And the shipped code (src/,
// adapters/: the build and the package's `files`) never imports sim/, test/ or bench/.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../../src/paths.js';
import { runSimulatorCli } from '../helpers/ws-gateway.js';

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

t.test('every option the Simulator section of a page names is one its CLI takes (its --help lists it)', async (t) => {
  for (const protocol of ['qyzn', 'gantry', 'wsdoor', 'wscam']) {
    const page = readFileSync(join(ROOT, `docs/${protocol}.md`), 'utf8');
    const section = /^## Simulator\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(page)?.[1] ?? '';
    t.ok(section.length > 0, `docs/${protocol}.md has a Simulator section`);
    const help = await runSimulatorCli(protocol, ['--help']);
    t.equal(help.code, 0);
    for (const option of new Set([...section.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]))) t.match(help.stdout, new RegExp(`^\\s+(-\\w, )?${option}\\b`, 'm'), `docs/${protocol}.md: ${option}`);
  }
});

t.test('src/ and adapters/ import nothing from sim/, test/ or bench/', async (t) => {
  for (const dir of ['src', 'adapters']) {
    for (const file of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(ROOT, dir, file), 'utf8');
      t.notMatch(text, /from '(\.\.\/)+(sim|test|bench)\//, `${dir}/${file}`);
    }
  }
});

// The shell examples of the README and docs/, read as data: which pages, which blocks, and in each
// block the commands a user would type, each classified the way a user would run it (the gateway
// in its own shell, a simulator or a watching mosquitto_sub left running, everything else run to
// its end). The runner in test/docs/ executes them; nothing here is a copy of an example.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../src/paths.js';

/** The pages in the order a new user reads them: the README first, then each device's page. */
export const PAGES = ['README.md', 'docs/qyzn.md', 'docs/gantry.md', 'docs/wsdoor.md', 'docs/wscam.md', 'docs/deploy.md', 'docs/benchmarks.md', 'docs/configuration.md'];

export type Step =
  /** `NAME=value` lines: a shell variable the later commands of the page use (`export`: also their environment). */
  | { kind: 'assign'; line: number; text: string; names: string[]; exported: boolean }
  /** `npm start` and the like: replaces the gateway that runs. */
  | { kind: 'gateway'; line: number; text: string }
  /** Left running in a shell of its own: a simulator, a watching mosquitto_sub, a command ending in `&`. */
  | { kind: 'background'; line: number; text: string; simulator?: string }
  /** Run to its end; `expect` is what the comment under it says it prints. */
  | { kind: 'run'; line: number; text: string; expect?: Expectation };

export type Expectation = { json: unknown } | { text: string };

export interface Block {
  page: string;
  line: number;
  /** Why a block is not run, from the `<!-- example: skip (...) -->` comment above it. */
  skip?: string;
  /** `<!-- example: embedded broker only -->`: it needs the embedded broker (its TLS, its port). */
  embeddedOnly?: boolean;
  steps: Step[];
}

const FENCE = /^(\s*)```(\w*)\s*$/;
const SKIP = /^\s*<!-- example: skip \((.+)\) -->\s*$/;
const EMBEDDED_ONLY = /^\s*<!-- example: embedded broker only -->\s*$/;
const SHELL = new Set(['sh', 'bash', 'shell']);

export function readBlocks(page: string): Block[] {
  const lines = readFileSync(join(ROOT, page), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '');
    if (!open) continue;
    const indent = open[1]?.length ?? 0;
    let end = i + 1;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end] ?? '')) end++;
    if (SHELL.has(open[2] ?? '')) {
      let above = i - 1;
      while (above >= 0 && (lines[above] ?? '').trim() === '') above--;
      const skip = SKIP.exec(lines[above] ?? '')?.[1];
      const body = lines.slice(i + 1, end).map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)));
      // A skipped block is not parsed either: its comments may show output of a run that is not made.
      const embeddedOnly = EMBEDDED_ONLY.test(lines[above] ?? '');
      blocks.push(skip ? { page, line: i + 1, skip, steps: [] } : { page, line: i + 1, ...(embeddedOnly ? { embeddedOnly } : {}), steps: steps(body, i + 2) });
    }
    i = end;
  }
  return blocks;
}

/** Splits a block into commands: continuation lines joined, comments dropped unless they say what the command above prints. */
function steps(body: string[], firstLine: number): Step[] {
  const found: Step[] = [];
  for (let i = 0; i < body.length; i++) {
    const line = firstLine + i;
    let text = body[i] ?? '';
    while (text.endsWith('\\') && i + 1 < body.length) text = `${text.slice(0, -1)} ${(body[++i] ?? '').trim()}`;
    const trimmed = text.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      const expect = expectation(trimmed);
      const last = found.at(-1);
      const underCommand = i > 0 && (body[i - 1] ?? '').trim() !== '' && !(body[i - 1] ?? '').trim().startsWith('#');
      if (expect && last && underCommand) {
        if (last.kind !== 'run') throw new Error(`line ${line}: an expected output under a command that is not run to its end`);
        last.expect = expect;
      }
      continue;
    }
    found.push(classify(withoutComment(trimmed), line));
  }
  return found;
}

function expectation(comment: string): Expectation | undefined {
  const text = comment.replace(/^#\s?/, '');
  if (text.startsWith('prints: ')) return { text: text.slice('prints: '.length) };
  if (!text.startsWith('{')) return undefined;
  return { json: JSON.parse(text) as unknown };
}

function classify(text: string, line: number): Step {
  const words = shellWords(text);
  const exported = words[0] === 'export';
  const rest = exported ? words.slice(1) : words;
  // The leading NAME=value words: the command's environment, or, with nothing after them, the shell's variables.
  const leading = rest.findIndex((w) => !/^[A-Za-z_]\w*=/.test(w));
  const assigns = leading === -1 ? rest : rest.slice(0, leading);
  if (rest.length > 0 && leading === -1) {
    return { kind: 'assign', line, text, names: assigns.map((w) => w.slice(0, w.indexOf('='))), exported };
  }
  if (text.endsWith('&') && !text.endsWith('&&')) return { kind: 'background', line, text: text.slice(0, -1).trim() };
  const command = rest.slice(assigns.length);
  const program = command[0] ?? '';
  const gatewayLike = /(^|\s)npm start\b|(^|\s)npx gate2mqtt\b|(^|\s)node dist\/src\/main\.js\b/.test(text);
  if (gatewayLike) {
    const oneShot = /--version|--help|--print-config|main\.js passwd|gate2mqtt passwd/.test(text);
    return oneShot ? { kind: 'run', line, text } : { kind: 'gateway', line, text };
  }
  if (program === 'npm' && command[1] === 'run' && /^sim:/.test(command[2] ?? '')) {
    const ends = command.includes('--duration') || command.includes('--help');
    return ends ? { kind: 'run', line, text } : { kind: 'background', line, text, simulator: (command[2] ?? '').slice(4) };
  }
  if (program === 'mosquitto_sub' && !command.includes('-C') && !command.includes('-W')) return { kind: 'background', line, text };
  return { kind: 'run', line, text };
}

/** A trailing `# ...` comment, outside quotes, is the user's note, not part of the command. */
function withoutComment(text: string): string {
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) return text.slice(0, i).trimEnd();
  }
  return text;
}

/** The words of a command line as the shell splits them at top level (quotes and `$(...)` kept whole). */
function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (quote) {
      if (c === quote) quote = '';
      word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word += c;
    } else if (c === '$' && text[i + 1] === '(') {
      depth++;
      word += '$(';
      i++;
    } else if (c === ')' && depth > 0) {
      depth--;
      word += c;
    } else if (/\s/.test(c) && depth === 0) {
      if (word) words.push(word);
      word = '';
    } else word += c;
  }
  if (word) words.push(word);
  return words;
}

// Mappings are data: each adapter's folder in mappings/ declares its commands (a JSON Schema for
// each command's `data`), friendly aliases and whatever field declarations the adapter reads.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import type { JsonObject } from './adapter.js';
import { MappingsError } from './errors.js';
import { lenientConverter } from './leniency.js';
import { ROOT } from './paths.js';

export interface CommandSpec {
  description?: string;
  /** JSON Schema of the command's `data`. */
  schema: JsonObject;
}

export interface AliasSpec {
  description?: string;
  /** The protocol's own command this alias stands for. */
  command: string;
  /** Laid under the caller's `data` (the caller's values win). */
  defaults?: JsonObject;
}

export interface CommandsFile {
  commands?: Record<string, CommandSpec>;
  aliases?: Record<string, AliasSpec>;
}

/** A command as the console's form offers it: its schema, and for an alias what it stands for. */
export interface DescribedCommand {
  name: string;
  description: string;
  schema: JsonObject;
  alias?: { command: string; defaults: JsonObject };
}

export interface ResolvedCommand {
  /** The protocol's own name. */
  name: string;
  /** Numbers sent as strings and numeric strings sent as numbers, as the schema wants them
   *  (src/leniency.ts): run on the data before `validate`. */
  convert: (data: JsonObject) => JsonObject;
  validate: ValidateFunction;
  defaults: JsonObject | undefined;
}

const MAPPINGS_DIR = join(ROOT, 'mappings');

/** The declarations of `mappings/{adapter}/commands.json` as written (none when it is missing):
 *  what the AsyncAPI document is generated from. */
export function commandsFile(adapter: string, dir = join(MAPPINGS_DIR, adapter)): CommandsFile {
  const file = join(dir, 'commands.json');
  return existsSync(file) ? (readJson(file) as CommandsFile) : {};
}

export class Mappings {
  private readonly dir: string;
  private readonly commands = new Map<string, ResolvedCommand>();
  private readonly described: DescribedCommand[] = [];

  /** Reads and compiles `mappings/{adapter}/commands.json` once. Throws MappingsError naming the
   *  file and what is wrong with it: the adapter does not start, the others do. */
  constructor(adapter: string, dir = join(MAPPINGS_DIR, adapter)) {
    this.dir = dir;
    const file = join(dir, 'commands.json');
    const spec = commandsFile(adapter, dir);
    const ajv = new Ajv({ allErrors: true, strict: true });
    for (const [name, command] of Object.entries(spec.commands ?? {})) {
      try {
        this.commands.set(name, { name, convert: lenientConverter(command.schema), validate: ajv.compile(command.schema), defaults: undefined });
        this.described.push({ name, description: command.description ?? '', schema: command.schema });
      } catch (err) {
        throw new MappingsError(file, `commands.${name}.schema: ${(err as Error).message}`);
      }
    }
    for (const [alias, target] of Object.entries(spec.aliases ?? {})) {
      const native = this.commands.get(target.command);
      if (!native) throw new MappingsError(file, `aliases.${alias}: names unknown command ${JSON.stringify(target.command)}`);
      this.commands.set(alias, { ...native, defaults: target.defaults });
      const schema = spec.commands?.[target.command]?.schema ?? {};
      this.described.push({ name: alias, description: target.description ?? '', schema, alias: { command: target.command, defaults: target.defaults ?? {} } });
    }
  }

  /** The command a name (native or alias) stands for, or undefined: `unsupported`. */
  command(name: string): ResolvedCommand | undefined {
    return this.commands.get(name);
  }

  commandNames(): string[] {
    return [...this.commands.keys()];
  }

  /** Whether this adapter has the declaration file `mappings/{adapter}/{name}.json`. */
  has(name: string): boolean {
    return existsSync(join(this.dir, `${name}.json`));
  }

  /** Every command and alias with its schema, in the file's order (natives first). */
  describe(): readonly DescribedCommand[] {
    return this.described;
  }

  /** Another declaration file of this adapter, `mappings/{adapter}/{name}.json`. */
  read<T>(name: string): T {
    return readJson(join(this.dir, `${name}.json`)) as T;
  }
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MappingsError(file, (err as Error).message);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MappingsError(file, `not JSON: ${(err as Error).message}`);
  }
}

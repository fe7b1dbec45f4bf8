// The example bodies of both seeds, byte for byte (tabs, stray spaces and all), extracted from
// shared/seeds into fixtures/. Only a "[bookmark: _GoBack]" line left by v0.37's document
// conversion was removed from its queryAndGetCardInfo request.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export type SeedEdition = 'v037' | 'v103';

export function seedText(edition: SeedEdition, name: string): string {
  return readFileSync(join(FIXTURES, `${edition}-${name}.json`), 'utf8');
}

export function seedJson(edition: SeedEdition, name: string): Record<string, unknown> {
  return JSON.parse(seedText(edition, name)) as Record<string, unknown>;
}

export function allSeedExamples(): { edition: SeedEdition; name: string; text: string }[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const [edition, ...rest] = f.replace(/\.json$/, '').split('-');
      return { edition: edition as SeedEdition, name: rest.join('-'), text: readFileSync(join(FIXTURES, f), 'utf8') };
    });
}

export const UPLOAD_EXAMPLES = ['computerStatusUpdate', 'cabinetStatusUpdate', 'queryAndGetCardInfo'] as const;

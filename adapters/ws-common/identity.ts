// How the WebSocket devices name themselves; the core's topicLevelProblem says what an identity may be.

/** The identity as a string: device firmware sends sn as a string, some as a number. */
export function identityOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return undefined;
}

export class AllowList {
  private readonly allowed: ReadonlySet<string>;

  /** Entries come from a file (strings or numbers) or a comma-separated variable (may be blank). */
  constructor(entries: readonly unknown[]) {
    this.allowed = new Set(entries.map((entry) => String(entry).trim()).filter((entry) => entry !== ''));
  }

  get enabled(): boolean {
    return this.allowed.size > 0;
  }

  allows(id: string): boolean {
    return this.allowed.size === 0 || this.allowed.has(id);
  }
}

// Numbers out of samples: percentiles, medians, rates. Samples are kept (not binned) up to a cap,
// then thinned by reservoir sampling, so a 60 s run at thousands of messages a second stays exact
// enough without unbounded memory.

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export const EMPTY_SUMMARY: Summary = { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };

/** A growable list of numbers; past `cap` values, a uniform reservoir of `cap` of them. */
export class Samples {
  private values: Float64Array;
  private size = 0;
  private seen = 0;
  private readonly cap: number;

  constructor(cap = 2_000_000) {
    this.cap = cap;
    this.values = new Float64Array(Math.min(cap, 4096));
  }

  get count(): number {
    return this.seen;
  }

  add(value: number): void {
    this.seen += 1;
    if (this.size < this.cap) {
      if (this.size === this.values.length) {
        const grown = new Float64Array(Math.min(this.cap, this.values.length * 2));
        grown.set(this.values);
        this.values = grown;
      }
      this.values[this.size++] = value;
      return;
    }
    const slot = Math.floor(Math.random() * this.seen);
    if (slot < this.cap) this.values[slot] = value;
  }

  summary(): Summary {
    if (this.size === 0) return { ...EMPTY_SUMMARY };
    const sorted = this.values.slice(0, this.size).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: this.seen,
      p50: quantile(sorted, 0.5),
      p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99),
      p999: quantile(sorted, 0.999),
      max: sorted[sorted.length - 1] ?? 0,
      mean: sum / sorted.length,
    };
  }
}

/** Nearest-rank quantile of an ascending array. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Counts per fixed-width time bucket, from a start instant (monotonic µs). */
export class Buckets {
  readonly startUs: number;
  readonly widthMs: number;
  readonly counts: number[] = [];

  constructor(startUs: number, widthMs: number) {
    this.startUs = startUs;
    this.widthMs = widthMs;
  }

  add(atUs: number, n = 1): void {
    const index = Math.floor((atUs - this.startUs) / (this.widthMs * 1000));
    if (index < 0) return;
    while (this.counts.length <= index) this.counts.push(0);
    this.counts[index] = (this.counts[index] ?? 0) + n;
  }
}

/** Events per second within [fromMs, toMs) of a bucket series. */
export function rateIn(counts: readonly number[], widthMs: number, fromMs: number, toMs: number): number {
  const first = Math.ceil(fromMs / widthMs);
  const last = Math.floor(toMs / widthMs);
  if (last <= first) return 0;
  let sum = 0;
  for (let i = first; i < last; i++) sum += counts[i] ?? 0;
  return sum / (((last - first) * widthMs) / 1000);
}

/** Adds bucket series element by element (several generator processes into one). */
export function addSeries(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(Math.max(a.length, b.length)).fill(0);
  for (let i = 0; i < out.length; i++) out[i] = (a[i] ?? 0) + (b[i] ?? 0);
  return out;
}

export const round = (value: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/**
 * Latency percentiles from raw samples. Every message's latency is kept (a Float64Array per
 * worker, microseconds), merged, sorted and read by nearest rank: exact, no histogram buckets.
 * A 10 s window at 100k msg/s is 1M samples = 8 MB, which is cheap enough to keep whole.
 */

export interface LatencySummary {
  count: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted values: the smallest value with at least q of all at or below it. */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function merge(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Summary in milliseconds of samples in microseconds. */
export function summarize(samplesUs: Float64Array | Float64Array[]): LatencySummary {
  const all = Array.isArray(samplesUs) ? merge(samplesUs) : Float64Array.from(samplesUs);
  all.sort();
  let sum = 0;
  for (const v of all) sum += v;
  const ms = (v: number) => v / 1000;
  return {
    count: all.length,
    p50: ms(percentile(all, 0.5)),
    p99: ms(percentile(all, 0.99)),
    p999: ms(percentile(all, 0.999)),
    max: ms(all.length ? all[all.length - 1]! : NaN),
    mean: ms(all.length ? sum / all.length : NaN),
  };
}

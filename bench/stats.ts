/** Median and 99th percentile of samples, in the samples' unit. */
export interface Percentiles {
  median: number;
  p99: number;
}

/** Percentiles by nearest rank over a copy of `samples`. */
export function percentiles(samples: readonly number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { median: at(0.5), p99: at(0.99) };
}

/** Runs `op` once per input and returns each run's time in microseconds. */
export async function timeEach<T>(
  inputs: readonly T[],
  op: (input: T) => unknown,
): Promise<number[]> {
  const samples: number[] = [];
  for (const input of inputs) {
    const started = process.hrtime.bigint();
    await op(input);
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  return samples;
}

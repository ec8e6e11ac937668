/**
 * Benchmark harness: throughput of awaited operations, measured in alternating rounds.
 *
 * Shared machines drift, so contenders are never measured once each in a row: every round runs
 * each contender for the same slice of time, in a rotated order, and the median over rounds is
 * kept. Reports print ratios against the peers measured in the same run; absolute numbers are
 * context only.
 */

export interface Contender {
  name: string;
  /** One awaited operation; `i` counts operations so callers can walk a key set. */
  op: (i: number) => Promise<unknown>;
}

/** Runs `op` back to back for `durationMs`; returns operations per second. */
export async function opsPerSecond(op: (i: number) => Promise<unknown>, durationMs: number): Promise<number> {
  const CHECK_CLOCK_EVERY = 1024;
  const started = performance.now();
  let i = 0;
  let elapsed = 0;
  for (;;) {
    await op(i++);
    if ((i & (CHECK_CLOCK_EVERY - 1)) === 0) {
      elapsed = performance.now() - started;
      if (elapsed >= durationMs) break;
    }
  }
  return (i / elapsed) * 1000;
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/** The q-quantile (0..1) of `values`, interpolating between the two nearest ranks. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = q * (sorted.length - 1);
  const below = Math.floor(rank);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (rank - below);
}

/** Median ops/s per contender over `rounds` alternating rounds of `sliceMs` each (after one warm-up slice). */
export async function compare(
  contenders: Contender[],
  rounds: number,
  sliceMs: number,
): Promise<Map<string, number>> {
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (const contender of contenders) await opsPerSecond(contender.op, sliceMs / 2);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const contender = contenders[(round + k) % contenders.length]!;
      samples.get(contender.name)!.push(await opsPerSecond(contender.op, sliceMs));
    }
  }
  return new Map([...samples].map(([name, values]) => [name, median(values)]));
}

export function formatRate(opsPerSec: number): string {
  if (opsPerSec >= 1e6) return `${(opsPerSec / 1e6).toFixed(2)}M/s`;
  if (opsPerSec >= 1e3) return `${(opsPerSec / 1e3).toFixed(1)}k/s`;
  return `${opsPerSec.toFixed(0)}/s`;
}

/** A PASS/FAIL line for one target; returns whether it passed. */
export function target(label: string, actual: number, minimum: number): boolean {
  const pass = actual >= minimum;
  console.log(`${pass ? 'PASS' : 'FAIL'}  ${label}: ${actual.toFixed(2)}× (target ≥ ${minimum}×)`);
  return pass;
}

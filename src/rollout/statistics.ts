/**
 * Relative judgement of a candidate against stable, as automated canary analysis does it: is the
 * candidate *significantly* worse, or only unlucky? A 10 % canary on low traffic sees a handful of
 * requests, where two errors can be a 4 % error rate; an absolute threshold would roll it back on
 * noise, or, set loose enough to avoid that, miss a real regression on a busy route.
 *
 * - Errors: a one-sided two-proportion z-test of "the candidate's error rate is higher than
 *   stable's", with the pooled proportion. The normal approximation needs enough of both outcomes:
 *   each side must expect at least MIN_EXPECTED errors and MIN_EXPECTED successes under the pooled
 *   rate; below that the test gives no verdict (`insufficient`) — unless the candidate's observed
 *   rate is at or below stable's, which is "not worse" at any sample size.
 * - Latency: a one-sided Mann–Whitney U test (Wilcoxon rank sum, simple-statistics) of "the
 *   candidate's latencies tend to be larger", normal approximation with a continuity correction and
 *   without a tie correction (ties make it slightly conservative, never eager). It needs at least
 *   MIN_LATENCY_SAMPLES latencies on each side.
 *
 * `worse` is true when the p-value is below `alpha`. No verdict is neither a pass nor a failure:
 * a success criterion waits for data, a rollback trigger does not fire.
 */
import { errorFunction, wilcoxonRankSum } from 'simple-statistics';

/** Expected errors and successes per side below which the two-proportion test says nothing. */
export const MIN_EXPECTED = 5;
/** Latencies per side below which the Mann–Whitney test says nothing. */
export const MIN_LATENCY_SAMPLES = 20;

export type Verdict =
  | { outcome: 'insufficient'; reason: string }
  | { outcome: 'tested'; pValue: number; worse: boolean; statistic: number };

export interface ErrorCounts {
  errors: number;
  requests: number;
}

/** Is `candidate`'s error rate significantly above `stable`'s, at level `alpha`? */
export function errorRateWorse(stable: ErrorCounts, candidate: ErrorCounts, alpha: number): Verdict {
  const { requests: n1, errors: e1 } = stable;
  const { requests: n2, errors: e2 } = candidate;
  if (n1 === 0 || n2 === 0) return { outcome: 'insufficient', reason: 'no requests on one side' };
  // One-sided: a candidate observed at or below stable's rate is not worse, whatever the counts
  // (a healthy canary with no error at all must not wait for errors to be tested).
  if (e2 / n2 <= e1 / n1) return { outcome: 'tested', pValue: 1, worse: false, statistic: 0 };
  const pooled = (e1 + e2) / (n1 + n2);
  const fewest = Math.min(n1, n2);
  if (fewest * pooled < MIN_EXPECTED || fewest * (1 - pooled) < MIN_EXPECTED)
    return {
      outcome: 'insufficient',
      reason: `fewer than ${MIN_EXPECTED} expected errors or successes on a side (${n1} and ${n2} requests, ${e1 + e2} errors)`,
    };
  const z = (e2 / n2 - e1 / n1) / Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const pValue = 1 - normalCdf(z);
  return { outcome: 'tested', pValue, worse: pValue < alpha, statistic: z };
}

/** Do `candidate`'s latencies tend to exceed `stable`'s, at level `alpha`? */
export function latencyWorse(
  stable: readonly number[],
  candidate: readonly number[],
  alpha: number,
): Verdict {
  const n1 = stable.length;
  const n2 = candidate.length;
  if (Math.min(n1, n2) < MIN_LATENCY_SAMPLES)
    return {
      outcome: 'insufficient',
      reason: `fewer than ${MIN_LATENCY_SAMPLES} latencies on a side (${n1} and ${n2})`,
    };
  const rankSum = wilcoxonRankSum(candidate as number[], stable as number[]);
  const u = rankSum - (n2 * (n2 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const sd = Math.sqrt((n1 * n2 * (n1 + n2 + 1)) / 12);
  const z = (u - mean - 0.5) / sd;
  const pValue = 1 - normalCdf(z);
  return { outcome: 'tested', pValue, worse: pValue < alpha, statistic: z };
}

function normalCdf(z: number): number {
  return 0.5 * (1 + errorFunction(z / Math.SQRT2));
}

/**
 * The relative-judgement tests on known cases: textbook values, no verdict below the minimum
 * samples, and the property that matters for a canary: noise from the same distribution is
 * rarely called worse (about alpha of the time), and a real shift is found.
 */
import { describe, expect, it } from 'vitest';
import { errorRateWorse, latencyWorse } from '../../../src/rollout/statistics.js';
import { mulberry32 } from '../../../src/util/random.js';

describe('two-proportion test', () => {
  it('matches the textbook z and p for 40/1000 against 60/1000', () => {
    const verdict = errorRateWorse({ errors: 40, requests: 1000 }, { errors: 60, requests: 1000 }, 0.05);
    expect(verdict.outcome).toBe('tested');
    if (verdict.outcome !== 'tested') return;
    // pooled 0.05; z = 0.02 / sqrt(0.05 × 0.95 × 0.002) = 2.052; one-sided p = 0.0201
    expect(verdict.statistic).toBeCloseTo(2.052, 3);
    expect(verdict.pValue).toBeCloseTo(0.0201, 3);
    expect(verdict.worse).toBe(true);
  });

  it('gives no verdict on a handful of requests, however bad they look', () => {
    const verdict = errorRateWorse({ errors: 0, requests: 50 }, { errors: 2, requests: 5 }, 0.05);
    expect(verdict.outcome).toBe('insufficient');
  });

  it('does not call a better or equal candidate worse, at any sample size (no errors at all included)', () => {
    const better = errorRateWorse({ errors: 60, requests: 1000 }, { errors: 40, requests: 1000 }, 0.05);
    expect(better.outcome === 'tested' && !better.worse).toBe(true);
    const clean = errorRateWorse({ errors: 0, requests: 40 }, { errors: 0, requests: 12 }, 0.05);
    expect(clean).toMatchObject({ outcome: 'tested', worse: false });
  });
});

describe('Mann–Whitney U test', () => {
  const random = mulberry32(7);
  const exponential = (mean: number) => Array.from({ length: 200 }, () => -Math.log(1 - random()) * mean);

  it('rarely calls noise from the same distribution worse (≈ alpha), and finds a 30 % slowdown', () => {
    let falseAlarms = 0;
    let found = 0;
    for (let trial = 0; trial < 200; trial++) {
      const same = latencyWorse(exponential(20), exponential(20), 0.05);
      if (same.outcome === 'tested' && same.worse) falseAlarms++;
      const slower = latencyWorse(exponential(20), exponential(26), 0.05);
      if (slower.outcome === 'tested' && slower.worse) found++;
    }
    expect(falseAlarms / 200).toBeLessThan(0.1);
    expect(found / 200).toBeGreaterThan(0.5);
  });

  it('matches the exact case of fully separated samples and needs 20 latencies a side', () => {
    const stable = Array.from({ length: 20 }, (_, i) => i);
    const candidate = Array.from({ length: 20 }, (_, i) => 100 + i);
    const verdict = latencyWorse(stable, candidate, 0.05);
    expect(verdict.outcome === 'tested' && verdict.worse && verdict.pValue < 1e-6).toBe(true);
    expect(latencyWorse(stable.slice(0, 19), candidate, 0.05).outcome).toBe('insufficient');
  });
});

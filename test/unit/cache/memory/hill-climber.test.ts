import { describe, expect, it } from 'vitest';
import { HillClimber } from '../../../../src/cache/memory/hill-climber.js';

function sample(climber: HillClimber, hits: number, misses: number): number {
  for (let i = 0; i < hits; i++) climber.recordHit();
  for (let i = 0; i < misses; i++) climber.recordMiss();
  expect(climber.sampleComplete(hits + misses)).toBe(true);
  return climber.adjust();
}

describe('HillClimber', () => {
  it('keeps its direction while the hit rate improves and turns round when it falls', () => {
    const climber = new HillClimber();
    const first = sample(climber, 50, 50);
    expect(first).toBeGreaterThan(0); // the first move grows the window
    expect(sample(climber, 60, 40)).toBeGreaterThan(0); // better: same direction
    expect(sample(climber, 40, 60)).toBeLessThan(0); // worse: reverse
  });

  it('decays its step while the hit rate is steady, and restarts on a workload change', () => {
    const climber = new HillClimber();
    sample(climber, 50, 50);
    const steps = [sample(climber, 500, 500), sample(climber, 500, 500), sample(climber, 500, 500)];
    expect(Math.abs(steps[2])).toBeLessThan(Math.abs(steps[0]));
    sample(climber, 900, 100); // a jump of 40 points: the step after it is full size again
    expect(Math.abs(sample(climber, 900, 100))).toBeCloseTo(0.0625, 10);
  });

  it('is not due before a full sample', () => {
    const climber = new HillClimber();
    climber.recordHit();
    expect(climber.sampleComplete(10)).toBe(false);
  });
});

/**
 * `keel rollout demo` as a user runs it: with no fault the canary promotes to complete; with
 * `--fault errors` the critical trigger rolls it back; either way every decision is printed and the
 * notifications reach the local webhook. Run faster than the demo's default speed.
 */
import { describe, expect, it } from 'vitest';
import { runRolloutDemo } from '../../../src/operations/rollout-demo.js';

const SPEED = 240;

async function demo(fault?: 'errors'): Promise<{ final: string; output: string }> {
  const lines: string[] = [];
  const final = await runRolloutDemo({ fault, speed: SPEED, port: 0, print: (line) => lines.push(line) });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes are removed
  return { final, output: lines.join('\n').replace(/\u001b\[[0-9;]*m/g, '') };
}

describe('keel rollout demo', () => {
  it('promotes a healthy candidate to complete, notifying each step', async () => {
    const { final, output } = await demo();
    expect(final).toBe('complete');
    expect(output).toMatch(/promote +controller: every success criterion holds/);
    expect(output).toMatch(/traffic:customer 100 %/);
    expect(output).toMatch(/webhook {2}\*\[Done\] canary: complete\*/);
    expect(output).toMatch(/the rollout ended complete; 5 notifications reached the webhook/);
  }, 180_000);

  it('rolls a candidate answering 503s back by its critical trigger', async () => {
    const { final, output } = await demo('errors');
    expect(final).toBe('rolled-back');
    expect(output).toMatch(/rollback +guard:candidate\.error_rate > 0\.05 for 5m \(critical\)/);
    expect(output).toMatch(/traffic:customer 0 %/);
    expect(output).toMatch(/webhook {2}\*\[URGENT\] canary: rolled back\*/);
  }, 180_000);
});

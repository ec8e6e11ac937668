/**
 * `keel sync demo` as a user runs it, faster than its default speed: the migration promotes the
 * flag through the guide's phases on the sync's own figures; with the regression, the new
 * system's dead letters pull its success rate down and the flag is rolled back. Either way the
 * table ends equal to the source: the system whose share grew re-reads and repairs it.
 */
import { describe, expect, it } from 'vitest';
import { runSyncDemo } from '../../../src/operations/sync-demo.js';

const SPEED = 200_000;

async function demo(regression: boolean) {
  const lines: string[] = [];
  const result = await runSyncDemo({ regression, speed: SPEED, print: (line) => lines.push(line) });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes are removed
  return { ...result, output: lines.join('\n').replace(/\u001b\[[0-9;]*m/g, '') };
}

describe('keel sync demo', () => {
  it('carries the migration through shadow, 10, 50 and 100 % to complete', async () => {
    const { status, differences, output } = await demo(false);
    expect(status).toBe('complete');
    expect(output).toMatch(/flag:sync\.rest 10 %/);
    expect(output).toMatch(/flag:sync\.rest 50 %/);
    expect(output).toMatch(/flag:sync\.rest 100 %/);
    expect(output).toMatch(/webhook {2}\*\[Done\] sync-migration: complete\*/);
    expect(differences).toBe(0);
    expect(output).toMatch(/property_listings equals the source: 1000 listings/);
  }, 120_000);

  it('rolls the flag back when the new system regresses, and loses no listing', async () => {
    const { status, differences, output } = await demo(true);
    expect(status).toBe('rolled-back');
    expect(output).toMatch(/the new system regresses/);
    expect(output).toMatch(/rollback +\S+: sync_success_rate </);
    expect(output).toMatch(/flag:sync\.rest 0 %\)\s*$/m);
    expect(output).toMatch(/webhook {2}\*\[URGENT\] sync-migration: rolled back\*/);
    expect(differences).toBe(0);
  }, 120_000);
});

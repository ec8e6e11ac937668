/**
 * The README's "Rollouts" example, run as written (its import aside, and a namespace of its own):
 * a flag set by another instance through Redis decides, per listing, whether the code behind it
 * runs: exactly the listings the bucketing puts inside its weight.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isInRollout, Rollout } from '../../../src/rollout/index.js';
import { redisUrl, waitUntil } from '../../support/index.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');

/** The TypeScript block of the README's "Rollouts" section. */
function snippet(): string {
  const section = README.slice(README.indexOf('## Rollouts'));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error('README.md has no ```ts block under "## Rollouts"');
  return block;
}

/** The snippet as a function of what it uses, returning its `rollout` so the test can close it. */
function runnable(namespace: string) {
  const opened = 'Rollout.open({ redisUrl: process.env.REDIS_URL })';
  if (!snippet().includes(opened)) throw new Error(`the README's snippet no longer calls ${opened}`);
  const body = `${snippet()
    .replace(/^import .*$/m, '')
    .replace(
      opened,
      `Rollout.open({ redisUrl: process.env.REDIS_URL, namespace: ${JSON.stringify(namespace)} })`,
    )}
return rollout;`;
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  return new AsyncFunction('Rollout', 'process', 'listing', 'syncFromRest', body) as (
    ...args: unknown[]
  ) => Promise<Rollout>;
}

describe("the README's rollout example", () => {
  it('runs as written: the flag another instance sets decides which listings take the new path', async () => {
    const url = await redisUrl();
    const namespace = `readme-${randomUUID().slice(0, 8)}`;
    const operator = await Rollout.open({ redisUrl: url, namespace, controller: false });
    const run = runnable(namespace);
    const env = { env: { REDIS_URL: url } };
    const synced: string[] = [];
    const syncFromRest = async (listing: { id: string }) => {
      synced.push(listing.id);
    };
    const ids = Array.from({ length: 200 }, (_, i) => `listing-${i}`);
    const opened: Rollout[] = [];
    try {
      const first = await run(Rollout, env, { id: ids[0] }, syncFromRest);
      opened.push(first);
      expect(synced).toEqual([]);
      await operator.flags.set('sync.rest', 10, 'operator:test', 'a tenth of the listings');
      expect(await waitUntil(async () => first.flags.weight('sync.rest') === 10, 1_000)).toBe(true);
      for (const id of ids) opened.push(await run(Rollout, env, { id }, syncFromRest));
      expect(synced).toEqual(ids.filter((id) => isInRollout(id, 'sync.rest', 10)));
      expect(synced.length).toBeGreaterThan(5);
      expect(synced.length).toBeLessThan(40);
    } finally {
      await Promise.all(opened.map((rollout) => rollout.close()));
      await operator.close();
    }
  }, 60_000);
});

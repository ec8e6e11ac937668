import { describe, expect, it } from 'vitest';
import { MAX_KEYS_PER_BATCH, ReadBatcher } from '../../../../src/cache/redis/read-batcher.js';
import { FillNotifier, type LockedLoad, loadOnce } from '../../../../src/cache/redis/stampede.js';

describe('ReadBatcher', () => {
  it('sends the reads of one tick as one batch, each key once', async () => {
    const batches: string[][] = [];
    const batcher = new ReadBatcher(
      async (keys) => {
        batches.push([...keys]);
        return keys.map((key) => (key === 'missing' ? null : Buffer.from(key)));
      },
      () => {},
    );
    const results = await Promise.all(['a', 'b', 'a', 'missing'].map((key) => batcher.get(key)));
    expect(batches).toEqual([['a', 'b', 'missing']]);
    expect(results.map((value) => value?.toString() ?? null)).toEqual(['a', 'b', 'a', null]);
    await batcher.get('c');
    expect(batches).toHaveLength(2);
    expect(batcher.keysFetched).toBe(4);
  });

  it('sends a batch as soon as it is full, without waiting for the end of the burst', async () => {
    const sent: (number | 'flush')[] = [];
    const batcher = new ReadBatcher(
      async (keys) => {
        sent.push(keys.length);
        return keys.map((key) => Buffer.from(key));
      },
      () => sent.push('flush'),
    );
    const count = 2 * MAX_KEYS_PER_BATCH + 5;
    const reads = Array.from({ length: count }, (_, i) => batcher.get(`k${i}`));
    // The full batches were fetched and flushed at once; only the remainder waits for the tick.
    expect(sent).toEqual([MAX_KEYS_PER_BATCH, 'flush', MAX_KEYS_PER_BATCH, 'flush']);
    const values = await Promise.all(reads);
    expect(sent).toEqual([MAX_KEYS_PER_BATCH, 'flush', MAX_KEYS_PER_BATCH, 'flush', 5]);
    expect(values.map((value) => value?.toString())).toEqual(reads.map((_, i) => `k${i}`));
    expect(batcher.batches).toBe(3);
  });

  it('fails every read of a failed batch', async () => {
    const batcher = new ReadBatcher(
      async () => {
        throw new Error('connection lost');
      },
      () => {},
    );
    const outcomes = await Promise.allSettled([batcher.get('a'), batcher.get('b')]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
  });
});

describe('FillNotifier', () => {
  it('wakes the waiters of a filled key at once, and others at their deadline', async () => {
    const notifier = new FillNotifier();
    const started = Date.now();
    const woken = notifier.wait('k', 5_000);
    const timedOut = notifier.wait('other', 30);
    notifier.notify(['k']);
    await woken;
    expect(Date.now() - started).toBeLessThan(1_000);
    await timedOut;
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });
});

/** A lock shared by simulated instances, as Redis would hold it. */
function sharedLock() {
  let holder: string | undefined;
  let stored: { value: string } | undefined;
  let next = 0;
  let loads = 0;
  const notifier = new FillNotifier();
  const steps = (): LockedLoad<string> => ({
    acquire: async () => {
      if (holder !== undefined) return undefined;
      holder = `token${next++}`;
      return holder;
    },
    release: async (token) => {
      if (holder === token) holder = undefined;
    },
    available: () => true,
    load: async () => {
      loads++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      stored = { value: 'v' };
      notifier.notify(['k']);
      return 'v';
    },
    readStored: async () => stored,
    waitForFill: (ms) => notifier.wait('k', ms),
  });
  return { steps, loads: () => loads };
}

describe('loadOnce', () => {
  it('runs the load once however many instances ask at the same time', async () => {
    const lock = sharedLock();
    const results = await Promise.all(Array.from({ length: 20 }, () => loadOnce(lock.steps(), 1_000, 10)));
    expect(new Set(results)).toEqual(new Set(['v']));
    expect(lock.loads()).toBe(1);
  });

  it('runs the load locally when Redis is unavailable', async () => {
    let loads = 0;
    const value = await loadOnce<string>(
      {
        acquire: async () => undefined,
        release: async () => {},
        available: () => false,
        load: async () => {
          loads++;
          return 'local';
        },
        readStored: async () => undefined,
        waitForFill: async () => {},
      },
      1_000,
      10,
    );
    expect(value).toBe('local');
    expect(loads).toBe(1);
  });
});

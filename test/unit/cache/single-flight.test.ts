import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../../src/cache/single-flight.js';

describe('SingleFlight', () => {
  it('shares one run per key until it settles', async () => {
    const flights = new SingleFlight();
    let runs = 0;
    const work = async () => {
      runs++;
      await sleep(10);
      return runs;
    };
    const first = flights.start('k', work);
    expect(flights.get('k')).toBe(first);
    expect(flights.get('other')).toBeUndefined();
    expect(await first).toBe(1);
    expect(flights.size).toBe(0);
    expect(await flights.start('k', work)).toBe(2);
  });

  it('leaves no unhandled rejection when nobody awaits a failed flight', async () => {
    const flights = new SingleFlight();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    flights.start('k', async () => {
      throw new Error('nobody listens');
    });
    await sleep(20);
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
    expect(flights.size).toBe(0);
  });
});

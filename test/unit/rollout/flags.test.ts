/**
 * Flags for library users, directly and through OpenFeature: a weight set on one instance applies
 * on another, the same keys stay on as the weight grows, a flag never set answers the fallback,
 * and the OpenFeature provider answers booleans with the standard reasons and announces changes.
 */
import { OpenFeature, ProviderEvents } from '@openfeature/server-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { isInRollout } from '../../../src/rollout/bucketing.js';
import { KeelFlagProvider } from '../../../src/rollout/openfeature-provider.js';
import { Rollout } from '../../../src/rollout/rollout.js';
import { InProcessBackend, MemoryRolloutStore } from '../../../src/rollout/store/index.js';
import { waitUntil } from '../../support/index.js';

const opened: Rollout[] = [];
afterEach(async () => {
  await OpenFeature.close();
  await Promise.all(opened.splice(0).map((rollout) => rollout.close()));
});

async function instances(count: number): Promise<Rollout[]> {
  const backend = new InProcessBackend();
  const all = await Promise.all(
    Array.from({ length: count }, () =>
      Rollout.open({ store: new MemoryRolloutStore(backend), controller: false }),
    ),
  );
  opened.push(...all);
  return all;
}

const keys = Array.from({ length: 10_000 }, (_, i) => `listing-${i}`);

describe('flags', () => {
  it('follow a weight set on another instance, keeping the same keys on as it grows', async () => {
    const [a, b] = (await instances(2)) as [Rollout, Rollout];
    expect(b.isEnabled('sync.rest', { key: 'listing-1' })).toBe(false);
    expect(b.isEnabled('sync.rest', { key: 'listing-1' }, true)).toBe(true);
    await a.flags.set('sync.rest', 10, 'operator:test', 'first tenth');
    expect(await waitUntil(async () => b.flags.weight('sync.rest') === 10, 1_000)).toBe(true);
    const atTen = keys.filter((key) => b.isEnabled('sync.rest', { key }));
    expect(atTen.length / keys.length).toBeCloseTo(0.1, 1);
    expect(atTen.every((key) => isInRollout(key, 'sync.rest', 10))).toBe(true);
    await a.flags.set('sync.rest', 50, 'operator:test', 'half');
    expect(await waitUntil(async () => b.flags.weight('sync.rest') === 50, 1_000)).toBe(true);
    expect(atTen.every((key) => b.isEnabled('sync.rest', { key }))).toBe(true);
    const audit = await a.store.audit({ limit: 2 });
    expect(audit.map((entry) => [entry.action, entry.reason])).toEqual([
      ['set-flag', 'half'],
      ['set-flag', 'first tenth'],
    ]);
  });

  it('without a key, are on at 100 %, off at 0 %, and drawn at random in between', async () => {
    const [a] = (await instances(1)) as [Rollout];
    await a.flags.set('f', 100, 'operator:test', 'on');
    expect(a.isEnabled('f')).toBe(true);
    await a.flags.set('f', 0, 'operator:test', 'off');
    expect(a.isEnabled('f')).toBe(false);
    await a.flags.set('f', 50, 'operator:test', 'half');
    const on = Array.from({ length: 2_000 }, () => a.isEnabled('f')).filter(Boolean).length;
    expect(on).toBeGreaterThan(800);
    expect(on).toBeLessThan(1_200);
  });
});

describe('the OpenFeature provider', () => {
  it('answers booleans by targeting key with OpenFeature reasons, and announces weight changes', async () => {
    const [a] = (await instances(1)) as [Rollout];
    await OpenFeature.setProviderAndWait(new KeelFlagProvider(a.flags, a.board));
    const client = OpenFeature.getClient();
    const missing = await client.getBooleanDetails('nope', true, { targetingKey: 'x' });
    expect(missing).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });

    const changed: string[][] = [];
    client.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
      changed.push(details?.flagsChanged ?? []);
    });
    await a.flags.set('sync.rest', 10, 'operator:test', 'first tenth');
    expect(await waitUntil(async () => changed.length > 0, 1_000)).toBe(true);
    expect(changed[0]).toEqual(['sync.rest']);

    const inside = keys.find((key) => isInRollout(key, 'sync.rest', 10)) as string;
    const outside = keys.find((key) => !isInRollout(key, 'sync.rest', 10)) as string;
    expect(await client.getBooleanDetails('sync.rest', false, { targetingKey: inside })).toMatchObject({
      value: true,
      variant: 'on',
      reason: 'SPLIT',
    });
    expect(await client.getBooleanValue('sync.rest', true, { targetingKey: outside })).toBe(false);
    expect(await client.getStringDetails('sync.rest', 'x')).toMatchObject({
      value: 'x',
      errorCode: 'TYPE_MISMATCH',
    });
    await a.flags.set('sync.rest', 100, 'operator:test', 'all');
    expect(await waitUntil(async () => a.flags.weight('sync.rest') === 100, 1_000)).toBe(true);
    expect(await client.getBooleanDetails('sync.rest', false, { targetingKey: outside })).toMatchObject({
      value: true,
      reason: 'STATIC',
    });
  });
});

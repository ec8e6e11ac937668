/**
 * Bucketing against the Unleash client specification's cases (test/fixtures/unleash-client-
 * specification): a small evaluator of the strategies those cases use (default, gradual rollout by
 * user or session id, flexible rollout with default, named or custom stickiness, feature variants
 * with overrides) built on Keel's `isInRollout` and `variantOf`, so every expected result of those
 * files checks the hash, the normalisation and the comparison. Cases that depend on a random draw
 * (a random stickiness at a weight strictly between 0 and 100) are the only ones left out, and
 * counted.
 *
 * Then the properties a rollout relies on: the share inside a weight is the weight (±1 % over
 * 100,000 ids), raising a weight keeps everyone already inside, groups sample independently, and
 * MurmurHash3 matches its published test vectors (UTF-8 included).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  isInRollout,
  murmur3,
  normalizedValue,
  variantOf,
  type WeightedVariant,
} from '../../../src/rollout/bucketing.js';

const SPEC_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'unleash-client-specification');

interface Context {
  userId?: string;
  sessionId?: string;
  remoteAddress?: string;
  properties?: Record<string, string>;
}
interface Strategy {
  name: string;
  parameters?: Record<string, string>;
}
interface Variant extends WeightedVariant {
  stickiness?: string;
  overrides?: { contextName: string; values: string[] }[];
}
interface Feature {
  name: string;
  enabled: boolean;
  strategies?: Strategy[];
  variants?: Variant[];
}
interface Spec {
  state: { features: Feature[] };
  tests?: { description: string; context: Context; toggleName: string; expectedResult: boolean }[];
  variantTests?: {
    description: string;
    context: Context;
    toggleName: string;
    expectedResult: { name: string; enabled: boolean };
  }[];
}

/** Thrown when a case's answer depends on a random draw: such cases are skipped, and counted. */
class RandomDraw extends Error {}

function field(context: Context, name: string): string | undefined {
  if (name === 'userId' || name === 'sessionId' || name === 'remoteAddress') return context[name];
  return context.properties?.[name];
}

/** The id a stickiness reads; `default` takes userId, then sessionId, then a random draw. */
function stickyId(context: Context, stickiness: string): string | 'random' | undefined {
  if (stickiness === 'random') return 'random';
  if (stickiness !== 'default') return field(context, stickiness);
  return context.userId ?? context.sessionId ?? 'random';
}

function percentOf(id: string | undefined, group: string, weight: number): boolean {
  if (id === undefined) return false;
  if (id === 'random') {
    if (weight <= 0 || weight >= 100) return weight >= 100;
    throw new RandomDraw();
  }
  return isInRollout(id, group, weight);
}

function strategyOn(strategy: Strategy, feature: Feature, context: Context): boolean {
  const parameters = strategy.parameters ?? {};
  const group = parameters.groupId ?? feature.name;
  switch (strategy.name) {
    case 'default':
      return true;
    case 'gradualRolloutUserId':
      return percentOf(context.userId, group, Number(parameters.percentage));
    case 'gradualRolloutSessionId':
      return percentOf(context.sessionId, group, Number(parameters.percentage));
    case 'flexibleRollout':
      return percentOf(
        stickyId(context, parameters.stickiness ?? 'default'),
        group,
        Number(parameters.rollout),
      );
    default:
      throw new Error(`strategy ${strategy.name} is not used by the bucketing cases`);
  }
}

function featureOn(feature: Feature | undefined, context: Context): boolean {
  if (feature === undefined || !feature.enabled) return false;
  const strategies = feature.strategies ?? [];
  return strategies.length === 0 || strategies.some((strategy) => strategyOn(strategy, feature, context));
}

function variantName(feature: Feature | undefined, context: Context): string {
  if (!featureOn(feature, context) || feature?.variants === undefined || feature.variants.length === 0)
    return 'disabled';
  const forced = feature.variants.find((variant) =>
    variant.overrides?.some((o) => o.values.includes(field(context, o.contextName) ?? '')),
  );
  if (forced !== undefined) return forced.name;
  const id = stickyId(context, feature.variants[0]?.stickiness ?? 'default');
  if (id === undefined || id === 'random') {
    if (feature.variants.length === 1) return (feature.variants[0] as Variant).name;
    throw new RandomDraw();
  }
  return variantOf(id, feature.name, feature.variants)?.name ?? 'disabled';
}

const SPEC_FILES = [
  '03-gradual-rollout-user-id-strategy.json',
  '04-gradual-rollout-session-id-strategy.json',
  '08-variants.json',
  '10-flexible-rollout-strategy.json',
  '12-custom-stickiness.json',
];

describe('the Unleash client specification', () => {
  it.each(SPEC_FILES)('%s', (file) => {
    const spec = JSON.parse(readFileSync(join(SPEC_DIR, file), 'utf8')) as Spec;
    const features = new Map(spec.state.features.map((feature) => [feature.name, feature]));
    let checked = 0;
    let random = 0;
    const check = (run: () => void) => {
      try {
        run();
        checked++;
      } catch (error) {
        if (!(error instanceof RandomDraw)) throw error;
        random++;
      }
    };
    for (const test of spec.tests ?? [])
      check(() =>
        expect(featureOn(features.get(test.toggleName), test.context), test.description).toBe(
          test.expectedResult,
        ),
      );
    for (const test of spec.variantTests ?? [])
      check(() =>
        expect(variantName(features.get(test.toggleName), test.context), test.description).toBe(
          test.expectedResult.name,
        ),
      );
    expect(checked).toBeGreaterThan(0);
    // Only the cases that draw at random are left out (they have no single expected answer).
    expect(random, 'cases left out as random draws').toBeLessThanOrEqual(2);
  });
});

describe('MurmurHash3 x86 32-bit', () => {
  it('matches the published test vectors, over UTF-8 bytes', () => {
    expect(murmur3('', 0)).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('', 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3('a', 0x9747b28c)).toBe(0x7fa09ea6);
    expect(murmur3('abcd', 0x9747b28c)).toBe(0xf0478627);
    expect(murmur3('Hello, world!', 0x9747b28c)).toBe(0x24884cba);
    expect(murmur3('The quick brown fox jumps over the lazy dog', 0x9747b28c)).toBe(0x2fa826cd);
    // "ππππππππ": 16 UTF-8 bytes (0xcf 0x80 each).
    expect(murmur3('ππππππππ', 0x9747b28c)).toBe(0xd58063c1);
    // normalizedValue hashes "<group>:<id>" without joining them: the same bytes, any characters.
    for (const [id, group] of [
      ['user-1', 'listing'],
      ['ユーザー', 'listing'],
      ['user-1', 'φ-route'],
      ['é'.repeat(1000), '😊'],
    ] as const)
      expect(normalizedValue(id, group)).toBe((murmur3(`${group}:${id}`) % 100) + 1);
  });
});

describe('what a rollout relies on', () => {
  const ids = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);

  it('puts the weight’s share of ids inside it, within ±1 %', () => {
    for (const weight of [1, 10, 25, 50, 90]) {
      const inside = ids.filter((id) => isInRollout(id, 'listing', weight)).length;
      expect(Math.abs(inside / ids.length - weight / 100), `weight ${weight}`).toBeLessThanOrEqual(0.01);
    }
    expect(ids.every((id) => isInRollout(id, 'listing', 100))).toBe(true);
    expect(ids.some((id) => isInRollout(id, 'listing', 0))).toBe(false);
  });

  it('keeps every id inside when the weight rises (10 → 50 keeps the first 10 %)', () => {
    const atTen = ids.filter((id) => isInRollout(id, 'listing', 10));
    expect(atTen.every((id) => isInRollout(id, 'listing', 50))).toBe(true);
  });

  it('samples groups independently: a 10 % canary on one route is not the 10 % of another', () => {
    const a = new Set(ids.filter((id) => isInRollout(id, 'listing', 10)));
    const both = ids.filter((id) => a.has(id) && isInRollout(id, 'search', 10)).length;
    expect(both / ids.length).toBeGreaterThan(0.005);
    expect(both / ids.length).toBeLessThan(0.015);
  });

  it('normalises to 1–100 and splits variants by their weights', () => {
    for (const id of ids.slice(0, 1000)) {
      const value = normalizedValue(id, 'g');
      expect(value).toBeGreaterThanOrEqual(1);
      expect(value).toBeLessThanOrEqual(100);
    }
    const variants = [
      { name: 'stable', weight: 90 },
      { name: 'candidate', weight: 10 },
    ];
    const candidates = ids.filter((id) => variantOf(id, 'listing', variants)?.name === 'candidate').length;
    expect(Math.abs(candidates / ids.length - 0.1)).toBeLessThanOrEqual(0.01);
    expect(variantOf('x', 'g', [{ name: 'none', weight: 0 }])).toBeUndefined();
  });
});

/**
 * The built-in plans: each is a valid plan that prints as YAML and reads back equal, and each
 * carries the figures it is specified with: stage weights and durations, success criteria,
 * rollback triggers and their severities, all read from the thresholds table.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROLLOUT_GUARDS, THRESHOLDS } from '../../../src/observability/thresholds.js';
import {
  BUILTIN_PLANS,
  blueGreen,
  cacheEnable,
  canary,
  migration,
  syncMigration,
} from '../../../src/rollout/builtin-plans.js';
import {
  type Criterion,
  type Plan,
  parsePlan,
  planToYaml,
  stageWeights,
  type Trigger,
} from '../../../src/rollout/plan.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MINUTE = 60_000;

/** The `threshold` of the criteria on `metric` (with `relativeTo` when given). */
const thresholds = (rules: readonly (Criterion | Trigger)[], metric: string, relativeTo?: string) =>
  rules
    .filter((rule) => 'metric' in rule && rule.metric === metric && rule.relativeTo === relativeTo)
    .map((rule) => ('threshold' in rule ? rule.threshold : undefined));

const severities = (rules: readonly Trigger[]) => rules.map((rule) => rule.severity);

describe('built-in plans', () => {
  const all: Record<string, Plan> = {
    'cache-enable': cacheEnable(),
    migration: migration({ route: 'listing' }),
    'sync-migration': syncMigration(),
    'blue-green': blueGreen({ route: 'listing' }),
    canary: canary({ route: 'listing' }),
  };

  it.each(Object.entries(all))('%s prints as YAML that parsePlan reads back equal', (name, plan) => {
    expect(plan.name).toBe(name);
    expect(parsePlan(planToYaml(plan), `${name}.yaml`)).toEqual(plan);
  });

  it('are listed for the CLI, built from a route name where they need one', () => {
    expect(Object.keys(BUILTIN_PLANS)).toEqual([
      'cache-enable',
      'migration',
      'sync-migration',
      'blue-green',
      'canary',
    ]);
    for (const builtin of Object.values(BUILTIN_PLANS)) {
      const plan = builtin.needsRoute ? builtin.build('orders') : builtin.build();
      expect(parsePlan(planToYaml(plan), 'p')).toEqual(plan);
      if (builtin.needsRoute)
        expect(Object.keys(plan.safe).every((key) => key.endsWith(':orders'))).toBe(true);
    }
  });

  it('hold no figure of their own: builtin-plans.ts has no number literal', () => {
    const source = readFileSync(join(import.meta.dirname, '../../../src/rollout/builtin-plans.ts'), 'utf8');
    const code = source
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '')
      .replace(/'[^'\n]*'/g, "''");
    expect(code.match(/(?<![\w$.'"`-])\d+(\.\d+)?(?![\w'"`])/g)).toBeNull();
  });
});

describe('cache-enable', () => {
  const plan = cacheEnable();
  const [readOnly, writeAffected, everything] = plan.stages;

  it('enables read-only routes at 10 %, then 100 % with write-affected at 10 %, then every route', () => {
    expect(plan.stages.map((_, index) => stageWeights(plan, index))).toEqual([
      { 'cache:read-only': 10, 'cache:write-affected': 0 },
      { 'cache:read-only': 100, 'cache:write-affected': 10 },
      { 'cache:read-only': 100, 'cache:write-affected': 100 },
    ]);
    expect(plan.stages.map((stage) => stage.minDurationMs)).toEqual([24 * HOUR, 24 * HOUR, 48 * HOUR]);
    expect(plan.safe).toEqual({ 'cache:read-only': 0, 'cache:write-affected': 0 });
    expect(plan.stages.every((stage) => stage.gate === 'manual')).toBe(true);
    expect(cacheEnable({ gate: 'auto' }).stages.every((stage) => stage.gate === 'auto')).toBe(true);
  });

  it('promotes on hit rate ≥ 60 %, error rate < 0.1 %, consistency, cache memory < 70 % of its budget', () => {
    for (const stage of [readOnly, writeAffected, everything]) {
      expect(thresholds(stage!.success, 'cache.hit_rate')).toEqual([0.6]);
      expect(thresholds(stage!.success, 'candidate.error_rate')).toEqual([0.001]);
    }
    // The cached side no slower than the bypassed side while both have traffic.
    expect(thresholds(readOnly!.success, 'candidate.p95', 'stable.p95')).toEqual([1]);
    for (const stage of [writeAffected, everything]) {
      expect(thresholds(stage!.success, 'cache.consistency_mismatch_rate')).toEqual([0]);
      expect(thresholds(stage!.success, 'cache.memory_ratio')).toEqual([0.7]);
    }
    expect(thresholds(everything!.success, 'candidate.p95')).toEqual([0.5]);
  });

  it('rolls back on the critical error and latency levels, and a stale or oversized cache', () => {
    expect(plan.rollback).toEqual([
      { metric: 'candidate.error_rate', op: '>', threshold: 0.05, forMs: 5 * MINUTE, severity: 'critical' },
      { metric: 'candidate.p99', op: '>', threshold: 10, forMs: 5 * MINUTE, severity: 'critical' },
      { metric: 'cache.memory_ratio', op: '>', threshold: 0.9, forMs: 10 * MINUTE, severity: 'high' },
      {
        metric: 'cache.consistency_mismatch_rate',
        op: '>',
        threshold: 0,
        forMs: 15 * MINUTE,
        severity: 'high',
      },
    ]);
  });
});

describe('migration', () => {
  const plan = migration({ route: 'listing' });
  const [shadow, small, medium, full] = plan.stages;

  it('runs shadow (0 %) for 7d, then 10 % for 3d, 50 % for 3d, 100 % for 7d', () => {
    expect(plan.stages.map((_, index) => stageWeights(plan, index))).toEqual([
      { 'shadow:listing': 100, 'traffic:listing': 0 },
      { 'shadow:listing': 0, 'traffic:listing': 10 },
      { 'shadow:listing': 0, 'traffic:listing': 50 },
      { 'shadow:listing': 0, 'traffic:listing': 100 },
    ]);
    expect(plan.stages.map((stage) => stage.minDurationMs)).toEqual([7 * DAY, 3 * DAY, 3 * DAY, 7 * DAY]);
    expect(plan.safe).toEqual({ 'shadow:listing': 0, 'traffic:listing': 0 });
    expect(plan.stages.every((stage) => stage.gate === 'manual')).toBe(true);
  });

  it('promotes on ≥ 99 % identical answers in shadow, then error rate < 1 % / < 1 % / < 0.5 %', () => {
    expect(thresholds(shadow!.success, 'shadow.match_rate')).toEqual([0.99]);
    expect([small, medium, full].map((stage) => thresholds(stage!.success, 'candidate.error_rate'))).toEqual([
      [0.01],
      [0.01],
      [0.005],
    ]);
    expect(thresholds(small!.success, 'candidate.p95', 'stable.p95')).toEqual([1]);
    expect(thresholds(medium!.success, 'process.cpu_ratio')).toEqual([0.8]);
    expect(thresholds(medium!.success, 'process.memory_ratio')).toEqual([0.8]);
  });

  it("rolls back on each phase's own conditions: error > 5 % / > 3 % / > 2 %, latency ≥ 2× stable, resources > 90 %", () => {
    expect([small, medium, full].map((stage) => thresholds(stage!.rollback, 'candidate.error_rate'))).toEqual(
      [[0.05], [0.03], [0.02]],
    );
    expect(thresholds(small!.rollback, 'candidate.p95', 'stable.p95')).toEqual([2]);
    expect(small!.rollback.find((rule) => 'relativeTo' in rule)).toMatchObject({ op: '>=' });
    expect(thresholds(medium!.rollback, 'process.cpu_ratio')).toEqual([0.9]);
    expect(thresholds(medium!.rollback, 'process.memory_ratio')).toEqual([0.9]);
    expect(thresholds(shadow!.rollback, 'shadow.match_rate')).toEqual([0.99]);
    expect(shadow!.rollback[0]).toMatchObject({ op: '<', forMs: HOUR });
    for (const stage of [shadow, small, medium, full])
      expect(new Set(severities(stage!.rollback))).toEqual(new Set(['high']));
  });

  it('carries the severity tiers throughout: critical error > 10 %; high 5 % / 3× / 95 %; medium 2 % / 2× / 85 %', () => {
    const tier = (severity: string) => plan.rollback.filter((rule) => rule.severity === severity);
    expect(tier('critical')).toEqual([
      { metric: 'candidate.error_rate', op: '>', threshold: 0.1, forMs: MINUTE, severity: 'critical' },
    ]);
    for (const [severity, error, latency, resource] of [
      ['high', 0.05, 3, 0.95],
      ['medium', 0.02, 2, 0.85],
    ] as const) {
      const rules = tier(severity);
      expect(thresholds(rules, 'candidate.error_rate')).toEqual([error]);
      expect(thresholds(rules, 'candidate.p95', 'stable.p95')).toEqual([latency]);
      expect(thresholds(rules, 'process.cpu_ratio')).toEqual([resource]);
      expect(thresholds(rules, 'process.memory_ratio')).toEqual([resource]);
      expect(rules.every((rule) => 'forMs' in rule && rule.forMs === 5 * MINUTE)).toBe(true);
    }
  });
});

describe('blue-green', () => {
  const plan = blueGreen({ route: 'web', healthPath: '/api/health' });
  const [cutover, observe] = plan.stages;

  it('moves all traffic at once and holds it for 30 health checks 10 s apart, all passing', () => {
    expect(cutover?.switches).toEqual({ 'traffic:web': 100 });
    expect(plan.metrics.health).toEqual({
      probe: { url: '/api/health', route: 'web', intervalMs: 10_000, timeoutMs: 10_000, expectStatus: 200 },
    });
    expect(cutover?.minDurationMs).toBe(30 * 10_000);
    expect(cutover?.success[0]).toEqual({ metric: 'health', op: '>=', threshold: 1, minSamples: 30 });
    expect(thresholds(cutover!.success, 'candidate.error_rate')).toEqual([0.001]);
    expect(thresholds(cutover!.success, 'candidate.p95')).toEqual([0.5]);
    expect(observe).toMatchObject({ switches: {}, minDurationMs: 30 * MINUTE });
    expect(thresholds(observe!.success, 'candidate.error_rate')).toEqual([0.01]);
  });

  it('rolls back automatically on 5xx > 5 % or p99 > 10 s for 5 minutes, or 3 failed health checks in a row', () => {
    expect(plan.rollback).toEqual([
      { metric: 'candidate.error_rate', op: '>', threshold: 0.05, forMs: 5 * MINUTE, severity: 'critical' },
      { metric: 'candidate.p99', op: '>', threshold: 10, forMs: 5 * MINUTE, severity: 'critical' },
      { probe: 'health', consecutive: 3, severity: 'critical' },
    ]);
  });

  it('reads its rollback levels from the alert rows, so the alert and the guard cannot drift apart', () => {
    const critical = (name: string) =>
      THRESHOLDS.find((row) => row.name === name)?.levels.find((level) => level.severity === 'critical');
    expect(ROLLOUT_GUARDS.blueGreen.rollback.errorRate).toBe(critical('KeelErrorRate'));
    expect(ROLLOUT_GUARDS.blueGreen.rollback.p99).toBe(critical('KeelLatencyP99'));
  });
});

describe('canary', () => {
  const plan = canary({ route: 'api' });

  it('goes 5 % → 25 % → 50 % → 100 %, judged against stable while stable still has traffic', () => {
    expect(plan.stages.map((stage) => stage.switches['traffic:api'])).toEqual([5, 25, 50, 100]);
    const compared = plan.stages.map((stage) =>
      stage.success.flatMap((rule) => ('compare' in rule ? [rule.compare.test] : [])),
    );
    expect(compared).toEqual([
      ['two-proportion', 'mann-whitney'],
      ['two-proportion', 'mann-whitney'],
      ['two-proportion', 'mann-whitney'],
      [],
    ]);
    expect(plan.stages.every((stage) => stage.gate === 'auto')).toBe(true);
  });

  it('rolls back at once on the critical levels, and within the hour when significantly worse than stable', () => {
    expect(severities(plan.rollback)).toEqual(['critical', 'critical', 'high', 'high']);
    expect(plan.rollback.slice(2)).toEqual([
      {
        compare: { metric: 'error_rate', test: 'two-proportion', alpha: 0.05 },
        forMs: 5 * MINUTE,
        severity: 'high',
      },
      {
        compare: { metric: 'latency', test: 'mann-whitney', alpha: 0.05 },
        forMs: 5 * MINUTE,
        severity: 'high',
      },
    ]);
  });
});

describe('sync-migration', () => {
  const plan = syncMigration();
  const [shadow, small, medium, full] = plan.stages;

  it('moves flag:sync.rest through the phases: 0 % (shadow table), 10, 50, 100 % of the listings', () => {
    expect(plan.stages.map((_, index) => stageWeights(plan, index)['flag:sync.rest'])).toEqual([
      0, 10, 50, 100,
    ]);
    expect(plan.stages.map((stage) => stage.minDurationMs)).toEqual([7 * DAY, 3 * DAY, 3 * DAY, 7 * DAY]);
    expect(plan.safe).toEqual({ 'flag:sync.rest': 0 });
    expect(Object.values(plan.metrics)).toEqual([
      { gauge: 'sync.success_rate' },
      { gauge: 'sync.duration_vs_old' },
      { gauge: 'sync.match_rate' },
      { gauge: 'sync.missing_rows' },
    ]);
  });

  it('promotes on the guide’s criteria, read as the sync’s success rate and pace', () => {
    expect(thresholds(shadow?.success ?? [], 'sync_match_rate')).toEqual([0.99]);
    expect(thresholds(shadow?.success ?? [], 'sync_success_rate')).toEqual([0.995]);
    expect(thresholds(small?.success ?? [], 'sync_success_rate')).toEqual([0.99]);
    expect(thresholds(small?.success ?? [], 'sync_duration_vs_old')).toEqual([1]);
    expect(thresholds(medium?.success ?? [], 'sync_success_rate')).toEqual([0.99]);
    expect(thresholds(full?.success ?? [], 'sync_success_rate')).toEqual([0.995]);
  });

  it('rolls back on each phase’s conditions and the severity tiers; a lost listing is critical', () => {
    expect(thresholds(small?.rollback ?? [], 'sync_success_rate')).toEqual([0.95]);
    expect(thresholds(small?.rollback ?? [], 'sync_duration_vs_old')).toEqual([2]);
    expect(thresholds(medium?.rollback ?? [], 'sync_success_rate')).toEqual([0.97]);
    expect(thresholds(full?.rollback ?? [], 'sync_success_rate')).toEqual([0.98]);
    const lost = plan.rollback.find(
      (trigger) => 'metric' in trigger && trigger.metric === 'sync_missing_rows',
    );
    expect(lost).toMatchObject({ op: '>', threshold: 0, severity: 'critical' });
    expect(
      severities(
        plan.rollback.filter((trigger) => 'metric' in trigger && trigger.metric === 'sync_success_rate'),
      ),
    ).toEqual(['critical', 'high', 'medium']);
    expect(thresholds(plan.rollback, 'sync_duration_vs_old')).toEqual([3, 2]);
  });
});

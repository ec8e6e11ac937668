/**
 * Rollout plan files: a valid plan reads into milliseconds, defaults and resolved safe weights;
 * each kind of mistake is refused at its file:line:col with the field and a message that says
 * what to write instead; a plan printed as YAML reads back equal.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import {
  criterionText,
  loadPlanFile,
  parsePlan,
  planToYaml,
  stageWeights,
  triggerText,
} from '../../../src/rollout/plan.js';

const EXAMPLE = `name: migration-listing
evaluationInterval: 15s
locale: ja
metrics:
  health: { probe: { url: /health, route: listing } }
  sync_success: { gauge: sync.success_rate }
  db_load: { promql: 'max(pg_load_ratio)' }
safe: { traffic:listing: 5 }
rollback:
  - { metric: candidate.error_rate, op: '>', threshold: 0.1, for: 1m, severity: critical }
  - { probe: health, consecutive: 3, severity: critical }
stages:
  - name: shadow
    switches: { shadow:listing: 100 }
    minDuration: 7d
    success:
      - { metric: shadow.match_rate, op: '>=', threshold: 0.99 }
  - name: canary-10
    switches: { shadow:listing: 0, traffic:listing: 10 }
    minDuration: 3d
    gate: manual
    success:
      - { metric: candidate.error_rate, op: '<', threshold: 0.01, minSamples: 1000 }
      - { metric: candidate.p95, op: '<=', threshold: 1, relativeTo: stable.p95 }
      - compare: { metric: error_rate }
      - { metric: db_load, op: '<', threshold: 80 }
    rollback:
      - { metric: candidate.error_rate, op: '>', threshold: 0.05, for: 5m, severity: high }
      - compare: { metric: latency, alpha: 0.01 }
        for: 10m
        severity: medium
`;

/** A plan of one stage whose `stage` lines (indented for a stage's fields) are appended. */
const oneStage = (stage: string, head = '') =>
  `name: p\n${head}stages:\n  - name: a\n    switches: { traffic:r: 10 }\n    minDuration: 1d\n${stage}`;

function failure(text: string): string {
  try {
    parsePlan(text, 'plan.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('rollout plan: valid plans', () => {
  it('reads durations as ms, fills defaults, and resolves safe weights for every switch moved', () => {
    const plan = parsePlan(EXAMPLE, 'plan.yaml');
    expect(plan).toMatchObject({ name: 'migration-listing', evaluationIntervalMs: 15_000, locale: 'ja' });
    expect(plan.metrics.health).toEqual({
      probe: { url: '/health', route: 'listing', timeoutMs: 5_000, intervalMs: 10_000, expectStatus: 200 },
    });
    // Given for traffic, off (0) for the shadow switch the plan also moves.
    expect(plan.safe).toEqual({ 'shadow:listing': 0, 'traffic:listing': 5 });
    expect(plan.rollback[0]).toEqual({
      metric: 'candidate.error_rate',
      op: '>',
      threshold: 0.1,
      forMs: 60_000,
      severity: 'critical',
    });
    const [shadow, canary] = plan.stages;
    expect(shadow).toMatchObject({ minDurationMs: 7 * 86_400_000, gate: 'auto', rollback: [] });
    expect(canary?.gate).toBe('manual');
    // A comparison takes the test fitting its metric and the default significance level.
    expect(canary?.success[2]).toEqual({
      compare: { metric: 'error_rate', test: 'two-proportion', alpha: 0.05 },
    });
    expect(canary?.rollback[1]).toEqual({
      compare: { metric: 'latency', test: 'mann-whitney', alpha: 0.01 },
      forMs: 600_000,
      severity: 'medium',
    });
  });

  it('carries weights from stage to stage: a stage sets only the switches it names', () => {
    const plan = parsePlan(EXAMPLE, 'plan.yaml');
    expect(stageWeights(plan, 0)).toEqual({ 'shadow:listing': 100 });
    expect(stageWeights(plan, 1)).toEqual({ 'shadow:listing': 0, 'traffic:listing': 10 });
  });

  it('prints as YAML that reads back to the same plan', () => {
    const plan = parsePlan(EXAMPLE, 'plan.yaml');
    expect(parsePlan(planToYaml(plan), 'printed')).toEqual(plan);
    const odd = parsePlan(oneStage('', 'evaluationInterval: 1500\n'), 'p');
    expect(parsePlan(planToYaml(odd), 'printed').evaluationIntervalMs).toBe(1_500);
  });

  it('says criteria and triggers in words, as pause reasons and summaries name them', () => {
    const plan = parsePlan(EXAMPLE, 'plan.yaml');
    const canary = plan.stages[1]!;
    expect(canary.success.map(criterionText)).toEqual([
      'candidate.error_rate < 0.01 (at least 1000 samples)',
      'candidate.p95 / stable.p95 <= 1',
      'candidate error_rate not significantly worse than stable (two-proportion, alpha 0.05)',
      'db_load < 80',
    ]);
    expect(canary.rollback.map(triggerText)).toEqual([
      'candidate.error_rate > 0.05 for 5m (high)',
      'candidate latency significantly worse than stable (mann-whitney, alpha 0.01) for 10m (medium)',
    ]);
    expect(triggerText(plan.rollback[1]!)).toBe('health fails 3 checks in a row (critical)');
  });

  it('reads a file, and names it when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-plan-'));
    try {
      const file = join(dir, 'rollout.yaml');
      writeFileSync(file, EXAMPLE);
      expect(loadPlanFile(file).name).toBe('migration-listing');
      expect(() => loadPlanFile(join(dir, 'missing.yaml'))).toThrow(
        /missing\.yaml: cannot read the rollout plan: ENOENT/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rollout plan: each mistake at its file:line:col, field and what to write', () => {
  it('an unknown field, with the likely one, before the missing field it explains', () => {
    expect(failure('name: p\nstagse: []\n')).toBe(
      'plan.yaml:2:1: stagse: unknown field (did you mean "stages"?); the fields of a plan are name, description, evaluationInterval, locale, metrics, safe, rollback, stages',
    );
    expect(failure(oneStage('    minDuraton: 2d\n').replace('    minDuration: 1d\n', ''))).toMatch(
      /^plan\.yaml:5:5: stages\[0\]\.minDuraton: unknown field \(did you mean "minDuration"\?\); the fields of a stage are /,
    );
    expect(
      failure(oneStage('    success:\n      - { metric: cache.hit_rate, op: ">", treshold: 0.5 }\n')),
    ).toMatch(
      /^plan\.yaml:7:44: stages\[0\]\.success\[0\]\.treshold: unknown field \(did you mean "threshold"\?\); the fields of a criterion are metric, op, threshold, relativeTo, minSamples$/,
    );
  });

  it('a switch key outside the grammar, with the likely kind', () => {
    expect(
      failure('name: p\nstages:\n  - name: a\n    switches: { trafic:listing: 10 }\n    minDuration: 1d\n'),
    ).toBe(
      'plan.yaml:4:17: stages[0].switches.trafic:listing: "trafic:listing" is not a switch key (did you mean "traffic:listing"?); ' +
        'a key is cache:<route or group>, traffic:<route>, shadow:<route> or flag:<name>',
    );
    expect(
      failure('name: p\nstages:\n  - name: a\n    switches: { listing: 10 }\n    minDuration: 1d\n'),
    ).toMatch(
      /^plan\.yaml:4:17: stages\[0\]\.switches\.listing: "listing" is not a switch key; a key is cache:/,
    );
  });

  it('a weight past 100, or not whole', () => {
    expect(
      failure('name: p\nstages:\n  - name: a\n    switches: { traffic:r: 101 }\n    minDuration: 1d\n'),
    ).toBe(
      'plan.yaml:4:28: stages[0].switches.traffic:r: expected a weight: a whole percentage from 0 to 100 (got 101)',
    );
    expect(
      failure('name: p\nstages:\n  - name: a\n    switches: { flag:f: 12.5 }\n    minDuration: 1d\n'),
    ).toMatch(/switches\.flag:f: expected a weight: a whole percentage from 0 to 100 \(got 12\.5\)$/);
  });

  it('an unknown metric, wherever it is named, with the likely one and the list', () => {
    const message = failure(
      oneStage('    success:\n      - { metric: candidate.eror_rate, op: "<", threshold: 0.01 }\n'),
    );
    expect(message).toMatch(
      /^plan\.yaml:7:19: stages\[0\]\.success\[0\]\.metric: unknown metric "candidate\.eror_rate" \(did you mean "candidate\.error_rate"\?\); the metrics are stable\.\* and candidate\.\* \(error_rate, requests, p50, p95, p99\), shadow\.match_rate, /,
    );
    expect(message).toMatch(/this plan's own: none under "metrics:"$/);
    expect(
      failure(
        oneStage(
          '',
          'rollback:\n  - { metric: candidate.p95, op: ">", threshold: 2, relativeTo: stabel.p95, for: 5m, severity: high }\n',
        ),
      ),
    ).toMatch(
      /^plan\.yaml:3:65: rollback\[0\]\.relativeTo: unknown metric "stabel\.p95" \(did you mean "stable\.p95"\?\)/,
    );
    expect(
      failure(oneStage('', 'rollback:\n  - { probe: helth, consecutive: 3, severity: critical }\n')),
    ).toMatch(/^plan\.yaml:3:14: rollback\[0\]\.probe: unknown metric "helth"/);
    expect(
      failure(
        oneStage(
          '',
          'metrics:\n  db: { gauge: db.load }\nrollback:\n  - { probe: db, consecutive: 3, severity: critical }\n',
        ),
      ),
    ).toMatch(
      /^plan\.yaml:5:14: rollback\[0\]\.probe: db is not a probe; "consecutive" counts failed probe checks$/,
    );
  });

  it('a trigger without a severity, or with one that does not exist', () => {
    expect(
      failure(
        oneStage(
          '    rollback:\n      - { metric: candidate.error_rate, op: ">", threshold: 0.05, for: 5m }\n',
        ),
      ),
    ).toBe(
      'plan.yaml:7:9: stages[0].rollback[0].severity: a trigger needs a severity: critical (roll back at once), ' +
        'high (pause; roll back after 1h unless acknowledged) or medium (pause; roll back after 24h without a decision)',
    );
    expect(
      failure(
        oneStage(
          '    rollback:\n      - { metric: candidate.error_rate, op: ">", threshold: 0.05, for: 5m, severity: urgent }\n',
        ),
      ),
    ).toMatch(
      /^plan\.yaml:7:86: stages\[0\]\.rollback\[0\]\.severity: expected one of critical, high, medium \(got "urgent"\)$/,
    );
  });

  it('a duration that is not one, or out of range', () => {
    expect(
      failure('name: p\nstages:\n  - name: a\n    switches: { traffic:r: 10 }\n    minDuration: a week\n'),
    ).toBe(
      'plan.yaml:5:18: stages[0].minDuration: expected a duration up to 365d, like "3d" or a number of ms (got "a week")',
    );
    expect(failure(oneStage('', 'evaluationInterval: 2h\n'))).toMatch(
      /^plan\.yaml:2:21: evaluationInterval: expected a duration from 100ms to 1h, like "30s" or a number of ms \(got "2h"\)$/,
    );
    expect(
      failure(
        oneStage(
          '    rollback:\n      - { metric: candidate.p99, op: ">", threshold: 10, for: -5m, severity: high }\n',
        ),
      ),
    ).toMatch(
      /stages\[0\]\.rollback\[0\]\.for: expected a duration up to 30d, like "5m" or a number of ms \(got "-5m"\)$/,
    );
  });

  it('an empty file, a file that is not a mapping, a YAML syntax error', () => {
    const empty =
      'plan.yaml:1:1: (file): the file is empty; give the plan a "name:" and its "stages:" (keel rollout plans canary --route <route> prints one)';
    expect(failure('')).toBe(empty);
    expect(failure('# to do\n')).toBe(empty);
    expect(failure('- name: a\n')).toBe(
      'plan.yaml:1:1: (file): expected a mapping with "name:" and a "stages:" list (got a list)',
    );
    expect(failure('name: p\nstages:\n  - name: a\n   minDuration: 1d\n')).toMatch(
      /^plan\.yaml:4:\d+: not valid YAML/,
    );
  });

  it('a ratio written as a percentage, a comparison with the wrong test, a metric relative to itself', () => {
    expect(
      failure(oneStage('    success:\n      - { metric: candidate.error_rate, op: "<", threshold: 5 }\n')),
    ).toMatch(
      /^plan\.yaml:7:61: stages\[0\]\.success\[0\]\.threshold: candidate\.error_rate is a ratio from 0 to 1: write 5 % as 0\.05 \(got 5\)$/,
    );
    expect(
      failure(oneStage('    success:\n      - compare: { metric: latency, test: two-proportion }\n')),
    ).toMatch(
      /^plan\.yaml:7:43: stages\[0\]\.success\[0\]\.compare\.test: latency is compared with the mann-whitney test \(got "two-proportion"\)$/,
    );
    expect(
      failure(
        oneStage(
          '    success:\n      - { metric: stable.p95, op: "<", threshold: 2, relativeTo: stable.p95 }\n',
        ),
      ),
    ).toMatch(/success\[0\]\.relativeTo: stable\.p95 relative to itself is always 1; name the other side$/);
  });

  it('two stages of one name, safe weights for a switch no stage moves, a plan that moves nothing', () => {
    expect(failure(`${oneStage('')}  - name: a\n    minDuration: 1d\n`)).toBe(
      'plan.yaml:6:11: stages[1].name: "a" names two stages; give each a distinct name',
    );
    expect(failure(oneStage('', 'safe: { cache:other: 0 }\n'))).toBe(
      'plan.yaml:2:9: safe.cache:other: no stage moves cache:other; safe weights are for the switches this plan moves',
    );
    expect(failure('name: p\nstages:\n  - { name: a, minDuration: 1d }\n')).toMatch(
      /^plan\.yaml:3:3: stages: no stage moves a switch; give the stages their "switches:"$/,
    );
  });

  it('custom metrics: one kind each, lower-case names, probes given as a path name their route', () => {
    expect(failure(oneStage('', 'metrics:\n  db: { gauge: g, promql: x }\n'))).toMatch(
      /^plan\.yaml:3:7: metrics\.db: a metric is one of \{ promql: <query> \}, \{ probe: \{ url, … \} \} or \{ gauge: <name> \} \(got promql and gauge\)$/,
    );
    expect(failure(oneStage('', 'metrics:\n  cache.hit_rate: { gauge: g }\n'))).toMatch(
      /^plan\.yaml:3:3: metrics\.cache\.hit_rate: a metric name is lower-case letters, digits and "_", starting with a letter \(built-in metrics, which have a "\.", need no declaration\)$/,
    );
    expect(failure(oneStage('', 'metrics:\n  health: { probe: { url: /health } }\n'))).toMatch(
      /^plan\.yaml:3:20: metrics\.health\.probe\.route: "\/health" is a path: name the route whose candidate origin answers it$/,
    );
  });

  it('reads numbers as plain decimals, as the routes file does', () => {
    expect(
      failure('name: p\nstages:\n  - name: a\n    switches: { traffic:r: 0x10 }\n    minDuration: 1d\n'),
    ).toMatch(/switches\.traffic:r: expected a weight: a whole percentage from 0 to 100 \(got "0x10"\)$/);
  });
});

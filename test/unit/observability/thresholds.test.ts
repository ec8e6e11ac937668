import { describe, expect, it } from 'vitest';
import { alertRules, grafanaDashboards, levelOf, THRESHOLDS } from '../../../src/observability/index.js';

describe('thresholds table', () => {
  it('orders each row from the most severe level, each on the bad side of the target', () => {
    const order = ['critical', 'high', 'medium', 'low'];
    for (const row of THRESHOLDS) {
      const ranks = row.levels.map((level) => order.indexOf(level.severity));
      expect([...ranks].sort(), row.name).toEqual(ranks);
      for (const level of row.levels) {
        if (row.direction === 'above') expect(level.threshold, row.name).toBeGreaterThanOrEqual(row.target);
        else expect(level.threshold, row.name).toBeLessThanOrEqual(row.target);
      }
    }
  });

  it('places a value at its most severe level', () => {
    const errorRate = THRESHOLDS.find((row) => row.name === 'KeelErrorRate')!;
    expect(levelOf(errorRate, 0.2)?.severity).toBe('critical');
    expect(levelOf(errorRate, 0.02)?.severity).toBe('high');
    expect(levelOf(errorRate, 0.0001)).toBeUndefined();
    const hitRate = THRESHOLDS.find((row) => row.name === 'KeelCacheHitRate')!;
    expect(levelOf(hitRate, 0.2)?.severity).toBe('high');
    expect(levelOf(hitRate, 0.5)?.severity).toBe('medium');
    expect(levelOf(hitRate, 0.9)).toBeUndefined();
  });

  it('gives one alert per level, named and labelled by severity', () => {
    const rules = alertRules();
    expect(rules).toHaveLength(THRESHOLDS.reduce((sum, row) => sum + row.levels.length, 0));
    expect(rules.find((rule) => rule.alert === 'KeelErrorRateCritical')).toMatchObject({
      for: '5m',
      labels: { severity: 'critical' },
    });
    expect(new Set(rules.map((rule) => rule.alert)).size).toBe(rules.length);
  });

  it('draws the same thresholds on the dashboards, every panel with a query', () => {
    const dashboards = grafanaDashboards() as Record<
      string,
      {
        panels: {
          targets: { expr: string }[];
          fieldConfig: { defaults: { thresholds: { steps: { value: number | null }[] } } };
        }[];
        refresh: string;
      }
    >;
    expect(Object.keys(dashboards)).toEqual([
      'keel-realtime.json',
      'keel-daily.json',
      'keel-weekly.json',
      'keel-sync.json',
    ]);
    expect(dashboards['keel-realtime.json']?.refresh).toBe('10s');
    for (const dashboard of Object.values(dashboards)) {
      for (const panel of dashboard.panels) {
        expect(panel.targets.length).toBeGreaterThan(0);
        for (const target of panel.targets) expect(target.expr).toMatch(/keel_|up\{/);
      }
    }
    const errorPanel = dashboards['keel-realtime.json']!.panels.find((panel) =>
      panel.targets[0]?.expr.includes('status=~"5.."'),
    );
    expect(errorPanel?.fieldConfig.defaults.thresholds.steps.map((step) => step.value)).toEqual([
      null,
      0.005,
      0.01,
      0.05,
    ]);
  });
});

/**
 * A PromQL guard against a real Prometheus (the Debian package): Prometheus scrapes a small
 * exporter whose value the test sets; a rollout whose plan watches that value through
 * PROMETHEUS_URL stays while it is low and is rolled back by the critical trigger once it is high.
 * A query Prometheus cannot answer is no value, never a reason to roll back.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlan, Rollout, scaledClock } from '../../../src/rollout/index.js';
import { MemoryRolloutStore } from '../../../src/rollout/store/index.js';
import { freePort, requireExecutable, waitUntil } from '../../support/index.js';

let errorRatio = 0.01;
let exporter: Server;
let prometheus: ChildProcess;
let prometheusUrl: string;
const dir = mkdtempSync(join(tmpdir(), 'keel-promql-'));

beforeAll(async () => {
  exporter = createServer((_request, response) =>
    response.end(`# TYPE keel_test_error_ratio gauge\nkeel_test_error_ratio ${errorRatio}\n`),
  );
  await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', resolve));
  const target = `127.0.0.1:${(exporter.address() as AddressInfo).port}`;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: test\n    static_configs: [{ targets: ['${target}'] }]\n`,
  );
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    await requireExecutable('prometheus'),
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
    ],
    { stdio: 'ignore' },
  );
  expect(await waitUntil(async () => (await query('keel_test_error_ratio')) === 0.01, 30_000)).toBe(true);
}, 60_000);
afterAll(async () => {
  prometheus?.kill('SIGKILL');
  await new Promise<void>((resolve) => exporter.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

async function query(expression: string): Promise<number | undefined> {
  try {
    const answer = await request(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expression)}`);
    const body = (await answer.body.json()) as { data?: { result?: { value: [number, string] }[] } };
    const value = body.data?.result?.[0]?.value[1];
    return value === undefined ? undefined : Number(value);
  } catch {
    return undefined;
  }
}

const PLAN = `
name: promql-test
evaluationInterval: 1m
metrics:
  db_errors: { promql: 'max(keel_test_error_ratio)' }
  missing: { promql: 'max(no_such_series)' }
rollback:
  - { metric: db_errors, op: '>', threshold: 0.05, for: 1m, severity: critical }
  - { metric: missing, op: '<', threshold: 1, for: 1m, severity: critical }
stages:
  - { name: ten, switches: { flag:new-db: 10 }, minDuration: 30d }
`;

describe('a PromQL guard', () => {
  it('keeps a rollout while the value is low, and rolls it back once Prometheus sees it high', async () => {
    const rollout = await Rollout.open({
      store: new MemoryRolloutStore(),
      prometheusUrl,
      clock: scaledClock(6_000),
      tickMs: 5,
    });
    try {
      const record = await rollout.actions.start(parsePlan(PLAN, 'plan'), 'operator:test');
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // 100 minutes of plan time
      expect((await rollout.store.rollout(record.id))?.status).toBe('running');
      expect(rollout.controller.guards(record.id)?.values['db_errors > 0.05 for 1m (critical)']).toBe(0.01);
      errorRatio = 0.2;
      expect(
        await waitUntil(
          async () => (await rollout.store.rollout(record.id))?.status === 'rolled-back',
          15_000,
        ),
      ).toBe(true);
      expect(rollout.board.weight('flag:new-db')).toBe(0);
      const rollback = (await rollout.actions.history(record.id)).find(
        (entry) => entry.action === 'rollback',
      );
      expect(rollback?.metrics?.['db_errors > 0.05 for 1m (critical)']).toBe(0.2);
    } finally {
      await rollout.close();
    }
  }, 60_000);
});

/**
 * Simulated deployments through real gateways, their plans under a scaled clock (an hour of plan
 * time in a second): a candidate that answers slower is paused by its high trigger and rolled back
 * at the deadline, or held paused once an operator acknowledges; a medium trigger pauses and waits
 * for a decision; and in a shadow stage, a candidate whose answers differ 2 % of the time never
 * meets the ≥ 99 % match criterion while an identical one promotes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlan, type RolloutRecord, scaledClock } from '../../../src/rollout/index.js';
import type { RunningServer } from '../../../src/server/index.js';
import { startTestOrigin, type TestOrigin } from '../../support/index.js';
import { waitUntil } from '../../support/wait.js';
import { Gateways, get } from './gateway-harness.js';

/** Plan milliseconds per real millisecond: an hour a second. */
const SCALE = 3_600;

let stable: TestOrigin;
const gateways = new Gateways();
const origins: TestOrigin[] = [];

beforeAll(async () => {
  stable = await startTestOrigin((request) => ({ body: JSON.stringify({ url: request.url, v: 1 }) }));
});
afterAll(async () => {
  await gateways.closeAll();
  for (const origin of [stable, ...origins]) await origin?.close();
});

async function candidate(answer: (url: string) => { body: string; delayMs?: number }): Promise<TestOrigin> {
  const origin = await startTestOrigin((request) => answer(request.url));
  origins.push(origin);
  return origin;
}

async function gatewayWith(candidateUrl: string): Promise<RunningServer> {
  const routes = `routes:\n  - name: item\n    path: /items/:id\n    enabled: 0\n    candidate: ${candidateUrl}\n`;
  return gateways.start(
    stable.url,
    routes,
    { KEEL_STICKY_KEY: 'header:x-user-id', KEEL_SHADOW_RATE: '10000' },
    {
      rolloutClock: scaledClock(SCALE),
    },
  );
}

/** Requests from many clients until `done` says so (or 20 s pass). */
async function traffic(gateway: RunningServer, done: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  let n = 0;
  while (Date.now() < deadline) {
    await Promise.all(
      Array.from({ length: 8 }, () => get(`${gateway.url}/items/${n % 50}`, { 'x-user-id': `u${n++}` })),
    );
    if (await done()) return true;
  }
  return false;
}

const statusOf = async (gateway: RunningServer, id: string) =>
  (await gateway.rollout.rollout.store.rollout(id)) as RolloutRecord;

const LATENCY_PLAN = (severity: 'high' | 'medium') => `
name: slower
evaluationInterval: 5m
stages:
  - name: half
    switches: { traffic:item: 50 }
    minDuration: 1d
    gate: manual
rollback:
  - { metric: candidate.p95, op: '>', threshold: 2, relativeTo: stable.p95, for: 10m, severity: ${severity} }
`;

/** A gateway whose candidate answers 60 ms slower, its rollout paused by a trigger of `severity`. */
async function pausedBySlowCandidate(severity: 'high' | 'medium') {
  const slow = await candidate((url) => ({ body: JSON.stringify({ url, v: 1 }), delayMs: 60 }));
  const gateway = await gatewayWith(slow.url);
  const { actions } = gateway.rollout.rollout;
  const record = await actions.start(parsePlan(LATENCY_PLAN(severity), 'plan.yaml'), 'operator:test');
  expect(await traffic(gateway, async () => (await statusOf(gateway, record.id)).status === 'paused')).toBe(
    true,
  );
  return { gateway, actions, record };
}

describe('guards through a gateway', () => {
  it('pauses a slower candidate (high) and rolls it back an hour later', async () => {
    const { gateway, actions, record } = await pausedBySlowCandidate('high');
    expect((await statusOf(gateway, record.id)).pause).toMatchObject({ severity: 'high' });
    expect(
      await traffic(gateway, async () => (await statusOf(gateway, record.id)).status === 'rolled-back'),
    ).toBe(true);
    const rollback = (await actions.history(record.id)).find((entry) => entry.action === 'rollback');
    expect(rollback?.reason).toMatch(/still breaching an hour after the pause/);
    // The record says rolled-back before the safe weights reach this instance's board.
    const item = gateway.routes.route('item')!;
    expect(await waitUntil(async () => gateway.routes.trafficPercent(item) === 0, 5_000)).toBe(true);
  }, 60_000);

  it('keeps an acknowledged high pause paused past its deadline', async () => {
    const { gateway, actions, record } = await pausedBySlowCandidate('high');
    await actions.acknowledge(record.id, 'operator:ana', 'looking into it');
    // Two hours of plan time, the candidate still slower.
    const started = Date.now();
    await traffic(gateway, async () => Date.now() - started > 2_000);
    expect((await statusOf(gateway, record.id)).status).toBe('paused');
    expect(gateway.routes.trafficPercent(gateway.routes.route('item')!)).toBe(50);
  }, 60_000);

  it('pauses on a medium trigger and waits for a decision', async () => {
    const { gateway, actions, record } = await pausedBySlowCandidate('medium');
    const paused = await statusOf(gateway, record.id);
    expect(paused.pause).toMatchObject({ severity: 'medium' });
    // Its deadline is a day away: an hour later it is still paused, awaiting an operator.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await statusOf(gateway, record.id)).status).toBe('paused');
    await actions.rollback(record.id, 'operator:ana', 'not worth it');
    expect((await statusOf(gateway, record.id)).status).toBe('rolled-back');
  }, 60_000);
});

describe('the shadow stage', () => {
  const SHADOW_PLAN = `
name: shadow-first
evaluationInterval: 5m
stages:
  - name: shadow
    switches: { shadow:item: 100 }
    minDuration: 1h
    success:
      - { metric: shadow.match_rate, op: '>=', threshold: 0.99, minSamples: 200 }
  - name: traffic
    switches: { shadow:item: 0, traffic:item: 10 }
    minDuration: 1d
    gate: manual
`;

  it('blocks promotion while 2 % of the answers differ, and promotes an identical candidate', async () => {
    const differing = await candidate((url) => ({
      body: JSON.stringify({ url, v: Number(url.split('/').pop()) % 50 === 0 ? 2 : 1 }),
    }));
    const identical = await candidate((url) => ({ body: JSON.stringify({ url, v: 1 }) }));
    const flawed = await gatewayWith(differing.url);
    const good = await gatewayWith(identical.url);
    const start = (gateway: RunningServer) =>
      gateway.rollout.rollout.actions.start(parsePlan(SHADOW_PLAN, 'plan.yaml'), 'operator:test');
    // Ids 0 to 49 in turn: id 0 is the one in fifty whose answer differs.
    const onGood = await start(good);
    expect(await traffic(good, async () => (await statusOf(good, onGood.id)).stage === 1)).toBe(true);
    const onFlawed = await start(flawed);
    // 1,000 comparisons take several evaluations past the stage's hour.
    expect(await traffic(flawed, async () => flawed.shadow.counts.compared >= 1_000)).toBe(true);
    expect((await statusOf(flawed, onFlawed.id)).stage).toBe(0);
    const guards = await flawed.rollout.rollout.guards(onFlawed.id);
    expect(guards?.criteria[0]).toMatchObject({ holds: false });
    expect(flawed.shadow.counts.matched / flawed.shadow.counts.compared).toBeCloseTo(0.98, 2);
  }, 60_000);
});

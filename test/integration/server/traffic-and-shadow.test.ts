/**
 * A route's candidate origin through a real gateway: the `traffic:` switch sends a sticky share of
 * clients to it, each origin's answers cached apart; the `shadow:` switch copies requests to it off
 * the request path and compares the answers (ignored fields aside), keeping the mismatches for
 * `keel rollout diff`; writes are copied only to a dry-run candidate; a dead or hanging candidate
 * never slows the stable answers; the stable origin's credentials never reach the candidate; and a
 * rollout whose candidate fails is rolled back by its guards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlan, type SwitchKey } from '../../../src/rollout/index.js';
import type { RunningServer } from '../../../src/server/index.js';
import { startTestOrigin, type TestOrigin, waitUntil } from '../../support/index.js';
import { admin, Gateways, get } from './gateway-harness.js';

let stable: TestOrigin;
let candidate: TestOrigin;
const gateways = new Gateways();

const routesFor = (candidateUrl: string, extra = '') => `
routes:
  - name: item
    path: /items/:id
    ttl: 1m
    candidate: ${candidateUrl}
    compare: { ignore: [servedAt] }
  - name: order
    path: /orders
    methods: [POST]
    candidate: { origin: "${candidateUrl}", dryRun: true }
  - name: note
    path: /notes
    methods: [POST]
    candidate: ${candidateUrl}
${extra}`;

const setSwitches = (gateway: RunningServer, weights: Partial<Record<SwitchKey, number>>) =>
  gateway.rollout.rollout.board.set(weights, {
    actor: 'operator:test',
    action: 'set-weight',
    reason: 'test',
    at: Date.now(),
  });

beforeAll(async () => {
  stable = await startTestOrigin((request) => ({
    headers: { 'cache-control': 'max-age=60', 'content-type': 'application/json' },
    body: JSON.stringify({ origin: 'stable', url: request.url, price: 10, servedAt: Date.now() }),
  }));
  candidate = await startTestOrigin((request) => {
    // One id in fifty answers a different price: a 2 % mismatch.
    const id = Number(request.url.split('/').pop());
    return {
      headers: { 'cache-control': 'max-age=60', 'content-type': 'application/json' },
      body: JSON.stringify({
        origin: 'stable',
        url: request.url,
        price: id % 50 === 0 ? 12 : 10,
        servedAt: Date.now() + 1,
      }),
    };
  });
});
afterAll(async () => {
  await gateways.closeAll();
  await stable?.close();
  await candidate?.close();
});

describe('traffic split', () => {
  it('sends a sticky share of clients to the candidate, and caches each origin apart', async () => {
    const tagged = await startTestOrigin((request) => ({
      headers: { 'cache-control': 'max-age=60' },
      body: `candidate ${request.url}`,
    }));
    try {
      const gateway = await gateways.start(stable.url, routesFor(tagged.url), {
        KEEL_STICKY_KEY: 'header:x-user-id',
      });
      await setSwitches(gateway, { 'traffic:item': 30 });
      const seen = new Map<string, string>();
      for (let round = 0; round < 2; round++)
        for (let user = 0; user < 200; user++) {
          const answer = await get(`${gateway.url}/items/7`, { 'x-user-id': `u${user}` });
          const who = answer.body.startsWith('candidate') ? 'candidate' : 'stable';
          if (round === 0) seen.set(`u${user}`, who);
          else expect(who).toBe(seen.get(`u${user}`));
          if (round === 1) expect(answer.xCache).toBe('HIT');
        }
      const toCandidate = [...seen.values()].filter((who) => who === 'candidate').length;
      expect(toCandidate).toBeGreaterThan(40);
      expect(toCandidate).toBeLessThan(80);
      // One request to each origin filled each origin's entry.
      expect(tagged.count('/items/7')).toBe(1);
      const figures = gateway.rollout.figures.rotate(['traffic:item']);
      expect(figures.candidate.requests).toBe(toCandidate * 2);
      expect(figures.stable.requests).toBe(400 - toCandidate * 2);
    } finally {
      await tagged.close();
    }
  });

  it('keeps the stable origin’s credentials from the candidate', async () => {
    const credentialed = new URL(stable.url);
    credentialed.username = 'keel';
    credentialed.password = 'secret';
    const gateway = await gateways.start(credentialed.toString(), routesFor(candidate.url));
    await setSwitches(gateway, { 'traffic:item': 100 });
    const before = candidate.received.length;
    await get(`${gateway.url}/items/credentials`);
    const sent = candidate.received.slice(before).find((request) => request.url === '/items/credentials');
    expect(sent).toBeDefined();
    expect(sent?.headers.authorization).toBeUndefined();
  });
});

describe('shadow traffic', () => {
  it('compares every copied answer, ignoring the named fields, and keeps the mismatches', async () => {
    const gateway = await gateways.start(stable.url, routesFor(candidate.url), { KEEL_SHADOW_RATE: '10000' });
    await setSwitches(gateway, { 'shadow:item': 100 });
    for (let id = 1; id <= 200; id++) {
      const answer = await get(`${gateway.url}/items/${id}`);
      expect(JSON.parse(answer.body).origin).toBe('stable');
    }
    const { shadow } = gateway;
    expect(await waitUntil(async () => shadow.counts.compared === 200, 5_000)).toBe(true);
    expect(shadow.counts.matched).toBe(196);
    const figures = gateway.rollout.figures.rotate(['traffic:item']);
    expect(figures.shadow.compared).toBe(200);
    expect(figures.shadow.matched / figures.shadow.compared).toBeCloseTo(0.98);
    expect(figures.candidate.requests).toBe(200);
    const listed = JSON.parse((await admin(gateway.url, 'GET', '/shadow?route=item')).body);
    expect(listed.mismatches).toHaveLength(4);
    expect(listed.mismatches[0]).toMatchObject({
      route: 'item',
      method: 'GET',
      path: '/items/50',
      differences: [{ path: 'body.price', expected: 10, actual: 12 }],
    });
  });

  it('neither holds nor compares a candidate answer past 1 MiB', async () => {
    const huge = await startTestOrigin(() => ({ body: Buffer.alloc(3 * 1024 * 1024, 120) }));
    try {
      const gateway = await gateways.start(stable.url, routesFor(huge.url));
      await setSwitches(gateway, { 'shadow:item': 100 });
      const answer = await get(`${gateway.url}/items/huge`);
      expect(JSON.parse(answer.body).origin).toBe('stable');
      const { counts } = gateway.shadow;
      expect(await waitUntil(async () => counts.skipped === 1, 2_000)).toBe(true);
      expect(counts).toMatchObject({ compared: 0, failed: 0 });
      expect(gateway.shadow.mismatches()).toEqual([]);
    } finally {
      await huge.close();
    }
  });

  it('copies writes only to a dry-run candidate, with their body', async () => {
    const gateway = await gateways.start(stable.url, routesFor(candidate.url));
    await setSwitches(gateway, { 'shadow:order': 100, 'shadow:note': 100 });
    const before = candidate.received.length;
    expect(
      (await get(`${gateway.url}/orders`, { 'content-type': 'application/json' }, 'POST', '{"n":1}')).status,
    ).toBe(200);
    expect(
      (await get(`${gateway.url}/notes`, { 'content-type': 'application/json' }, 'POST', '{"n":2}')).status,
    ).toBe(200);
    expect(await waitUntil(async () => candidate.received.length > before, 2_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const copied = candidate.received.slice(before);
    expect(copied.map((request) => `${request.method} ${request.url} ${request.body}`)).toEqual([
      'POST /orders {"n":1}',
    ]);
  });

  it('sends at most KEEL_SHADOW_RATE copies a second, whatever the share', async () => {
    const gateway = await gateways.start(stable.url, routesFor(candidate.url), { KEEL_SHADOW_RATE: '5' });
    await setSwitches(gateway, { 'shadow:item': 100 });
    const started = performance.now();
    for (let id = 0; id < 60; id++) await get(`${gateway.url}/items/${id}`);
    const seconds = (performance.now() - started) / 1000;
    const { counts } = gateway.shadow;
    expect(await waitUntil(async () => counts.compared + counts.dropped === 60, 2_000)).toBe(true);
    // A second's worth at once, then the rate.
    expect(counts.compared).toBeGreaterThanOrEqual(5);
    expect(counts.compared).toBeLessThanOrEqual(5 + Math.ceil(seconds * 5));
  });

  it('never slows the stable answers when the candidate hangs or is gone, and pauses a failing one', async () => {
    const hanging = await startTestOrigin(() => ({ delayMs: 3_000, body: 'late' }));
    try {
      const slow = await gateways.start(stable.url, routesFor(hanging.url), { KEEL_SHADOW_CONCURRENCY: '4' });
      await setSwitches(slow, { 'shadow:item': 100 });
      const started = performance.now();
      for (let id = 0; id < 50; id++) expect((await get(`${slow.url}/items/${id}`)).status).toBe(200);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(slow.shadow.counts.dropped).toBe(46);

      const gone = await gateways.start(stable.url, routesFor('http://127.0.0.1:1'));
      await setSwitches(gone, { 'shadow:item': 100 });
      for (let id = 0; id < 20; id++) expect((await get(`${gone.url}/items/${id}`)).status).toBe(200);
      const { counts } = gone.shadow;
      expect(await waitUntil(async () => counts.failed + counts.dropped === 20, 2_000)).toBe(true);
      // Five failures in a row pause the candidate (a copy or two may already be on their way).
      expect(counts.failed).toBeGreaterThanOrEqual(5);
      expect(counts.failed).toBeLessThan(10);
      const figures = gone.rollout.figures.rotate(['traffic:item']);
      expect(figures.candidate.errors).toBe(counts.failed);
      expect(figures.shadow).toMatchObject({ compared: counts.failed, matched: 0 });
    } finally {
      await hanging.close();
    }
  });
  it('sends a paused candidate one probe when its pause ends, not a bucketful of copies', async () => {
    // A busy gateway with room for many copies a second: before the probe, a dead candidate was
    // sent as many copies as were sampled before the first of them failed, after every pause.
    const gone = await gateways.start(stable.url, routesFor('http://127.0.0.1:1'), {
      KEEL_SHADOW_RATE: '1000',
    });
    await setSwitches(gone, { 'shadow:item': 100 });
    const { counts } = gone.shadow;
    const started = performance.now();
    while (performance.now() - started < 2_600)
      await Promise.all(
        Array.from({ length: 20 }, async (_, id) =>
          expect((await get(`${gone.url}/items/${id}`)).status).toBe(200),
        ),
      );
    expect(await waitUntil(async () => gone.shadow.counts.failed === counts.compared, 2_000)).toBe(true);
    // The first copies (at most the concurrency bound before five had failed), then one probe per
    // second of pause: two or three in 2.6 s (41 copies failed here before the probe).
    expect(counts.failed).toBeGreaterThanOrEqual(6);
    expect(counts.failed).toBeLessThanOrEqual(16 + 3);
    expect(counts.dropped).toBeGreaterThan(200);
  });
});

describe('a rollout through the gateway', () => {
  it('rolls a failing candidate back at the first evaluation (critical), and refuses a route with no candidate', async () => {
    const failing = await startTestOrigin(() => ({ status: 500, body: 'broken' }));
    try {
      const gateway = await gateways.start(
        stable.url,
        `${routesFor(failing.url)}  - name: plain\n    path: /plain\n`,
        { KEEL_STICKY_KEY: 'header:x-user-id' },
      );
      const { actions } = gateway.rollout.rollout;
      const plan = parsePlan(
        `
name: canary-test
evaluationInterval: 500ms
rollback:
  - { metric: candidate.error_rate, op: '>', threshold: 0.1, for: 0s, severity: critical }
stages:
  - name: canary-50
    switches: { traffic:item: 50 }
    minDuration: 1h
`,
        'plan.yaml',
      );
      await expect(
        actions.start(
          { ...plan, stages: [{ ...plan.stages[0]!, switches: { 'traffic:plain': 50 } }] },
          'operator:test',
        ),
      ).rejects.toThrow(/route plain has no candidate origin/);
      const record = await actions.start(plan, 'operator:test');
      for (let user = 0; user < 40; user++) await get(`${gateway.url}/items/1`, { 'x-user-id': `u${user}` });
      expect(
        await waitUntil(
          async () => (await gateway.rollout.rollout.store.rollout(record.id))?.status === 'rolled-back',
          3_000,
        ),
      ).toBe(true);
      expect(gateway.routes.trafficPercent(gateway.routes.route('item')!)).toBe(0);
      const history = await actions.history(record.id, 5);
      const rollback = history.find((entry) => entry.action === 'rollback');
      expect(rollback?.actor).toMatch(/^guard:candidate.error_rate/);
    } finally {
      await failing.close();
    }
  });
});

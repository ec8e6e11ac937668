/**
 * A rollout carried out by a fleet: three `keel serve` processes sharing their state through Redis,
 * and again through PostgreSQL. A four-stage plan on a route's cache switch (one second a stage)
 * is started on one instance; every weight change reaches the three within a second; the instance
 * evaluating the guards is killed (SIGKILL, so it releases nothing) mid-rollout, another takes the
 * guards over and finishes the plan, and the audit shows each stage's weights exactly once, in
 * order; a gateway started afterwards reads the final weight.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord, RolloutRecord } from '../../../src/rollout/index.js';
import {
  databaseUrl,
  type GatewayProcess,
  redisUrl,
  startGatewayProcess,
  startTestOrigin,
  type TestOrigin,
  waitUntil,
} from '../../support/index.js';

const TOKEN = 'fleet-admin-token-0123456789';
const ROUTES = `
routes:
  - name: catalog
    path: /catalog/:id
    ttl: 1m
    enabled: 0
`;
const WEIGHTS = [10, 30, 60, 100];
const PLAN = `
name: fleet-steps
evaluationInterval: 200ms
stages:
${WEIGHTS.map((weight) => `  - { name: at-${weight}, switches: { cache:catalog: ${weight} }, minDuration: 1500ms }`).join('\n')}
`;
/** A dead holder's lease lapses within 5 s; the next tick (1 s) takes it. */
const TAKEOVER_MS = 8_000;

let origin: TestOrigin;
beforeAll(async () => {
  origin = await startTestOrigin(() => ({ body: '{}' }));
});
afterAll(async () => {
  await origin?.close();
});

async function admin<T>(
  gateway: GatewayProcess,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<T> {
  const answer = await request(`${gateway.url}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await answer.body.text();
  if (answer.statusCode >= 300) throw new Error(`${method} ${path}: ${answer.statusCode} ${text}`);
  return JSON.parse(text) as T;
}

const weightOn = async (gateway: GatewayProcess) =>
  (await admin<{ name: string; enabledPercent: number }[]>(gateway, 'GET', '/routes')).find(
    (route) => route.name === 'catalog',
  )?.enabledPercent;

describe.each([
  ['Redis', async () => ({ REDIS_URL: await redisUrl() })],
  ['PostgreSQL', async () => ({ DATABASE_URL: await databaseUrl() })],
])('a fleet of three gateways sharing %s', (_name, backend) => {
  const fleet: GatewayProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    env = {
      ...(await backend()),
      KEEL_NAMESPACE: `fleet-${randomUUID().slice(0, 8)}`,
      KEEL_ADMIN_TOKEN: TOKEN,
    };
    fleet.push(
      ...(await Promise.all(
        [1, 2, 3].map(() => startGatewayProcess({ origin: origin.url, routes: ROUTES, env })),
      )),
    );
  }, 60_000);
  afterAll(async () => {
    await Promise.all(fleet.map((gateway) => gateway.stop()));
  });

  it('carries a plan out across a takeover, every weight on every instance within a second', async () => {
    const record = await admin<RolloutRecord>(fleet[0] as GatewayProcess, 'POST', '/rollouts', {
      plan: PLAN,
      by: 'test',
    });
    const leaders = async () =>
      Promise.all(
        fleet.map(async (gateway) => (await admin<{ leader: boolean }>(gateway, 'GET', '/rollouts')).leader),
      );
    expect(await waitUntil(async () => (await leaders()).filter(Boolean).length === 1, TAKEOVER_MS)).toBe(
      true,
    );

    // Each stage's weight reaches all three within a second of the first one seeing it.
    let spreadMs = 0;
    for (const weight of WEIGHTS.slice(0, 2)) {
      expect(
        await waitUntil(async () => (await weightOn(fleet[0] as GatewayProcess)) === weight, 10_000),
      ).toBe(true);
      const seen = performance.now();
      expect(
        await waitUntil(
          async () => (await Promise.all(fleet.map(weightOn))).every((w) => w === weight),
          1_000,
        ),
      ).toBe(true);
      spreadMs = Math.max(spreadMs, performance.now() - seen);
    }
    expect(spreadMs).toBeLessThan(1_000);

    const leaderIndex = (await leaders()).indexOf(true);
    const leader = fleet[leaderIndex] as GatewayProcess;
    leader.signal('SIGKILL');
    const survivors = fleet.filter((_, index) => index !== leaderIndex);
    const done = async () =>
      (await admin<RolloutRecord>(survivors[0] as GatewayProcess, 'GET', `/rollouts/${record.id}`)).status ===
      'complete';
    expect(await waitUntil(done, TAKEOVER_MS + 10_000)).toBe(true);
    expect(await Promise.all(survivors.map(weightOn))).toEqual([100, 100]);

    const history = await admin<AuditRecord[]>(
      survivors[1] as GatewayProcess,
      'GET',
      `/rollouts/${record.id}/history`,
    );
    const applied = history
      .filter((entry) => entry.action === 'weights')
      .map((entry) => entry.switches?.['cache:catalog'])
      .reverse();
    expect(applied).toEqual(WEIGHTS);
    expect(history.filter((entry) => entry.action === 'promote')).toHaveLength(WEIGHTS.length);

    const late = await startGatewayProcess({ origin: origin.url, routes: ROUTES, env });
    fleet.push(late);
    expect(await weightOn(late)).toBe(100);
  }, 60_000);
});

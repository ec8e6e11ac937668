/**
 * The controller carrying out plans under a scaled clock (a minute of plan time in 10 ms), fed
 * with synthetic traffic through the gateway's figures: all green promotes to complete; injected
 * errors roll back by the right severity (critical at once; high pauses and rolls back at its
 * deadline unless acknowledged; medium pauses and rolls back after a day without a decision); a
 * manual gate waits for an operator; the emergency stop holds every switch at its safe weight and
 * blocks promotion until cleared; another instance takes the guards over when the leader dies,
 * without skipping or repeating a stage. Stores are in memory here; the same controller runs on
 * Redis and PostgreSQL in test/integration/rollout.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { scaledClock } from '../../../src/rollout/clock.js';
import { RolloutFigures } from '../../../src/rollout/figures.js';
import { parsePlan } from '../../../src/rollout/plan.js';
import { Rollout } from '../../../src/rollout/rollout.js';
import type { RolloutRecord } from '../../../src/rollout/state.js';
import { InProcessBackend, MemoryRolloutStore } from '../../../src/rollout/store/index.js';
import { waitUntil } from '../../support/index.js';

/** Plan milliseconds per real millisecond: a minute in 10 ms, an hour in 0.6 s. */
const SCALE = 6_000;

const PLAN = `
name: canary-test
evaluationInterval: 1m
rollback:
  - { metric: candidate.error_rate, op: '>', threshold: 0.3, for: 1m, severity: critical }
  - { metric: candidate.error_rate, op: '>', threshold: 0.1, for: 5m, severity: high }
  - { metric: candidate.error_rate, op: '>', threshold: 0.02, for: 5m, severity: medium }
stages:
  - name: ten
    switches: { traffic:listing: 10 }
    minDuration: 10m
    success:
      - { metric: candidate.error_rate, op: '<', threshold: 0.01, minSamples: 50 }
  - name: half
    switches: { traffic:listing: 50 }
    minDuration: 10m
    success:
      - { metric: candidate.error_rate, op: '<', threshold: 0.01, minSamples: 50 }
  - name: all
    switches: { traffic:listing: 100 }
    minDuration: 10m
`;

interface Traffic {
  candidateErrorRate: number;
  stop(): void;
}

/** Requests recorded into `figures` every 2 ms: 10 stable, 10 candidate (errors at the given rate). */
function traffic(figures: RolloutFigures): Traffic {
  const state: Traffic = {
    candidateErrorRate: 0,
    stop: () => clearInterval(timer),
  };
  let n = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < 10; i++) {
      n++;
      figures.record('listing', 'stable', 200, 20);
      // Spread evenly (golden-ratio sequence), so every interval sees about the same share.
      const failing = (n * 0.6180339887) % 1 < state.candidateErrorRate;
      figures.record('listing', 'candidate', failing ? 503 : 200, 22);
    }
  }, 2);
  return state;
}

const opened: Rollout[] = [];
const feeds: Traffic[] = [];
afterEach(async () => {
  for (const feed of feeds.splice(0)) feed.stop();
  await Promise.all(opened.splice(0).map((rollout) => rollout.close()));
});

async function openRollout(backend = new InProcessBackend(), scale = SCALE, instance = 'a') {
  const figures = new RolloutFigures();
  const notes: string[] = [];
  const rollout = await Rollout.open({
    store: new MemoryRolloutStore(backend),
    clock: scaledClock(scale),
    figures,
    instance,
    tickMs: 3,
    leaseTtlMs: 60,
    log: { info: (_fields, message) => notes.push(message), warn() {}, error() {} },
  });
  opened.push(rollout);
  const feed = traffic(figures);
  feeds.push(feed);
  return { rollout, figures, feed, notes, backend };
}

async function statusOf(rollout: Rollout, id: string): Promise<RolloutRecord> {
  return (await rollout.store.rollout(id)) as RolloutRecord;
}

async function until(rollout: Rollout, id: string, check: (r: RolloutRecord) => boolean, ms = 5_000) {
  return waitUntil(async () => check(await statusOf(rollout, id)), ms);
}

describe('the rollout controller', () => {
  it('promotes stage by stage to complete when every criterion holds, auditing and notifying each step', async () => {
    const { rollout, notes } = await openRollout();
    const record = await rollout.actions.start(parsePlan(PLAN, 'plan'), 'operator:test');
    expect(rollout.board.weight('traffic:listing')).toBe(10);
    expect(await until(rollout, record.id, (r) => r.status === 'complete')).toBe(true);
    expect(rollout.board.weight('traffic:listing')).toBe(100);
    const actions = (await rollout.actions.history(record.id)).map((entry) => entry.action).reverse();
    expect(actions.filter((action) => action === 'promote')).toHaveLength(3);
    expect(actions[0]).toBe('start');
    expect(notes).toEqual(
      expect.arrayContaining([
        '[Rollout] canary-test: started',
        '[Rollout] canary-test: now at stage half',
        '[Rollout] canary-test: now at stage all',
        '[Done] canary-test: complete',
      ]),
    );
  });

  it('rolls back at once on a critical breach, within one evaluation after its duration', async () => {
    const { rollout, feed, notes } = await openRollout();
    feed.candidateErrorRate = 0.5;
    const record = await rollout.actions.start(parsePlan(PLAN, 'plan'), 'operator:test');
    expect(await until(rollout, record.id, (r) => r.status === 'rolled-back')).toBe(true);
    const final = await statusOf(rollout, record.id);
    expect(final.stage).toBe(0);
    expect(rollout.board.weight('traffic:listing')).toBe(0);
    const rollback = (await rollout.actions.history(record.id)).find((entry) => entry.action === 'rollback');
    expect(rollback?.actor).toMatch(/^guard:candidate\.error_rate > 0\.3 for 1m \(critical\)/);
    expect(rollback?.metrics?.['candidate.error_rate > 0.3 for 1m (critical)']).toBeGreaterThan(0.3);
    // The breach began within two evaluations of the start and lasted one minute, no more.
    expect(rollback?.at ?? 0).toBeLessThanOrEqual(record.startedAt + 4 * 60_000);
    expect(notes).toContain('[URGENT] canary-test: rolled back');
  });

  it('pauses on a high breach, then rolls back an hour later while still breaching', async () => {
    const { rollout, feed } = await openRollout();
    feed.candidateErrorRate = 0.15;
    const record = await rollout.actions.start(parsePlan(PLAN, 'plan'), 'operator:test');
    expect(await until(rollout, record.id, (r) => r.status === 'paused')).toBe(true);
    const pause = (await statusOf(rollout, record.id)).pause;
    expect(pause?.severity).toBe('high');
    expect((pause?.rollbackAt ?? 0) - (pause?.since ?? 0)).toBe(3_600_000);
    expect(rollout.board.weight('traffic:listing')).toBe(10);
    expect(await until(rollout, record.id, (r) => r.status === 'rolled-back')).toBe(true);
    const rollback = (await rollout.actions.history(record.id)).find((entry) => entry.action === 'rollback');
    expect(rollback?.reason).toMatch(/still breaching an hour after the pause/);
  });

  it('keeps an acknowledged pause paused past its deadline, until an operator decides', async () => {
    const { rollout, feed } = await openRollout();
    feed.candidateErrorRate = 0.15;
    const record = await rollout.actions.start(parsePlan(PLAN, 'plan'), 'operator:test');
    expect(await until(rollout, record.id, (r) => r.status === 'paused')).toBe(true);
    await rollout.actions.acknowledge(record.id, 'operator:ana', 'looking into it');
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // 2.5 h of plan time
    expect((await statusOf(rollout, record.id)).status).toBe('paused');
    feed.candidateErrorRate = 0;
    await rollout.actions.resume(record.id, 'operator:ana', 'fixed');
    expect(await until(rollout, record.id, (r) => r.status === 'complete')).toBe(true);
  });

  it('pauses on a medium breach and rolls back after a day without a decision', async () => {
    const { rollout, feed } = await openRollout(new InProcessBackend(), 100_000);
    feed.candidateErrorRate = 0.05;
    const record = await rollout.actions.start(parsePlan(PLAN, 'plan'), 'operator:test');
    expect(await until(rollout, record.id, (r) => r.status === 'paused')).toBe(true);
    expect((await statusOf(rollout, record.id)).pause?.severity).toBe('medium');
    feed.candidateErrorRate = 0;
    expect(await until(rollout, record.id, (r) => r.status === 'rolled-back')).toBe(true);
    const rollback = (await rollout.actions.history(record.id)).find((entry) => entry.action === 'rollback');
    expect(rollback?.reason).toMatch(/no decision within 24 h/);
  });

  it('waits at a manual gate until an operator promotes', async () => {
    const { rollout } = await openRollout();
    const manual = PLAN.replace(
      'minDuration: 10m\n    success:',
      'minDuration: 10m\n    gate: manual\n    success:',
    );
    const record = await rollout.actions.start(parsePlan(manual, 'plan'), 'operator:test');
    await new Promise((resolve) => setTimeout(resolve, 400)); // 40 min of plan time
    expect((await statusOf(rollout, record.id)).stage).toBe(0);
    expect(rollout.controller.guards(record.id)?.criteria.every((c) => c.holds === true)).toBe(true);
    await rollout.actions.promote(record.id, 'operator:ana');
    expect(await until(rollout, record.id, (r) => r.status === 'complete')).toBe(true);
  });

  it("notifies an operator's pause, acknowledgement, resumption and stop", async () => {
    const { rollout, notes } = await openRollout();
    const manual = PLAN.replace(
      'minDuration: 10m\n    success:',
      'minDuration: 10m\n    gate: manual\n    success:',
    );
    const record = await rollout.actions.start(parsePlan(manual, 'plan'), 'operator:test');
    await rollout.actions.pause(record.id, 'operator:ana', 'checking the logs');
    await rollout.actions.acknowledge(record.id, 'operator:ana');
    await rollout.actions.resume(record.id, 'operator:ana');
    await rollout.actions.stop(record.id, 'operator:ana', 'postponed');
    await rollout.notifier.idle();
    expect(notes).toEqual(
      expect.arrayContaining([
        '[Attention] canary-test: paused at stage ten',
        '[Rollout] canary-test: pause acknowledged at stage ten',
        '[Rollout] canary-test: resumed at stage ten',
        '[Attention] canary-test: stopped at stage ten',
      ]),
    );
    expect(rollout.board.weight('traffic:listing')).toBe(0);
  });

  it('holds every switch at its safe weight during an emergency stop, then resumes where it was', async () => {
    const { rollout, notes } = await openRollout();
    const manual = PLAN.replace(
      'minDuration: 10m\n    success:',
      'minDuration: 10m\n    gate: manual\n    success:',
    );
    const record = await rollout.actions.start(parsePlan(manual, 'plan'), 'operator:test');
    await rollout.actions.emergencyStop('operator:ana', 'incident');
    expect(notes).toContain('[URGENT] canary-test: emergency stop');
    expect(await waitUntil(async () => rollout.board.weight('traffic:listing') === 0, 1_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(rollout.board.weight('traffic:listing')).toBe(0);
    await expect(rollout.actions.promote(record.id, 'operator:ana')).rejects.toThrow(/emergency stop is set/);
    expect(rollout.board.weight('traffic:listing')).toBe(0);
    await rollout.actions.clearEmergencyStop('operator:ana');
    expect(await waitUntil(async () => rollout.board.weight('traffic:listing') === 10, 1_000)).toBe(true);
    expect((await statusOf(rollout, record.id)).stage).toBe(0);
  });

  it('hands the guards to another instance when the leader dies, without skipping or repeating a stage', async () => {
    const backend = new InProcessBackend();
    const first = await openRollout(backend, SCALE, 'first');
    const second = await openRollout(backend, SCALE, 'second');
    expect(
      await waitUntil(
        async () => first.rollout.controller.isLeader !== second.rollout.controller.isLeader,
        1_000,
      ),
    ).toBe(true);
    const leader = first.rollout.controller.isLeader ? first : second;
    const follower = leader === first ? second : first;
    const record = await follower.rollout.actions.start(parsePlan(PLAN, 'plan'), 'operator:test');
    expect(await until(follower.rollout, record.id, (r) => r.stage === 1)).toBe(true);
    // The follower shows the guards as the leader last evaluated them.
    expect(follower.rollout.controller.guards(record.id)).toBeUndefined();
    const sameAsLeader = async () =>
      JSON.stringify(await follower.rollout.guards(record.id)) ===
      JSON.stringify(leader.rollout.controller.guards(record.id));
    expect(await waitUntil(sameAsLeader, 1_000)).toBe(true);
    expect((await follower.rollout.guards(record.id))?.instance).toBe(leader === first ? 'first' : 'second');
    // The leader loses its store without releasing its lease (as a killed process would): it can
    // renew nothing, and the lease lapses.
    await leader.rollout.store.close();
    leader.feed.stop();
    expect(await waitUntil(async () => follower.rollout.controller.isLeader, 2_000)).toBe(true);
    expect(await until(follower.rollout, record.id, (r) => r.status === 'complete')).toBe(true);
    const weights = (await follower.rollout.actions.history(record.id))
      .filter((entry) => entry.action === 'weights')
      .map((entry) => entry.switches?.['traffic:listing']);
    expect(weights.reverse()).toEqual([10, 50, 100]);
    const promotions = (await follower.rollout.actions.history(record.id)).filter(
      (e) => e.action === 'promote',
    );
    expect(promotions).toHaveLength(3);
  });

  it('gates on 30 passing health checks, and rolls back after 3 failing in a row (blue-green)', async () => {
    let healthy = true;
    const health: Server = createServer((_request, response) =>
      response.writeHead(healthy ? 200 : 503).end(),
    );
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`;
      const plan = `
name: probe-test
evaluationInterval: 1m
metrics:
  health: { probe: { url: '${url}', interval: 10s, timeout: 5s } }
rollback:
  - { probe: health, consecutive: 3, severity: critical }
stages:
  - name: switch
    switches: { traffic:listing: 100 }
    minDuration: 1m
    success:
      - { metric: health, op: '>=', threshold: 1, minSamples: 30 }
  - name: settle
    switches: { traffic:listing: 100 }
    minDuration: 1h
`;
      const { rollout } = await openRollout();
      const record = await rollout.actions.start(parsePlan(plan, 'plan'), 'operator:test');
      expect(await until(rollout, record.id, (r) => r.stage === 1)).toBe(true);
      const promoted = (await rollout.actions.history(record.id)).find((entry) => entry.action === 'promote');
      // 30 checks 10 s apart: at least 5 minutes of plan time before the gate opens.
      expect((promoted?.at ?? 0) - record.startedAt).toBeGreaterThanOrEqual(290_000);
      healthy = false;
      expect(await until(rollout, record.id, (r) => r.status === 'rolled-back')).toBe(true);
      const rollback = (await rollout.actions.history(record.id)).find(
        (entry) => entry.action === 'rollback',
      );
      expect(rollback?.actor).toBe('guard:health fails 3 checks in a row (critical)');
    } finally {
      await new Promise<void>((resolve) => health.close(() => resolve()));
    }
  });
});

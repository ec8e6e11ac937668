/**
 * The rollout controller: carries out plans by itself, on every instance at once.
 *
 * Every instance runs one. They share the rollouts through the store (state.ts); exactly one of
 * them — the holder of the `guards` lease, renewed at each tick and taken over by another instance
 * within LEASE_TTL_MS when its holder dies — evaluates the guards of each active rollout at the
 * plan's `evaluationInterval`:
 *
 *   1. the weights of the rollout's stage are re-applied if they differ (an instance may have died
 *      between saving a stage and setting its weights: transitions.ts);
 *   2. the gateway's figures of the interval are read (and summed into the stage's totals), and the
 *      plan's custom metrics collected (custom-metrics.ts);
 *   3. the triggers are timed (guards.ts). The most severe that fired decides: critical rolls back at
 *      once; high and medium pause and notify, and roll back when the pause's deadline passes (high:
 *      1 h, and only while still breaching; medium: 24 h) unless an operator acknowledged, resumed
 *      or rolled back first;
 *   4. otherwise, once the stage's minimum duration is over and all its success criteria hold over
 *      the stage's totals, an automatic gate promotes to the next stage (or completes the rollout);
 *      a manual gate waits for `promote`.
 *
 * While the emergency stop is set nothing is evaluated, re-applied or promoted. Operator actions
 * (operations.ts) work from any instance. Stage totals live in the evaluating instance's memory:
 * after a takeover, success criteria are judged on the figures since the takeover (the breach
 * timers, saved with the rollout, carry over).
 */

import type { RolloutClock } from './clock.js';
import type { CustomMetrics } from './custom-metrics.js';
import { addInterval, emptyInterval, type IntervalFigures, type RolloutFigures } from './figures.js';
import { evaluateTriggers, type FiredTrigger, judgeCriterion, mostSevere } from './guards.js';
import { movedSwitches, type Plan, parsePlan, stageWeights } from './plan.js';
import type { HostFigures, Reading, ReadingContext } from './readings.js';
import {
  type GuardStatus,
  type RolloutRecord,
  type RolloutStore,
  type SwitchKey,
  splitSwitchKey,
} from './state.js';
import type { SwitchBoard } from './switch-board.js';
import { atStage, type Decision, ended, isActive, paused, type Transitions } from './transitions.js';

/** The lease of the instance that evaluates the guards. */
export const GUARDS_LEASE = 'guards';
/** How long the lease lasts unrenewed (real time): the longest a dead holder delays the guards. */
export const LEASE_TTL_MS = 5_000;
const HOUR_MS = 3_600_000;
/** How long a pause waits for an operator before rolling back, by severity. */
export const PAUSE_DEADLINE_MS = { high: HOUR_MS, medium: 24 * HOUR_MS } as const;

export interface ControllerLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface ControllerParts {
  store: RolloutStore;
  board: SwitchBoard;
  transitions: Transitions;
  metrics: CustomMetrics;
  clock: RolloutClock;
  log: ControllerLog;
  /** This instance's name, the lease holder's. */
  instance: string;
  /** The gateway's own figures (absent in a process without a gateway). */
  figures?: RolloutFigures;
  host?: HostFigures;
  /** The routes a switch covers (a group's routes); by default its target itself. */
  routesOf?: (key: SwitchKey) => readonly string[];
  /** Real milliseconds between ticks (lease renewal, due evaluations). */
  tickMs?: number;
  /** Real milliseconds the lease lasts unrenewed (default LEASE_TTL_MS). */
  leaseTtlMs?: number;
}

export class RolloutController {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private leading = false;
  private activeAtLastTick = false;
  private readonly plans = new Map<string, Plan>();
  private readonly totals = new Map<string, StageTotals>();
  private readonly evaluatedAt = new Map<string, number>();
  private readonly guardStatus = new Map<string, GuardStatus>();

  constructor(private readonly parts: ControllerParts) {}

  /** Starts ticking: renewing or taking the lease, evaluating the rollouts that are due. */
  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.parts.tickMs ?? 1_000);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.ticking) await new Promise((resolve) => setTimeout(resolve, 5));
    this.parts.metrics.unwatchAll();
    if (this.leading)
      await this.parts.store.releaseLease(GUARDS_LEASE, this.parts.instance).catch(() => {
        // The store is gone: the lease lapses by itself.
      });
    this.leading = false;
  }

  /** Whether this instance evaluates the guards now. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** Whether this instance evaluated an active rollout at its last tick. */
  get evaluating(): boolean {
    return this.leading && this.activeAtLastTick;
  }

  /** The last evaluation of rollout `id` here (on the evaluating instance). */
  guards(id: string): GuardStatus | undefined {
    return this.guardStatus.get(id);
  }

  /** Keeps an evaluation's status here and in the store, for every instance to show. */
  private publish(id: string, status: GuardStatus): void {
    this.guardStatus.set(id, status);
    this.parts.store
      .publishGuards(id, status)
      .catch((error: unknown) =>
        this.parts.log.warn(
          { rollout: id, reason: (error as Error).message },
          "the guards' values could not be shared with the other instances",
        ),
      );
  }

  /** The plan of `record` (parsed once per rollout). */
  planOf(record: RolloutRecord): Plan {
    let plan = this.plans.get(record.id);
    if (plan === undefined) {
      plan = parsePlan(record.planText, `rollout ${record.id}`);
      this.plans.set(record.id, plan);
    }
    return plan;
  }

  /** One tick, never two at once: the lease, then every active rollout that is due. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.renewLease();
      if (!this.leading || (await this.parts.store.emergencyStop())?.active === true) return;
      const active = (await this.parts.store.rollouts()).filter(isActive);
      this.activeAtLastTick = active.length > 0;
      for (const record of active) if (this.isDue(record)) await this.evaluateSafely(record);
    } catch (error) {
      this.parts.log.warn({ reason: (error as Error).message }, 'rollout controller tick failed');
    } finally {
      this.ticking = false;
    }
  }

  private async renewLease(): Promise<void> {
    const { store, instance } = this.parts;
    const leading = await store.lease(GUARDS_LEASE, instance, this.parts.leaseTtlMs ?? LEASE_TTL_MS);
    if (leading !== this.leading)
      this.parts.log.info(
        { instance },
        leading ? 'evaluating the rollout guards' : 'no longer evaluating the guards',
      );
    if (!leading && this.leading) {
      this.parts.metrics.unwatchAll();
      this.totals.clear();
      this.evaluatedAt.clear();
    }
    // Taking over: the figures gathered while another instance judged are not this one's interval.
    if (leading && !this.leading) this.parts.figures?.reset();
    this.leading = leading;
  }

  private isDue(record: RolloutRecord): boolean {
    const last = this.evaluatedAt.get(record.id);
    return last === undefined || this.parts.clock.now() - last >= this.planOf(record).evaluationIntervalMs;
  }

  private async evaluateSafely(record: RolloutRecord): Promise<void> {
    try {
      await this.evaluate(record);
    } catch (error) {
      this.parts.log.error({ rollout: record.id, err: error }, 'rollout evaluation failed');
    }
  }

  private async evaluate(record: RolloutRecord): Promise<void> {
    const now = this.parts.clock.now();
    this.evaluatedAt.set(record.id, now);
    const plan = this.planOf(record);
    this.parts.metrics.watch(record.id, plan);
    await this.reconcile(record, plan, now);
    const { interval, stage } = await this.readingContexts(record, plan);
    const stagePlan = plan.stages[record.stage];
    if (stagePlan === undefined) return;
    const evaluation = evaluateTriggers(
      [...stagePlan.rollback, ...plan.rollback],
      interval,
      (probe) => this.parts.metrics.probeFailures(record.id, probe),
      record.breaches ?? {},
      now,
    );
    const criteria = stagePlan.success.map((criterion) => judgeCriterion(criterion, stage));
    this.publish(record.id, {
      at: now,
      instance: this.parts.instance,
      values: evaluation.values,
      criteria: criteria.map(({ text, holds }) => ({ text, holds })),
      breaching: Object.keys(evaluation.breaches),
    });
    const decided = await this.onTriggers(record, plan, evaluation.fired, evaluation.values, now);
    if (decided) return;
    const saved = await this.saveBreaches(record, evaluation.breaches, evaluation.values, now);
    const ready =
      now - record.stageStartedAt >= stagePlan.minDurationMs && criteria.every((c) => c.holds === true);
    if (saved.status === 'running' && ready && stagePlan.gate === 'auto')
      await this.promote(
        saved,
        plan,
        guardDecision('promote', 'every success criterion holds', evaluation.values, now),
      );
  }

  /** The contexts of this evaluation: the interval since the last one, and the stage's totals. */
  private async readingContexts(
    record: RolloutRecord,
    plan: Plan,
  ): Promise<{ interval: ReadingContext; stage: ReadingContext }> {
    const routes = new Set(movedSwitches(plan).flatMap((key) => this.routesOf(key)));
    const figures = this.parts.figures?.rotate(routes) ?? emptyInterval();
    // A stage's totals start with it, and again when it restarts (a resume after a pause).
    const key = `${record.id}#${record.stage}#${record.stageStartedAt}`;
    let totals = this.totals.get(key);
    if (totals === undefined) {
      for (const old of this.totals.keys()) if (old.startsWith(`${record.id}#`)) this.totals.delete(old);
      totals = { figures: emptyInterval(), probes: new Map() };
      this.totals.set(key, totals);
    }
    addInterval(totals.figures, figures);
    const custom = await this.parts.metrics.collect(record.id, plan);
    const host = this.parts.host ?? (() => undefined);
    return {
      interval: { figures, host, custom },
      stage: { figures: totals.figures, host, custom: stageProbes(plan, custom, totals.probes) },
    };
  }

  private routesOf(key: SwitchKey): readonly string[] {
    return this.parts.routesOf?.(key) ?? [splitSwitchKey(key).target];
  }

  /** Re-applies the weights of the record's stage when the switches differ from them. */
  private async reconcile(record: RolloutRecord, plan: Plan, now: number): Promise<void> {
    const expected = stageWeights(plan, record.stage);
    const differs = Object.entries(expected).some(
      ([key, weight]) => this.parts.board.weight(key as SwitchKey) !== weight,
    );
    if (differs)
      await this.parts.transitions.applyStage(record, plan, {
        actor: 'controller',
        action: 'reconcile',
        reason: `the switches differed from stage ${plan.stages[record.stage]?.name}'s weights`,
        at: now,
      });
  }

  /** Acts on the fired triggers and on an expired pause; true when the rollout was moved. */
  private async onTriggers(
    record: RolloutRecord,
    plan: Plan,
    fired: readonly FiredTrigger[],
    values: Record<string, number>,
    now: number,
  ): Promise<boolean> {
    const worst = mostSevere(fired);
    if (worst?.severity === 'critical')
      return this.rollBack(record, plan, guardDecision('rollback', worst.text, values, now, worst));
    const pause = record.pause;
    // A first breach pauses; a high one during a medium pause escalates it (a shorter deadline,
    // and an acknowledgement of the lesser finding no longer holds).
    const escalates = pause?.severity === 'medium' && worst?.severity === 'high';
    if (pause === undefined || escalates) {
      if (worst === undefined) return false;
      await this.pause(record, plan, worst, values, now);
      return true;
    }
    const expired =
      pause.rollbackAt !== undefined && now >= pause.rollbackAt && pause.acknowledgedBy === undefined;
    if (!expired) return false;
    const stillBreaching = fired.some((f) => f.severity === 'high');
    if (pause.severity === 'high' && !stillBreaching) return false;
    const why =
      pause.severity === 'high'
        ? 'still breaching an hour after the pause'
        : 'no decision within 24 h of the pause';
    return this.rollBack(record, plan, guardDecision('rollback', `${pause.trigger}: ${why}`, values, now));
  }

  private async pause(
    record: RolloutRecord,
    plan: Plan,
    worst: FiredTrigger,
    values: Record<string, number>,
    now: number,
  ): Promise<void> {
    const severity = worst.severity as 'high' | 'medium';
    const decision = guardDecision('pause', worst.text, values, now, worst);
    const saved = await this.parts.transitions.update(record.id, decision, (current) =>
      current.status === 'running' || current.pause?.severity === 'medium'
        ? paused(current, {
            severity,
            trigger: worst.text,
            since: now,
            rollbackAt: now + PAUSE_DEADLINE_MS[severity],
          })
        : undefined,
    );
    if (saved === undefined) return;
    this.parts.transitions.notify('pause', saved, plan, decision, this.parts.board.weights());
    this.parts.log.warn({ rollout: record.id, trigger: worst.text, severity }, 'rollout paused by a guard');
  }

  private async rollBack(record: RolloutRecord, plan: Plan, decision: Decision): Promise<boolean> {
    const saved = await this.parts.transitions.update(record.id, decision, (current) =>
      isActive(current) ? ended(current, 'rolled-back') : undefined,
    );
    if (saved === undefined) return false;
    await this.parts.transitions.applySafe(saved, plan, decision);
    this.parts.transitions.notify('rollback', saved, plan, decision, this.parts.board.weights());
    this.parts.log.warn({ rollout: record.id, reason: decision.reason }, 'rollout rolled back');
    return true;
  }

  /** Moves to the next stage, or completes after the last; returns the saved record. */
  async promote(record: RolloutRecord, plan: Plan, decision: Decision): Promise<RolloutRecord | undefined> {
    const last = record.stage >= plan.stages.length - 1;
    const saved = await this.parts.transitions.update(record.id, decision, (current) => {
      if (!isActive(current) || current.stage !== record.stage) return undefined;
      return last ? ended(current, 'complete') : atStage(current, current.stage + 1, decision.at);
    });
    if (saved === undefined) return undefined;
    if (!last) await this.parts.transitions.applyStage(saved, plan, decision);
    this.parts.transitions.notify(
      last ? 'complete' : 'stage',
      saved,
      plan,
      decision,
      this.parts.board.weights(),
    );
    return saved;
  }

  /** Saves the breach timers when the set of breaching triggers changed; returns the current record. */
  private async saveBreaches(
    record: RolloutRecord,
    breaches: Record<string, number>,
    values: Record<string, number>,
    now: number,
  ): Promise<RolloutRecord> {
    const before = Object.keys(record.breaches ?? {})
      .sort()
      .join('\n');
    const after = Object.keys(breaches).sort().join('\n');
    if (before === after) return record;
    const began = Object.keys(breaches).filter((text) => record.breaches?.[text] === undefined);
    const reason = began.length > 0 ? `breaching: ${began.join('; ')}` : 'no longer breaching';
    const decision = guardDecision('breach', reason, values, now);
    const saved = await this.parts.transitions.update(record.id, decision, (current) =>
      isActive(current) && current.stage === record.stage ? { ...current, breaches } : undefined,
    );
    return saved ?? record;
  }
}

/** A stage's figures so far: the gateway's, and each probe's checks (passed, checked). */
interface StageTotals {
  figures: IntervalFigures;
  probes: Map<string, { passed: number; checked: number }>;
}

/**
 * The custom readings for a stage's criteria: a probe's share of passed checks over the whole
 * stage (so "30 checks in a row" can be met), the other metrics as read now.
 */
function stageProbes(
  plan: Plan,
  custom: ReadonlyMap<string, Reading>,
  probes: Map<string, { passed: number; checked: number }>,
): Map<string, Reading> {
  const stage = new Map(custom);
  for (const [name, reading] of custom) {
    if (!('probe' in (plan.metrics[name] ?? {}))) continue;
    const total = probes.get(name) ?? { passed: 0, checked: 0 };
    total.passed += (reading.value ?? 0) * reading.samples;
    total.checked += reading.samples;
    probes.set(name, total);
    stage.set(name, {
      value: total.checked === 0 ? undefined : total.passed / total.checked,
      samples: total.checked,
    });
  }
  return stage;
}

function guardDecision(
  action: string,
  reason: string,
  metrics: Record<string, number>,
  at: number,
  trigger?: FiredTrigger,
): Decision {
  return {
    actor: trigger === undefined ? 'controller' : `guard:${trigger.text}`,
    action,
    reason,
    at,
    metrics,
  };
}

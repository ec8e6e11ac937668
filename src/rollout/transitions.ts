/**
 * A rollout's state changes — start, promote, pause, acknowledge, resume, roll back, stop,
 * complete — each written as one compare-and-set save of the rollout with its audit record, then
 * the switch weights it implies, then its notification.
 *
 * Order matters for "no stage skipped or repeated": the rollout record is saved first and the
 * weights follow. An instance that dies between the two leaves a record ahead of the weights; the
 * guard-evaluating instance re-applies the record's weights on its next evaluation (`reconcile`),
 * so the stage is neither lost nor run twice. A save that loses a race (another instance moved the
 * rollout first) re-reads and decides again, so two instances deciding at once cannot both move it.
 */
import { KeelError } from '../errors.js';
import type { NotificationKind } from './notification-templates.js';
import type { Notifier } from './notifier.js';
import { type Plan, stageWeights } from './plan.js';
import type { PauseReason, RolloutRecord, RolloutStore, SwitchKey } from './state.js';
import type { SwitchBoard } from './switch-board.js';

/** Tries of a compare-and-set save before giving up (each re-reads the rollout). */
const SAVE_ATTEMPTS = 10;

export interface Decision {
  actor: string;
  action: string;
  reason: string;
  at: number;
  metrics?: Record<string, number>;
}

export class Transitions {
  constructor(
    private readonly store: RolloutStore,
    private readonly switches: Pick<SwitchBoard, 'set'>,
    private readonly notifier: Notifier | undefined,
  ) {}

  /**
   * Applies `change` to the stored rollout `id` and saves it with `decision` as its audit record;
   * `change` returns undefined to leave it as it is. Retries when another save came first.
   */
  async update(
    id: string,
    decision: Decision,
    change: (record: RolloutRecord) => RolloutRecord | undefined,
  ): Promise<RolloutRecord | undefined> {
    for (let attempt = 0; attempt < SAVE_ATTEMPTS; attempt++) {
      const current = await this.store.rollout(id);
      if (current === undefined) throw new KeelError('NOT_FOUND', `no rollout named ${id}`);
      const changed = change(current);
      if (changed === undefined) return undefined;
      const next = { ...changed, version: current.version + 1 };
      if (await this.store.saveRollout(next, { ...decision, rolloutId: id })) return next;
    }
    throw new KeelError('CONFLICT', `rollout ${id} kept changing under ${decision.action}; try again`);
  }

  /** Sets the weights of the stage `record` is at (audited as `weights`, with the decision's reason). */
  async applyStage(record: RolloutRecord, plan: Plan, decision: Decision): Promise<void> {
    const stage = plan.stages[record.stage]?.name;
    await this.store.setSwitches(
      stageWeights(plan, record.stage),
      weightsRecord(record, decision, `stage ${stage}`),
    );
  }

  /** Sets the plan's safe weights (rollback, stop). */
  async applySafe(record: RolloutRecord, plan: Plan, decision: Decision): Promise<void> {
    await this.switches.set(plan.safe, weightsRecord(record, decision, 'safe weights'));
  }

  /** Queues the notification of `kind` for `record` (never waits). */
  notify(
    kind: NotificationKind,
    record: RolloutRecord,
    plan: Plan,
    decision: Decision,
    weights: Weights,
  ): void {
    const stage = plan.stages[record.stage];
    this.notifier?.notify(
      kind,
      {
        rollout: record.id,
        plan: plan.name,
        at: decision.at,
        startedAt: record.startedAt,
        stage: { index: record.stage, name: stage?.name ?? '', total: plan.stages.length },
        switches: weights,
        metrics: decision.metrics ?? {},
        actor: decision.actor,
        reason: decision.reason,
        next: plan.stages[record.stage + 1]?.name,
      },
      plan.locale,
    );
  }
}

type Weights = Record<SwitchKey, number>;

/** The audit record of the weights a decision sets: action `weights`, after the decision's own record. */
function weightsRecord(
  record: RolloutRecord,
  decision: Decision,
  what: string,
): Decision & { rolloutId: string } {
  return {
    ...decision,
    action: 'weights',
    reason: `${what} (${decision.action}: ${decision.reason})`,
    rolloutId: record.id,
  };
}

/** The record moved to stage `stage` (from now), running, with no pause or breach carried over. */
export function atStage(record: RolloutRecord, stage: number, now: number): RolloutRecord {
  return { ...record, stage, stageStartedAt: now, status: 'running', pause: undefined, breaches: undefined };
}

/** The record paused for `pause`. */
export function paused(record: RolloutRecord, pause: PauseReason): RolloutRecord {
  return { ...record, status: 'paused', pause };
}

export function ended(record: RolloutRecord, status: 'complete' | 'rolled-back' | 'stopped'): RolloutRecord {
  return { ...record, status, pause: undefined, breaches: undefined };
}

/** Whether `record` is still being carried out (its guards evaluated). */
export function isActive(record: RolloutRecord): boolean {
  return record.status === 'running' || record.status === 'paused' || record.status === 'pending';
}

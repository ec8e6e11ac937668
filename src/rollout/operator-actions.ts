/**
 * What an operator can do to rollouts, from any instance: start one, promote it past a manual gate
 * (or ahead of its criteria), pause it, acknowledge a guard's pause (which stops its deadline
 * from rolling back), resume it, roll it back, stop it, and the emergency stop, which sets every
 * switch of every active rollout to its safe weight on all instances at once and blocks every
 * promotion until it is cleared. Each action is one audited save (transitions.ts); its `actor` is
 * `operator:<name>` (or `api`), and its reason is kept.
 *
 * A rollout is refused at start when its plan moves a switch another active rollout moves, or
 * when the host says a target is unknown (`checkTargets`: a route the gateway does not have, a
 * traffic switch for a route without a candidate origin).
 */
import { randomBytes } from 'node:crypto';
import { KeelError } from '../errors.js';
import type { RolloutClock } from './clock.js';
import type { RolloutController } from './controller.js';
import { movedSwitches, type Plan, planToYaml, stageWeights } from './plan.js';
import type { AuditRecord, RolloutRecord, RolloutStore, SwitchKey } from './state.js';
import { atStage, type Decision, ended, isActive, paused, type Transitions } from './transitions.js';

export interface OperatorParts {
  store: RolloutStore;
  transitions: Transitions;
  controller: RolloutController;
  clock: RolloutClock;
  /** Throws a ConfigError naming what the host cannot carry out in `plan`. */
  checkTargets?: (plan: Plan) => void;
}

export class OperatorActions {
  constructor(private readonly parts: OperatorParts) {}

  /** Starts `plan` at its first stage; `id` defaults to `<plan>-<date>-<random>`. */
  async start(plan: Plan, actor: string, id?: string): Promise<RolloutRecord> {
    this.parts.checkTargets?.(plan);
    await this.refuseDuringEmergencyStop('start a rollout');
    await this.refuseOverlap(plan);
    const now = this.parts.clock.now();
    const record: RolloutRecord = {
      id: id ?? `${plan.name}-${new Date(now).toISOString().slice(0, 10)}-${randomBytes(3).toString('hex')}`,
      plan: plan.name,
      planText: planToYaml(plan),
      status: 'running',
      stage: 0,
      stageStartedAt: now,
      startedAt: now,
      version: 1,
    };
    const decision = this.decision(actor, 'start', `plan ${plan.name}, ${plan.stages.length} stages`);
    if (!(await this.parts.store.saveRollout(record, { ...decision, rolloutId: record.id })))
      throw new KeelError('CONFLICT', `a rollout named ${record.id} exists already`);
    await this.parts.transitions.applyStage(record, plan, decision);
    this.parts.transitions.notify(
      'start',
      record,
      plan,
      decision,
      stageWeights(plan, 0) as Record<SwitchKey, number>,
    );
    return record;
  }

  /** Promotes `id` to its next stage (or completes it), whatever its gate and criteria. */
  async promote(id: string, actor: string, reason = 'promoted by an operator'): Promise<RolloutRecord> {
    await this.refuseDuringEmergencyStop('promote');
    const record = await this.active(id);
    const plan = this.parts.controller.planOf(record);
    const saved = await this.parts.controller.promote(record, plan, this.decision(actor, 'promote', reason));
    if (saved === undefined)
      throw new KeelError('CONFLICT', `rollout ${id} moved meanwhile; look at its status again`);
    return saved;
  }

  async pause(id: string, actor: string, reason = 'paused by an operator'): Promise<RolloutRecord> {
    return this.changeAndNotify('pause', id, this.decision(actor, 'pause', reason), (record) =>
      record.status === 'running'
        ? paused(record, {
            severity: 'medium',
            trigger: reason,
            since: this.parts.clock.now(),
            acknowledgedBy: actor,
          })
        : undefined,
    );
  }

  /** Keeps a guard's pause from rolling back at its deadline; the rollout stays paused. */
  async acknowledge(
    id: string,
    actor: string,
    reason = 'acknowledged by an operator',
  ): Promise<RolloutRecord> {
    return this.changeAndNotify('acknowledge', id, this.decision(actor, 'acknowledge', reason), (record) =>
      record.pause === undefined
        ? undefined
        : { ...record, pause: { ...record.pause, acknowledgedBy: actor } },
    );
  }

  async resume(id: string, actor: string, reason = 'resumed by an operator'): Promise<RolloutRecord> {
    await this.refuseDuringEmergencyStop('resume');
    // The stage starts over: its minimum duration and its success criteria count from now, so
    // figures from before the pause can neither hold it back nor hurry it on.
    return this.changeAndNotify('resume', id, this.decision(actor, 'resume', reason), (record) =>
      record.status === 'paused' ? atStage(record, record.stage, this.parts.clock.now()) : undefined,
    );
  }

  async rollback(id: string, actor: string, reason = 'rolled back by an operator'): Promise<RolloutRecord> {
    return this.end(id, 'rolled-back', this.decision(actor, 'rollback', reason));
  }

  async stop(id: string, actor: string, reason = 'stopped by an operator'): Promise<RolloutRecord> {
    return this.end(id, 'stopped', this.decision(actor, 'stop', reason));
  }

  /** Every active rollout's switches to their safe weights, everywhere; no promotion until cleared. */
  async emergencyStop(actor: string, reason: string): Promise<Partial<Record<SwitchKey, number>>> {
    const weights: Partial<Record<SwitchKey, number>> = {};
    const active = (await this.parts.store.rollouts()).filter(isActive);
    for (const record of active) Object.assign(weights, this.parts.controller.planOf(record).safe);
    const decision = this.decision(actor, 'emergency-stop', reason);
    await this.parts.store.setEmergencyStop({ active: true, actor, reason, at: decision.at }, weights);
    for (const record of active) this.notifySafe('emergency-stop', record, decision);
    return weights;
  }

  /** Clears the emergency stop: the controller re-applies each active rollout's stage weights. */
  async clearEmergencyStop(actor: string, reason = 'cleared by an operator'): Promise<void> {
    await this.parts.store.setEmergencyStop({ active: false, actor, reason, at: this.parts.clock.now() }, {});
  }

  async history(id?: string, limit = 100): Promise<AuditRecord[]> {
    return this.parts.store.audit({ rolloutId: id, limit });
  }

  private async end(
    id: string,
    status: 'rolled-back' | 'stopped',
    decision: Decision,
  ): Promise<RolloutRecord> {
    const saved = await this.change(id, decision, (record) => ended(record, status));
    await this.parts.transitions.applySafe(saved, this.parts.controller.planOf(saved), decision);
    this.notifySafe(status === 'rolled-back' ? 'rollback' : 'stop', saved, decision);
    return saved;
  }

  /** `change`, then the notification `kind` with the stage's weights. */
  private async changeAndNotify(
    kind: 'pause' | 'acknowledge' | 'resume',
    id: string,
    decision: Decision,
    apply: (record: RolloutRecord) => RolloutRecord | undefined,
  ): Promise<RolloutRecord> {
    const saved = await this.change(id, decision, apply);
    const plan = this.parts.controller.planOf(saved);
    this.parts.transitions.notify(
      kind,
      saved,
      plan,
      decision,
      stageWeights(plan, saved.stage) as Record<SwitchKey, number>,
    );
    return saved;
  }

  /** One change of an active rollout; NOT_FOUND or CONFLICT (with the reason) when it cannot apply. */
  private async change(
    id: string,
    decision: Decision,
    apply: (record: RolloutRecord) => RolloutRecord | undefined,
  ): Promise<RolloutRecord> {
    await this.active(id);
    const saved = await this.parts.transitions.update(id, decision, (record) =>
      isActive(record) ? apply(record) : undefined,
    );
    if (saved === undefined)
      throw new KeelError(
        'CONFLICT',
        `rollout ${id} cannot be ${decision.action}d in its current state; see keel rollout status`,
      );
    return saved;
  }

  private async active(id: string): Promise<RolloutRecord> {
    const record = await this.parts.store.rollout(id);
    if (record === undefined)
      throw new KeelError('NOT_FOUND', `no rollout named ${id}; keel rollout status lists them`);
    if (!isActive(record))
      throw new KeelError('CONFLICT', `rollout ${id} is ${record.status}: it can no longer change`);
    return record;
  }

  private async refuseDuringEmergencyStop(what: string): Promise<void> {
    const stop = await this.parts.store.emergencyStop();
    if (stop?.active === true)
      throw new KeelError(
        'CONFLICT',
        `cannot ${what}: the emergency stop is set (${stop.actor}: ${stop.reason}); clear it first (keel rollout emergency-stop --clear)`,
      );
  }

  private async refuseOverlap(plan: Plan): Promise<void> {
    const moved = new Set(movedSwitches(plan));
    for (const record of await this.parts.store.rollouts()) {
      if (!isActive(record)) continue;
      const other = this.parts.controller.planOf(record);
      const shared = movedSwitches(other).filter((key) => moved.has(key));
      if (shared.length > 0)
        throw new KeelError(
          'CONFLICT',
          `switch ${shared.join(', ')} is moved by the active rollout ${record.id}; finish or stop it first`,
        );
    }
  }

  /** Notifies `kind` for `record`, its switches at the plan's safe weights. */
  private notifySafe(
    kind: 'emergency-stop' | 'rollback' | 'stop',
    record: RolloutRecord,
    decision: Decision,
  ): void {
    const plan = this.parts.controller.planOf(record);
    this.parts.transitions.notify(kind, record, plan, decision, plan.safe as Record<SwitchKey, number>);
  }

  private decision(actor: string, action: string, reason: string): Decision {
    return { actor, action, reason, at: this.parts.clock.now() };
  }
}

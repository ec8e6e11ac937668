/**
 * What a rollout moves and remembers, and the store every instance shares it through.
 *
 * A **switch** is one thing a rollout moves, by a weight from 0 to 100:
 *   - `cache:<route or group>`: the share of a gateway route's reads served through the cache;
 *   - `traffic:<route>`: the share of a route's requests answered by its candidate origin;
 *   - `shadow:<route>`: the share of a route's requests also sent to the candidate, for comparison;
 *   - `flag:<name>`: an in-process flag of a library user (`isEnabled('sync.rest', { key })`).
 * Which requests fall inside a weight is decided by bucketing.ts, the same on every instance.
 *
 * A **rollout** is a plan being carried out: its stage, its status and what paused it. Its
 * `version` grows by one at each save, and a save names the version it read (compare-and-set), so
 * two instances that decide at once cannot both move it: the second save is refused and re-reads.
 *
 * Every change to a switch or a rollout is an **audit record**: who (an operator, a guard, the
 * controller), why, and the metric values of that moment.
 *
 * The **store** keeps them for every instance (Redis, PostgreSQL, or memory for one instance):
 * a change is published, so every instance applies a weight within a second, and each instance
 * reads the current switches at start-up. A **lease** lets exactly one instance evaluate the
 * guards: it is held by renewing it, and another instance takes it once it lapses.
 */

export type SwitchKind = 'cache' | 'traffic' | 'shadow' | 'flag';

/** `kind:target`, as in `cache:read-only` or `traffic:listing`. */
export type SwitchKey = `${SwitchKind}:${string}`;

/** A switch key's kind and target: `traffic:listing` → `{ kind: 'traffic', target: 'listing' }`. */
export function splitSwitchKey(key: SwitchKey): { kind: SwitchKind; target: string } {
  const at = key.indexOf(':');
  return { kind: key.slice(0, at) as SwitchKind, target: key.slice(at + 1) };
}

export interface SwitchState {
  key: SwitchKey;
  /** 0–100: the share of requests (or flag evaluations) the switch turns on. */
  weight: number;
  /** Milliseconds since the epoch of the change. */
  updatedAt: number;
}

export type RolloutStatus = 'pending' | 'running' | 'paused' | 'complete' | 'rolled-back' | 'stopped';

export type Severity = 'critical' | 'high' | 'medium';

/** A guard's finding that paused a rollout, kept until an operator decides or the deadline passes. */
export interface PauseReason {
  severity: Severity;
  trigger: string;
  /** When the breach was first confirmed (its `for` duration over), ms since the epoch. */
  since: number;
  /** When the controller rolls back if no operator acknowledges (high: 1 h, medium: 24 h). */
  rollbackAt?: number;
  acknowledgedBy?: string;
}

export interface RolloutRecord {
  /** Unique name of this rollout (one per plan run), e.g. `migration-2026-12-04`. */
  id: string;
  /** The plan's name (`cache-enable`, `migration`, …) and its text, as validated at start. */
  plan: string;
  planText: string;
  status: RolloutStatus;
  /** Index of the current stage in the plan. */
  stage: number;
  stageStartedAt: number;
  startedAt: number;
  pause?: PauseReason;
  /**
   * Triggers breaching now, by their text (plan.ts triggerText), with the time each breach began:
   * saved with the record so that an instance taking over the guards keeps timing them.
   */
  breaches?: Record<string, number>;
  /** Grows by one at every save; saveRollout compares it. */
  version: number;
}

export interface AuditRecord {
  at: number;
  /** The rollout concerned, or undefined for a switch moved by hand or the emergency stop. */
  rolloutId?: string;
  /** `operator:<name>`, `guard:<trigger>`, `controller`, `api`. */
  actor: string;
  action: string;
  reason: string;
  /** Metric values at the moment of the decision, by name. */
  metrics?: Record<string, number>;
  /** The switches after the change. */
  switches?: Record<SwitchKey, number>;
}

export interface EmergencyStop {
  active: boolean;
  actor: string;
  reason: string;
  at: number;
}

/** What a store tells its subscribers: the switches (all of them) or the emergency stop changed. */
export type StoreEvent =
  | { type: 'switches'; switches: SwitchState[] }
  | { type: 'emergency-stop'; stop: EmergencyStop }
  | { type: 'rollout'; id: string };

/** The guards of a rollout as last evaluated, by the instance that evaluates them. */
export interface GuardStatus {
  at: number;
  /** The instance that evaluated them. */
  instance: string;
  values: Record<string, number>;
  /** Success criteria of the stage, each with whether it holds (undefined: not enough data yet). */
  criteria: { text: string; holds: boolean | undefined }[];
  breaching: string[];
}

export interface RolloutStore {
  /** Every switch set so far. */
  switches(): Promise<SwitchState[]>;
  /** Sets these weights at once, appends `audit` and publishes the change; one transaction. */
  setSwitches(
    weights: Partial<Record<SwitchKey, number>>,
    audit: Omit<AuditRecord, 'switches'>,
  ): Promise<void>;

  rollout(id: string): Promise<RolloutRecord | undefined>;
  rollouts(): Promise<RolloutRecord[]>;
  /**
   * Saves `record` if the stored one still has `record.version - 1` (or none exists and
   * `record.version` is 1), appending `audit` in the same transaction; false when another save
   * came first (the caller re-reads and decides again).
   */
  saveRollout(record: RolloutRecord, audit: AuditRecord): Promise<boolean>;

  /** The newest audit records first, of one rollout or of all. */
  audit(options?: { rolloutId?: string; limit?: number }): Promise<AuditRecord[]>;

  emergencyStop(): Promise<EmergencyStop | undefined>;
  setEmergencyStop(stop: EmergencyStop, weights: Partial<Record<SwitchKey, number>>): Promise<void>;

  /**
   * Takes or renews the lease `name` for `holder` for `ttlMs`; true when `holder` holds it now.
   * A lease not renewed within its ttl lapses and the next caller gets it.
   */
  lease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;

  /**
   * Keeps the guards' last evaluation of rollout `id` (replacing the one before), for every
   * instance to show; kept a day at most, an evaluation being every few seconds or minutes.
   */
  publishGuards(id: string, status: GuardStatus): Promise<void>;
  guards(id: string): Promise<GuardStatus | undefined>;

  /** Calls `listener` on every change made by any instance (this one included). */
  subscribe(listener: (event: StoreEvent) => void): Promise<void>;
  close(): Promise<void>;
}

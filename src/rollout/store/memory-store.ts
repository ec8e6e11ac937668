/**
 * The rollout store of one process: state in memory, for tests, library users and (through
 * file-store.ts, which adds a file underneath) a single gateway.
 *
 * The state lives in an InProcessBackend; each MemoryRolloutStore is a handle on one. Handles on
 * the same backend behave as instances sharing a Redis would: they see each other's changes, get
 * each other's events and compete for the same leases, so a test can run several controllers in
 * one process: `new MemoryRolloutStore(first.backend)` is another instance of `first`. A handle
 * made without a backend gets a fresh one of its own.
 *
 * Changes run one at a time through the backend's queue: each computes the next state from the
 * current one without touching it, `persist` stores that next state (nothing for memory; the file
 * for the file store), and only then does it become the current state and are its events sent.
 * So a change that cannot be persisted leaves no trace, and compare-and-set needs no lock beyond
 * the queue. Events go to the listeners of every handle after the change, in order.
 *
 * Leases use this process's clock: every competitor is in this process.
 */
import type {
  AuditRecord,
  EmergencyStop,
  GuardStatus,
  RolloutRecord,
  RolloutStore,
  StoreEvent,
  SwitchKey,
  SwitchState,
} from '../state.js';
import {
  AUDIT_CAP,
  auditLimit,
  checkedWeights,
  checkLease,
  checkRollout,
  deliver,
  emergencyStopAudit,
  jsonCopy,
  type StoreListener,
  sortedRollouts,
  sortedSwitches,
  storeClosed,
  weightsByKey,
} from './contract.js';

/** Everything a rollout store keeps but its leases. Never mutated: a change makes a new one. */
export interface InProcessState {
  readonly switches: ReadonlyMap<SwitchKey, SwitchState>;
  readonly rollouts: ReadonlyMap<string, RolloutRecord>;
  /** Newest first, at most AUDIT_CAP. */
  readonly audit: readonly AuditRecord[];
  readonly emergencyStop: EmergencyStop | undefined;
}

export const EMPTY_STATE: InProcessState = {
  switches: new Map(),
  rollouts: new Map(),
  audit: [],
  emergencyStop: undefined,
};

/** What a change computed: the next state (none when nothing changes), its events and its answer. */
interface Change<T> {
  next?: InProcessState;
  events: StoreEvent[];
  result: T;
}

interface Lease {
  holder: string;
  expiresAt: number;
}

export class InProcessBackend {
  private current: InProcessState;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly leases = new Map<string, Lease>();
  /** The guards' last evaluations, kept like the leases: with the process, not persisted. */
  readonly guards = new Map<string, GuardStatus>();
  private readonly listeners = new Set<StoreListener>();

  constructor(
    initial: InProcessState = EMPTY_STATE,
    private readonly persist: (next: InProcessState) => Promise<void> = async () => {},
  ) {
    this.current = initial;
  }

  get state(): InProcessState {
    return this.current;
  }

  /** Runs `compute` after every earlier change; persists and publishes what it returns. */
  change<T>(compute: (state: InProcessState) => Change<T>): Promise<T> {
    const run = this.queue.then(async () => {
      const { next, events, result } = compute(this.current);
      if (next !== undefined) {
        await this.persist(next);
        this.current = next;
      }
      for (const event of events) deliver(this.listeners, event);
      return result;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  lease(name: string, holder: string, ttlMs: number): boolean {
    const now = Date.now();
    const lease = this.leases.get(name);
    if (lease !== undefined && lease.expiresAt > now && lease.holder !== holder) return false;
    this.leases.set(name, { holder, expiresAt: now + ttlMs });
    return true;
  }

  releaseLease(name: string, holder: string): void {
    if (this.leases.get(name)?.holder === holder) this.leases.delete(name);
  }

  listen(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once every change queued so far has finished. */
  async settled(): Promise<void> {
    await this.queue;
  }
}

export class MemoryRolloutStore implements RolloutStore {
  private readonly listeners = new Set<StoreListener>();
  private readonly stopListening: () => void;
  private closed = false;

  constructor(
    readonly backend: InProcessBackend = new InProcessBackend(),
    private readonly onClose: () => Promise<void> = async () => {},
  ) {
    this.stopListening = backend.listen((event) => deliver(this.listeners, jsonCopy(event)));
  }

  async switches(): Promise<SwitchState[]> {
    return jsonCopy(sortedSwitches(this.open().switches.values()));
  }

  async setSwitches(
    weights: Partial<Record<SwitchKey, number>>,
    audit: Omit<AuditRecord, 'switches'>,
  ): Promise<void> {
    this.open();
    const entries = checkedWeights(weights);
    const record = jsonCopy(audit);
    await this.backend.change((state) => withSwitches(state, entries, record, record.at));
  }

  async rollout(id: string): Promise<RolloutRecord | undefined> {
    const record = this.open().rollouts.get(id);
    return record === undefined ? undefined : jsonCopy(record);
  }

  async rollouts(): Promise<RolloutRecord[]> {
    return jsonCopy(sortedRollouts(this.open().rollouts.values()));
  }

  async saveRollout(record: RolloutRecord, audit: AuditRecord): Promise<boolean> {
    this.open();
    checkRollout(record);
    const saved = jsonCopy(record);
    const entry = jsonCopy(audit);
    return this.backend.change((state) => withRollout(state, saved, entry));
  }

  async audit(options: { rolloutId?: string; limit?: number } = {}): Promise<AuditRecord[]> {
    const limit = auditLimit(options.limit);
    const { rolloutId } = options;
    const records = this.open().audit;
    const matching = rolloutId === undefined ? records : records.filter((r) => r.rolloutId === rolloutId);
    return jsonCopy(matching.slice(0, limit));
  }

  async emergencyStop(): Promise<EmergencyStop | undefined> {
    const stop = this.open().emergencyStop;
    return stop === undefined ? undefined : jsonCopy(stop);
  }

  async setEmergencyStop(stop: EmergencyStop, weights: Partial<Record<SwitchKey, number>>): Promise<void> {
    this.open();
    const entries = checkedWeights(weights);
    const saved = jsonCopy(stop);
    await this.backend.change((state) => withEmergencyStop(state, saved, entries));
  }

  async lease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    this.open();
    checkLease(name, holder, ttlMs);
    return this.backend.lease(name, holder, ttlMs);
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.open();
    this.backend.releaseLease(name, holder);
  }

  async publishGuards(id: string, status: GuardStatus): Promise<void> {
    this.open();
    this.backend.guards.set(id, jsonCopy(status));
  }

  async guards(id: string): Promise<GuardStatus | undefined> {
    this.open();
    const status = this.backend.guards.get(id);
    return status === undefined ? undefined : jsonCopy(status);
  }

  async subscribe(listener: (event: StoreEvent) => void): Promise<void> {
    this.open();
    this.listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopListening();
    this.listeners.clear();
    await this.onClose();
  }

  /** The backend's state; throws STORE_CLOSED after close(). */
  private open(): InProcessState {
    if (this.closed) throw storeClosed();
    return this.backend.state;
  }
}

function withSwitches(
  state: InProcessState,
  entries: [SwitchKey, number][],
  audit: Omit<AuditRecord, 'switches'>,
  at: number,
): Change<void> {
  const switches = new Map(state.switches);
  for (const [key, weight] of entries) switches.set(key, { key, weight, updatedAt: at });
  const all = sortedSwitches(switches.values());
  const entry: AuditRecord = { ...audit, switches: weightsByKey(all) };
  return {
    next: { ...state, switches, audit: prepend(state.audit, entry) },
    events: [{ type: 'switches', switches: all }],
    result: undefined,
  };
}

function withRollout(state: InProcessState, record: RolloutRecord, audit: AuditRecord): Change<boolean> {
  const stored = state.rollouts.get(record.id);
  const expected = record.version - 1;
  if ((stored === undefined && expected !== 0) || (stored !== undefined && stored.version !== expected)) {
    return { events: [], result: false };
  }
  const rollouts = new Map(state.rollouts).set(record.id, record);
  return {
    next: { ...state, rollouts, audit: prepend(state.audit, audit) },
    events: [{ type: 'rollout', id: record.id }],
    result: true,
  };
}

function withEmergencyStop(
  state: InProcessState,
  stop: EmergencyStop,
  entries: [SwitchKey, number][],
): Change<void> {
  const { next, events } = withSwitches(state, entries, emergencyStopAudit(stop), stop.at);
  return {
    next: { ...(next as InProcessState), emergencyStop: stop },
    events: [...(entries.length > 0 ? events : []), { type: 'emergency-stop', stop }],
    result: undefined,
  };
}

function prepend(audit: readonly AuditRecord[], record: AuditRecord): AuditRecord[] {
  const next = [record, ...audit];
  if (next.length > AUDIT_CAP) next.length = AUDIT_CAP;
  return next;
}

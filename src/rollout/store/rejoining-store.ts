/**
 * The rollout store of an instance whose shared store (Redis, PostgreSQL) did not answer when it
 * started. The instance starts anyway, and this store tries the shared one again every
 * REJOIN_EVERY_MS until it answers; from then on every call goes to it, and the subscribers (the
 * switch board) get its switches and its emergency stop at once, so the instance takes the weights
 * every other instance has.
 *
 * Until then the instance knows no switch (each route has its routes file's `enabled`), takes no
 * lease (it evaluates no guard), and refuses every change with STORE_UNAVAILABLE, as an instance
 * whose store goes down while it runs does: a change made here would reach no other instance and
 * be lost at the rejoin, so none is made.
 */
import { KeelError } from '../../errors.js';
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

/** How often the shared store is tried again. */
export const REJOIN_EVERY_MS = 5_000;

type Listener = (event: StoreEvent) => void;

export interface RejoiningStoreOptions {
  /** Opens the shared store; rejects while it cannot be reached. */
  open: () => Promise<RolloutStore>;
  /** Why the first attempt failed, for the errors of changes refused meanwhile. */
  reason: string;
  /** Called once the shared store answered and the subscribers have its state. */
  onRejoin?: () => void;
  everyMs?: number;
}

export class RejoiningRolloutStore implements RolloutStore {
  private shared: RolloutStore | undefined;
  private readonly listeners: Listener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: RejoiningStoreOptions) {
    this.schedule();
  }

  /** Whether the shared store answers now (the instance shares its switches). */
  get joined(): boolean {
    return this.shared !== undefined;
  }

  async switches(): Promise<SwitchState[]> {
    return this.shared?.switches() ?? [];
  }

  async setSwitches(
    weights: Partial<Record<SwitchKey, number>>,
    audit: Omit<AuditRecord, 'switches'>,
  ): Promise<void> {
    return this.joinedStore().setSwitches(weights, audit);
  }

  async rollout(id: string): Promise<RolloutRecord | undefined> {
    return this.shared?.rollout(id);
  }

  async rollouts(): Promise<RolloutRecord[]> {
    return this.shared?.rollouts() ?? [];
  }

  async saveRollout(record: RolloutRecord, audit: AuditRecord): Promise<boolean> {
    return this.joinedStore().saveRollout(record, audit);
  }

  async audit(options?: { rolloutId?: string; limit?: number }): Promise<AuditRecord[]> {
    return this.shared?.audit(options) ?? [];
  }

  async emergencyStop(): Promise<EmergencyStop | undefined> {
    return this.shared?.emergencyStop();
  }

  async setEmergencyStop(stop: EmergencyStop, weights: Partial<Record<SwitchKey, number>>): Promise<void> {
    return this.joinedStore().setEmergencyStop(stop, weights);
  }

  async lease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.shared === undefined ? false : this.shared.lease(name, holder, ttlMs);
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.shared?.releaseLease(name, holder);
  }

  async publishGuards(id: string, status: GuardStatus): Promise<void> {
    await this.shared?.publishGuards(id, status);
  }

  async guards(id: string): Promise<GuardStatus | undefined> {
    return this.shared?.guards(id);
  }

  async subscribe(listener: Listener): Promise<void> {
    this.listeners.push(listener);
    await this.shared?.subscribe(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.shared?.close();
  }

  private joinedStore(): RolloutStore {
    if (this.shared !== undefined) return this.shared;
    throw new KeelError(
      'STORE_UNAVAILABLE',
      `the rollout store did not answer when this instance started (${this.options.reason}); it is tried again every ${(this.options.everyMs ?? REJOIN_EVERY_MS) / 1000} s, and until it answers nothing can change the switches`,
    );
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.attempt(), this.options.everyMs ?? REJOIN_EVERY_MS);
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    let store: RolloutStore;
    try {
      store = await this.options.open();
    } catch {
      this.schedule();
      return;
    }
    if (this.closed) {
      await store.close();
      return;
    }
    try {
      for (const listener of this.listeners) await store.subscribe(listener);
      const [switches, stop] = await Promise.all([store.switches(), store.emergencyStop()]);
      this.shared = store;
      for (const listener of this.listeners) {
        listener({ type: 'switches', switches });
        if (stop !== undefined) listener({ type: 'emergency-stop', stop });
      }
    } catch {
      await store.close().catch(() => undefined);
      this.schedule();
      return;
    }
    this.options.onRejoin?.();
  }
}

/**
 * The switch board: this instance's copy of every switch's weight, kept current from the shared
 * store. Request paths and flag checks read it synchronously (a Map lookup); the store's change
 * events update it, so a weight changed on any instance applies here as soon as the event arrives
 * (within a second: the store's propagation).
 *
 * It subscribes before it reads, so no change can fall between the read and the subscription; a
 * change event and the initial read may then arrive in either order, and each switch keeps the
 * newest of what it has seen (by `updatedAt`). An emergency-stop event makes it read the switches
 * again, since the stop moves them all at once.
 */
import type { AuditRecord, RolloutStore, StoreEvent, SwitchKey, SwitchState } from './state.js';

export type SwitchListener = (changed: readonly SwitchKey[]) => void;

export class SwitchBoard {
  private readonly switches = new Map<SwitchKey, SwitchState>();
  private readonly listeners: SwitchListener[] = [];

  private constructor(private readonly store: RolloutStore) {}

  /** A board following `store`, filled with its current switches. */
  static async open(store: RolloutStore): Promise<SwitchBoard> {
    const board = new SwitchBoard(store);
    await store.subscribe((event) => board.onEvent(event));
    board.merge(await store.switches());
    return board;
  }

  /** The weight of `key` (0–100), or undefined when no one has set it. */
  weight(key: SwitchKey): number | undefined {
    return this.switches.get(key)?.weight;
  }

  /** The weight of `key` with the time it was set, or undefined when no one has set it. */
  state(key: SwitchKey): SwitchState | undefined {
    return this.switches.get(key);
  }

  /**
   * Sets weights on every instance (through the store, audited) and here at once, so a caller
   * that sets a weight and then serves a request sees its own change.
   */
  async set(
    weights: Partial<Record<SwitchKey, number>>,
    audit: Omit<AuditRecord, 'switches'>,
  ): Promise<void> {
    await this.store.setSwitches(weights, audit);
    this.merge(
      (Object.entries(weights) as [SwitchKey, number][]).map(([key, weight]) => ({
        key,
        weight,
        updatedAt: audit.at,
      })),
    );
  }

  /** Every switch known, as `key → weight`. */
  weights(): Record<SwitchKey, number> {
    const all: Record<SwitchKey, number> = {};
    for (const [key, state] of this.switches) all[key] = state.weight;
    return all;
  }

  /** Calls `listener` with the keys whose weight changed, after each change. */
  onChange(listener: SwitchListener): void {
    this.listeners.push(listener);
  }

  private onEvent(event: StoreEvent): void {
    if (event.type === 'switches') this.merge(event.switches);
    else if (event.type === 'emergency-stop') void this.reread();
  }

  private async reread(): Promise<void> {
    try {
      this.merge(await this.store.switches());
    } catch {
      // The store is unreachable for now: its next event (or reconnection) brings the switches.
    }
  }

  /** Keeps, per switch, the newest state seen; tells the listeners what changed. */
  private merge(states: readonly SwitchState[]): void {
    const changed: SwitchKey[] = [];
    for (const state of states) {
      const known = this.switches.get(state.key);
      if (known !== undefined && known.updatedAt > state.updatedAt) continue;
      if (known?.weight !== state.weight) changed.push(state.key);
      this.switches.set(state.key, state);
    }
    if (changed.length > 0) for (const listener of this.listeners) listener(changed);
  }
}

/**
 * Flags for library users: `flags.isEnabled('sync.rest', { key: listingId })` is true for the
 * flag's weight of keys, the same keys on every instance (bucketing.ts, with the flag's name as
 * the group), and follows the weight as a rollout or an operator moves the `flag:<name>` switch.
 *
 * A check is a Map lookup and a hash: it can sit on any hot path. A flag no one has set answers
 * the caller's fallback (false by default), so code can ship dark before its flag exists. Without
 * a key, a weight strictly between 0 and 100 is a random draw per call, as Unleash's default
 * stickiness falls back to random: pass a key whenever the same caller must get the same answer.
 */
import { isInRollout } from './bucketing.js';
import type { SwitchBoard } from './switch-board.js';

export interface FlagContext {
  /** What keeps a caller on one side of the weight: a user, a listing, a tenant id. */
  key?: string;
}

export class RolloutFlags {
  constructor(private readonly board: SwitchBoard) {}

  /** Whether flag `name` is on for `context.key`; `fallback` when the flag was never set. */
  isEnabled(name: string, context: FlagContext = {}, fallback = false): boolean {
    const weight = this.board.weight(`flag:${name}`);
    if (weight === undefined) return fallback;
    if (context.key === undefined) return weight >= 100 || (weight > 0 && Math.random() * 100 < weight);
    return isInRollout(context.key, name, weight);
  }

  /** The flag's weight, or undefined when it was never set. */
  weight(name: string): number | undefined {
    return this.board.weight(`flag:${name}`);
  }

  /** Sets flag `name` to `weight` % on every instance, with an audit record of who and why. */
  async set(name: string, weight: number, actor: string, reason: string): Promise<void> {
    await this.board.set({ [`flag:${name}`]: weight }, { at: Date.now(), actor, action: 'set-flag', reason });
  }
}

/**
 * Flights: the origin requests of cache misses in progress, so that concurrent misses on one URL
 * wait for one origin answer instead of each asking for it ("single flight", or request
 * coalescing).
 *
 * A waiting request is handed the answer only when the answer could be served to it from the
 * cache: the leader settles its flight with an answer only if it is storable and shareable
 * (http-cache.ts notStorable: a complete answer with an allowed status, no Set-Cookie, not private
 * or no-store, not `Vary: *`), read whole, with the header lines a stored copy keeps; and a waiter
 * takes it only if the headers it would send itself have the values the leader's had for every
 * header the answer varies on. When the answer is personal, partial or too large to hold, the
 * flight settles `own` as soon as the answer's headers show it, and each waiter asks the origin on
 * its own. When the origin failed (no answer, a timeout, a 5xx while a stale entry can be served),
 * the waiters share the failure, which carries nothing of anyone's: each serves its stale entry or
 * the error, instead of waiting a whole timeout again.
 *
 * Flights are keyed by the cache key and the validators a revalidation sends, so a conditional
 * request and a plain one never share an answer. Requests that are someone's own (Authorization,
 * Cookie) and Range requests neither lead nor join (gateway.ts).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { OriginAnswer } from './stored-response.js';

export interface SharedAnswer {
  /** The answer, its `relayed` lines reduced to those a stored copy keeps. */
  answer: OriginAnswer;
  /** The headers the leader sent the origin. */
  sent: OutgoingHttpHeaders;
  /** The request headers the answer varies on. */
  varies: readonly string[];
}

/** How a flight ended, for its waiters. */
export type FlightResult =
  | { kind: 'shared'; shared: SharedAnswer }
  | { kind: 'own' }
  | { kind: 'failed'; error: unknown };

export const ASK_ON_YOUR_OWN: FlightResult = { kind: 'own' };

export interface Flight {
  /** Tells the waiters how it ended. Only the first call counts. */
  settle(result: FlightResult): void;
}

export class Flights {
  private readonly inFlight = new Map<string, Promise<FlightResult>>();

  /** The result of the flight in progress under `key`, if there is one. */
  join(key: string): Promise<FlightResult> | undefined {
    return this.inFlight.get(key);
  }

  /** Starts a flight under `key`; the caller must settle it. */
  lead(key: string): Flight {
    let resolve!: (result: FlightResult) => void;
    const answer = new Promise<FlightResult>((done) => {
      resolve = done;
    });
    this.inFlight.set(key, answer);
    let settled = false;
    return {
      settle: (result) => {
        if (settled) return;
        settled = true;
        if (this.inFlight.get(key) === answer) this.inFlight.delete(key);
        resolve(result);
      },
    };
  }

  get size(): number {
    return this.inFlight.size;
  }
}

/** Whether a waiter that would send `sent` may take the shared answer. */
export function sameVariant(shared: SharedAnswer, sent: OutgoingHttpHeaders): boolean {
  return shared.varies.every((name) => String(shared.sent[name]) === String(sent[name]));
}

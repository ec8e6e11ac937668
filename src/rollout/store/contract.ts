/**
 * The rules every rollout store follows, whatever keeps its state (memory, a file, Redis,
 * PostgreSQL): what input it accepts, how much audit it keeps, what its events look like and how
 * they reach listeners. The stores differ only in where the state lives and how a change is made
 * atomic; putting the rest here keeps the four of them answering alike, which the contract suite
 * (test/integration/rollout/store.test.ts) checks.
 *
 * - Input is checked before anything is written (INVALID_ARGUMENT): a namespace is 1–64 letters,
 *   digits, `_`, `.`, `:` or `-` (the cache's rule, and nothing a Redis hash tag, a glob, a file
 *   name or a NOTIFY channel would misread); a switch key is `cache|traffic|shadow|flag:<target>`;
 *   a weight is a number from 0 to 100; a rollout version a positive integer; a lease ttl a
 *   positive whole number of milliseconds.
 * - A change is stored as JSON and comes back as JSON: `undefined` fields are dropped and objects
 *   are copies in every store, so a caller that mutates what it read cannot change what is stored
 *   (the memory store copies through JSON for the same reason).
 * - Lists come back sorted (switches by key, rollouts by id), so two stores give equal answers.
 * - Listeners are called one by one; one that throws does not keep the others from the event, and
 *   its error is rethrown on its own turn, where it surfaces as any uncaught error does.
 */
import { KeelError } from '../../errors.js';
import type {
  AuditRecord,
  EmergencyStop,
  RolloutRecord,
  StoreEvent,
  SwitchKey,
  SwitchState,
} from '../state.js';

/** Audit records a capped store (memory, file, Redis) keeps per namespace: the newest ones. */
/** How long the guards' last evaluation of a rollout is kept (a day: evaluations come far oftener). */
export const GUARDS_KEPT_MS = 86_400_000;

export const AUDIT_CAP = 10_000;
/** Audit records returned when the caller gives no limit (the cap, so every store answers alike). */
export const DEFAULT_AUDIT_LIMIT = AUDIT_CAP;
/** The audit action of an emergency stop being set, and being lifted. */
export const EMERGENCY_STOP_ACTION = 'emergency-stop';
export const EMERGENCY_STOP_CLEARED_ACTION = 'emergency-stop-cleared';

const NAMESPACE = /^[A-Za-z0-9_.:-]{1,64}$/;
const SWITCH_KEY = /^(cache|traffic|shadow|flag):.{1,200}$/s;
/** Longest rollout id: it travels in event payloads (PostgreSQL NOTIFY takes under 8,000 bytes). */
const MAX_ROLLOUT_ID_LENGTH = 200;

export type StoreListener = (event: StoreEvent) => void;

export function checkNamespace(namespace: string): void {
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
    throw invalid(`rollout store namespace "${namespace}": use 1–64 letters, digits, "_", ".", ":" or "-"`);
  }
}

/** The weights as [key, weight] pairs, each checked. */
export function checkedWeights(weights: Partial<Record<SwitchKey, number>>): [SwitchKey, number][] {
  if (typeof weights !== 'object' || weights === null) throw invalid('switch weights must be an object');
  const entries = Object.entries(weights) as [SwitchKey, number][];
  for (const [key, weight] of entries) {
    if (!SWITCH_KEY.test(key)) {
      throw invalid(`switch "${key}": a switch key is cache:, traffic:, shadow: or flag: and a target`);
    }
    if (typeof weight !== 'number' || !(weight >= 0 && weight <= 100)) {
      throw invalid(`switch "${key}": weight ${weight} is not a number from 0 to 100`);
    }
  }
  return entries;
}

export function checkRollout(record: RolloutRecord): void {
  if (typeof record?.id !== 'string' || record.id === '' || record.id.length > MAX_ROLLOUT_ID_LENGTH) {
    throw invalid(`rollout id must be a string of 1–${MAX_ROLLOUT_ID_LENGTH} characters`);
  }
  if (!Number.isSafeInteger(record.version) || record.version < 1) {
    throw invalid(`rollout "${record.id}": version ${record.version} is not a positive integer`);
  }
}

export function checkLease(name: string, holder: string, ttlMs: number): void {
  if (typeof name !== 'string' || name === '') throw invalid('lease name must be a non-empty string');
  if (typeof holder !== 'string' || holder === '') throw invalid('lease holder must be a non-empty string');
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
    throw invalid(`lease "${name}": ttlMs ${ttlMs} is not a positive whole number of milliseconds`);
  }
}

/** The number of audit records to return for `limit`. */
export function auditLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_AUDIT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw invalid(`audit limit ${limit} is not a positive integer`);
  return limit;
}

/** The audit record of an emergency stop being set or lifted, with the switches after it. */
export function emergencyStopAudit(stop: EmergencyStop): Omit<AuditRecord, 'switches'> {
  return {
    at: stop.at,
    actor: stop.actor,
    action: stop.active ? EMERGENCY_STOP_ACTION : EMERGENCY_STOP_CLEARED_ACTION,
    reason: stop.reason,
  };
}

/** `switches` sorted by key (a new array). */
export function sortedSwitches(switches: Iterable<SwitchState>): SwitchState[] {
  return [...switches].sort((a, b) => compare(a.key, b.key));
}

export function sortedRollouts(rollouts: Iterable<RolloutRecord>): RolloutRecord[] {
  return [...rollouts].sort((a, b) => compare(a.id, b.id));
}

/** The switches as the `switches` field of an audit record: weight by key. */
export function weightsByKey(switches: readonly SwitchState[]): Record<SwitchKey, number> {
  const weights = {} as Record<SwitchKey, number>;
  for (const { key, weight } of switches) weights[key] = weight;
  return weights;
}

/** A deep copy that keeps exactly what JSON keeps, as the Redis and PostgreSQL stores do. */
export function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Calls each listener with `event`; a listener's error is rethrown later, the others still called. */
export function deliver(listeners: Iterable<StoreListener>, event: StoreEvent): void {
  for (const listener of listeners) {
    try {
      listener(event);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

/** A store event parsed from JSON, or undefined for anything else on the channel. */
export function parseEvent(text: string): StoreEvent | undefined {
  try {
    const event = JSON.parse(text) as StoreEvent;
    if (event.type === 'switches' && Array.isArray(event.switches)) {
      return { type: 'switches', switches: sortedSwitches(event.switches) };
    }
    if (event.type === 'emergency-stop' && typeof event.stop === 'object') return event;
    if (event.type === 'rollout' && typeof event.id === 'string') return event;
  } catch {
    // not JSON: not ours
  }
  return undefined;
}

export function storeClosed(): KeelError {
  return new KeelError('STORE_CLOSED', 'The rollout store is closed; open a new one.');
}

/** `host:port` (and `/database`) of a URL, never its credentials; the URL's scheme when unparsable. */
export function addressOf(url: string, defaultPort: number): string {
  try {
    const parsed = new URL(url);
    const database = parsed.pathname.length > 1 ? parsed.pathname : '';
    return `${parsed.hostname || 'localhost'}:${parsed.port || defaultPort}${database}`;
  } catch {
    return `an unparsable ${url.split(':')[0]} URL`;
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return errorMessage(error.errors[0]);
  return error instanceof Error && error.message !== '' ? error.message : String(error);
}

function invalid(message: string): KeelError {
  return new KeelError('INVALID_ARGUMENT', `${message}.`);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

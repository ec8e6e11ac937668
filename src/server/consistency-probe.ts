/**
 * The cache consistency probe: does the cache serve what the origin would answer now? Every
 * interval it takes a few of the most requested cached URLs (the cache's hot keys, plain GETs with
 * no Vary variants), asks the origin for each afresh through the gateway's own origin connections,
 * and compares the stored answer with the fresh one (rollout/compare.ts: status, the headers and
 * ignored JSON fields of the route's `compare:` in the routes file, and the body, as JSON by
 * structure, so a timestamp the origin stamps on every answer can be left out). A mismatch is checked once more after a short wait, since a write in flight
 * may be invalidating that very entry; only a mismatch that stays is counted.
 *
 * The share of mismatches over the last round is the guard metric `cache.consistency_mismatch_rate`
 * of the cache-enable plan: a cache that keeps serving answers the origin no longer gives (an
 * invalidation that never arrived, a TTL longer than the data's life) is a reason to roll back.
 * The probe adds a handful of origin requests per interval and never touches a client's request;
 * it runs while a rollout is active, and its last mismatches are logged with their differences.
 */
import type { OptimizedCacheManager } from '../cache/index.js';
import { compareAnswers } from '../rollout/index.js';
import type { ByteBudget } from './byte-budget.js';
import { firstValues } from './http-cache.js';
import { unpackCached } from './response-frame.js';
import type { RouteTable } from './route-table.js';
import type { StoredResponse } from './stored-response.js';
import type { Upstream } from './upstream.js';

/** URLs compared per round. */
const SAMPLE_SIZE = 5;
/** Wait before a mismatch is checked again (an invalidation in flight settles within it). */
const RECHECK_MS = 500;
const PROBE_TIMEOUT_MS = 5_000;
const KEY_PREFIX = 'GET ';

export interface ProbeLog {
  warn(fields: object, message: string): void;
}

export interface ConsistencyProbeOptions {
  cache: OptimizedCacheManager;
  upstream: Upstream;
  budget: ByteBudget;
  maxBodyBytes: number;
  /** The origin's own credentials, when its URL carries them. */
  originAuthorization?: string;
  log: ProbeLog;
  /** Whether a round is wanted now (a rollout is active). */
  wanted: () => boolean;
  /** The routes, for each URL's comparison options (its route's `compare:`). */
  routes: () => RouteTable;
  intervalMs: number;
}

export class ConsistencyProbe {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private last: { compared: number; mismatched: number } | undefined;

  constructor(private readonly options: ConsistencyProbeOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.round(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Share of the last round's URLs whose cached answer differs from the origin's; undefined before one. */
  mismatchRate(): number | undefined {
    return this.last === undefined || this.last.compared === 0
      ? undefined
      : this.last.mismatched / this.last.compared;
  }

  /** One round: compares up to SAMPLE_SIZE hot cached URLs with the origin (never two rounds at once). */
  async round(): Promise<void> {
    if (this.running || !this.options.wanted()) return;
    this.running = true;
    try {
      let compared = 0;
      let mismatched = 0;
      for (const key of this.hotKeys()) {
        const outcome = await this.check(key);
        if (outcome === undefined) continue;
        compared++;
        if (!outcome) mismatched++;
      }
      this.last = { compared, mismatched };
    } finally {
      this.running = false;
    }
  }

  private hotKeys(): string[] {
    return this.options.cache
      .getPerformanceStats()
      .topKeys.map((top) => top.key)
      .filter((key) => key.startsWith(KEY_PREFIX) && !key.includes('\n'))
      .slice(0, SAMPLE_SIZE);
  }

  /** true: the cache agrees with the origin; false: it differs (twice); undefined: nothing to compare. */
  private async check(key: string): Promise<boolean | undefined> {
    const first = await this.compare(key);
    if (first?.matched !== false) return first?.matched;
    await new Promise((resolve) => setTimeout(resolve, RECHECK_MS));
    const second = await this.compare(key);
    if (second?.matched === false)
      this.options.log.warn(
        { key, differences: second.differences },
        'cached answer differs from the origin',
      );
    return second?.matched;
  }

  private async compare(key: string) {
    const stored = await this.stored(key);
    if (stored === undefined) return undefined;
    const target = key.slice(KEY_PREFIX.length);
    const fresh = await this.fetchFresh(target);
    if (fresh === undefined) return undefined;
    const path = target.split('?', 1)[0] as string;
    const options = this.options.routes().match('GET', path)?.route.compare;
    const headers = Object.fromEntries(stored.headers);
    return compareAnswers({ status: stored.status, headers, body: stored.body }, fresh, options);
  }

  private async stored(key: string): Promise<StoredResponse | undefined> {
    const value = unpackCached(await this.options.cache.get(key).catch(() => undefined));
    return value?.kind === 'response' ? value : undefined;
  }

  /** The origin's answer to a plain GET of `path` now, or undefined when it cannot be had in full. */
  private async fetchFresh(path: string) {
    const headers: Record<string, string> = { 'user-agent': 'keel-consistency-probe' };
    if (this.options.originAuthorization !== undefined)
      headers.authorization = this.options.originAuthorization;
    try {
      const exchange = await this.options.upstream.exchange({
        method: 'GET',
        path,
        headers,
        timeoutMs: PROBE_TIMEOUT_MS,
      });
      const body = await exchange.buffer(this.options.maxBodyBytes, this.options.budget);
      if (body !== undefined)
        return { status: exchange.status, headers: firstValues(exchange.headers), body };
      exchange.discard();
      return undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * RedisSmartCache: the shared L2 of OptimizedCacheManager, on Redis through ioredis.
 *
 * It stores the codec's envelopes (the manager encodes and decodes; this tier moves bytes), keeps
 * the tag and dependency indexes in Redis, coalesces reads into MGETs (read-batcher.ts), tells the
 * other instances what changed (bus.ts), and never throws at its callers: every call goes through
 * the breaker of resilience.ts, and what could not be applied to Redis is journaled
 * (invalidation-journal.ts) and replayed before Redis is read from again.
 *
 * Invalidation, and what each returns (the number of Redis values removed):
 *   - keys (`deleteKeys`): the keys, then everything that depends on them, transitively;
 *   - tags (`invalidateTags`): what each tag's index names, and what depends on that;
 *   - patterns (`invalidatePattern`): SCAN MATCH within the namespace, UNLINK in batches, on every
 *     master in Cluster, and what depends on those keys;
 *   - everything (`flush`): the namespace's values, indexes and locks.
 * Tag and dependency indexes are drained chunk by chunk, the drain journaled in Redis so that any
 * instance finishes it (index-drain.ts); each promise resolves once its drain is complete. Every
 * chunk's keys are dropped from this instance's L1 and announced on the bus once their values are
 * gone from Redis (and before the drain goes on), so no instance can refill its L1 from a value the
 * drain has passed; the call's tags or pattern are announced again when it ends, for the entries
 * the other instances hold that Redis did not index.
 *
 * Availability: reads use Redis only while the command connection is up, the breaker is closed
 * (or half-open), the server has been identified since the last (re)connection, and no journaled
 * invalidation awaits replay; otherwise they answer "miss" at once. A connection that comes back
 * to another server (a failover, a restart), or a Cluster slot map with a new master, journals
 * this instance's recent changes first, since that server may have lost them (recent-changes.ts).
 * Writes and invalidations are tried whenever the connection is up and the breaker lets them.
 * Replays are attempted when the breaker closes and every `breaker.halfOpenAfterMs` while the
 * journal is not empty.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { KeelError } from '../../errors.js';
import { type BusHandlers, InvalidationBus } from './bus.js';
import { type Connections, describeTarget, openConnections } from './connection.js';
import { IndexDrainer } from './index-drain.js';
import { InvalidationJournal, type JournalSnapshot } from './invalidation-journal.js';
import { KeyLayout } from './key-layout.js';
import type { ResolvedRedisOptions } from './options.js';
import { ReadBatcher } from './read-batcher.js';
import { RecentChanges } from './recent-changes.js';
import { RedisStore, type StoredWrite } from './redis-store.js';
import { type BreakerState, Resilience } from './resilience.js';

/** What a read answers without asking Redis. */
const NOT_READ: Promise<Buffer | null> = Promise.resolve(null);

export interface TierHandlers extends BusHandlers {
  /** A drain removed these keys' values from Redis: drop them from this instance's L1. */
  onUnlinked(keys: readonly string[]): void;
  /** Redis did not answer at start-up: a sentence naming it, for the caller's log (said once). */
  onUnavailable(message: string): void;
}

export interface RedisTierStats {
  /** 'ready', 'degraded' (breaker open, or replaying invalidations), or 'disconnected'. */
  state: 'ready' | 'degraded' | 'disconnected';
  /** Where the tier connects: its URL (password masked), the Sentinel group or the Cluster's nodes. */
  target: string;
  /** The last connection error, while not connected (`ECONNREFUSED 127.0.0.1:6379`). */
  lastError?: string;
  breaker: BreakerState;
  hits: number;
  misses: number;
  writes: number;
  /** Writes and invalidations that did not reach Redis (journaled). */
  failedWrites: number;
  errors: number;
  timeouts: number;
  retries: number;
  shortCircuited: number;
  breakerOpens: number;
  pendingInvalidations: number;
  replays: number;
  readBatches: number;
  keysPerBatch: number;
  /** Tag or dependency indexes found holding another type in Redis, deleted and rebuilt. */
  indexRepairs: number;
  /** Invalidations draining indexes in Redis now, on this instance (index-drain.ts). */
  activeDrains: number;
  /** Drains this instance took over from the directory, their instance gone or cut off. */
  resumedDrains: number;
  bus: {
    connected: boolean;
    published: number;
    received: number;
    malformed: number;
    resyncs: number;
    lagMs: { p50: number; p99: number; max: number };
  };
}

export class RedisSmartCache {
  readonly instanceId = randomUUID();
  private readonly connections: Connections;
  private readonly store: RedisStore;
  private readonly batcher: ReadBatcher;
  private readonly resilience: Resilience;
  private readonly journal: InvalidationJournal;
  private readonly recent: RecentChanges;
  private readonly bus: InvalidationBus;
  private readonly drainer: IndexDrainer;
  /** The take-over of abandoned drains in progress, if any. */
  private resuming: Promise<unknown> | undefined;
  /** The server the command connection was last on (serverIdentity), undefined before the first. */
  private server: string | undefined;
  /** Cluster: the masters' addresses at the last slot refresh, undefined before the first. */
  private masters: Set<string> | undefined;
  /** True from a (re)connection until the server has been identified: reads wait for it. */
  private identifying = false;
  private identification: Promise<void> = Promise.resolve();
  private readonly replayTimer: NodeJS.Timeout;
  private replaying: Promise<void> | undefined;
  private hits = 0;
  private misses = 0;
  private writes = 0;
  private failedWrites = 0;
  private replays = 0;
  /** The command connection's last error, cleared when it is ready. */
  private lastError: string | undefined;
  /** The first connection attempt (connect), settled once Redis answered. */
  private connecting: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly options: ResolvedRedisOptions,
    namespace: string,
    private readonly handlers: TierHandlers,
  ) {
    this.connections = openConnections(options);
    const { commands, subscriber, cluster } = this.connections;
    // Errors surface through failed commands (counted by the breaker) and in stats(); never crash.
    commands.on('error', (error: Error) => {
      this.lastError = error.message;
    });
    commands.on('ready', () => {
      this.lastError = undefined;
    });
    subscriber.on('error', () => {});
    const layout = new KeyLayout(options.keyPrefix, namespace);
    this.store = new RedisStore(commands, cluster, layout);
    this.resilience = new Resilience(options, () => this.scheduleReplay());
    this.batcher = new ReadBatcher(
      async (keys) => {
        const values = await this.resilience.read(() => this.store.getMany(keys));
        if (values === undefined) return keys.map(() => null);
        for (const value of values) {
          if (value === null) this.misses++;
          else this.hits++;
        }
        return values;
      },
      () => this.store.flush(),
    );
    this.journal = new InvalidationJournal(options.maxPendingInvalidations);
    this.recent = new RecentChanges(options.maxPendingInvalidations);
    this.bus = new InvalidationBus(
      subscriber,
      layout.channel,
      this.instanceId,
      (message) => this.resilience.write(() => this.store.publish(layout.channel, message)),
      handlers,
    );
    this.drainer = new IndexDrainer(this.store, this.instanceId, async (keys) => {
      handlers.onUnlinked(keys);
      await this.bus.keysChangedNow(keys, (message) => this.store.publish(layout.channel, message));
    });
    if (cluster) commands.on('refresh', () => this.noteMasters(commands as Cluster));
    else {
      commands.on('ready', () => {
        this.identification = this.identifyServer();
      });
    }
    this.replayTimer = setInterval(() => {
      if (!this.journal.isEmpty) this.scheduleReplay();
      else this.resumeDrains();
    }, options.breaker.halfOpenAfterMs);
    this.replayTimer.unref();
  }

  /**
   * Connects and subscribes. With `required`, rejects with REDIS_UNAVAILABLE (naming where it
   * tried) when Redis does not answer within `connectTimeoutMs`; otherwise resolves either way and
   * keeps trying in the background, the cache working from L1 meanwhile.
   */
  async connect(): Promise<void> {
    const { commands, subscriber, ownsCommands } = this.connections;
    const attempt = (async () => {
      if (ownsCommands && commands.status === 'wait') await commands.connect();
      if (subscriber.status === 'wait') await subscriber.connect();
      await this.bus.start();
      await this.store.ping();
      await this.identification;
    })();
    this.connecting = attempt;
    try {
      await withTimeout(attempt, this.options.connectTimeoutMs);
      this.resumeDrains();
    } catch (error) {
      attempt.catch(() => {});
      this.bus.startedDisconnected();
      const unanswered = `Redis at ${describeTarget(this.options)} did not answer within ${this.options.connectTimeoutMs} ms (${this.lastError ?? (error as Error).message})`;
      if (!this.options.required) {
        this.handlers.onUnavailable(`${unanswered}; the cache works from memory (L1) and keeps trying.`);
        return;
      }
      this.handlers.onUnavailable(`${unanswered}; redis.required is set, so the cache is closed.`);
      await this.close();
      throw new KeelError(
        'REDIS_UNAVAILABLE',
        `${unanswered}: start it, fix redis.url, or set redis.required to false to start in L1-only mode.`,
        { cause: error },
      );
    }
  }

  /** False while reads must not use Redis (see the file's note). */
  get available(): boolean {
    return this.writable && !this.identifying && this.journal.isEmpty && this.replaying === undefined;
  }

  /**
   * Whether writes and invalidations should be tried. Unlike reads they need not wait for the
   * journal: a write that lands before the replay may be deleted by it, which only costs a miss,
   * and under a steady write load waiting would keep the journal from ever emptying.
   */
  private get writable(): boolean {
    return this.connections.commands.status === 'ready' && this.resilience.state !== 'open';
  }

  /** The stored envelope, or null on a miss or when Redis is unavailable. */
  read(key: string): Promise<Buffer | null> {
    return this.available ? this.batcher.get(key) : NOT_READ;
  }

  /** Writes through; when it fails, the key is journaled for deletion on recovery. */
  async write(write: StoredWrite): Promise<void> {
    this.writes++;
    if (this.writable && (await this.resilience.write(() => this.store.write(write, Date.now())))) return;
    this.failedWrites++;
    this.journal.addKeys([write.key]);
  }

  /** Broadcasts that these keys changed (after a write), so other instances drop them from L1. */
  announceChanged(keys: readonly string[]): void {
    this.changedKeys(keys);
  }

  /** Broadcasts that `key` was filled by a stampede-lock holder. */
  announceFilled(key: string): void {
    this.bus.filled(key);
  }

  /**
   * Deletes the keys and, transitively, what depends on them; broadcasts them. Returns the number
   * of values removed from Redis, undefined when Redis could not be reached (then journaled).
   */
  async deleteKeys(keys: readonly string[]): Promise<number | undefined> {
    return this.deleteWalk(keys, true);
  }

  /** Deletes what depends on the keys (not the keys themselves), as `deleteKeys` does. */
  async deleteDependents(keys: readonly string[]): Promise<number | undefined> {
    return this.deleteWalk(keys, false);
  }

  /** Deletes what the tags' indexes name and what depends on it; broadcasts the tags when done. */
  async invalidateTags(tags: readonly string[]): Promise<number | undefined> {
    const removed = this.writable
      ? await this.resilience.run(() => this.drainer.invalidateTags(tags))
      : undefined;
    if (removed === undefined) {
      this.failedWrites++;
      this.journal.addTags(tags);
    }
    this.changedTags(tags);
    return removed;
  }

  /** Deletes the namespace's values matching the glob, and their dependents; broadcasts the pattern. */
  async invalidatePattern(pattern: string): Promise<number | undefined> {
    const removed = this.writable ? await this.resilience.run(() => this.deletePattern(pattern)) : undefined;
    if (removed === undefined) {
      this.failedWrites++;
      this.journal.addPattern(pattern);
    }
    this.changedPattern(pattern);
    return removed;
  }

  /** Deletes everything the namespace stores; broadcasts a clear. */
  async flush(): Promise<number | undefined> {
    const removed = this.writable ? await this.resilience.run(() => this.store.unlinkNamespace()) : undefined;
    if (removed === undefined) {
      this.failedWrites++;
      this.journal.addFlush();
    }
    this.changedAll();
    return removed;
  }

  /** Takes the stampede lock of `key`; the token when taken, undefined when held elsewhere or unavailable. */
  async acquireLock(key: string): Promise<string | undefined> {
    if (!this.available) return undefined;
    const token = randomUUID();
    const taken = await this.resilience.run(() => this.store.acquireLock(key, token, this.options.lockTtlMs));
    return taken === true ? token : undefined;
  }

  async releaseLock(key: string, token: string): Promise<void> {
    await this.resilience.write(() => this.store.releaseLock(key, token));
  }

  stats(): RedisTierStats {
    const c = this.resilience.counters;
    const lag = this.bus.lag.snapshot();
    const connected = this.connections.commands.status === 'ready';
    return {
      state: !connected ? 'disconnected' : this.available ? 'ready' : 'degraded',
      target: describeTarget(this.options),
      ...(connected || this.lastError === undefined ? {} : { lastError: this.lastError }),
      breaker: this.resilience.state,
      hits: this.hits,
      misses: this.misses,
      writes: this.writes,
      failedWrites: this.failedWrites,
      errors: c.errors,
      timeouts: c.timeouts,
      retries: c.retries,
      shortCircuited: c.shortCircuited,
      breakerOpens: c.breakerOpens,
      pendingInvalidations: this.journal.size,
      activeDrains: this.drainer.active,
      resumedDrains: this.drainer.resumed,
      replays: this.replays,
      readBatches: this.batcher.batches,
      keysPerBatch: this.batcher.batches === 0 ? 0 : this.batcher.keysFetched / this.batcher.batches,
      indexRepairs: this.store.indexRepairs,
      bus: {
        connected: this.bus.connected,
        ...this.bus.counters,
        lagMs: { p50: lag.p50, p99: lag.p99, max: lag.max },
      },
    };
  }

  /** Closes the connections Keel opened (not a client passed in `redis.client`). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.applyJournalBeforeClosing();
    this.closed = true;
    clearInterval(this.replayTimer);
    await this.bus.close();
    const { commands, subscriber, ownsCommands } = this.connections;
    subscriber.disconnect();
    if (ownsCommands) commands.disconnect();
  }

  /**
   * Writes and invalidations made while Redis was unreachable (or before it first answered) are
   * journaled; closing without applying them would leave other instances serving what this one
   * changed. So close waits for the connection (as long as connecting may take) and replays the
   * journal, and says so through the handlers when it cannot.
   */
  private async applyJournalBeforeClosing(): Promise<void> {
    if (this.journal.isEmpty) return;
    try {
      await withTimeout(this.connecting, this.options.connectTimeoutMs);
      await this.identification;
      this.scheduleReplay();
      await this.replaying;
    } catch {
      // Not connected in time: reported below.
    }
    if (this.journal.isEmpty) return;
    this.handlers.onUnavailable(
      `Redis at ${describeTarget(this.options)} could not be reached before closing: ${this.journal.size} changes made while it was unreachable were not applied to it, so other instances may serve older values until their TTLs end.`,
    );
  }

  private async deleteWalk(keys: readonly string[], includeRoots: boolean): Promise<number | undefined> {
    if (keys.length === 0) return 0;
    const removed = this.writable
      ? await this.resilience.run(() => this.drainer.invalidateKeys(keys, includeRoots))
      : undefined;
    if (removed === undefined) {
      this.failedWrites++;
      // What could not be applied is journaled as deletions; for dependents that over-invalidates
      // the roots, which is safe (their new values are in L1 and are written again on the next set).
      this.journal.addKeys(keys);
    }
    // Applied, the keys were announced as they went; the roots of a `set` are its caller's to announce.
    if (removed === undefined) this.changedKeys(keys);
    else if (includeRoots) this.recent.add('keys', keys);
    return removed;
  }

  /** Deletes the values matching the glob, batch by batch, and their dependents. */
  private async deletePattern(pattern: string): Promise<number> {
    let removed = 0;
    for await (const keys of this.store.scanKeys(pattern)) {
      removed += await this.drainer.invalidateKeys(keys, true);
    }
    return removed;
  }

  /**
   * Takes over the drains other instances left unfinished (index-drain.ts), unless one take-over
   * is already running or Redis is not fully available (a take-over can be long: it must not be
   * the breaker's half-open probe).
   */
  private resumeDrains(): void {
    if (this.resuming !== undefined || this.closed || this.resilience.state !== 'closed') return;
    if (this.connections.commands.status !== 'ready') return;
    this.resuming = this.resilience
      .run(() => this.drainer.resumeAbandoned())
      .finally(() => {
        this.resuming = undefined;
      });
  }

  /** Broadcasts that keys changed, and remembers it for a server that may lose it (recent-changes.ts). */
  private changedKeys(keys: readonly string[]): void {
    this.recent.add('keys', keys);
    this.bus.keysChanged(keys);
  }

  private changedTags(tags: readonly string[]): void {
    this.recent.add('tags', [...tags]); // the caller's array: kept, so copied
    this.bus.tagsChanged(tags);
  }

  private changedPattern(pattern: string): void {
    this.recent.add('pattern', [pattern]);
    this.bus.patternChanged(pattern);
  }

  private changedAll(): void {
    this.recent.add('flush', []);
    this.bus.cleared();
  }

  /**
   * After each (re)connection: when the server is not the one the connection left (a failover,
   * a restart), or cannot be identified, this instance's recent changes are journaled, so they are
   * applied to it before Redis is read again (recent-changes.ts).
   */
  private async identifyServer(): Promise<void> {
    this.identifying = true;
    const server = await this.resilience.run(() => this.store.serverIdentity());
    if (this.server !== undefined && server !== this.server) this.recent.copyInto(this.journal);
    if (server !== undefined) this.server = server;
    this.identifying = false;
    this.scheduleReplay();
    this.resumeDrains();
  }

  /**
   * Cluster: after each refresh of the slot map, a master that was not one before (a promoted
   * replica, or a new node) may lack this instance's recent changes: they are journaled and
   * replayed, as for a single server that changed (identifyServer).
   */
  private noteMasters(cluster: Cluster): void {
    const masters = new Set(cluster.nodes('master').map(({ options }) => `${options.host}:${options.port}`));
    const before = this.masters;
    this.masters = masters;
    if (before === undefined || [...masters].every((address) => before.has(address))) return;
    this.recent.copyInto(this.journal);
    this.scheduleReplay();
  }

  private scheduleReplay(): void {
    if (this.replaying !== undefined || this.journal.isEmpty || this.closed) return;
    this.replaying = this.replay().finally(() => {
      this.replaying = undefined;
    });
  }

  /** Applies the journal to Redis and broadcasts it; on failure puts it back for the next try. */
  private async replay(): Promise<void> {
    const snapshot = this.journal.drain();
    const applied = await this.resilience.write(() => this.apply(snapshot));
    if (!applied) {
      this.journal.merge(snapshot);
      return;
    }
    this.replays++;
    if (snapshot.flushAll) this.changedAll();
    this.changedKeys(snapshot.keys);
    this.changedTags(snapshot.tags);
    for (const pattern of snapshot.patterns) this.changedPattern(pattern);
    this.resumeDrains();
  }

  /** Applies a journal; tags and keys whose drains were cut short join them and finish them. */
  private async apply(snapshot: JournalSnapshot): Promise<void> {
    if (snapshot.flushAll) {
      await this.store.unlinkNamespace();
      return;
    }
    await Promise.all([
      this.drainer.invalidateTags(snapshot.tags),
      this.drainer.invalidateKeys(snapshot.keys, true),
    ]);
    for (const pattern of snapshot.patterns) await this.deletePattern(pattern);
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

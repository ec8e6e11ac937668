/**
 * The sync engine: pages listings out of the source in keyset order and writes each page as one
 * batch (pg-sink.ts), until an empty page says the source has nothing newer (servers cap pages
 * silently, so a short page does not mean the end).
 *
 * A run:
 *   - takes the sync's advisory lock on a session of its own (one runner per sync and system;
 *     another gets SYNC_LOCKED), marks runs left `running` by a runner that died as `crashed`,
 *     records itself in keel_sync_runs, claims the cursor and starts after it;
 *   - paces requests (rate-limiter.ts) and retries transient failures (SOURCE_UNAVAILABLE) with
 *     exponential backoff and jitter, or after the Retry-After a 429 or 503 gave;
 *   - breaks the circuit (cockatiel's ConsecutiveBreaker) after SYNC_CIRCUIT_BREAKER_THRESHOLD
 *     failed requests in a row: the run is `paused` for SYNC_CIRCUIT_BREAKER_TIMEOUT, then one
 *     request tries again (half-open); it resumes when that succeeds. An outage pauses the run,
 *     never fails rows. 429s do not count toward the breaker: the source is up and asked to wait;
 *   - stops at once on SYNC_AUTH_FAILED (asking again with the same credentials cannot help) and on
 *     an answer that is not a page (SOURCE_INVALID_RESPONSE);
 *   - retries a batch whose write failed for want of the database (a dropped connection, a
 *     restart): the batch is one transaction, so writing it again is safe;
 *   - stops before its next write when the emergency stop is set (the sink checks it inside each
 *     batch's transaction), or when its `signal` is aborted; the run is recorded `stopped`.
 *
 * Shared listings (the migration's flag, `ownership`): every system reads every page and writes
 * only the listings it owns, skipping the rest. A skipped listing is the other system's to write,
 * but the two read a page at different moments: when the flag moves between them, a listing can
 * be skipped by both (the gainer read it before the move, the loser after). So the cursor keeps
 * the share its position was reached with (the smallest since it last started over), and a runner
 * whose share has grown beyond it starts again from the beginning of the source: it reads every
 * listing once more and writes those it now owns and lacks or differ (the others are unchanged,
 * not written). The sets owned are nested (Unleash's bucketing: a larger weight keeps the keys of
 * a smaller one), so a larger share means no listing is lost.
 *
 * Dry-run (`syncBatch({ limit, dryRun: true })`, `keel sync run --dry-run`) reads the same pages
 * from the stored cursor and reports what a run would do (dry-run.ts); it takes no lock and
 * writes nothing, not even a run record.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IBackoff,
  type IRetryBackoffContext,
} from 'cockatiel';
import type { Logger } from 'pino';
import { isKeelError, KeelError } from '../errors.js';
import { isConnectionState, type SyncDatabase } from './database.js';
import { type DryRunReport, DryRunTally } from './dry-run.js';
import { checkListing, keyOfRaw } from './listing.js';
import { type Batch, type BatchCounts, type Cursor, cursorOf, ListingSink, WHOLE_SHARE } from './pg-sink.js';
import { RateLimiter } from './rate-limiter.js';
import { type ListingSource, SourceError } from './rest-source.js';
import { lockKey } from './schema.js';
import {
  completeSplit,
  isAfter,
  isRangeDone,
  markRangeDone,
  openSplit,
  rangeName,
  type Split,
  saveSplit,
  splitOpen,
} from './split.js';

/** First pause after a failed request; it doubles (with jitter) up to MAX_RETRY_DELAY_MS. */
const FIRST_RETRY_DELAY_MS = 200;
const MAX_RETRY_DELAY_MS = 30_000;
/** Attempts at writing one batch while the database is unreachable, before the run fails. */
const WRITE_ATTEMPTS = 6;

export type RunStatus = 'completed' | 'stopped' | 'failed' | 'dry-run';
export type EngineState = 'idle' | 'running' | 'paused';

export interface SyncEngineOptions {
  db: SyncDatabase;
  source: ListingSource;
  syncName: string;
  table: string;
  /** Which system this runner is (`new`, `old`). */
  system: string;
  batchSize: number;
  /** Requests a second to the source (0: no limit). */
  rateLimit: number;
  breakerThreshold: number;
  breakerTimeoutMs: number;
  log: Logger;
  /** Which listings this runner writes (the migration's per-listing flag); all when undefined. */
  ownership?: Ownership;
}

/**
 * The listings a runner writes when systems share them out: the others are read, counted as
 * skipped and left to the other system.
 */
export interface Ownership {
  owns(propertyNumber: string): boolean;
  /** The share of the listings owned now, 0–100; the listings of a smaller share are kept by a larger one. */
  share(): number;
}

export interface RunOptions {
  /** Rows to read at most (default: until the source has nothing newer). */
  limit?: number;
  dryRun?: boolean;
  signal?: AbortSignal;
  /** Called after each batch is written. */
  onBatch?: (progress: RunProgress) => void;
}

export interface RunCounts extends BatchCounts {
  batches: number;
  requests: number;
  /** Requests that failed (and were retried). */
  failures: number;
}

export interface RunProgress {
  runId: number | undefined;
  counts: RunCounts;
  cursor: Cursor | undefined;
}

/** A run in progress: its record's id, counts and position. */
interface ActiveRun {
  runId: number;
  counts: RunCounts;
  cursor: Cursor | undefined;
  cursorFrom: Cursor | undefined;
  /** The share of the listings owned all the way to `cursor` (see the file's note). */
  coveredShare: number;
  signal: AbortSignal | undefined;
  /** The cursor moved: the system's own, or a key range's (split.ts). */
  cursorName: string;
  /** Where the cursor starts, and starts over: the source's beginning, or a range's lower bound. */
  startAt: Cursor | undefined;
  /** The last position the run covers (a range's end); none: until the source has nothing newer. */
  upper: Cursor | undefined;
}

/** Which lock a recorded run holds, and which runs a crash of its holder left `running`. */
interface RunScope {
  lockName: string;
  /** A range's name (split.ts); undefined for the system's own cursor. */
  rangeKey: string | undefined;
  /** Run once the lock is held, before the run is recorded: what it throws ends the run unrecorded. */
  claim?: () => Promise<void>;
}

export interface RunResult extends RunProgress {
  status: RunStatus;
  system: string;
  durationMs: number;
  cursorFrom: Cursor | undefined;
  /** What stopped or failed the run. */
  error?: { code: string; message: string };
  dryRun?: DryRunReport;
}

export class SyncEngine {
  readonly rate: RateLimiter;
  private readonly sink: ListingSink;
  private readonly breaker;
  private running = false;
  /** When the breaker last opened (performance.now()). */
  private openedAt = 0;

  constructor(private readonly options: SyncEngineOptions) {
    this.rate = new RateLimiter(options.rateLimit);
    this.sink = new ListingSink(options.db, options);
    this.breaker = circuitBreaker(
      handleWhen((error) => error instanceof SourceError && error.transient && error.status !== 429),
      { halfOpenAfter: options.breakerTimeoutMs, breaker: new ConsecutiveBreaker(options.breakerThreshold) },
    );
    this.breaker.onBreak(() => {
      this.openedAt = performance.now();
      options.log.warn(
        { breakerTimeoutMs: options.breakerTimeoutMs },
        `${options.breakerThreshold} requests to the source failed in a row: the run pauses for ${options.breakerTimeoutMs} ms`,
      );
    });
    this.breaker.onReset(() => options.log.info('the source answers again: the run resumes'));
  }

  /** `idle`, `running`, or `paused` (the circuit is open, or a Retry-After holds requests). */
  get state(): EngineState {
    if (!this.running) return 'idle';
    return this.breaker.state !== CircuitState.Closed || this.rate.held ? 'paused' : 'running';
  }

  /** `closed`, `open` or `half-open`. */
  get breakerState(): 'closed' | 'open' | 'half-open' {
    const state = this.breaker.state;
    return state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half-open' : 'open';
  }

  /** The source, for messages (its URL; never a credential). */
  get sourceDescription(): string {
    return this.options.source.description;
  }

  /** The deployment guide's `validateAuth()`: resolves when the source accepts the credentials. */
  validateAuth(): Promise<void> {
    return this.options.source.validateAuth();
  }

  /** The deployment guide's `syncBatch({ limit, dryRun })`: a run of at most `limit` rows. */
  syncBatch(options: { limit: number; dryRun?: boolean }): Promise<RunResult> {
    return this.run(options);
  }

  /** One run (see the file's note). */
  async run(options: RunOptions = {}): Promise<RunResult> {
    if (options.dryRun === true) return this.dryRun(options);
    const { db, syncName, system } = this.options;
    return this.recordedRun(options, (run) => this.syncPages(run, options), {
      ...this.ownScope(),
      claim: async () => {
        if (await openSplit(db, syncName, system)) throw splitOpen(syncName, system);
      },
    });
  }

  /**
   * Splits the listings after the system's cursor into `ranges` key ranges of about equal counts,
   * for workers to run (`work`); undefined when there is nothing after the cursor. Throws
   * SYNC_LOCKED while a run of the system goes on or a split is open.
   */
  async split(ranges: number, signal?: AbortSignal): Promise<Split | undefined> {
    const { db, syncName, system, source } = this.options;
    const release = await db.lockSession(lockKey(`${syncName}:${system}`));
    if (release === undefined) throw this.locked();
    try {
      if (await openSplit(db, syncName, system)) throw splitOpen(syncName, system);
      const lower = await this.storedCursor();
      const total = await source.count(lower, signal);
      const parts = Math.min(ranges, total);
      const uppers: Cursor[] = [];
      for (let n = 1; n <= parts; n++) {
        const upper = await source.positionAt(lower, Math.ceil((n * total) / parts) - 1, signal);
        if (upper !== undefined) uppers.push(upper);
      }
      return uppers.length === 0 ? undefined : await saveSplit(db, { syncName, system }, lower, uppers);
    } finally {
      await release();
    }
  }

  /**
   * A worker of the open split: runs each range no other worker holds and that is not done, then
   * closes the split when every range is (split.ts). Its runs' results; `closed` when it closed it.
   */
  async work(
    options: Pick<RunOptions, 'signal' | 'onBatch'> = {},
  ): Promise<{ results: RunResult[]; closed: boolean }> {
    const { db, syncName, system } = this.options;
    const split = await openSplit(db, syncName, system);
    if (split === undefined) return { results: [], closed: false };
    const results: RunResult[] = [];
    for (const range of split.ranges.filter((candidate) => !candidate.done)) {
      const name = rangeName(system, range);
      const result = await this.recordedRun(
        options,
        async (run) => {
          run.cursorName = name;
          run.startAt = range.lower;
          run.upper = range.upper;
          await this.syncPages(run, options);
          await markRangeDone(db, syncName, system, range, run.runId);
        },
        {
          lockName: `${syncName}:${name}`,
          rangeKey: name,
          claim: async () => {
            if (await isRangeDone(db, range)) throw this.locked(); // done by another worker meanwhile
          },
        },
      ).catch((error: unknown) => {
        if (isKeelError(error, 'SYNC_LOCKED')) return undefined; // another worker holds it
        throw error;
      });
      if (result === undefined) continue;
      results.push(result);
      if (result.status !== 'completed') return { results, closed: false };
    }
    return { results, closed: await completeSplit(db, syncName, split) };
  }

  /** Claims the run's cursor and writes page after page from it (see the file's note). */
  private async syncPages(run: ActiveRun, options: RunOptions): Promise<void> {
    const claimed = await this.sink.claimCursor(run.runId, run);
    run.cursorFrom = claimed.cursor;
    run.cursor = claimed.cursor;
    run.coveredShare = claimed.ownedShare;
    await this.options.db.query('UPDATE keel_sync_runs SET cursor_from = $2 WHERE id = $1', [
      run.runId,
      JSON.stringify(run.cursorFrom ?? null),
    ]);
    for (;;) {
      await this.startOverIfShareGrew(run);
      const wanted = this.pageSize(options.limit, run.counts.read);
      if (wanted <= 0) break;
      const after = run.cursor;
      const { rows: page, tally } = await this.read(run, () =>
        this.options.source.page(after, wanted, options.signal),
      );
      const { upper } = run;
      const rows =
        upper === undefined ? page : page.filter((raw) => !isAfter(positionOf(raw) ?? upper, upper));
      const batchCursor = lastPosition(rows);
      if (rows.length === 0 || batchCursor === undefined) break;
      // The share and the rows' owners are read in one turn: the flag cannot move in between.
      if (await this.startOverIfShareGrew(run)) continue;
      run.coveredShare = Math.min(run.coveredShare, this.options.ownership?.share() ?? WHOLE_SHARE);
      const owns = this.options.ownership?.owns.bind(this.options.ownership);
      const mine = owns === undefined ? rows : rows.filter((raw) => owns(keyOfRaw(raw)));
      await this.writeCounted(run, mine, batchCursor, tally, rows.length - mine.length, run.coveredShare);
      run.cursor = batchCursor;
      options.onBatch?.({ runId: run.runId, counts: { ...run.counts }, cursor: run.cursor });
      if (rows.length < page.length) break; // past the range's end
    }
  }

  /**
   * Moves the run's cursor back to where it starts when its share of the listings has grown (see
   * the file's note); whether it did.
   */
  private async startOverIfShareGrew(run: ActiveRun): Promise<boolean> {
    const share = this.options.ownership?.share() ?? WHOLE_SHARE;
    if (samePosition(run.cursor, run.startAt)) {
      run.coveredShare = share; // nothing read yet: nothing to read again
      return false;
    }
    if (share <= run.coveredShare) return false;
    this.options.log.info(
      { runId: run.runId, from: run.coveredShare, to: share },
      `this system's share of the listings grew from ${run.coveredShare} to ${share} %: it reads every listing again from the start to write those it now owns`,
    );
    await this.sink.startOver(run.runId, share, run);
    run.cursor = run.startAt;
    run.coveredShare = share;
    return true;
  }

  /**
   * The deployment guide's `resyncInconsistencies()`: reads the listings of `keys` again from the
   * source and writes them (a recorded run that leaves the cursor where it is). Keys the source
   * does not have are listed in the result's `notInSource`.
   */
  async resync(
    keys: string[],
    options: Pick<RunOptions, 'signal'> = {},
  ): Promise<RunResult & { notInSource: string[] }> {
    const found = new Set<string>();
    const result = await this.recordedRun(options, async (run) => {
      for (let at = 0; at < keys.length; at += this.options.batchSize) {
        const chunk = keys.slice(at, at + this.options.batchSize);
        const { rows, tally } = await this.read(run, () => this.options.source.byKeys(chunk, options.signal));
        for (const row of rows) found.add(String((row as { property_number?: unknown }).property_number));
        if (rows.length > 0) await this.writeCounted(run, rows, undefined, tally);
      }
    });
    return { ...result, notInSource: keys.filter((key) => !found.has(key)) };
  }

  /**
   * Re-drives the open dead letters (`keel sync dead-letters --redrive`), oldest first: each raw row
   * is checked again and, when it passes now (the source or the table's constraints were fixed),
   * written as the sync writes any row, a late one never overwriting newer data. Those written are
   * marked re-driven; a row the database refuses again becomes a new dead letter with the new
   * reason, and the old one is marked. Rows that still fail the checks stay open. Marking after
   * writing: a crash between the two leaves the letter open, and re-driving it again rewrites the
   * same row, which changes nothing.
   */
  async redrive(options: { limit?: number } = {}): Promise<RunResult & { stillRefused: number }> {
    let stillRefused = 0;
    const result = await this.recordedRun({}, async (run) => {
      let afterId = 0;
      for (;;) {
        const wanted = this.pageSize(options.limit, run.counts.read + stillRefused);
        if (wanted <= 0) break;
        const { rows: letters } = await this.options.db.query<{ id: string; raw: unknown }>(
          `SELECT id, raw FROM keel_sync_dead_letters
           WHERE sync_name = $1 AND redriven_at IS NULL AND id > $2 ORDER BY id LIMIT $3`,
          [this.options.syncName, afterId, wanted],
        );
        if (letters.length === 0) break;
        afterId = Number(letters.at(-1)?.id);
        const passing = letters.filter((letter) => checkListing(letter.raw).ok);
        stillRefused += letters.length - passing.length;
        if (passing.length === 0) continue;
        await this.writeCounted(
          run,
          passing.map((letter) => letter.raw),
          undefined,
          { requests: 0, failures: 0 },
        );
        await this.options.db.query(
          'UPDATE keel_sync_dead_letters SET redriven_at = now(), redriven_in_run = $2 WHERE id = ANY($1::bigint[])',
          [passing.map((letter) => letter.id), run.runId],
        );
      }
    });
    return { ...result, stillRefused };
  }

  /** Rows to ask for next: a batch, or what is left of `limit`. */
  private pageSize(limit: number | undefined, read: number): number {
    return limit === undefined ? this.options.batchSize : Math.min(this.options.batchSize, limit - read);
  }

  /** One read of the source (paced, retried, behind the breaker), its requests counted in the run. */
  private async read(
    run: ActiveRun,
    read: () => Promise<unknown[]>,
  ): Promise<{ rows: unknown[]; tally: { requests: number; failures: number } }> {
    if (run.signal?.aborted) throw new KeelError('SYNC_STOPPED', 'the run was interrupted');
    const tally = { requests: 0, failures: 0 };
    try {
      return { rows: await this.fetchWith(read, tally, run.signal), tally };
    } finally {
      run.counts.requests += tally.requests;
      run.counts.failures += tally.failures;
    }
  }

  /** Writes raw rows as one batch of the run and adds its counts. */
  private async writeCounted(
    run: ActiveRun,
    rows: unknown[],
    cursor: Cursor | undefined,
    tally: { requests: number; failures: number },
    skipped = 0,
    ownedShare = WHOLE_SHARE,
  ): Promise<void> {
    const batch: Batch = {
      runId: run.runId,
      checked: rows.map((raw) => ({ checked: checkListing(raw), raw })),
      cursor,
      ownedShare,
      cursorName: run.cursorName,
      ...tally,
      skipped,
    };
    addCounts(run.counts, await this.writeBatch(batch));
    run.counts.batches++;
  }

  /**
   * A run recorded in keel_sync_runs, under the sync's lock: `body` does the reading and writing;
   * a stop or failure it throws ends the run `stopped` or `failed` (in the result, not thrown).
   */
  private async recordedRun(
    options: Pick<RunOptions, 'signal'>,
    body: (run: ActiveRun) => Promise<void>,
    scope: RunScope = this.ownScope(),
  ): Promise<RunResult> {
    const { system } = this.options;
    const release = await this.options.db.lockSession(lockKey(scope.lockName));
    if (release === undefined) throw this.locked();
    try {
      await scope.claim?.();
    } catch (error) {
      await release();
      throw error;
    }
    this.running = true;
    const started = performance.now();
    let run: ActiveRun | undefined;
    const counts = emptyCounts();
    let status: RunStatus = 'completed';
    let error: RunResult['error'];
    let failure: unknown;
    try {
      await this.markCrashedRuns(scope.rangeKey);
      run = {
        runId: await this.startRun(scope.rangeKey),
        counts,
        cursor: undefined,
        cursorFrom: undefined,
        coveredShare: WHOLE_SHARE,
        signal: options.signal,
        cursorName: system,
        startAt: undefined,
        upper: undefined,
      };
      await body(run);
    } catch (caught) {
      failure = caught;
      status = isKeelError(caught, 'SYNC_STOPPED') ? 'stopped' : 'failed';
      error = describeError(caught);
      if (status === 'failed')
        this.options.log.error({ err: caught, runId: run?.runId }, `sync run failed: ${error.message}`);
      else this.options.log.warn({ runId: run?.runId }, `sync run stopped: ${error.message}`);
    } finally {
      if (run !== undefined) await this.finishRun(run.runId, status, counts, error).catch(() => {});
      await release();
      this.running = false;
    }
    if (run === undefined) throw failure;
    return {
      runId: run.runId,
      status,
      system,
      counts,
      cursor: run.cursor,
      cursorFrom: run.cursorFrom,
      durationMs: performance.now() - started,
      ...(error === undefined ? {} : { error }),
    };
  }

  private async dryRun(options: RunOptions): Promise<RunResult> {
    const started = performance.now();
    const cursorFrom = await this.storedCursor();
    const tally = new DryRunTally(this.options.db, this.options.table);
    const counts = emptyCounts();
    let cursor = cursorFrom;
    this.running = true;
    try {
      for (;;) {
        const wanted = this.pageSize(options.limit, counts.read);
        if (wanted <= 0) break;
        const requests = { requests: 0, failures: 0 };
        const after = cursor;
        const rows = await this.fetchWith(
          () => this.options.source.page(after, wanted, options.signal),
          requests,
          options.signal,
        );
        counts.requests += requests.requests;
        counts.failures += requests.failures;
        const batchCursor = lastPosition(rows);
        if (rows.length === 0 || batchCursor === undefined) break;
        addCounts(counts, await tally.add(rows));
        counts.batches++;
        cursor = batchCursor;
      }
    } finally {
      this.running = false;
    }
    return {
      runId: undefined,
      status: 'dry-run',
      system: this.options.system,
      counts,
      cursor,
      cursorFrom,
      durationMs: performance.now() - started,
      dryRun: tally.report(),
    };
  }

  /** One read, paced, retried and behind the breaker; counts its requests and failures in `tally`. */
  private async fetchWith(
    read: () => Promise<unknown[]>,
    tally: { requests: number; failures: number },
    signal: AbortSignal | undefined,
  ): Promise<unknown[]> {
    let backoff: IBackoff<IRetryBackoffContext<unknown>> | undefined;
    for (let attempt = 0; ; attempt++) {
      await this.rate.take(signal);
      tally.requests++;
      try {
        return await this.breaker.execute(read);
      } catch (error) {
        if (error instanceof BrokenCircuitError) {
          // Refused without a request: the circuit is open. Wait until it half-opens.
          tally.requests--;
          await sleep(this.untilHalfOpen(), undefined, { signal });
          continue;
        }
        if (!(error instanceof SourceError) || !error.transient || signal?.aborted) throw error;
        tally.failures++;
        backoff = (backoff ?? RETRY_BACKOFF).next({ attempt, result: { error }, signal: signal ?? NEVER });
        if (error.retryAfterMs !== undefined) this.rate.hold(error.retryAfterMs);
        const delay =
          this.breaker.state === CircuitState.Open
            ? this.untilHalfOpen()
            : (error.retryAfterMs ?? backoff.duration);
        this.options.log.warn(
          { attempt, delayMs: Math.round(delay), status: error.status },
          `${error.message}; retrying`,
        );
        await sleep(delay, undefined, { signal });
      }
    }
  }

  /** Time until the open circuit lets one request through. */
  private untilHalfOpen(): number {
    return Math.max(0, this.openedAt + this.options.breakerTimeoutMs - performance.now());
  }

  /** Writes a batch, again while the database is unreachable (the batch is one transaction). */
  private async writeBatch(batch: Batch): Promise<BatchCounts> {
    let backoff: IBackoff<IRetryBackoffContext<unknown>> | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.sink.write(batch);
      } catch (error) {
        if (isKeelError(error) || !isTransientWriteFailure(error) || attempt >= WRITE_ATTEMPTS) throw error;
        backoff = (backoff ?? RETRY_BACKOFF).next({
          attempt,
          result: { error: error as Error },
          signal: NEVER,
        });
        this.options.log.warn(
          { attempt, delayMs: Math.round(backoff.duration) },
          `writing a batch to ${this.options.db.address} failed (${(error as Error).message}); retrying`,
        );
        await sleep(backoff.duration);
      }
    }
  }

  /** Runs of the same lock left `running`: their runner died (it held the lock this one now has). */
  private async markCrashedRuns(rangeKey: string | undefined): Promise<void> {
    await this.options.db.query(
      `UPDATE keel_sync_runs SET status = 'crashed', finished_at = now(),
         error = 'the runner ended without finishing (killed, or its connection was lost)'
       WHERE sync_name = $1 AND system = $2 AND status = 'running' AND range_key IS NOT DISTINCT FROM $3`,
      [this.options.syncName, this.options.system, rangeKey ?? null],
    );
  }

  private async startRun(rangeKey: string | undefined): Promise<number> {
    const { rows } = await this.options.db.query<{ id: string }>(
      `INSERT INTO keel_sync_runs (sync_name, system, status, range_key) VALUES ($1, $2, 'running', $3) RETURNING id`,
      [this.options.syncName, this.options.system, rangeKey ?? null],
    );
    return Number(rows[0]?.id);
  }

  /** The scope of a run of the system's own cursor: the system's lock. */
  private ownScope(): RunScope {
    return { lockName: `${this.options.syncName}:${this.options.system}`, rangeKey: undefined };
  }

  private locked(): KeelError {
    const { syncName, system } = this.options;
    return new KeelError(
      'SYNC_LOCKED',
      `another runner of sync ${syncName} (system ${system}) is running; wait for it, or stop it with \`keel sync stop\``,
    );
  }

  /** Ends the run's record; its requests include those of a page that was never written. */
  private async finishRun(
    runId: number,
    status: RunStatus,
    counts: RunCounts,
    error: RunResult['error'],
  ): Promise<void> {
    await this.options.db.query(
      `UPDATE keel_sync_runs SET status = $2, finished_at = now(), error = $3,
         requests = greatest(requests, $4), failures = greatest(failures, $5)
       WHERE id = $1`,
      [
        runId,
        status,
        error === undefined ? null : `${error.code}: ${error.message}`,
        counts.requests,
        counts.failures,
      ],
    );
  }

  private async storedCursor(): Promise<Cursor | undefined> {
    const { rows } = await this.options.db.query<{ updated_at: string | null; id: string | null }>(
      'SELECT updated_at, id FROM keel_sync_cursors WHERE sync_name = $1 AND system = $2',
      [this.options.syncName, this.options.system],
    );
    return cursorOf(rows[0]);
  }
}

const RETRY_BACKOFF = new ExponentialBackoff({
  initialDelay: FIRST_RETRY_DELAY_MS,
  maxDelay: MAX_RETRY_DELAY_MS,
});
const NEVER = new AbortController().signal;

function emptyCounts(): RunCounts {
  return {
    read: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    deadLettered: 0,
    skipped: 0,
    batches: 0,
    requests: 0,
    failures: 0,
  };
}

function addCounts(total: RunCounts, batch: BatchCounts): void {
  total.read += batch.read;
  total.inserted += batch.inserted;
  total.updated += batch.updated;
  total.unchanged += batch.unchanged;
  total.deadLettered += batch.deadLettered;
  total.skipped += batch.skipped;
}

/** A raw row's keyset position, when it has a readable one. */
function positionOf(raw: unknown): Cursor | undefined {
  return lastPosition([raw]);
}

function samePosition(a: Cursor | undefined, b: Cursor | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.updatedAt === b.updatedAt && a.id === b.id;
}

/**
 * The keyset position of the page's last row that has one (a row without a readable updated_at
 * and id is still written or dead-lettered, but cannot be a position to resume from).
 */
function lastPosition(rows: unknown[]): Cursor | undefined {
  for (let i = rows.length - 1; i >= 0; i--) {
    const row = rows[i] as { updated_at?: unknown; id?: unknown } | null;
    if (
      typeof row?.updated_at === 'string' &&
      typeof row.id === 'number' &&
      !Number.isNaN(Date.parse(row.updated_at))
    )
      return { updatedAt: row.updated_at, id: row.id };
  }
  return undefined;
}

/** A failure the batch can be written again after: the database unreachable (no SQLSTATE, class 08 / 57P), a deadlock or serialization failure. */
function isTransientWriteFailure(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return /connect|terminated|timeout/i.test((error as Error).message ?? '');
  // Class 40: a deadlock or serialization failure rolled the batch back whole; writing it again is safe.
  return isConnectionState(code) || code.startsWith('40');
}

function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof KeelError) return { code: error.code, message: error.message };
  const code = (error as { code?: unknown }).code;
  return {
    code: typeof code === 'string' ? code : 'INTERNAL_ERROR',
    message: (error as Error).message ?? String(error),
  };
}

/**
 * `keel sync demo`: the property-listing migration of the deployment guide carried out by the
 * rollout controller, end to end in this process, with nothing installed and nothing to configure.
 *
 * An embedded PostgreSQL (PGlite) in a temporary folder holds the real table and the new system's
 * shadow table; the bundled sample origin serves 1,000 listings, a few of which change before each
 * cycle. Two systems sync them, one after the other, every cycle: `old` and `new`, sharing the
 * listings out by the `sync.rest` flag (engine.ts), the new one writing its shadow table and
 * verifying it while the flag is at 0 % (migration-run.ts). The built-in `sync-migration` plan,
 * with automatic gates, moves the flag 0 → 10 → 50 → 100 % under a clock running `speed` times
 * faster than real time, judged on the sync's own figures (guard-figures.ts). Each decision is
 * printed as the audit records it, each notification as a local webhook receives it.
 *
 * By default the new system regresses once the flag reaches 50 %: its source starts sending 15 %
 * of the listings with a negative price. They are dead-lettered, the new system's success rate
 * falls below 90 %, and the critical trigger rolls the flag back to 0 %. The old system's share
 * has grown back, so it reads the source again and rewrites what the new one failed to write. The
 * demo ends by comparing the table with the source: equal, nothing lost. With `regression: false`
 * the migration completes at 100 %.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pc from 'picocolors';
import pino from 'pino';
import {
  isInRollout,
  MemoryRolloutStore,
  type Plan,
  Rollout,
  type RolloutRecord,
  scaledClock,
  syncMigration,
} from '../rollout/index.js';
import { type ListingsOrigin, startListingsOrigin } from '../sample-origin/listings/index.js';
import { flagShares } from '../server/index.js';
import {
  countBySystem,
  embeddedDatabase,
  ensureSchema,
  type ListingSource,
  migrationRun,
  RestListingSource,
  SHADOW_OWNERSHIP,
  type SyncDatabase,
  SyncEngine,
  type SyncEngineOptions,
  SyncGuardFigures,
  SyncStateManager,
} from '../sync/index.js';
import { formatDuration } from '../util/duration.js';
import { watch } from './rollout-demo.js';
import { startWebhookReceiver } from './webhook-receiver.js';

export interface SyncDemoOptions {
  /** Whether the new system regresses at 50 % (default true). */
  regression: boolean;
  /** Plan time per real time. */
  speed: number;
  print: (line: string) => void;
}

export interface SyncDemoResult {
  status: RolloutRecord['status'];
  /** Listings of the source missing from the table, or differing, at the end. */
  differences: number;
  listings: number;
}

const FLAG = 'sync.rest';
const SYNC_NAME = 'property_listings';
const TABLE = 'property_listings';
const SHADOW_TABLE = 'property_listings_shadow';
const LISTINGS = 1_000;
/** Listings changed at the source before each cycle. */
const CHANGES_PER_CYCLE = 100;
/** Share (%) of listings the regressed source sends broken, and the weight it starts at. */
const BROKEN_SHARE = 15;
const REGRESSION_AT_WEIGHT = 50;
/** Real time between cycles, and the success rate's window (real time, a few cycles). */
const CYCLE_PAUSE_MS = 50;
const FIGURES_WINDOW_MS = 2_000;
/** Real milliseconds between the controller's evaluations. */
const TICK_MS = 100;
const silent = pino({ level: 'silent' });

/** Runs the demo to its end. */
export async function runSyncDemo(options: SyncDemoOptions): Promise<SyncDemoResult> {
  const { print } = options;
  const folder = mkdtempSync(join(tmpdir(), 'keel-sync-demo-'));
  const closers: (() => Promise<unknown>)[] = [async () => rmSync(folder, { recursive: true, force: true })];
  try {
    print(pc.dim('starting an embedded PostgreSQL and the sample listings API (a few seconds)…'));
    const db = await embeddedDatabase(folder);
    closers.unshift(() => db.close());
    await ensureSchema(db, TABLE, SYNC_NAME);
    await ensureSchema(db, SHADOW_TABLE, SYNC_NAME);
    const origin = await startListingsOrigin({ listings: LISTINGS });
    closers.unshift(() => origin.close());
    const receiver = await startWebhookReceiver((text) =>
      print(`${pc.magenta('   webhook')}  ${text.split('\n', 1)[0]}`),
    );
    closers.unshift(() => receiver.close());
    const rollout = await Rollout.open({
      store: new MemoryRolloutStore(),
      clock: scaledClock(options.speed),
      tickMs: TICK_MS,
      webhookUrl: receiver.url,
    });
    closers.unshift(() => rollout.close());
    const figures = new SyncGuardFigures(db, { syncName: SYNC_NAME, windowMs: FIGURES_WINDOW_MS });
    for (const [name, read] of figures.gauges()) rollout.gauges.register(name, read);

    const source = new RestListingSource({
      url: new URL(origin.restUrl),
      table: 'property_listings',
      headers: {},
      credentialSettings: [],
      maxPageBytes: 32 * 1024 * 1024,
    });
    const regressed = new RegressingSource(source);
    const systems = demoSystems(db, rollout, source, regressed);
    const plan = demoPlan();
    print(introduction(plan, options));
    const record = await rollout.actions.start(plan, 'operator:demo', `sync-migration-${Date.now()}`);

    let cycling = true;
    const cycles = (async () => {
      while (cycling) {
        changeSomeListings(origin);
        await systems.old.run();
        await systems.runNew();
        await figures.refresh();
        const weight = rollout.flags.weight(FLAG) ?? 0;
        if (options.regression && !regressed.broken && weight >= REGRESSION_AT_WEIGHT) {
          regressed.broken = true;
          print(
            pc.red(
              `           the new system regresses: its source now sends ${BROKEN_SHARE} % of the listings with a negative price`,
            ),
          );
        }
        await sleep(CYCLE_PAUSE_MS);
      }
    })();
    const status = await watch(record.id, rollout.store, print);
    cycling = false;
    await cycles;
    await rollout.notifier.idle();
    // One more run of each: the system whose share grew reads the source again.
    await systems.old.run();
    await systems.runNew();
    const differences = await differencesFromSource(db, origin);
    print(await conclusion(db, status, differences, receiver.received.length, options));
    return { status, differences, listings: LISTINGS };
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}

/** The old and the new system, sharing the listings out by the flag. */
function demoSystems(db: SyncDatabase, rollout: Rollout, source: ListingSource, newSource: ListingSource) {
  const [oldShares, newShares] = [flagShares(rollout, FLAG, 'old'), flagShares(rollout, FLAG, 'new')];
  const base: SyncEngineOptions = {
    db,
    source,
    syncName: SYNC_NAME,
    table: TABLE,
    system: 'old',
    batchSize: 100,
    rateLimit: 0,
    breakerThreshold: 5,
    breakerTimeoutMs: 1_000,
    log: silent,
  };
  const old = new SyncEngine({ ...base, ownership: oldShares.ownership });
  const fresh = { ...base, source: newSource, system: 'new' };
  const engine = new SyncEngine({ ...fresh, ownership: newShares.ownership });
  const shadowEngine = new SyncEngine({ ...fresh, table: SHADOW_TABLE, ownership: SHADOW_OWNERSHIP });
  const state = new SyncStateManager(db, { syncName: SYNC_NAME, system: 'new', engine });
  const parts = {
    db,
    state,
    log: silent,
    syncName: SYNC_NAME,
    table: TABLE,
    engine,
    shadow: { table: SHADOW_TABLE, engine: shadowEngine, isOn: newShares.shadowPhase },
  };
  return { old, runNew: () => migrationRun(parts) };
}

/** The built-in plan with automatic gates (the built-in waits for an operator at each phase). */
function demoPlan(): Plan {
  return syncMigration({ flag: FLAG, gate: 'auto' });
}

/** The new system's source: as the API sends it, or, once broken, a share of listings spoiled. */
class RegressingSource implements ListingSource {
  broken = false;
  readonly description: string;

  constructor(private readonly inner: ListingSource) {
    this.description = inner.description;
  }

  async page(...args: Parameters<ListingSource['page']>): Promise<unknown[]> {
    const rows = await this.inner.page(...args);
    return this.broken ? rows.map(spoiled) : rows;
  }

  async byKeys(keys: string[], signal?: AbortSignal): Promise<unknown[]> {
    const rows = await this.inner.byKeys(keys, signal);
    return this.broken ? rows.map(spoiled) : rows;
  }

  count(...args: Parameters<ListingSource['count']>): Promise<number> {
    return this.inner.count(...args);
  }

  positionAt(...args: Parameters<ListingSource['positionAt']>): ReturnType<ListingSource['positionAt']> {
    return this.inner.positionAt(...args);
  }

  validateAuth(): Promise<void> {
    return this.inner.validateAuth();
  }
}

function spoiled(row: unknown): unknown {
  const listing = row as { property_number: string; price: number };
  return isInRollout(listing.property_number, 'demo-regression', BROKEN_SHARE)
    ? { ...listing, price: -listing.price }
    : row;
}

function changeSomeListings(origin: ListingsOrigin): void {
  const all = origin.catalog.all();
  for (let n = 0; n < CHANGES_PER_CYCLE; n++) {
    const listing = all[Math.floor(Math.random() * all.length)];
    if (listing !== undefined)
      origin.catalog.update(listing.property_number, { price: listing.price + 10_000 });
  }
}

/** Listings of the source the table lacks or holds differently. */
async function differencesFromSource(db: SyncDatabase, origin: ListingsOrigin): Promise<number> {
  const { rows } = await db.query<{ property_number: string; price: string; source_updated_at: string }>(
    `SELECT property_number, price, source_updated_at FROM ${TABLE}`,
  );
  const stored = new Map(rows.map((row) => [row.property_number, row]));
  let differences = 0;
  for (const listing of origin.catalog.all()) {
    const row = stored.get(listing.property_number);
    if (
      row === undefined ||
      Number(row.price) !== listing.price ||
      row.source_updated_at !== listing.updated_at
    )
      differences++;
  }
  return differences;
}

function introduction(plan: Plan, options: SyncDemoOptions): string {
  const phases = plan.stages
    .map((stage) => `${Object.values(stage.switches)[0]} % for ${formatDuration(stage.minDurationMs)}`)
    .join(' → ');
  return [
    '',
    `${pc.bold('listings')}   ${LISTINGS} at the sample API, ${CHANGES_PER_CYCLE} changed before each cycle`,
    `${pc.bold('systems')}    old and new, sharing them out by flag ${FLAG}; at 0 % the new one writes ${SHADOW_TABLE} and verifies it`,
    `${pc.bold('plan')}       sync-migration, automatic gates: ${phases}; time runs ${options.speed}× faster`,
    `${pc.bold('regression')} ${options.regression ? `at ${REGRESSION_AT_WEIGHT} %, the new system's source sends ${BROKEN_SHARE} % of listings broken` : 'none (--no-regression)'}`,
    '',
  ].join('\n');
}

async function conclusion(
  db: SyncDatabase,
  status: RolloutRecord['status'],
  differences: number,
  notifications: number,
  options: SyncDemoOptions,
): Promise<string> {
  const bySystem = (await countBySystem(db, TABLE))
    .map((entry) => `${entry.system} ${entry.lastChanged}`)
    .join(', ');
  const table =
    differences === 0
      ? pc.green(`${TABLE} equals the source: ${LISTINGS} listings, none missing or stale`)
      : pc.red(`${TABLE} differs from the source in ${differences} listings`);
  return [
    '',
    `${pc.bold(`the migration ended ${status}`)}; ${notifications} notifications reached the webhook.`,
    `${table} (last written by: ${bySystem}).`,
    options.regression
      ? 'Run it again with --no-regression to see the migration complete.'
      : 'Run it again without --no-regression to see a regression rolled back.',
  ].join('\n');
}

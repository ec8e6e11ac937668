/**
 * `keel sync …`: the property-listing sync's commands (docs/sync.md), each a thin shell over
 * src/sync:
 *
 *   run [--dry-run] [--limit N] [--json]   one run; exit 0 completed, 1 failed, 3 stopped
 *   status [--json]                        SyncStateManager.getCurrentState() and getMetrics()
 *   history [--limit N] [--json]           the latest runs
 *   stop --reason R [--by NAME]            SyncStateManager.setEmergencyStop(true)
 *   resume [--by NAME]                     setEmergencyStop(false)
 *   dead-letters [--limit N] [--redrive]   rows that could not be written, and why; re-drive them
 *   validate-auth                          whether the REST API accepts the credentials
 *   serve                                  the sync every MONITORING_INTERVAL, with its endpoints
 *                                          (server/sync-service.ts)
 *   verify [--against T] [--resync]        duplicates, counts by system, state, differences with
 *                                          another table; exit 0 clean, 1 not
 *   dedupe [--dry-run]                     keep the newest row of each property number
 *   backup [--backup-dir D]                pg_dump of the sync's tables, gzipped
 *   rollback [--dry-run] [--verbose]       undo a system's runs (sync/rollback.ts)
 *
 * Every command takes the sync's settings as flags or variables (SUPABASE_*, SYNC_*, DATABASE_URL,
 * DB_POOL_*…, `keel sync run --help` lists them). Logs go to stderr, results to stdout.
 */
import type { Command } from 'commander';
import pc from 'picocolors';
import pino, { type Logger } from 'pino';
import { ConfigError } from '../errors.js';
import { runSyncDemo } from '../operations/sync-demo.js';
import { gatewayLog, openSyncWithRollout, startSyncService } from '../server/index.js';
import {
  backupSync,
  cancelSplit,
  loadSyncConfig,
  type OpenSync,
  type RunRecord,
  type RunResult,
  removeDuplicates,
  rollbackSync,
  SYNC_SETTINGS,
  type SyncConfig,
  type SyncSettingName,
  type VerifyReport,
  verifySync,
} from '../sync/index.js';
import { addSettingFlags, settingFlags } from './serve.js';

const SYNC_SETTING_NAMES = Object.keys(SYNC_SETTINGS) as SyncSettingName[];
/** Exit code of a run the emergency stop (or an interruption) stopped. */
const EXIT_STOPPED = 3;
const DEFAULT_LIST = 20;
const DEFAULT_BACKUP_DIR = 'backups';
/** The demo's plan time per real time: the guide's 20 days of phases in about 35 s. */
const DEMO_SPEED = 50_000;

type Options = Record<string, unknown>;

/** Opens the sync from the environment and the command's flags, runs `work`, closes it. */
async function withSync<T>(options: Options, work: (sync: OpenSync, log: Logger) => Promise<T>): Promise<T> {
  const config = loadSyncConfig(process.env, settingFlags(options, SYNC_SETTING_NAMES, SYNC_SETTINGS));
  const log = commandLog(config);
  const sync = await openSyncWithRollout(config, log);
  try {
    return await work(sync, log);
  } finally {
    await sync.close();
    log.flush();
  }
}

/**
 * A command's log: JSON lines on stderr (stdout carries its result), and appended to LOG_FILE_PATH
 * when set, so `tail -f` on that file follows a rollback as the guide's procedure does.
 */
function commandLog(config: SyncConfig): Logger {
  const streams: pino.StreamEntry[] = [{ stream: pino.destination(2) }];
  if (config.logFile !== undefined)
    streams.push({
      stream: pino.destination({ dest: config.logFile, append: true, mkdir: true, sync: true }),
    });
  return pino(
    {
      level: config.logLevel,
      base: undefined,
      redact: { paths: ['headers.apikey', 'headers.Authorization'], censor: '***' },
    },
    pino.multistream(streams),
  );
}

function syncSubcommand(sync: Command, name: string, description: string): Command {
  return addSettingFlags(sync.command(name).description(description), SYNC_SETTING_NAMES, SYNC_SETTINGS);
}

export function syncCommand(program: Command): Command {
  const sync = program
    .command('sync')
    .description('the property-listing sync: REST (PostgREST / Supabase) → PostgreSQL, resumable');

  syncSubcommand(sync, 'run', 'run the sync once: from its cursor until the source has nothing newer')
    .option('--dry-run', 'report what the run would write, and write nothing')
    .option('--limit <rows>', 'read at most this many rows')
    .option('--json', 'print the result as JSON')
    .action(async (options: Options) => {
      const limit = options.limit === undefined ? undefined : positiveCount(String(options.limit), '--limit');
      const result = await withSync(options, (open) =>
        open.runOnce({
          limit,
          dryRun: options.dryRun === true,
          signal: interruptSignal(),
          onBatch:
            options.json === true
              ? undefined
              : (progress) => process.stderr.write(pc.dim(`  … ${progress.counts.read} rows read\n`)),
        }),
      );
      console.log(options.json === true ? JSON.stringify(result, null, 2) : runSummary(result));
      process.exitCode = result.status === 'failed' ? 1 : result.status === 'stopped' ? EXIT_STOPPED : 0;
    });

  syncSubcommand(sync, 'status', 'the sync’s state (cursors, emergency stop, latest run) and metrics')
    .option('--json', 'print JSON')
    .action(async (options: Options) => {
      const { state, metrics } = await withSync(options, async (open) => ({
        state: await open.state.getCurrentState(),
        metrics: await open.state.getMetrics(),
      }));
      if (options.json === true) return console.log(JSON.stringify({ ...state, metrics }, null, 2));
      const stop = state.emergencyStop;
      console.log(`sync ${state.syncName} (system ${state.system}): ${state.state}`);
      console.log(
        `  emergency stop: ${stop.set ? pc.red(`SET by ${stop.by} (${stop.reason ?? 'no reason'}) at ${stop.changedAt}`) : 'clear'}`,
      );
      for (const cursor of state.cursors)
        console.log(
          `  cursor of ${cursor.system}: ${cursor.cursor === null ? 'at the start' : `${cursor.cursor.updatedAt} #${cursor.cursor.id}`}`,
        );
      if (state.lastRun !== null) console.log(`  latest run: ${runLine(state.lastRun)}`);
      console.log(`  open dead letters: ${state.openDeadLetters}`);
      if (state.split !== null)
        console.log(
          `  split ${state.split.id} open: ${state.split.done} of ${state.split.ranges} ranges done`,
        );
      console.log(
        `  last hour: ${metrics.windowRuns} runs, ${metrics.rowsRead} rows read, success rate ${(100 * metrics.successRate).toFixed(2)} %, ${metrics.failedRequests} failed requests`,
      );
      if (metrics.msPer1000Rows !== null)
        console.log(`  time per 1,000 rows (latest run): ${(metrics.msPer1000Rows / 1000).toFixed(2)} s`);
    });

  syncSubcommand(
    sync,
    'split',
    'split the listings after the cursor into key ranges for `keel sync work` workers',
  )
    .option('--ranges <n>', 'how many ranges', '4')
    .option('--cancel', 'abandon the open split (its rows stay; the next run reads them again)')
    .action(async (options: Options) => {
      const ranges = positiveCount(String(options.ranges), '--ranges');
      await withSync(options, async (open) => {
        const { db, config } = open;
        if (options.cancel === true) {
          const cancelled = await cancelSplit(db, config.name, config.system);
          return console.log(cancelled ? 'split cancelled' : 'no split open');
        }
        const split = await open.engine.split(ranges, interruptSignal());
        if (split === undefined) return console.log('nothing after the cursor: no split');
        console.log(
          `split ${split.id}: ${split.ranges.length} ranges; run \`keel sync work\` on each worker`,
        );
        for (const range of split.ranges)
          console.log(
            `  ${range.rangeNo}. after ${range.lower === undefined ? 'the beginning' : positionText(range.lower)} to ${positionText(range.upper)}`,
          );
      });
    });

  syncSubcommand(sync, 'work', 'a worker of the open split: runs the ranges no other worker holds')
    .option('--json', 'print the results as JSON')
    .action(async (options: Options) => {
      const { results, closed } = await withSync(options, (open) =>
        open.engine.work({ signal: interruptSignal() }),
      );
      if (options.json === true) console.log(JSON.stringify({ results, closed }, null, 2));
      else {
        console.log(
          results.length === 0 ? 'no range left to this worker' : results.map(runSummary).join('\n'),
        );
        if (closed) console.log('every range done: the split is closed and the cursor at its end');
      }
      const last = results.at(-1);
      process.exitCode = last?.status === 'failed' ? 1 : last?.status === 'stopped' ? EXIT_STOPPED : 0;
    });

  syncSubcommand(sync, 'history', 'the latest runs, newest first')
    .option('--limit <runs>', 'how many', String(DEFAULT_LIST))
    .option('--json', 'print JSON')
    .action(async (options: Options) => {
      const runs = await withSync(options, (open) =>
        open.state.history(positiveCount(String(options.limit), '--limit')),
      );
      console.log(
        options.json === true ? JSON.stringify(runs, null, 2) : runs.map(runLine).join('\n') || 'no runs yet',
      );
    });

  syncSubcommand(sync, 'stop', 'set the emergency stop: every runner stops before its next write')
    .requiredOption('--reason <text>', 'why (kept with the stop, shown by status)')
    .option('--by <name>', 'who', process.env.USER ?? 'operator')
    .action(async (options: Options) => {
      const stop = await withSync(options, (open) =>
        open.state.setEmergencyStop(true, { by: String(options.by), reason: String(options.reason) }),
      );
      console.log(
        `emergency stop set by ${stop.by} at ${stop.changedAt}: no sync batch commits until \`keel sync resume\``,
      );
    });

  syncSubcommand(sync, 'resume', 'clear the emergency stop')
    .option('--by <name>', 'who', process.env.USER ?? 'operator')
    .action(async (options: Options) => {
      const stop = await withSync(options, (open) =>
        open.state.setEmergencyStop(false, { by: String(options.by) }),
      );
      console.log(`emergency stop cleared by ${stop.by} at ${stop.changedAt}`);
    });

  syncSubcommand(sync, 'dead-letters', 'rows that could not be written, with the reason and the row as read')
    .option('--limit <rows>', 'how many (newest first)', String(DEFAULT_LIST))
    .option('--redrive', 'check the open dead letters again and write those that pass now')
    .option('--json', 'print JSON')
    .action(async (options: Options) => {
      const limit = positiveCount(String(options.limit), '--limit');
      if (options.redrive === true) {
        const result = await withSync(options, (open) => open.engine.redrive());
        console.log(
          options.json === true
            ? JSON.stringify(result, null, 2)
            : `re-drove ${result.counts.read} dead letters: ${result.counts.inserted} inserted, ${result.counts.updated} updated, ` +
                `${result.counts.unchanged} unchanged, ${result.counts.deadLettered} refused again by the database; ${result.stillRefused} still fail the checks`,
        );
        process.exitCode = result.status === 'completed' ? 0 : 1;
        return;
      }
      const letters = await withSync(options, async (open) => {
        const { rows } = await open.db.query<Record<string, unknown>>(
          `SELECT id, run_id, key, reason, raw, created_at FROM keel_sync_dead_letters
           WHERE sync_name = $1 AND redriven_at IS NULL ORDER BY id DESC LIMIT $2`,
          [open.config.name, limit],
        );
        return rows;
      });
      if (options.json === true) return console.log(JSON.stringify(letters, null, 2));
      if (letters.length === 0) return console.log('no open dead letters');
      for (const letter of letters)
        console.log(`#${letter.id} run ${letter.run_id} ${letter.key}: ${letter.reason}`);
    });

  syncSubcommand(sync, 'validate-auth', 'check that the REST API accepts the configured credentials').action(
    async (options: Options) => {
      await withSync(options, async (open) => {
        await open.engine.validateAuth();
        console.log(`${open.engine.sourceDescription}: credentials accepted`);
      });
    },
  );

  sync
    .command('demo')
    .description(
      'the migration from the old system to the new one, carried out by the rollout controller on embedded defaults',
    )
    .option('--no-regression', 'let the new system behave: the migration completes')
    .option('--speed <n>', 'how many times faster than real time the plan runs', String(DEMO_SPEED))
    .action(async (options: { regression: boolean; speed: string }) => {
      const speed = Number(options.speed);
      if (!Number.isFinite(speed) || speed < 1)
        throw new ConfigError('--speed', `expected a number of at least 1 (got "${options.speed}")`);
      const result = await runSyncDemo({
        regression: options.regression,
        speed,
        print: (line) => console.log(line),
      });
      process.exitCode = result.differences === 0 ? 0 : 1;
    });

  syncSubcommand(
    sync,
    'serve',
    'run the sync every MONITORING_INTERVAL and serve its health, status and metrics',
  ).action(async (options: Options) => {
    const config = loadSyncConfig(process.env, settingFlags(options, SYNC_SETTING_NAMES, SYNC_SETTINGS));
    const log = gatewayLog(
      config.logLevel,
      config.logFile === undefined ? undefined : { path: config.logFile, setting: 'LOG_FILE_PATH' },
    );
    const open = await openSyncWithRollout(config, log.logger, { controller: true });
    const service = await startSyncService(open, log.logger, open.rollout);
    console.log(
      `keel sync serve: ${service.url}/api/property-listings/sync/status (system ${config.system}), a run every ${config.monitoringInterval / 1000} s`,
    );
    const shutdown = async () => {
      await service.close();
      await open.close();
      log.close();
      process.exit(0);
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });

  syncSubcommand(
    sync,
    'verify',
    'duplicates, rows by system, the sync state and (with --against) the rows that differ',
  )
    .option(
      '--against <table>',
      'the table the sync table should match (the old system’s, or a shadow run’s)',
    )
    .option('--resync', 'read the listings that differ again from the source and write them')
    .option('--report-dir <folder>', 'where the timestamped report is written', 'reports')
    .option('--json', 'print the report as JSON')
    .action(async (options: Options) => {
      const report = await withSync(options, async (open) => {
        const verified = await verifySync(open.db, open.state, {
          table: open.config.table,
          syncName: open.config.name,
          against: options.against === undefined ? undefined : String(options.against),
          reportDir: String(options.reportDir),
        });
        if (options.resync !== true || verified.comparison === undefined || verified.clean) return verified;
        const keys = verified.comparison.differences.map((difference) => difference.key);
        const resynced = await open.engine.resync(keys);
        console.error(
          `re-synced ${keys.length} listings: ${resynced.counts.inserted} inserted, ${resynced.counts.updated} updated; not in the source: ${resynced.notInSource.length}`,
        );
        return verified;
      });
      console.log(options.json === true ? JSON.stringify(report, null, 2) : verifySummary(report));
      process.exitCode = report.clean ? 0 : 1;
    });

  syncSubcommand(sync, 'dedupe', 'keep the newest row of each property number, delete the others')
    .option('--dry-run', 'count them and delete nothing')
    .action(async (options: Options) => {
      const removed = await withSync(options, (open) =>
        removeDuplicates(open.db, open.config.table, options.dryRun === true),
      );
      console.log(`${options.dryRun === true ? 'would delete' : 'deleted'} ${removed} duplicate rows`);
    });

  syncSubcommand(sync, 'backup', 'pg_dump the listings table and the sync’s tables, gzipped')
    .option('--backup-dir <folder>', 'where to write it', DEFAULT_BACKUP_DIR)
    .action(async (options: Options) => {
      const config = loadSyncConfig(process.env, settingFlags(options, SYNC_SETTING_NAMES, SYNC_SETTINGS));
      if (config.databaseUrl === undefined)
        throw new Error(
          'keel sync backup needs DATABASE_URL (the embedded database: copy its KEEL_SYNC_DATA_DIR instead)',
        );
      const file = await backupSync({
        databaseUrl: config.databaseUrl,
        table: config.table,
        folder: String(options.backupDir),
      });
      console.log(`backup written: ${file}`);
    });

  syncSubcommand(
    sync,
    'rollback',
    'undo what a system (new) wrote, hand the listings back to the other (old)',
  )
    .option('--dry-run', 'report what it would do and change nothing')
    .option('--verbose', 'print each step')
    .option('--since <time>', 'undo only the runs started at or after this ISO time')
    .option('--undo <system>', 'the system whose work is undone', 'new')
    .option('--restore <system>', 'the system that takes over again', 'old')
    .option('--backup-dir <folder>', 'where a backup younger than 24 h must be', DEFAULT_BACKUP_DIR)
    .option('--no-backup-check', 'go on without a recent backup')
    .action(async (options: Options) => {
      const since = options.since === undefined ? undefined : new Date(String(options.since));
      if (since !== undefined && Number.isNaN(since.getTime()))
        throw new Error(`--since must be an ISO time, got "${String(options.since)}"`);
      const report = await withSync(options, (open, log) =>
        rollbackSync(open.db, {
          table: open.config.table,
          syncName: open.config.name,
          system: String(options.undo),
          restore: String(options.restore),
          since,
          dryRun: options.dryRun === true,
          backupDir: options.backupCheck === false ? undefined : String(options.backupDir),
          step: (message) => {
            log.info({ step: 'rollback' }, message);
            if (options.verbose === true) console.log(pc.dim(`  ${message}`));
          },
        }),
      );
      console.log(
        `${report.dryRun ? 'dry run: would delete' : 'rolled back: deleted'} ${report.rowsDeleted} rows of ${report.runsUndone} runs; ` +
          `${report.rowsLeftForResync} rows left for ${String(options.restore)} to rewrite; ${report.duplicates} duplicates`,
      );
    });

  return sync;
}

function verifySummary(report: VerifyReport): string {
  const lines = [
    `${report.clean ? pc.green('clean') : pc.red('NOT clean')}: ${report.table}, ${report.rows} rows`,
  ];
  lines.push(`  duplicates by property_number: ${report.duplicates.length}`);
  for (const entry of report.bySystem)
    lines.push(`  system ${entry.system}: created ${entry.created}, changed last ${entry.lastChanged}`);
  const comparison = report.comparison;
  if (comparison !== undefined) {
    lines.push(
      `  against ${comparison.against} (${comparison.againstRows} rows): ${comparison.missing} missing, ${comparison.extra} extra, ${comparison.changed} changed, match rate ${(100 * comparison.matchRate).toFixed(2)} %${comparison.truncated ? ' (stopped at the first 1,000)' : ''} in ${(comparison.durationMs / 1000).toFixed(2)} s`,
    );
    for (const difference of comparison.differences.slice(0, 10))
      lines.push(
        `    ${difference.kind} ${difference.key}${
          difference.columns === undefined
            ? ''
            : `: ${Object.entries(difference.columns)
                .map(([column, [from, to]]) => `${column} ${String(from)} → ${String(to)}`)
                .join(', ')}`
        }`,
      );
  }
  if (report.file !== undefined) lines.push(`  report: ${report.file}`);
  return lines.join('\n');
}

function positiveCount(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) === 0)
    throw new Error(`${flag} must be a whole number from 1, got "${text}"`);
  return Number(text);
}

/** Aborted by the first SIGINT or SIGTERM: the run stops after its batch in flight. */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => {
    process.stderr.write(pc.yellow('keel: stopping after the batch in flight…\n'));
    controller.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return controller.signal;
}

function positionText(cursor: { updatedAt: string; id: number }): string {
  return `${cursor.updatedAt} #${cursor.id}`;
}

function runSummary(result: RunResult): string {
  const { counts } = result;
  const head =
    result.status === 'dry-run'
      ? `dry run of system ${result.system}: nothing written`
      : `run ${result.runId} of system ${result.system}: ${result.status === 'completed' ? pc.green('completed') : pc.red(result.status)}`;
  const lines = [`${head} in ${(result.durationMs / 1000).toFixed(2)} s`];
  if (result.dryRun !== undefined) {
    const report = result.dryRun;
    lines.push(
      `  would insert ${report.wouldInsert} · would update ${report.wouldUpdate} · unchanged ${report.unchanged} · would dead-letter ${report.wouldDeadLetter}`,
    );
    for (const example of report.examples.update)
      lines.push(
        `    update ${example.key}: ${Object.entries(example.changes ?? {})
          .map(([column, [from, to]]) => `${column} ${String(from)} → ${String(to)}`)
          .join(', ')}`,
      );
    for (const example of report.examples.insert) lines.push(`    insert ${example.key}`);
    for (const example of report.examples.deadLetter)
      lines.push(`    dead-letter ${example.key}: ${example.reason}`);
  } else {
    lines.push(
      `  read ${counts.read} · inserted ${counts.inserted} · updated ${counts.updated} · unchanged ${counts.unchanged} · dead-lettered ${counts.deadLettered}`,
    );
  }
  lines.push(
    `  ${counts.requests} requests (${counts.failures} failed and retried), ${counts.batches} batches; cursor ${result.cursor === undefined ? 'at the start' : `${result.cursor.updatedAt} #${result.cursor.id}`}`,
  );
  if (result.error !== undefined) lines.push(pc.red(`  ${result.error.code}: ${result.error.message}`));
  return lines.join('\n');
}

function runLine(run: RunRecord): string {
  const took = run.durationMs === null ? 'running' : `${(run.durationMs / 1000).toFixed(2)} s`;
  return `#${run.id} ${run.system} ${run.status} ${run.startedAt} (${took}): read ${run.rowsRead}, +${run.inserted} ~${run.updated} =${run.unchanged} ✗${run.deadLettered}${run.error === null ? '' : ` — ${run.error}`}`;
}

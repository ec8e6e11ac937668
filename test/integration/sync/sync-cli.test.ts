/**
 * `keel sync` as an operator runs it: a process of its own, configured by the deployment guide's
 * variables, against the real PostgreSQL and the sample listings origin; and killed with SIGKILL
 * at random moments of a run, which must leave the table equal to the source in the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { differences, type SyncUnderTest, syncUnderTest } from './support.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const KEEL = join(ROOT, 'src', 'cli', 'keel.ts');

let sync: SyncUnderTest | undefined;
afterEach(async () => {
  await sync?.close();
  sync = undefined;
});

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Started {
  child: ChildProcess;
  finished: Promise<Finished>;
  /** Resolves when the run has written its first batch (its progress line on stderr). */
  writing: Promise<void>;
}

function keelSync(args: string[], env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', KEEL, 'sync', ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
  });
  let stdout = '';
  let stderr = '';
  let wrote: () => void = () => {};
  const writing = new Promise<void>((resolve) => {
    wrote = resolve;
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (/rows read/.test(stderr)) wrote();
  });
  const finished = new Promise<Finished>((resolve) =>
    child.once('exit', (code, signal) => {
      wrote();
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, finished, writing };
}

async function settingsOf(test: SyncUnderTest): Promise<Record<string, string>> {
  const { databaseUrl } = await import('../../support/postgres.js');
  return {
    DATABASE_URL: await databaseUrl(),
    SUPABASE_REST_URL: test.origin.restUrl,
    SUPABASE_REST_HEADERS_APIKEY: 'sample-key',
    KEEL_SYNC_TABLE: test.table,
    KEEL_SYNC_NAME: test.syncName,
    DB_POOL_MIN: '0',
  };
}

describe('keel sync', () => {
  it('runs, reports, stops on the emergency stop and resumes', async () => {
    sync = await syncUnderTest({ origin: { listings: 300 } });
    const env = await settingsOf(sync);
    const dry = await keelSync(['run', '--dry-run', '--limit', '50'], env).finished;
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/dry run of system new: nothing written/);
    expect(dry.stdout).toMatch(/would insert 50 · would update 0/);

    const run = await keelSync(['run', '--json'], { ...env, SYNC_RATE_LIMIT_PER_SECOND: '0' }).finished;
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      status: 'completed',
      counts: { read: 300, inserted: 300 },
    });
    expect(await differences(sync)).toEqual([]);

    const stop = await keelSync(['stop', '--reason', 'drill', '--by', 'ops'], env).finished;
    expect(stop.stdout).toMatch(/emergency stop set by ops/);
    sync.origin.catalog.add(10);
    const stopped = await keelSync(['run'], env).finished;
    expect(stopped.code).toBe(3);
    expect(stopped.stdout).toMatch(/SYNC_STOPPED.*drill/);
    const status = JSON.parse((await keelSync(['status', '--json'], env).finished).stdout);
    expect(status.emergencyStop).toMatchObject({ set: true, by: 'ops', reason: 'drill' });
    expect(status.lastRun.status).toBe('stopped');

    await keelSync(['resume'], env).finished;
    const resumed = await keelSync(['run', '--json'], env).finished;
    expect(JSON.parse(resumed.stdout).counts).toMatchObject({ read: 10, inserted: 10 });
    const history = await keelSync(['history'], env).finished;
    expect(history.stdout.split('\n').filter((line) => line.startsWith('#'))).toHaveLength(3);

    // A rollback's steps go to LOG_FILE_PATH too, for `tail -f` as the guide follows one.
    const logFile = join(mkdtempSync(join(tmpdir(), 'keel-sync-log-')), 'logs', 'rollback.log');
    const rollback = await keelSync(['rollback', '--dry-run', '--no-backup-check'], {
      ...env,
      LOG_FILE_PATH: logFile,
      LOG_LEVEL: 'info',
    }).finished;
    expect(rollback.code).toBe(0);
    expect(rollback.stdout).toMatch(/dry run: would delete 310 rows of 3 runs/);
    const logged = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).msg);
    expect(logged).toContain('backup check skipped');
    expect(logged.some((message: string) => /310 rows created by it to delete/.test(message))).toBe(true);
    rmSync(dirname(dirname(logFile)), { recursive: true, force: true });
  });

  it('names the setting of a bad value and exits 2', async () => {
    const bad = await keelSync(['run'], { SYNC_BATCH_SIZE: 'lots' }).finished;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/SYNC_BATCH_SIZE: expected a whole number from 1 to 10000 \(got "lots"\)/);
  });

  it('stops at a refused key, naming the setting to check', async () => {
    sync = await syncUnderTest({ origin: { listings: 10, auth: { keys: ['right-key'] } } });
    const env = { ...(await settingsOf(sync)), SUPABASE_REST_HEADERS_APIKEY: 'wrong-key' };
    const auth = await keelSync(['validate-auth'], env).finished;
    expect(auth.code).toBe(1);
    expect(auth.stderr).toMatch(/401.*check SUPABASE_REST_HEADERS_APIKEY/);
    const run = await keelSync(['run'], env).finished;
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/SYNC_AUTH_FAILED/);
  });

  it('loses and duplicates nothing when the runner is killed at random moments', async () => {
    const listings = 30_000;
    sync = await syncUnderTest({ origin: { listings } });
    const env = { ...(await settingsOf(sync)), SYNC_RATE_LIMIT_PER_SECOND: '0', SYNC_BATCH_SIZE: '200' };
    const kills = 5;
    for (let kill = 0; kill < kills; kill++) {
      const { child, finished, writing } = keelSync(['run'], env);
      // Once batches are being written, at a different moment each time.
      await writing;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
      child.kill('SIGKILL');
      const ended = await finished;
      if (ended.signal !== 'SIGKILL') break;
      // Changes between runs: a resumed run must read them too.
      const some = sync.origin.catalog.all()[kill * 10] as { property_number: string };
      sync.origin.catalog.update(some.property_number, { price: 1_000 * (kill + 1) });
    }
    const last = await keelSync(['run', '--json'], env).finished;
    expect(last.code).toBe(0);
    expect(await differences(sync)).toEqual([]);
    const { rows } = await sync.db.query<{ n: string; inserted: string; crashed: string }>(
      `SELECT (SELECT count(*) FROM ${sync.table}) AS n,
              (SELECT sum(inserted) FROM keel_sync_runs WHERE sync_name = $1) AS inserted,
              (SELECT count(*) FROM keel_sync_runs WHERE sync_name = $1 AND status = 'crashed') AS crashed`,
      [sync.syncName],
    );
    expect(Number(rows[0]?.n)).toBe(listings);
    // Each batch's counts commit with its rows: over every run, killed or not, exactly one insert per listing.
    expect(Number(rows[0]?.inserted)).toBe(listings);
    expect(Number(rows[0]?.crashed)).toBeGreaterThan(0);
  }, 60_000);

  it('splits a run into key ranges that worker processes share', async () => {
    sync = await syncUnderTest({ origin: { listings: 3_000 } });
    const env = { ...(await settingsOf(sync)), SYNC_RATE_LIMIT_PER_SECOND: '0' };
    const split = await keelSync(['split', '--ranges', '6'], env).finished;
    expect(split.stdout).toMatch(/split \d+: 6 ranges/);
    const workers = await Promise.all([1, 2, 3].map(() => keelSync(['work', '--json'], env).finished));
    const logs = workers.map((worker) => `${worker.stdout}\n${worker.stderr}`).join('\n---\n');
    expect(
      workers.map((worker) => worker.code),
      logs,
    ).toEqual([0, 0, 0]);
    const outcomes = workers.map(
      (worker) =>
        JSON.parse(worker.stdout) as { results: { counts: { inserted: number } }[]; closed: boolean },
    );
    expect(outcomes.flatMap((outcome) => outcome.results).length, logs).toBe(6);
    expect(outcomes.filter((outcome) => outcome.closed).length, logs).toBe(1);
    expect(
      outcomes.flatMap((outcome) => outcome.results).reduce((sum, result) => sum + result.counts.inserted, 0),
    ).toBe(3_000);
    expect(await differences(sync)).toEqual([]);
  }, 60_000);
});

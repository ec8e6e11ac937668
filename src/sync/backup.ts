/**
 * `keel sync backup`: the deployment guide's `pg_dump … > /var/backups/postgresql/property-sync-
 * <time>.sql`, gzipped: the listings table and the sync's own tables of DATABASE_URL, written to
 * `property-sync-<time>.sql.gz` in the backup folder (what `keel sync rollback` looks for). Needs
 * pg_dump (Debian: postgresql-client) of the server's major version or newer; the embedded
 * database has none to offer (copy its data folder instead).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { KeelError } from '../errors.js';
import { SYNC_TABLES } from './schema.js';

export interface BackupOptions {
  databaseUrl: URL;
  table: string;
  folder: string;
  /** The pg_dump program (default: pg_dump on PATH). */
  pgDump?: string;
}

/** Writes the backup; its path. */
export async function backupSync(options: BackupOptions): Promise<string> {
  mkdirSync(options.folder, { recursive: true });
  const file = join(options.folder, `property-sync-${new Date().toISOString().replace(/[:.]/g, '-')}.sql.gz`);
  const tables = [options.table, ...SYNC_TABLES].flatMap((table) => ['--table', table]);
  const dump = spawn(
    options.pgDump ?? 'pg_dump',
    ['--no-owner', ...tables, '--dbname', options.databaseUrl.href],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  dump.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    dump.once('error', reject);
    dump.once('close', resolve);
  });
  try {
    await pipeline(dump.stdout, createGzip(), createWriteStream(file));
    const code = await exited;
    if (code !== 0) throw new Error(stderr.trim() || `pg_dump exited with code ${code}`);
  } catch (error) {
    rmSync(file, { force: true });
    const missing = (error as { code?: string }).code === 'ENOENT';
    throw new KeelError(
      'STORE_UNAVAILABLE',
      missing
        ? 'pg_dump is not installed: apt-get install postgresql-client'
        : `pg_dump failed: ${(error as Error).message.replace(/\/\/[^@/]*@/g, '//***@')}`,
      { cause: error },
    );
  }
  return file;
}

/**
 * A run split into key ranges, for several workers (processes or machines) to share: what
 * `keel sync split --ranges N` records and `keel sync work` carries out (engine.ts). A first sync of
 * millions of listings is bound by one runner's pace; split, each worker takes a range and finishes
 * it on its own.
 *
 * The split covers the listings between the system's cursor and the source's last listing at the
 * moment of the split, cut into ranges of about equal counts in keyset order (updated_at, id). Each
 * range has a cursor of its own in keel_sync_cursors (named `<system>/split-<id>/<n>`), moved in
 * each batch's transaction as the system's own is, so a worker killed at any moment leaves whole
 * batches and the range's next worker goes on from there. A worker holds its range by a session
 * advisory lock (a dead worker's lock goes with its connection), so no two write one range.
 *
 * Listings changed during the split get an `updated_at` after its end: the ranges leave them to
 * the system's own cursor. When every range is done, the last worker moves that cursor to the
 * split's end, with the smallest share owned by any range (engine.ts), removes the ranges' cursors
 * and closes the split, in one transaction. The next plain run reads what changed meanwhile.
 * While a split is open, a plain run of the system is refused: it would move the cursor past
 * ranges not written yet. `cancelSplit` abandons one; its rows stay, and the cursor, unmoved, has
 * the next run read them again.
 */
import { KeelError } from '../errors.js';
import type { Queryable, SyncDatabase } from './database.js';
import type { Cursor } from './pg-sink.js';
import { WHOLE_SHARE } from './pg-sink.js';

export interface KeyRange {
  splitId: number;
  rangeNo: number;
  /** The range starts after this position (the source's beginning when undefined). */
  lower: Cursor | undefined;
  /** And ends at this one, included. */
  upper: Cursor;
  done: boolean;
}

export interface Split {
  id: number;
  system: string;
  lower: Cursor | undefined;
  upper: Cursor;
  ranges: KeyRange[];
}

/** The name of a range's cursor (and of its lock and runs). */
export function rangeName(system: string, range: Pick<KeyRange, 'splitId' | 'rangeNo'>): string {
  return `${system}/split-${range.splitId}/${range.rangeNo}`;
}

/** The open split of a sync's system, with its ranges; undefined when there is none. */
export async function openSplit(db: Queryable, syncName: string, system: string): Promise<Split | undefined> {
  const { rows } = await db.query<BoundsRow & { id: string }>(
    `SELECT id, lower_at, lower_id, upper_at, upper_id FROM keel_sync_splits
     WHERE sync_name = $1 AND system = $2 AND status = 'open'`,
    [syncName, system],
  );
  const split = rows[0];
  if (split === undefined) return undefined;
  const ranges = await db.query<BoundsRow & { range_no: number; done: boolean }>(
    `SELECT range_no, lower_at, lower_id, upper_at, upper_id, done_at IS NOT NULL AS done
     FROM keel_sync_ranges WHERE split_id = $1 ORDER BY range_no`,
    [split.id],
  );
  const id = Number(split.id);
  return {
    id,
    system,
    ...bounds(split),
    ranges: ranges.rows.map((row) => ({
      splitId: id,
      rangeNo: row.range_no,
      done: row.done,
      ...bounds(row),
    })),
  };
}

/**
 * Records a split of the listings after `lower` into ranges ending at `uppers` (in keyset order,
 * the last one the split's end). Throws SYNC_LOCKED when the system has a split open already.
 */
export async function saveSplit(
  db: SyncDatabase,
  at: { syncName: string; system: string },
  lower: Cursor | undefined,
  uppers: Cursor[],
): Promise<Split> {
  const last = uppers.at(-1);
  if (last === undefined) throw new Error('a split needs a range');
  try {
    await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO keel_sync_splits (sync_name, system, lower_at, lower_id, upper_at, upper_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
        [at.syncName, at.system, lower?.updatedAt ?? null, lower?.id ?? null, last.updatedAt, last.id],
      );
      const splitId = Number(rows[0]?.id);
      const lowers = [lower, ...uppers.slice(0, -1)];
      await tx.query(
        `INSERT INTO keel_sync_ranges (sync_name, split_id, range_no, lower_at, lower_id, upper_at, upper_id)
         SELECT $1, $2, r.n, r.lower_at, r.lower_id, r.upper_at, r.upper_id
         FROM unnest($3::int[], $4::text[], $5::bigint[], $6::text[], $7::bigint[])
           AS r(n, lower_at, lower_id, upper_at, upper_id)`,
        [
          at.syncName,
          splitId,
          uppers.map((_, index) => index + 1),
          lowers.map((cursor) => cursor?.updatedAt ?? null),
          lowers.map((cursor) => cursor?.id ?? null),
          uppers.map((cursor) => cursor.updatedAt),
          uppers.map((cursor) => cursor.id),
        ],
      );
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === '23505') throw splitOpen(at.syncName, at.system);
    throw error;
  }
  return (await openSplit(db, at.syncName, at.system)) as Split;
}

/** The error of a plain run, or a second split, while a split is open. */
export function splitOpen(syncName: string, system: string): KeelError {
  return new KeelError(
    'SYNC_LOCKED',
    `sync ${syncName} (system ${system}) has a split into key ranges open: its workers finish it (\`keel sync work\`), or \`keel sync split --cancel\` abandons it`,
  );
}

export async function isRangeDone(db: Queryable, range: KeyRange): Promise<boolean> {
  const { rows } = await db.query<{ done: boolean }>(
    'SELECT done_at IS NOT NULL AS done FROM keel_sync_ranges WHERE split_id = $1 AND range_no = $2',
    [range.splitId, range.rangeNo],
  );
  return rows[0]?.done === true;
}

/** Marks a range done, as long as run `runId` still holds its cursor. */
export async function markRangeDone(
  db: Queryable,
  syncName: string,
  system: string,
  range: KeyRange,
  runId: number,
): Promise<void> {
  await db.query(
    `UPDATE keel_sync_ranges SET done_at = now()
     WHERE split_id = $1 AND range_no = $2 AND done_at IS NULL
       AND EXISTS (SELECT 1 FROM keel_sync_cursors WHERE sync_name = $3 AND system = $4 AND run_id = $5)`,
    [range.splitId, range.rangeNo, syncName, rangeName(system, range), runId],
  );
}

/**
 * Closes the split if every range is done: the system's cursor moves to the split's end with the
 * smallest share any range owned, and the ranges' cursors go. Whether it closed it.
 */
export async function completeSplit(db: SyncDatabase, syncName: string, split: Split): Promise<boolean> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ open: boolean; left: string }>(
      `SELECT status = 'open' AS open,
              (SELECT count(*) FROM keel_sync_ranges WHERE split_id = $1 AND done_at IS NULL) AS left
       FROM keel_sync_splits WHERE id = $1 FOR UPDATE`,
      [split.id],
    );
    if (rows[0]?.open !== true || Number(rows[0].left) > 0) return false;
    const names = split.ranges.map((range) => rangeName(split.system, range));
    const shares = await tx.query<{ share: number | null }>(
      'SELECT min(coalesce(owned_share, $3)) AS share FROM keel_sync_cursors WHERE sync_name = $1 AND system = ANY($2::text[])',
      [syncName, names, WHOLE_SHARE],
    );
    await tx.query(
      `INSERT INTO keel_sync_cursors (sync_name, system, updated_at, id, owned_share) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (sync_name, system) DO UPDATE SET updated_at = EXCLUDED.updated_at, id = EXCLUDED.id,
         owned_share = least(coalesce(keel_sync_cursors.owned_share, $6), EXCLUDED.owned_share), changed_at = now()`,
      [
        syncName,
        split.system,
        split.upper.updatedAt,
        split.upper.id,
        shares.rows[0]?.share ?? WHOLE_SHARE,
        WHOLE_SHARE,
      ],
    );
    await tx.query('DELETE FROM keel_sync_cursors WHERE sync_name = $1 AND system = ANY($2::text[])', [
      syncName,
      names,
    ]);
    await tx.query(`UPDATE keel_sync_splits SET status = 'done', finished_at = now() WHERE id = $1`, [
      split.id,
    ]);
    return true;
  });
}

/** Abandons the open split of a system (see the file's note); whether there was one. */
export async function cancelSplit(db: SyncDatabase, syncName: string, system: string): Promise<boolean> {
  const split = await openSplit(db, syncName, system);
  if (split === undefined) return false;
  await db.transaction(async (tx) => {
    await tx.query('DELETE FROM keel_sync_cursors WHERE sync_name = $1 AND system = ANY($2::text[])', [
      syncName,
      split.ranges.map((range) => rangeName(system, range)),
    ]);
    await tx.query(`UPDATE keel_sync_splits SET status = 'cancelled', finished_at = now() WHERE id = $1`, [
      split.id,
    ]);
  });
  return true;
}

interface BoundsRow {
  lower_at: string | null;
  lower_id: string | null;
  upper_at: string;
  upper_id: string;
}

function bounds(row: BoundsRow): { lower: Cursor | undefined; upper: Cursor } {
  return {
    lower:
      row.lower_at === null || row.lower_id === null
        ? undefined
        : { updatedAt: row.lower_at, id: Number(row.lower_id) },
    upper: { updatedAt: row.upper_at, id: Number(row.upper_id) },
  };
}

/** Whether keyset position `a` comes after `b`: by instant (to the microsecond), then by id. */
export function isAfter(a: Cursor, b: Cursor): boolean {
  const [aMs, aMicro] = instant(a.updatedAt);
  const [bMs, bMicro] = instant(b.updatedAt);
  if (aMs !== bMs) return aMs > bMs;
  if (aMicro !== bMicro) return aMicro > bMicro;
  return a.id > b.id;
}

/** A timestamp as milliseconds since the epoch and the microseconds below them. */
function instant(text: string): [number, number] {
  const fraction = /\.(\d+)/.exec(text)?.[1] ?? '';
  const digits = fraction.padEnd(6, '0');
  const ms = Date.parse(fraction === '' ? text : text.replace(`.${fraction}`, `.${digits.slice(0, 3)}`));
  return [ms, Number(digits.slice(3, 6))];
}

/**
 * What a run would do, found without writing: each page's rows are checked as the sink checks
 * them and compared with the stored rows of the same property numbers (one query per page), and
 * counted as would-insert, would-update (with the columns that would change), unchanged (equal,
 * or older than what is stored) or would-dead-letter (with the reason). A few examples of each
 * are kept for the report; the rest are only counted, so a dry run over a million rows holds no
 * more than a page.
 */
import type { SyncDatabase } from './database.js';
import { checkListing, LISTING_COLUMNS, type ListingRow } from './listing.js';
import { type BatchCounts, newestByKey } from './pg-sink.js';

/** Examples kept per outcome. */
const EXAMPLES_KEPT = 5;

export interface DryRunExample {
  key: string;
  /** For would-update: column → [stored, incoming]. */
  changes?: Record<string, [unknown, unknown]>;
  /** For would-dead-letter: why. */
  reason?: string;
}

export interface DryRunReport {
  wouldInsert: number;
  wouldUpdate: number;
  unchanged: number;
  wouldDeadLetter: number;
  examples: {
    insert: DryRunExample[];
    update: DryRunExample[];
    deadLetter: DryRunExample[];
  };
}

export class DryRunTally {
  private readonly totals: DryRunReport = {
    wouldInsert: 0,
    wouldUpdate: 0,
    unchanged: 0,
    wouldDeadLetter: 0,
    examples: { insert: [], update: [], deadLetter: [] },
  };

  constructor(
    private readonly db: SyncDatabase,
    private readonly table: string,
  ) {}

  /** Counts one page of raw rows. */
  async add(rawRows: unknown[]): Promise<BatchCounts> {
    const valid: ListingRow[] = [];
    let deadLettered = 0;
    for (const raw of rawRows) {
      const checked = checkListing(raw);
      if (checked.ok) valid.push(checked.row);
      else {
        deadLettered++;
        this.example('deadLetter', { key: checked.key, reason: checked.reason });
      }
    }
    const rows = newestByKey(valid);
    const stored = await this.stored(rows.map((row) => row.property_number));
    let inserted = 0;
    let updated = 0;
    for (const row of rows) {
      const before = stored.get(row.property_number);
      if (before === undefined) {
        inserted++;
        this.example('insert', { key: row.property_number });
        continue;
      }
      const changes = changedColumns(before, row);
      const older = Date.parse(row.source_updated_at) < Date.parse(String(before.source_updated_at));
      if (changes === undefined || older) continue;
      updated++;
      this.example('update', { key: row.property_number, changes });
    }
    this.totals.wouldInsert += inserted;
    this.totals.wouldUpdate += updated;
    this.totals.unchanged += valid.length - inserted - updated;
    this.totals.wouldDeadLetter += deadLettered;
    return {
      read: rawRows.length,
      inserted,
      updated,
      unchanged: valid.length - inserted - updated,
      deadLettered,
      skipped: 0,
    };
  }

  report(): DryRunReport {
    return structuredClone(this.totals);
  }

  private example(kind: keyof DryRunReport['examples'], example: DryRunExample): void {
    const kept = this.totals.examples[kind];
    if (kept.length < EXAMPLES_KEPT) kept.push(example);
  }

  private async stored(keys: string[]): Promise<Map<string, Record<string, unknown>>> {
    if (keys.length === 0) return new Map();
    const { rows } = await this.db.query<Record<string, unknown>>(
      `SELECT ${LISTING_COLUMNS.join(', ')} FROM ${this.table} WHERE property_number = ANY($1::text[])`,
      [keys],
    );
    return new Map(rows.map((row) => [String(row.property_number), row]));
  }
}

/** The columns whose stored value differs from the incoming one, or undefined when none does. */
function changedColumns(
  stored: Record<string, unknown>,
  row: ListingRow,
): Record<string, [unknown, unknown]> | undefined {
  let changes: Record<string, [unknown, unknown]> | undefined;
  for (const column of LISTING_COLUMNS) {
    const before = stored[column];
    const after = row[column];
    const same = typeof after === 'number' ? Number(before) === after : String(before) === String(after);
    if (same) continue;
    changes ??= {};
    changes[column] = [before, after];
  }
  return changes;
}

/**
 * A property listing as the REST source serves it, and how it is checked before it is written.
 *
 * The natural key is `property_number` (the listing's number, as agents quote it): one row per
 * number in the sink, whoever wrote it. `id` and `updated_at` are the source's row id and last
 * change, the keyset the source is paged by. The checks are those the sink's table also enforces,
 * so a row that fails them is dead-lettered with a readable reason before it could fail a batch;
 * what the database still refuses (a constraint added later) is caught there (pg-sink.ts).
 *
 * The checks are written out rather than declared with zod: they run on every row of every run,
 * and a zod object schema cost 4.7 µs a row here (0.47 s per 100,000 rows, two thirds of what COPY
 * takes to store them), these checks a tenth of that.
 */

/** The columns written, in the order the sink's upsert lists them. */
export const LISTING_COLUMNS = [
  'property_number',
  'source_id',
  'title',
  'prefecture',
  'city',
  'address',
  'price',
  'area_sqm',
  'layout',
  'status',
  'source_updated_at',
] as const;

export const LISTING_STATUSES = ['available', 'under_contract', 'sold', 'withdrawn'] as const;

/** A listing as the source serves it (what the checks let through). */
export interface SourceListing {
  id: number;
  property_number: string;
  title: string;
  prefecture: string;
  city: string;
  address: string;
  price: number;
  area_sqm: number;
  layout: string;
  status: (typeof LISTING_STATUSES)[number];
  updated_at: string;
}

const STATUSES: ReadonlySet<string> = new Set(LISTING_STATUSES);
/** Largest area accepted (m²): beyond it, a unit mistake (cm², ft²). */
const MAX_AREA_SQM = 100_000;

/** Text fields: the most characters each may hold (`min` 1 where it may not be empty). */
const TEXT_FIELDS: readonly [keyof SourceListing, number, number][] = [
  ['property_number', 1, 32],
  ['title', 1, 500],
  ['prefecture', 1, 16],
  ['city', 1, 64],
  ['address', 0, 500],
  ['layout', 0, 16],
];

/** A row as written: the listing's values under the sink's column names. */
export type ListingRow = Omit<SourceListing, 'id' | 'updated_at'> & {
  source_id: number;
  /** The source's `updated_at`, as it sent it. */
  source_updated_at: string;
};

/** What checking one source row gave: the row to write, or why it cannot be written. */
export type Checked = { ok: true; row: ListingRow } | { ok: false; key: string; reason: string };

/** Checks a row of the source. */
export function checkListing(raw: unknown): Checked {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, key: keyOfRaw(raw), reason: 'row: is not an object' };
  const row = raw as Record<string, unknown>;
  const problems: string[] = [];
  const { id, price, area_sqm: area, status, updated_at: updatedAt } = row;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0)
    problems.push('id: is not a positive integer');
  for (const [field, min, max] of TEXT_FIELDS) {
    const value = row[field];
    if (typeof value !== 'string') problems.push(`${field}: is not text`);
    else if (value.length < min || value.length > max)
      problems.push(`${field}: has ${value.length} characters, not ${min} to ${max}`);
  }
  if (typeof price !== 'number' || !Number.isSafeInteger(price) || price < 0)
    problems.push('price: is not a whole number of yen ≥ 0');
  if (typeof area !== 'number' || !(area > 0 && area <= MAX_AREA_SQM))
    problems.push(`area_sqm: is not a number above 0 and up to ${MAX_AREA_SQM}`);
  if (typeof status !== 'string' || !STATUSES.has(status))
    problems.push(`status: is not one of ${LISTING_STATUSES.join(', ')}`);
  if (typeof updatedAt !== 'string' || Number.isNaN(Date.parse(updatedAt)))
    problems.push('updated_at: is not a timestamp');
  if (problems.length > 0) return { ok: false, key: keyOfRaw(raw), reason: problems.join('; ') };
  const listing = row as unknown as SourceListing;
  return {
    ok: true,
    row: {
      property_number: listing.property_number,
      source_id: listing.id,
      title: listing.title,
      prefecture: listing.prefecture,
      city: listing.city,
      address: listing.address,
      price: listing.price,
      // The table keeps two decimals of the area: rounded here, so a compare sees what is stored.
      area_sqm: Math.round(listing.area_sqm * 100) / 100,
      layout: listing.layout,
      status: listing.status,
      source_updated_at: listing.updated_at,
    },
  };
}

/** The best key a raw row offers for a dead letter: its property number, else its id. */
export function keyOfRaw(raw: unknown): string {
  if (typeof raw !== 'object' || raw === null) return '(not an object)';
  const { property_number: number, id } = raw as Record<string, unknown>;
  if (typeof number === 'string' && number !== '') return number;
  return id === undefined ? '(no key)' : `id:${String(id)}`;
}

/**
 * The sample origin's property listings: realistic Japanese listings (prefecture, city, layout
 * such as 2LDK, price in yen, area in m²), generated from a seed so every run serves the same
 * ones, kept in memory in the order a keyset-paged sync reads them, (updated_at, id).
 *
 * Changing a listing gives it a new `updated_at` later than any other (a clock that never goes
 * back or repeats), so it moves to the end of that order, as it would in a table with an
 * `updated_at` trigger: a sync paging by (updated_at, id) reads it again, once, with its new
 * values. A read starting after a keyset position finds it by binary search, so a page of a
 * million listings costs what a page of a thousand does.
 */
import { mulberry32 } from '../../util/random.js';
import { compareValues, type Row } from './postgrest-query.js';

export interface Listing {
  id: number;
  property_number: string;
  title: string;
  prefecture: string;
  city: string;
  address: string;
  price: number;
  area_sqm: number;
  layout: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export const LISTING_FIELDS: readonly (keyof Listing)[] = [
  'id',
  'property_number',
  'title',
  'prefecture',
  'city',
  'address',
  'price',
  'area_sqm',
  'layout',
  'status',
  'created_at',
  'updated_at',
];
export const TIMESTAMP_FIELDS: ReadonlySet<string> = new Set(['created_at', 'updated_at']);

const PLACES: Record<string, readonly string[]> = {
  東京都: ['港区', '渋谷区', '新宿区', '世田谷区', '目黒区', '品川区', '中野区', '杉並区'],
  神奈川県: ['横浜市西区', '横浜市中区', '川崎市中原区', '藤沢市', '鎌倉市'],
  大阪府: ['大阪市北区', '大阪市中央区', '吹田市', '豊中市'],
  愛知県: ['名古屋市中区', '名古屋市千種区'],
  福岡県: ['福岡市中央区', '福岡市博多区'],
  北海道: ['札幌市中央区', '札幌市北区'],
};
const PREFECTURES = Object.keys(PLACES);
const LAYOUTS = ['1R', '1K', '1DK', '1LDK', '2LDK', '3LDK', '4LDK'] as const;
/** Typical floor area (m²) of each layout, around which a listing's area is drawn. */
const AREA_OF_LAYOUT = [20, 25, 32, 42, 58, 72, 95];
const KINDS = ['マンション', 'アパート', '一戸建て'] as const;
/** available 85 %, under contract 8 %, sold 5 %, withdrawn 2 %. */
const STATUS_WEIGHTS: readonly [string, number][] = [
  ['available', 0.85],
  ['under_contract', 0.93],
  ['sold', 0.98],
  ['withdrawn', 1],
];
const DAY_MS = 86_400_000;
/**
 * The generated listings' history ends here, whenever the catalogue is made, so two sample origins
 * of the same seed serve the same listings (a second `keel sync run` on embedded defaults finds
 * nothing new); changes made later are stamped with the clock.
 */
const GENERATED_UNTIL = Date.parse('2026-11-01T00:00:00.000Z');
/** Generated listings were last changed within this many days before the catalogue was made. */
const HISTORY_DAYS = 90;

export interface ListingChange {
  title?: string;
  price?: number;
  status?: string;
  area_sqm?: number;
}

export class ListingCatalog {
  /** Sorted by (updated_at, id). */
  private rows: Listing[] = [];
  private lastStamp = 0;
  private nextId = 1;

  constructor(count: number, seed = 42, now = GENERATED_UNTIL) {
    const random = mulberry32(seed);
    const stamps = Array.from(
      { length: count },
      () => now - Math.floor(random() * HISTORY_DAYS * DAY_MS),
    ).sort((a, b) => a - b);
    for (const stamp of stamps) this.rows.push(this.generated(random, stamp, now));
    // Ids are not in updated_at order in a real table: shuffle them within the sorted rows.
    const ids = this.rows.map((row) => row.id);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [ids[i], ids[j]] = [ids[j] as number, ids[i] as number];
    }
    this.rows.forEach((row, index) => {
      row.id = ids[index] as number;
      row.property_number = propertyNumber(row.id);
    });
    this.rows.sort(byKeyset);
    this.lastStamp = Math.max(now, stamps.at(-1) ?? 0);
  }

  get size(): number {
    return this.rows.length;
  }

  /** Every listing, in (updated_at, id) order: the catalog's own list, which `update` reorders. */
  all(): readonly Listing[] {
    return this.rows;
  }

  /** The index of the first listing after the keyset position (updatedAt, id). */
  indexAfter(updatedAt: string, id: number, inclusive = false): number {
    let low = 0;
    let high = this.rows.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const row = this.rows[mid] as Listing;
      const order = compareValues(row.updated_at, updatedAt, true) || row.id - id;
      if (order < 0 || (order === 0 && !inclusive)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  get(propertyNumber: string): Listing | undefined {
    return this.rows.find((row) => row.property_number === propertyNumber);
  }

  /** Changes a listing; it gets a new updated_at and moves to the end of the keyset order. */
  update(propertyNumber: string, change: ListingChange): Listing | undefined {
    const index = this.rows.findIndex((row) => row.property_number === propertyNumber);
    if (index < 0) return undefined;
    const [row] = this.rows.splice(index, 1) as [Listing];
    Object.assign(row, change, { updated_at: this.stamp() });
    this.rows.push(row);
    return row;
  }

  /** Adds `count` new listings (at the end of the keyset order). */
  add(count: number, seed = this.nextId): Listing[] {
    const random = mulberry32(seed);
    const added: Listing[] = [];
    for (let i = 0; i < count; i++) {
      const stamp = this.stamp();
      const row = this.generated(random, Date.parse(stamp), Date.parse(stamp));
      row.updated_at = stamp;
      this.rows.push(row);
      added.push(row);
    }
    return added;
  }

  /** A timestamp later than every other: now, or a millisecond after the last one. */
  private stamp(): string {
    this.lastStamp = Math.max(Date.now(), this.lastStamp + 1);
    return new Date(this.lastStamp).toISOString();
  }

  private generated(random: () => number, updatedAt: number, now: number): Listing {
    const id = this.nextId++;
    const prefecture = PREFECTURES[Math.floor(random() * PREFECTURES.length)] as string;
    const cities = PLACES[prefecture] as readonly string[];
    const city = cities[Math.floor(random() * cities.length)] as string;
    const layoutIndex = Math.floor(random() * LAYOUTS.length);
    const layout = LAYOUTS[layoutIndex] as string;
    const area = Math.round((AREA_OF_LAYOUT[layoutIndex] as number) * (0.8 + random() * 0.4) * 100) / 100;
    const kind = KINDS[Math.floor(random() * KINDS.length)] as string;
    const yenPerSqm = prefecture === '東京都' ? 1_200_000 : prefecture === '北海道' ? 350_000 : 600_000;
    const price = Math.round((area * yenPerSqm * (0.7 + random() * 0.6)) / 10_000) * 10_000;
    const draw = random();
    const status = (STATUS_WEIGHTS.find(([, upTo]) => draw < upTo) as [string, number])[0];
    const block = 1 + Math.floor(random() * 5);
    const lot = 1 + Math.floor(random() * 30);
    return {
      id,
      property_number: propertyNumber(id),
      title: `${city}の${layout}${kind}`,
      prefecture,
      city,
      address: `${prefecture}${city}${block}丁目${lot}番`,
      price,
      area_sqm: area,
      layout,
      status,
      created_at: new Date(Math.min(updatedAt, now) - Math.floor(random() * 30 * DAY_MS)).toISOString(),
      updated_at: new Date(updatedAt).toISOString(),
    };
  }
}

/** `PL` and the id in eight digits: PL00000042. */
function propertyNumber(id: number): string {
  return `PL${String(id).padStart(8, '0')}`;
}

function byKeyset(a: Listing, b: Listing): number {
  return compareValues(a.updated_at, b.updated_at, true) || a.id - b.id;
}

/** A listing as a row the query evaluator reads. */
export function asRow(listing: Listing): Row {
  return listing as unknown as Row;
}

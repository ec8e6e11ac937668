/**
 * The trace catalog: every trace the benchmark knows, where it is published, its format, its counts
 * and the cache sizes it is run at.
 *
 * The files are not in this repository. They are public, in two repositories, and are used
 * compressed exactly as published, under the same names. Each format's files sit in one folder
 * there (moka-rs/cache-trace `arc/`; Caffeine's simulator `parser/lirs/`, `parser/corda/`,
 * `parser/cache2k/`), recorded in `SOURCES` with the commit they were taken at, so the benchmark
 * can say where to get a missing file.
 *
 * The format of a file cannot be told reliably from its name (`trace_vaultservice.gz` is binary,
 * `cpp.trace.gz` is text), so it is stated here, as the traces' README states it. The access and
 * unique-key counts are the README's (counted there by an independent script); the benchmark
 * compares what it parsed against them, which catches a parsing rule applied wrongly before any
 * hit ratio is computed from it.
 *
 * The cache sizes of a trace are exactly those of its table in `reference-lru-opt.md` (LRU and OPT
 * computed by an independent simulator), so that when that file is at hand every row is
 * cross-checked. They include the sizes of the published numbers: OLTP 250–2,000 and up to
 * 15,000, gli 250–2,000, the P traces at 32,768 pages (16 MB).
 */

/** How a file's bytes become keys; the rules are in `readers.ts`. */
export type TraceFormat = 'arc' | 'lirs' | 'corda' | 'cache2k';

/** A folder of a public GitHub repository, at the commit the files were taken from. */
export interface SourceFolder {
  repository: string;
  commit: string;
  folder: string;
}

export interface TraceSpec {
  name: string;
  file: string;
  format: TraceFormat;
  /** Where the file is published: the folder of its format. */
  source: SourceFolder;
  /** Single-key accesses after the parsing rules (README "accesses"). */
  accesses: number;
  /** Distinct keys (README "unique keys"). */
  unique: number;
  /** Cache sizes to run, in entries, ascending: the sizes of its `reference-lru-opt.md` table. */
  sizes: readonly number[];
}

const CAFFEINE = 'ben-manes/caffeine';
const CAFFEINE_COMMIT = 'ccef95542a9181182a60f5c6c33d2a0642c73574';
const CAFFEINE_PARSERS = 'simulator/src/main/resources/com/github/benmanes/caffeine/cache/simulator/parser';

/** The folder each format's files are published in. */
export const SOURCES: Readonly<Record<TraceFormat, SourceFolder>> = {
  arc: {
    repository: 'moka-rs/cache-trace',
    commit: 'ef0a9de8cf0202a1f2fee186a0af497774b0f0a9',
    folder: 'arc',
  },
  lirs: { repository: CAFFEINE, commit: CAFFEINE_COMMIT, folder: `${CAFFEINE_PARSERS}/lirs` },
  corda: { repository: CAFFEINE, commit: CAFFEINE_COMMIT, folder: `${CAFFEINE_PARSERS}/corda` },
  cache2k: { repository: CAFFEINE, commit: CAFFEINE_COMMIT, folder: `${CAFFEINE_PARSERS}/cache2k` },
};

/** Where a trace file is published: `repository path/of/file`. */
export function sourceOf(spec: TraceSpec): string {
  return `${spec.source.repository} ${spec.source.folder}/${spec.file}`;
}

/** OLTP and gli: the sizes of the published charts and tables (BitFaster, Caffeine, Ristretto). */
const STEPS_OF_250 = [250, 500, 750, 1_000, 1_250, 1_500, 1_750, 2_000];
/** The P disk traces: powers of two from 1,024 to 524,288 pages of 512 B. */
const DISK_PAGES = [1_024, 2_048, 4_096, 8_192, 16_384, 32_768, 65_536, 131_072, 262_144, 524_288];
/** The other LIRS traces climb this ladder up to about their number of distinct keys. */
const LIRS_LADDER = [
  100, 200, 300, 400, 500, 750, 1_000, 1_500, 2_000, 2_500, 3_000, 4_000, 5_000, 6_000, 7_000,
];
const lirsUpTo = (largest: number) => LIRS_LADDER.filter((size) => size <= largest);
const WEB_SIZES = [100, 200, 500, 1_000, 2_000, 5_000, 10_000];
const ORM_SIZES = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000];
/** trace_vaultservice: its hit ratio caps at 33.33 %, which LRU reaches from about 50 entries. */
const VAULT_SIZES = [1, 2, 5, 10, 20, 50, 100];

/** A catalog row; the name is the file name up to the first dot. */
function trace(
  file: string,
  format: TraceFormat,
  accesses: number,
  unique: number,
  sizes: readonly number[],
): TraceSpec {
  return { name: file.split('.')[0], file, format, source: SOURCES[format], accesses, unique, sizes };
}

// file, format, accesses, unique keys, cache sizes
export const TRACES: readonly TraceSpec[] = [
  trace('OLTP.lis.zst', 'arc', 914_145, 186_880, [...STEPS_OF_250, 5_000, 10_000, 15_000]),
  trace('P2.lis.zst', 'arc', 12_729_495, 913_347, DISK_PAGES),
  trace('P3.lis.zst', 'arc', 3_912_296, 762_543, DISK_PAGES),
  trace('P6.lis.zst', 'arc', 12_672_123, 773_770, DISK_PAGES),
  trace('P12.lis.zst', 'arc', 13_208_930, 3_153_310, DISK_PAGES),
  trace('loop.trace.gz', 'lirs', 505_500, 1_011, lirsUpTo(1_000)),
  trace('gli.trace.gz', 'lirs', 6_015, 2_529, STEPS_OF_250),
  trace('cs.trace.gz', 'lirs', 6_781, 1_409, lirsUpTo(1_000)),
  trace('scan.trace.gz', 'lirs', 50_025, 2_001, lirsUpTo(2_000)),
  trace('zigzag.trace.gz', 'lirs', 52_001, 2_001, lirsUpTo(2_000)),
  trace('backf.trace.gz', 'lirs', 9_000, 751, lirsUpTo(750)),
  trace('2_pools.trace.gz', 'lirs', 100_000, 9_939, lirsUpTo(7_000)),
  trace('sprite.trace.gz', 'lirs', 133_996, 7_075, lirsUpTo(7_000)),
  trace('cpp.trace.gz', 'lirs', 9_047, 1_223, lirsUpTo(1_000)),
  trace('ps.trace.gz', 'lirs', 10_448, 3_083, lirsUpTo(3_000)),
  trace('multi1.trace.gz', 'lirs', 15_858, 2_606, lirsUpTo(2_500)),
  trace('multi2.trace.gz', 'lirs', 26_311, 5_684, lirsUpTo(5_000)),
  trace('multi3.trace.gz', 'lirs', 30_241, 7_454, lirsUpTo(7_000)),
  trace('trace_vaultservice.gz', 'corda', 135_702, 90_468, VAULT_SIZES),
  trace('web07.trace.xz', 'cache2k', 76_118, 20_484, WEB_SIZES),
  trace('web12.trace.xz', 'cache2k', 95_607, 13_756, WEB_SIZES),
  trace('orm-busy.trace.xz', 'cache2k', 5_000_000, 76_349, ORM_SIZES),
  trace('orm-night.trace.xz', 'cache2k', 5_000_000, 86_466, ORM_SIZES),
];

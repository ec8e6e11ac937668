/**
 * The trace catalog: every trace file of the shared traces folder, its format and its size.
 *
 * The format of a file cannot be told reliably from its name (`trace_vaultservice.gz` is binary,
 * `cpp.trace.gz` is text), so it is stated here, as the folder's README states it. The access and
 * unique-key counts are the README's (counted there by an independent script); the benchmark
 * compares what it parsed against them, which catches a parsing rule applied wrongly before any
 * hit ratio is computed from it. A trace's name is its file name up to the first dot, which is
 * also the heading of its table in `reference-lru-opt.md`.
 */

/** How a file's bytes become keys; the rules are in `readers.ts`. */
export type TraceFormat = 'arc' | 'lirs' | 'corda' | 'cache2k';

export interface TraceSpec {
  name: string;
  file: string;
  format: TraceFormat;
  /** Single-key accesses after the parsing rules (README "accesses"). */
  accesses: number;
  /** Distinct keys (README "unique keys"). */
  unique: number;
}

export const TRACES: readonly TraceSpec[] = [
  { name: 'OLTP', file: 'OLTP.lis.zst', format: 'arc', accesses: 914_145, unique: 186_880 },
  { name: 'P2', file: 'P2.lis.zst', format: 'arc', accesses: 12_729_495, unique: 913_347 },
  { name: 'P3', file: 'P3.lis.zst', format: 'arc', accesses: 3_912_296, unique: 762_543 },
  { name: 'P6', file: 'P6.lis.zst', format: 'arc', accesses: 12_672_123, unique: 773_770 },
  { name: 'P12', file: 'P12.lis.zst', format: 'arc', accesses: 13_208_930, unique: 3_153_310 },
  { name: 'loop', file: 'loop.trace.gz', format: 'lirs', accesses: 505_500, unique: 1_011 },
  { name: 'gli', file: 'gli.trace.gz', format: 'lirs', accesses: 6_015, unique: 2_529 },
  { name: 'cs', file: 'cs.trace.gz', format: 'lirs', accesses: 6_781, unique: 1_409 },
  { name: 'scan', file: 'scan.trace.gz', format: 'lirs', accesses: 50_025, unique: 2_001 },
  { name: 'zigzag', file: 'zigzag.trace.gz', format: 'lirs', accesses: 52_001, unique: 2_001 },
  { name: 'backf', file: 'backf.trace.gz', format: 'lirs', accesses: 9_000, unique: 751 },
  { name: '2_pools', file: '2_pools.trace.gz', format: 'lirs', accesses: 100_000, unique: 9_939 },
  { name: 'sprite', file: 'sprite.trace.gz', format: 'lirs', accesses: 133_996, unique: 7_075 },
  { name: 'cpp', file: 'cpp.trace.gz', format: 'lirs', accesses: 9_047, unique: 1_223 },
  { name: 'ps', file: 'ps.trace.gz', format: 'lirs', accesses: 10_448, unique: 3_083 },
  { name: 'multi1', file: 'multi1.trace.gz', format: 'lirs', accesses: 15_858, unique: 2_606 },
  { name: 'multi2', file: 'multi2.trace.gz', format: 'lirs', accesses: 26_311, unique: 5_684 },
  { name: 'multi3', file: 'multi3.trace.gz', format: 'lirs', accesses: 30_241, unique: 7_454 },
  {
    name: 'trace_vaultservice',
    file: 'trace_vaultservice.gz',
    format: 'corda',
    accesses: 135_702,
    unique: 90_468,
  },
  { name: 'web07', file: 'web07.trace.xz', format: 'cache2k', accesses: 76_118, unique: 20_484 },
  { name: 'web12', file: 'web12.trace.xz', format: 'cache2k', accesses: 95_607, unique: 13_756 },
  { name: 'orm-busy', file: 'orm-busy.trace.xz', format: 'cache2k', accesses: 5_000_000, unique: 76_349 },
  { name: 'orm-night', file: 'orm-night.trace.xz', format: 'cache2k', accesses: 5_000_000, unique: 86_466 },
];

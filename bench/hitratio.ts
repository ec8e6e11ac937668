/**
 * `npm run bench:hitratio`: SmartCache's hit ratio against LRU and Belady's OPT, on real traces.
 *
 * What it measures. For every trace of the catalog (`hitratio/catalog.ts`: ARC's OLTP and P2–P12
 * disk traces, the LIRS traces, Corda's vault service, cache2k's web and ORM traces) and every
 * cache size the catalog lists for it, the hit ratio (hits ÷ all accesses, cold misses included)
 * of three policies computed in the same run:
 * - LRU, the floor a smarter policy must not fall below (`hitratio/lru.ts`);
 * - SmartCache, used as an application would: `get`, and `set` on a miss;
 * - OPT with bypass, the ceiling no policy can pass (`hitratio/opt.ts`).
 * "Gap closed" = (SmartCache − LRU) ÷ (OPT − LRU): the share of LRU's distance to optimal that
 * SmartCache recovers. It is not shown where OPT − LRU < 0.5 pt (recency-friendly traces at large
 * sizes), where the ratio of two small differences is noise.
 *
 * The trace files. They are public but not in this repository: the catalog names the repository,
 * commit and path of each (moka-rs/cache-trace `arc/`, Caffeine's simulator `parser/lirs/`,
 * `parser/corda/`, `parser/cache2k/`), and they are used compressed as published. Before running,
 * the folder is checked (`hitratio/trace-files.ts`). With none of the selected files there, the
 * benchmark exits with code 2 and says where to download them and how to point at them. With some,
 * it lists the missing ones with their source, runs the others, and says which targets it cannot
 * evaluate without them.
 *
 * Why these checks. LRU and OPT are computed here, not copied. When the traces folder also holds
 * `reference-lru-opt.md` (an independent simulator's tables at the catalog's sizes), they are
 * compared with it (warning at > 0.01 pt), so a parsing or simulation bug shows up before it
 * distorts a SmartCache number; without it the benchmark says so once and runs unchecked. Parsed
 * access and key counts are always compared with the catalog's.
 *
 * Targets (exit code 1 when one fails):
 * 1. gap closed ≥ 45 %, averaged over the traces; a trace's gap closed is Σ(SmartCache − LRU) ÷
 *    Σ(OPT − LRU) over its sizes, so a size where OPT is a hair above LRU cannot swing it (the mean
 *    of the per-size ratios is printed too);
 * 2. SmartCache never more than 1 pt below LRU;
 * 3. OLTP ≥ 40.01 % at 1,000 entries and ≥ 46.09 % at 2,000: W-TinyLFU's published numbers
 *    (BitFaster.Caching ConcurrentLfu, PR #196);
 * 4. P6 ≥ 23.82 % at 32,768: ARC's published number (Megiddo & Modha, IBM RJ10284).
 * Targets 1 and 2 are evaluated on whatever ran; 3 and 4 are SKIP when their trace did not run.
 *
 * Flags: `--traces a,b` keeps the traces whose names start with a or b (case-insensitive);
 * `--quick` skips the traces of more than a million accesses, except P6 at the one size target 4
 * needs; `--traces-dir <path>` is the folder of the trace files, else KEEL_TRACES_DIR, else
 * ../shared/traces from the project root (relative paths are taken from where npm was started).
 * Exit codes: 0 every evaluated target passes, 1 one fails, 2 an error (a bad flag, no trace file
 * found, a corrupt file). Parsed traces are cached in .bench-cache/.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SmartCache } from '../src/cache/memory/index.js';
import { sourceOf, TRACES, type TraceSpec } from './hitratio/catalog.js';
import { lruHits } from './hitratio/lru.js';
import { nextUses, optHits } from './hitratio/opt.js';
import { type ReferenceRow, readReference } from './hitratio/reference.js';
import { formatTable, pct } from './hitratio/table.js';
import { loadTrace } from './hitratio/trace-cache.js';
import { locateTraces, type TraceFiles, whereToGet } from './hitratio/trace-files.js';

/** Target 1: the least average share of the LRU-to-OPT gap SmartCache must close, in %. */
const MIN_GAP_CLOSED = 45;
/** Rows whose OPT − LRU is below this many points have no meaningful gap to close. */
const MIN_GAP_POINTS = 0.5;
/** Target 2: the most SmartCache may fall below LRU on any row, in points. */
const MAX_POINTS_BELOW_LRU = 1;
/** The optional reference tables in the traces folder (`hitratio/reference.ts`). */
const REFERENCE_FILE = 'reference-lru-opt.md';
/** A computed LRU or OPT farther than this from the reference tables is reported, in points. */
const REFERENCE_TOLERANCE = 0.01;
/** `--quick` skips traces with more accesses than this (P2, P3, P6, P12, orm-*). */
const QUICK_MAX_ACCESSES = 1_000_000;

/** Targets 3 and 4: published hit ratios of peers at given sizes. Their sizes always run. */
interface SizeTarget {
  target: 3 | 4;
  trace: string;
  size: number;
  minimum: number;
  peer: string;
}
const SIZE_TARGETS: readonly SizeTarget[] = [
  { target: 3, trace: 'OLTP', size: 1000, minimum: 40.01, peer: 'W-TinyLFU, BitFaster PR #196' },
  { target: 3, trace: 'OLTP', size: 2000, minimum: 46.09, peer: 'W-TinyLFU, BitFaster PR #196' },
  { target: 4, trace: 'P6', size: 32768, minimum: 23.82, peer: 'ARC, IBM RJ10284' },
];

/** One trace and the cache sizes to run it at; `partial` when --quick kept only a target's sizes. */
interface Plan {
  spec: TraceSpec;
  sizes: number[];
  partial: boolean;
}

interface Row {
  trace: string;
  size: number;
  lru: number;
  smart: number;
  opt: number;
}

type Reference = Map<string, ReferenceRow[]>;

const number = (n: number) => n.toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

try {
  process.exitCode = (await main()) ? 0 : 1;
} catch (error) {
  console.error(`bench:hitratio: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
}

/** Runs the selected traces, prints their tables and the targets; returns false when a target fails. */
async function main(): Promise<boolean> {
  const { values: flags } = parseArgs({
    options: {
      traces: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'traces-dir': { type: 'string' },
    },
  });
  const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const tracesDir = tracesFolder(flags['traces-dir'], projectRoot);
  const files = await locateTraces(selectTraces(flags.traces), tracesDir);
  if (files.present.length === 0) throw new Error(noTracesMessage(tracesDir, files));
  const reference = await readReference(join(tracesDir, REFERENCE_FILE));
  const plans = planRuns(files.present, flags.quick);

  console.log('Keel hit-ratio benchmark: SmartCache against LRU and Belady OPT (bypass), both computed here');
  console.log(`traces ${tracesDir}, Node ${process.version}${flags.quick ? ', --quick' : ''}`);
  reportMissing(files.missing, tracesDir);
  const skipped = plans.filter((plan) => plan.sizes.length === 0).map((plan) => plan.spec.name);
  if (skipped.length > 0) {
    console.log(`skipped (--quick, > ${number(QUICK_MAX_ACCESSES)} accesses): ${skipped.join(', ')}`);
  }
  if (reference === undefined) {
    console.log(`no ${REFERENCE_FILE} in ${tracesDir}: LRU and OPT are computed but not cross-checked`);
  }

  const runStarted = performance.now();
  const cacheDir = join(projectRoot, '.bench-cache', 'hitratio');
  const { rows, tally } = await runPlans(plans, tracesDir, cacheDir, reference);
  console.log(`\nSummary: ${rows.length} rows in ${seconds(performance.now() - runStarted)}`);
  const missing = new Set(files.missing.map((spec) => spec.name));
  const verdicts = [
    targetGapClosed(rows),
    targetNeverBelowLru(rows),
    targetSizes(rows, 3, missing),
    targetSizes(rows, 4, missing),
  ];
  if (reference !== undefined) reportReferenceCheck(tally);
  if (flags.quick || flags.traces !== undefined || missing.size > 0) {
    console.log('targets 1 and 2 were evaluated on the subset of traces and sizes that ran');
  }
  return !verdicts.includes('FAIL');
}

/** The traces folder: `--traces-dir`, else KEEL_TRACES_DIR, else ../shared/traces from the project root. */
function tracesFolder(flag: string | undefined, projectRoot: string): string {
  const given = flag ?? process.env.KEEL_TRACES_DIR;
  if (given === undefined) return resolve(projectRoot, '../shared/traces');
  // npm runs scripts from the project root; a path typed by the user is relative to where they were.
  return resolve(process.env.INIT_CWD ?? process.cwd(), given);
}

/** Why nothing can run, where to download the traces, and how to point the benchmark at them. */
function noTracesMessage(tracesDir: string, files: TraceFiles): string {
  const count = files.missing.length;
  const why = !files.folderExists
    ? `the traces folder ${tracesDir} does not exist`
    : count === 1
      ? `the selected trace file is not in ${tracesDir}`
      : `none of the ${count} selected trace files is in ${tracesDir}`;
  return [
    `${why}.`,
    'The traces are public. Download these files into one folder and keep them compressed as they are',
    '(.zst, .xz, .gz: the benchmark decompresses them itself):',
    ...whereToGet(files.missing).map((line) => `  ${line}`),
    'Then point the benchmark at that folder: npm run bench:hitratio -- --traces-dir <folder>',
    '(or set KEEL_TRACES_DIR=<folder>).',
  ].join('\n');
}

/** Lists the missing trace files with their source, and the size targets they leave unevaluated. */
function reportMissing(missing: readonly TraceSpec[], tracesDir: string): void {
  if (missing.length === 0) return;
  console.log(`missing in ${tracesDir}, not run (published at github.com/<repository>, path as shown):`);
  const width = Math.max(...missing.map((spec) => spec.file.length));
  for (const spec of missing) console.log(`  ${spec.file.padEnd(width)}  ${sourceOf(spec)}`);
  const names = new Set(missing.map((spec) => spec.name));
  const blocked = SIZE_TARGETS.filter((t) => names.has(t.trace));
  if (blocked.length > 0) {
    const targets = blocked.map((t) => `target ${t.target} (${t.trace} ${number(t.size)})`);
    console.log(`cannot be evaluated without them: ${targets.join(', ')}`);
  }
}

/** Sizes compared with the reference tables, and how many of those comparisons deviated. */
interface ReferenceTally {
  sizes: number;
  deviations: number;
}

/** Runs every plan with sizes, cross-checking LRU and OPT against the reference when there is one. */
async function runPlans(
  plans: readonly Plan[],
  tracesDir: string,
  cacheDir: string,
  reference: Reference | undefined,
): Promise<{ rows: Row[]; tally: ReferenceTally }> {
  const rows: Row[] = [];
  const tally: ReferenceTally = { sizes: 0, deviations: 0 };
  for (const plan of plans) {
    if (plan.sizes.length === 0) continue;
    const traceRows = await runTrace(plan, tracesDir, cacheDir);
    rows.push(...traceRows);
    if (reference === undefined) continue;
    const checked = checkReference(traceRows, reference.get(plan.spec.name) ?? []);
    tally.sizes += checked.count;
    tally.deviations += checked.deviations.length;
    for (const deviation of checked.deviations) console.log(`WARNING ${deviation}`);
    if (checked.count > 0 && checked.deviations.length === 0) {
      console.log(
        `LRU and OPT match ${REFERENCE_FILE} at ${checked.count} sizes (±${REFERENCE_TOLERANCE} pt)`,
      );
    }
  }
  return { rows, tally };
}

/** The summary line of the cross-check with the reference tables. */
function reportReferenceCheck({ sizes, deviations }: ReferenceTally): void {
  console.log(
    deviations === 0
      ? `reference check: LRU and OPT within ${REFERENCE_TOLERANCE} pt of ${REFERENCE_FILE} at all ${sizes} sizes`
      : `reference check: ${deviations} deviations (> ${REFERENCE_TOLERANCE} pt) over ${sizes} sizes, listed above`,
  );
}

/** Loads one trace, runs the three policies at each size, prints its table and timings. */
async function runTrace(plan: Plan, tracesDir: string, cacheDir: string): Promise<Row[]> {
  const { spec, sizes, partial } = plan;
  const started = performance.now();
  const { trace, fromCache } = await loadTrace(spec, tracesDir, cacheDir);
  const loadMs = performance.now() - started;
  const { ids, unique } = trace;
  console.log(`\n${spec.name}: ${number(ids.length)} accesses, ${number(unique)} keys`);
  if (ids.length !== spec.accesses || unique !== spec.unique) {
    console.log(
      `WARNING ${spec.name}: parsed ${number(ids.length)} accesses / ${number(unique)} keys, the catalog ` +
        `says ${number(spec.accesses)} / ${number(spec.unique)}`,
    );
  }
  if (partial) console.log(`(--quick: only the size${sizes.length > 1 ? 's' : ''} a target needs)`);
  const next = nextUses(ids, unique);
  const spent = { lru: 0, smart: 0, opt: 0 };
  const rows: Row[] = [];
  for (const size of sizes) {
    let mark = performance.now();
    const lru = lruHits(ids, unique, size);
    spent.lru += performance.now() - mark;
    mark = performance.now();
    const smart = smartCacheHits(ids, size);
    spent.smart += performance.now() - mark;
    mark = performance.now();
    const opt = optHits(ids, next, unique, size);
    spent.opt += performance.now() - mark;
    const toPct = (hits: number) => (hits / ids.length) * 100;
    rows.push({ trace: spec.name, size, lru: toPct(lru), smart: toPct(smart), opt: toPct(opt) });
  }
  console.log(
    formatTable(
      ['size', 'LRU %', 'SmartCache %', 'OPT %', 'gap closed %'],
      rows.map((row) => {
        const gap = gapClosed(row);
        return [
          number(row.size),
          pct(row.lru),
          pct(row.smart),
          pct(row.opt),
          gap === undefined ? '–' : pct(gap),
        ];
      }),
    ),
  );
  console.log(
    `elapsed ${seconds(performance.now() - started)}: ${fromCache ? 'cached trace' : 'parse'} ` +
      `${seconds(loadMs)}, LRU ${seconds(spent.lru)}, SmartCache ${seconds(spent.smart)}, OPT ${seconds(spent.opt)}`,
  );
  return rows;
}

/** SmartCache as an application uses it: a get, and a set on a miss. Returns the hits. */
function smartCacheHits(ids: Int32Array, size: number): number {
  const cache = new SmartCache<number, true>({ maxEntries: size });
  let hits = 0;
  for (let i = 0; i < ids.length; i++) {
    const key = ids[i];
    if (cache.get(key) === undefined) cache.set(key, true);
    else hits++;
  }
  return hits;
}

function gapClosed(row: Row): number | undefined {
  const gap = row.opt - row.lru;
  return gap < MIN_GAP_POINTS ? undefined : ((row.smart - row.lru) / gap) * 100;
}

/** The catalog's traces whose names start with one of the comma-separated prefixes (all without). */
function selectTraces(prefixes: string | undefined): readonly TraceSpec[] {
  if (prefixes === undefined) return TRACES;
  const wanted = prefixes.split(',').map((prefix) => prefix.trim().toLowerCase());
  const chosen = TRACES.filter((spec) => wanted.some((prefix) => spec.name.toLowerCase().startsWith(prefix)));
  if (chosen.length === 0) {
    throw new Error(
      `--traces ${prefixes} matches no trace; the traces are ${TRACES.map((t) => t.name).join(', ')}`,
    );
  }
  return chosen;
}

/** The sizes to run per trace: the catalog's plus the targets'; with --quick, fewer. */
function planRuns(specs: readonly TraceSpec[], quick: boolean): Plan[] {
  return specs.map((spec) => {
    const targetSizes = SIZE_TARGETS.filter((t) => t.trace === spec.name).map((t) => t.size);
    const partial = quick && spec.accesses > QUICK_MAX_ACCESSES;
    const sizes = partial ? targetSizes : [...spec.sizes, ...targetSizes];
    return { spec, sizes: [...new Set(sizes)].sort((a, b) => a - b), partial };
  });
}

/** Compares computed LRU and OPT with the reference rows of the same sizes. */
function checkReference(computed: readonly Row[], referenceRows: readonly ReferenceRow[]) {
  const deviations: string[] = [];
  let count = 0;
  for (const row of computed) {
    const ref = referenceRows.find((r) => r.size === row.size);
    if (ref === undefined) continue;
    count++;
    for (const [policy, ours, theirs] of [
      ['LRU', row.lru, ref.lru],
      ['OPT', row.opt, ref.optBypass],
    ] as const) {
      if (Math.abs(ours - theirs) > REFERENCE_TOLERANCE) {
        deviations.push(
          `${row.trace} ${number(row.size)}: ${policy} ${ours.toFixed(3)} %, reference ${pct(theirs)} % ` +
            `(Δ ${(ours - theirs).toFixed(3)} pt)`,
        );
      }
    }
  }
  return { deviations, count };
}

type Verdict = 'PASS' | 'FAIL' | 'SKIP';

function report(verdict: Verdict, text: string): Verdict {
  console.log(`${verdict}  ${text}`);
  return verdict;
}

function targetGapClosed(rows: readonly Row[]): Verdict {
  const byTrace = new Map<string, Row[]>();
  for (const row of rows) byTrace.set(row.trace, [...(byTrace.get(row.trace) ?? []), row]);
  const perTrace: { trace: string; rows: number; closed: number; rowMean: number | undefined }[] = [];
  for (const [trace, traceRows] of byTrace) {
    const gap = traceRows.reduce((sum, row) => sum + (row.opt - row.lru), 0);
    if (gap < MIN_GAP_POINTS) continue;
    const gained = traceRows.reduce((sum, row) => sum + (row.smart - row.lru), 0);
    const rowGaps = traceRows.map(gapClosed).filter((value) => value !== undefined);
    perTrace.push({ trace, rows: traceRows.length, closed: (gained / gap) * 100, rowMean: mean(rowGaps) });
  }
  console.log('gap closed per trace: Σ(SmartCache − LRU) ÷ Σ(OPT − LRU) over its sizes; and the mean of');
  console.log(`the per-size ratios (sizes with OPT − LRU ≥ ${MIN_GAP_POINTS} pt), which small gaps swing:`);
  console.log(
    formatTable(
      ['trace', 'sizes', 'gap closed %', 'mean of per-size %'],
      perTrace.map((t) => [
        t.trace,
        String(t.rows),
        pct(t.closed),
        t.rowMean === undefined ? '–' : pct(t.rowMean),
      ]),
    ),
  );
  if (perTrace.length === 0) return report('SKIP', '1. gap closed: no trace with a gap to close ran');
  const average = mean(perTrace.map((t) => t.closed))!;
  const rowAverage = mean(rows.map(gapClosed).filter((value) => value !== undefined));
  console.log(
    `      (mean over all sizes with OPT − LRU ≥ ${MIN_GAP_POINTS} pt: ${rowAverage === undefined ? '–' : pct(rowAverage)} %)`,
  );
  return report(
    average >= MIN_GAP_CLOSED ? 'PASS' : 'FAIL',
    `1. gap closed averaged over ${perTrace.length} traces: ${pct(average)} % (target ≥ ${MIN_GAP_CLOSED} %)`,
  );
}

function mean(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function targetNeverBelowLru(rows: readonly Row[]): Verdict {
  const violations = rows.filter((row) => row.lru - row.smart > MAX_POINTS_BELOW_LRU);
  const verdict = report(
    violations.length === 0 ? 'PASS' : 'FAIL',
    `2. SmartCache never more than ${MAX_POINTS_BELOW_LRU} pt below LRU: ` +
      `${violations.length} violation${violations.length === 1 ? '' : 's'} in ${rows.length} rows`,
  );
  for (const row of violations) {
    console.log(
      `      ${row.trace} ${number(row.size)}: SmartCache ${pct(row.smart)} %, LRU ${pct(row.lru)} % ` +
        `(${pct(row.smart - row.lru)} pt)`,
    );
  }
  return verdict;
}

/** Target 3 or 4; SKIP when a size it needs did not run (trace file `missing`, or not selected). */
function targetSizes(
  rows: readonly Row[],
  target: SizeTarget['target'],
  missing: ReadonlySet<string>,
): Verdict {
  const checks = SIZE_TARGETS.filter((t) => t.target === target).map((t) => {
    const row = rows.find((r) => r.trace === t.trace && r.size === t.size);
    const wanted = `target ≥ ${t.minimum} %: ${t.peer}`;
    if (row === undefined) {
      const why = missing.has(t.trace) ? 'trace file missing' : 'not selected';
      return {
        verdict: 'SKIP' as Verdict,
        text: `${t.trace} ${number(t.size)}: not run, ${why} (${wanted})`,
      };
    }
    const verdict: Verdict = row.smart >= t.minimum ? 'PASS' : 'FAIL';
    return { verdict, text: `${t.trace} ${number(t.size)}: ${pct(row.smart)} % (${wanted})` };
  });
  const verdicts = checks.map((c) => c.verdict);
  const verdict: Verdict = verdicts.includes('FAIL') ? 'FAIL' : verdicts.includes('SKIP') ? 'SKIP' : 'PASS';
  report(verdict, `${target}. ${target === 3 ? 'OLTP against W-TinyLFU' : 'P6 against ARC'}`);
  for (const check of checks) console.log(`      ${check.verdict}  ${check.text}`);
  return verdict;
}

/**
 * `npm run bench:rollout`: the cost and the correctness of a rollout's bucketing decision, against
 * unleash-client (the Node client of Unleash, whose bucketing Keel follows), measured in one run.
 *
 * 1. Decision cost: "is this id inside 10 % of this group?" over 100,000 ids (`user-<n>`), Keel's
 *    `isInRollout` against unleash-client's `normalizedStrategyValue(id, group) <= 10` (its
 *    gradual-rollout check), in alternating rounds; the median nanoseconds per decision of each and
 *    their ratio. Target: Keel ≤ 200 ns a decision (it runs on every request of a route in a
 *    rollout) — an absolute figure, since what it must fit is a request's time budget, printed
 *    with the ratio to the peer measured beside it.
 * 2. Same buckets: the share of the 100,000 ids on which both decide the same, at weights 1, 10,
 *    50 and 90. Target: all of them (100 %). Ids with characters outside ASCII are counted apart:
 *    Keel hashes their UTF-8 bytes, as the Unleash server and its other clients do, while
 *    unleash-client hashes the low byte of each UTF-16 unit, so they may differ there (reported).
 * 3. Share inside a weight: within ±1 % of the weight over the 100,000 ids, at 1, 10, 50 and 90 %.
 * Exit code 1 when a target fails.
 */
import { normalizedStrategyValue } from 'unleash-client/lib/strategy/util.js';
import { isInRollout } from '../src/rollout/index.js';
import { median } from './lib/harness.js';

const IDS = 100_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const PASSES_PER_ROUND = 10;
const GROUP = 'listing';
const WEIGHT = 10;
const MAX_NS_PER_DECISION = 200;
const MAX_SHARE_ERROR = 0.01;
const WEIGHTS = [1, 10, 50, 90];

const asciiIds = Array.from({ length: IDS }, (_, i) => `user-${i}`);
const otherIds = Array.from({ length: 10_000 }, (_, i) => `ユーザー-${i}-é`);

type Decide = (id: string, group: string, weight: number) => boolean;
const keel: Decide = isInRollout;
const unleash: Decide = (id, group, weight) => weight > 0 && normalizedStrategyValue(id, group) <= weight;

/** Nanoseconds per decision of `decide` over every id, PASSES_PER_ROUND times. */
function nsPerDecision(decide: Decide): number {
  let inside = 0;
  const started = process.hrtime.bigint();
  for (let pass = 0; pass < PASSES_PER_ROUND; pass++)
    for (const id of asciiIds) if (decide(id, GROUP, WEIGHT)) inside++;
  const elapsed = Number(process.hrtime.bigint() - started);
  if (inside === 0) throw new Error('no id inside the weight: the measurement would be meaningless');
  return elapsed / (PASSES_PER_ROUND * asciiIds.length);
}

function decisionCost(): boolean {
  const samples: Record<'keel' | 'unleash', number[]> = { keel: [], unleash: [] };
  nsPerDecision(keel);
  nsPerDecision(unleash);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['keel', 'unleash'] as const) : (['unleash', 'keel'] as const);
    for (const name of order) samples[name].push(nsPerDecision(name === 'keel' ? keel : unleash));
  }
  const keelNs = median(samples.keel);
  const unleashNs = median(samples.unleash);
  console.log(
    `1. decision cost over ${IDS.toLocaleString('en')} ids, median of ${ROUNDS} rounds:\n` +
      `   Keel isInRollout ${keelNs.toFixed(1)} ns   unleash-client ${unleashNs.toFixed(1)} ns   ` +
      `Keel is ${(unleashNs / keelNs).toFixed(2)}× as fast`,
  );
  const pass = keelNs <= MAX_NS_PER_DECISION;
  console.log(
    `${pass ? 'PASS' : 'FAIL'}  Keel's decision: ${keelNs.toFixed(1)} ns (target ≤ ${MAX_NS_PER_DECISION} ns)`,
  );
  return pass;
}

function sameBuckets(): boolean {
  let pass = true;
  console.log('2. same decision as unleash-client, and 3. share inside the weight:');
  for (const weight of WEIGHTS) {
    let same = 0;
    let inside = 0;
    for (const id of asciiIds) {
      const decided = keel(id, GROUP, weight);
      if (decided === unleash(id, GROUP, weight)) same++;
      if (decided) inside++;
    }
    const otherSame = otherIds.filter((id) => keel(id, GROUP, weight) === unleash(id, GROUP, weight)).length;
    const share = inside / IDS;
    const agree = same === IDS;
    const even = Math.abs(share - weight / 100) <= MAX_SHARE_ERROR;
    pass &&= agree && even;
    console.log(
      `${agree ? 'PASS' : 'FAIL'}  weight ${weight} %: same decision on ${same.toLocaleString('en')} of ${IDS.toLocaleString('en')} ASCII ids ` +
        `(non-ASCII ids: ${((100 * otherSame) / otherIds.length).toFixed(1)} % the same)`,
    );
    console.log(
      `${even ? 'PASS' : 'FAIL'}  weight ${weight} %: ${(100 * share).toFixed(2)} % of ids inside (target within ±${100 * MAX_SHARE_ERROR} pt)`,
    );
  }
  return pass;
}

console.log(`Keel rollout bucketing benchmark — Node ${process.version}\n`);
const results = [decisionCost(), sameBuckets()];
process.exitCode = results.every(Boolean) ? 0 : 1;

/**
 * WindowTuner: chooses the share of SmartCache given to W-TinyLFU's admission window by racing
 * small shadow caches, each with a fixed share, on a sample of the keys.
 *
 * Why adapt. A small window (1 %) suits frequency-skewed workloads: almost everything lives in the
 * main space, guarded by the frequency filter, and loops and scans cannot flush it. Recency-skewed
 * workloads (keys read a few times in a short span, then never again; a working set that moves)
 * want a large window, up to the whole cache, where W-TinyLFU becomes plain LRU. No fixed share
 * suits both (Einziger, Eytan, Friedman, Manes: "Adaptive Software Cache Management", Middleware
 * 2018).
 *
 * Why a race of shadows. Hill climbing compares the hit rate of successive samples, but on real
 * traces that rate swings with the workload's phases by more than a step of the window changes it,
 * so the climber wanders; and moving the real cache step by step costs a transient at every step.
 * The paper's alternative, mini-simulations, is what this does: a spatially sampled slice of the
 * keys (Waldspurger et al., "Efficient MRC Construction with SHARDS", FAST 2015: a key is sampled
 * when its hash falls below a threshold, so it is sampled on every request or never) drives
 * CANDIDATE_SHARES.length small W-TinyLFU caches whose shares never change. They see the same
 * requests at the same time, and a sampled request on which one shadow hits and another misses is
 * evidence for the first over the second (McNemar's paired test): requests both hit or both miss,
 * most of them, say nothing, so a few hundred samples separate shares whose hit ratios differ by
 * a point, where comparing raw hit counts would need tens of thousands.
 *
 * The rules, each answering a failure seen on the traces of `npm run bench:hitratio`:
 *   - Start as LRU (share 1). In its first pass over new keys no policy can tell a loop, where the
 *     first keys must be kept, from a back-and-forth sweep, where the last ones must; LRU is the bet
 *     that never falls below LRU.
 *   - At the cache's first eviction, look at what the sketch knows of the resident keys: if they
 *     have been read more than once on average, frequency has something to protect, and the cache
 *     takes REUSE_SHARE at once (a hot set followed by a scan is then kept, as TinyLFU promises);
 *     if not, it stays LRU until the race says otherwise.
 *   - Switch to another share when its evidence over the current share is significant (more than
 *     `barrier` standard deviations, √(wins + losses)) AND large (at least MIN_ADVANTAGE of the
 *     recent samples): a switch costs a transient while entries change places, and a phase of a
 *     few points is not worth it. Among several such shares, take the one with the largest
 *     advantage.
 *   - At a switch, fork: every other shadow becomes a copy of the shadow that followed the cache's
 *     share until then, with its own share, and the evidence starts over. Shadows that keep their
 *     own histories go on crediting a small window for the entries it kept through a scan, entries
 *     that a cache which was LRU during the scan has already lost and cannot win back by switching;
 *     forks measure what a switch from the cache's actual state gains, so a switch that does not pay
 *     off is undone within a few cache-sizes of requests.
 *   - Evidence fades: every DECAY_PERIOD × shadow-size samples all counts are halved, so the race
 *     follows a workload that changes, but a short burst cannot outweigh a long history.
 *   - Each switch doubles the barrier for the next one (it relaxes back by BARRIER_RELAXATION per
 *     decay period): workloads whose best share alternates faster than a switch pays off (a
 *     zigzag, a periodic scan) settle instead of oscillating.
 *
 * Cost. The shadows hold `capacity × rate` entries each, where the rate keeps them at most
 * SHADOW_ENTRIES and never samples more than MAX_SAMPLED_SHARE of the keys, so a read costs, on
 * average, at most CANDIDATE_SHARES.length × MAX_SAMPLED_SHARE shadow reads. A shadow is a bare
 * simulation of the policy (shadow-cache.ts), and all of them share one frequency sketch, which
 * records each sampled read once. Their memory is a few kilobytes per shadow.
 */
import { FrequencySketch } from './frequency-sketch.js';
import { hashNumber } from './hash.js';
import { ShadowCache } from './shadow-cache.js';

/**
 * The window shares raced, from frequency-biased to plain LRU. Over the shared traces the best of
 * these four per trace and size is within half a point of the best of eight shares between 1 %
 * and 100 %; more shadows cost more lookups and more chances of a false switch.
 */
export const CANDIDATE_SHARES: readonly number[] = [0.01, 0.1, 0.35, 1];
/** The share the cache starts with: LRU (see the design note). */
export const INITIAL_SHARE = 1;
/** The share taken at the first eviction when the resident keys have been read more than once. */
export const REUSE_SHARE = 0.1;
/** Largest shadow cache, in entries: enough for its hits to rank shares reliably. */
const SHADOW_ENTRIES = 1024;
/** Never sample more than this share of the keys, so reads stay cheap. */
const MAX_SAMPLED_SHARE = 1 / 8;
/** Evidence is halved every this many shadow-sizes of sampled requests. */
const DECAY_PERIOD = 8;
/** A switch needs this many standard deviations of evidence, before any back-off. */
const BASE_BARRIER = 2.5;
/** Each switch multiplies the barrier by this... */
const BARRIER_BACKOFF = 2;
/** ...and each decay period divides it by this, down to BASE_BARRIER. */
const BARRIER_RELAXATION = 1.2;
/** A switch needs an advantage of at least this share of the (decayed) sampled requests... */
const MIN_ADVANTAGE = 0.01;
/** ...and of at least this many requests, so a handful of samples cannot decide. */
const MIN_EVIDENCE = 4;
const TWO_POW_32 = 2 ** 32;
/** Multiplier that spreads hashes before the sampling test (the low bits index the sketch). */
const SAMPLING_MIX = 0x9e3779b1;

const SHARES = CANDIDATE_SHARES.length;

export class WindowTuner {
  private shadows: ShadowCache[] = [];
  /** The shadows' popularity history: they all see the same reads (shadow-cache.ts). */
  private sketch = new FrequencySketch(1);
  private readonly hit = new Uint8Array(SHARES);
  /** wins[a × SHARES + b]: decayed count of sampled requests shadow a hit and shadow b missed. */
  private readonly wins = new Float64Array(SHARES * SHARES);
  /** Decayed count of sampled requests, the base of MIN_ADVANTAGE. */
  private samples = 0;
  private sampledSinceDecay = 0;
  private current = CANDIDATE_SHARES.indexOf(INITIAL_SHARE);
  private barrier = BASE_BARRIER;
  private threshold = 0;
  private shadowEntries = 1;

  /** @param apply called with each new share the tuner decides on */
  constructor(
    capacity: number,
    private readonly apply: (share: number) => void,
  ) {
    this.resize(capacity);
  }

  /** The share the tuner last decided on. */
  get windowShare(): number {
    return CANDIDATE_SHARES[this.current];
  }

  /** Starts the race over with shadows for a cache of `capacity` entries (the share is kept). */
  resize(capacity: number): void {
    const rate = Math.min(MAX_SAMPLED_SHARE, SHADOW_ENTRIES / Math.max(1, capacity));
    this.threshold = rate * TWO_POW_32;
    this.shadowEntries = Math.max(1, Math.round(capacity * rate));
    this.sketch = new FrequencySketch(this.shadowEntries);
    this.shadows = CANDIDATE_SHARES.map((share) => new ShadowCache(this.shadowEntries, share, this.sketch));
    this.wins.fill(0);
    this.samples = 0;
    this.sampledSinceDecay = 0;
  }

  /**
   * Called once, at the cache's first eviction, with whether its resident keys have been read more
   * than once: if so, frequency has something to protect and the cache leaves LRU for REUSE_SHARE.
   * The shadows are not forked here: until now they all saw the same keys from the same start.
   */
  firstEviction(residentsShowReuse: boolean): void {
    if (!residentsShowReuse) return;
    this.current = CANDIDATE_SHARES.indexOf(REUSE_SHARE);
    this.apply(REUSE_SHARE);
  }

  /** Records one read of the key with this hash. */
  record(hash: number): void {
    if (Math.imul(hash, SAMPLING_MIX) >>> 0 >= this.threshold) return;
    // The sampling test selected these hashes by their bits; hashed again, they spread evenly over
    // the sketch's counters.
    const key = hashNumber(hash);
    this.sketch.increment(key);
    const { shadows, hit, wins } = this;
    let hits = 0;
    for (let i = 0; i < SHARES; i++) {
      if (shadows[i].read(key)) {
        hit[i] = 1;
        hits++;
      } else {
        hit[i] = 0;
      }
    }
    this.samples++;
    if (hits > 0 && hits < SHARES) {
      for (let a = 0; a < SHARES; a++) {
        if (hit[a] === 0) continue;
        for (let b = 0; b < SHARES; b++) if (hit[b] === 0) wins[a * SHARES + b]++;
      }
      this.decide();
    }
    if (++this.sampledSinceDecay >= DECAY_PERIOD * this.shadowEntries) this.decay();
  }

  /** Switches to the share with the largest significant and large enough advantage, if any. */
  private decide(): void {
    const { wins, current } = this;
    const least = Math.max(MIN_EVIDENCE, MIN_ADVANTAGE * this.samples);
    let best = -1;
    let bestAdvantage = 0;
    for (let j = 0; j < SHARES; j++) {
      if (j === current) continue;
      const won = wins[j * SHARES + current];
      const lost = wins[current * SHARES + j];
      const advantage = won - lost;
      if (advantage < least || advantage <= this.barrier * Math.sqrt(won + lost)) continue;
      if (advantage > bestAdvantage) {
        bestAdvantage = advantage;
        best = j;
      }
    }
    if (best < 0) return;
    this.switchTo(best);
    this.barrier *= BARRIER_BACKOFF;
  }

  /** Moves the cache to the share of shadow `next` and restarts the race from forks (design note). */
  private switchTo(next: number): void {
    const followed = this.shadows[this.current];
    this.shadows = CANDIDATE_SHARES.map((share, i) => (i === this.current ? followed : followed.fork(share)));
    this.wins.fill(0);
    this.samples = 0;
    this.current = next;
    this.apply(CANDIDATE_SHARES[next]);
  }

  private decay(): void {
    for (let i = 0; i < this.wins.length; i++) this.wins[i] /= 2;
    this.samples /= 2;
    this.sampledSinceDecay = 0;
    this.barrier = Math.max(BASE_BARRIER, this.barrier / BARRIER_RELAXATION);
  }
}

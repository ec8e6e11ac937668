/**
 * WindowTuner: hill climbing of the share of SmartCache given to W-TinyLFU's admission window,
 * steered by shadow caches.
 *
 * Why adapt. A small window (1 %) suits frequency-skewed workloads: almost everything lives in the
 * main space, guarded by the frequency filter. Recency-skewed workloads (keys read a few times in a
 * short span, then never again; loops slightly larger than the cache) want a large window, up to
 * the whole cache, where W-TinyLFU becomes plain LRU. No fixed share suits both (Einziger, Eytan,
 * Friedman, Manes: "Adaptive Software Cache Management", Middleware 2018).
 *
 * Why shadows. The classic climber compares the hit rate of successive samples and keeps moving
 * while it improves. On real traces the hit rate swings by several points from one sample to the
 * next with the workload's phases, far more than a step of the window changes it, so the climber
 * wanders; and a short workload ends before it has taken enough steps. Here the slope is measured
 * instead of guessed: a spatially sampled slice of the keys (Waldspurger et al., "Efficient MRC
 * Construction with SHARDS", FAST 2015) drives small shadow caches, identical W-TinyLFU caches with
 * fixed window shares, one on each side of the current share. They see the same requests in the
 * same phase, so the comparison of their hit counts is immune to the swings that mislead the
 * classic climber.
 *
 * How. The shadows hold `capacity × rate` entries, where the rate makes them SHADOW_ENTRIES at most
 * and never samples more than MAX_SAMPLED_SHARE of the keys (a sampled read costs the shadows' reads
 * too). A key is sampled when its hash falls below the rate's threshold, so it is sampled on every
 * request or never. Decisions are taken every SAMPLES_PER_ENTRY × shadow-size sampled requests:
 *
 *   1. First a coarse search: shadows at every share of START_GRID; the cache takes the share whose
 *      shadow hit most (ties to the larger window: recency is all a young cache has to go on).
 *   2. Then hill climbing on a log scale: two shadows at share ÷ SHADOW_SPREAD and × SHADOW_SPREAD;
 *      the share moves by STEP_FACTOR towards the one that hit clearly more (NOISE_DEVIATIONS),
 *      between MIN_SHARE and 1. On a near tie it stays: during a scan both shadows miss
 *      everything, and drifting towards LRU then would flush what the frequency filter protects. The shadows are re-centred on the new share and keep their
 *      contents, so they stay warm.
 *
 * A log scale because what matters is the ratio: 1 % against 2 % changes much more than 61 % against
 * 62 %. The shadows cost about 2 × SHADOW_ENTRIES entries of memory and, on average, a sampled share
 * of a shadow lookup per read.
 */

/** What the tuner needs of a shadow cache: SmartCache with a fixed window share. */
export interface ShadowCache {
  get(key: number): unknown;
  set(key: number, value: true): boolean;
  setWindowFraction(share: number): void;
}

export type ShadowFactory = (maxEntries: number, windowShare: number) => ShadowCache;

/** The shares tried side by side before hill climbing starts. */
const START_GRID = [0.01, 0.1, 0.3, 1];
/** The shadows sit at the share divided and multiplied by this. */
const SHADOW_SPREAD = 2;
/** Each move multiplies or divides the share by this. */
const STEP_FACTOR = Math.SQRT2;
/** The smallest share the climber goes down to (0.5 %); below it the window is empty in practice. */
const MIN_SHARE = 0.005;
/** Largest shadow cache, in entries: enough for its hit counts to rank shares reliably. */
const SHADOW_ENTRIES = 1024;
/** Never sample more than this share of the keys, so reads stay cheap. */
const MAX_SAMPLED_SHARE = 1 / 8;
/** Sampled requests per decision, as a multiple of the shadow's size. */
const SAMPLES_PER_ENTRY = 2;
/**
 * The shadows' hit counts must differ by more than this many standard deviations (of a count of
 * rare events, √(a + b)) before the share moves: a closer race is noise, and every move costs the
 * cache a transient while entries change places.
 */
const NOISE_DEVIATIONS = 1;
const TWO_POW_32 = 2 ** 32;
/** Multiplier that spreads hashes before the sampling test (the low bits index the sketch). */
const SAMPLING_MIX = 0x9e3779b1;

function logDistance(a: number, b: number): number {
  return Math.abs(Math.log(Math.max(a, MIN_SHARE) / Math.max(b, MIN_SHARE)));
}

export class WindowTuner {
  private shadows: ShadowCache[] = [];
  private shadowShares: number[] = [];
  private hits: number[] = [];
  private sampled = 0;
  private threshold = 0;
  private shadowEntries = 1;
  private searching = true;

  /**
   * @param share the cache's current window share
   * @param apply called with each new share the tuner decides on
   */
  constructor(
    capacity: number,
    private share: number,
    private readonly createShadow: ShadowFactory,
    private readonly apply: (share: number) => void,
  ) {
    this.resize(capacity);
  }

  /** The share the tuner last decided on. */
  get windowShare(): number {
    return this.share;
  }

  /** Starts over with shadows for a cache of `capacity` entries (and a fresh coarse search). */
  resize(capacity: number): void {
    const rate = Math.min(MAX_SAMPLED_SHARE, SHADOW_ENTRIES / Math.max(1, capacity));
    this.threshold = rate * TWO_POW_32;
    this.shadowEntries = Math.max(1, Math.round(capacity * rate));
    this.searching = true;
    this.shadows = [];
    this.place(START_GRID);
  }

  /** Records one read of the key with this hash. */
  record(hash: number): void {
    if (Math.imul(hash, SAMPLING_MIX) >>> 0 >= this.threshold) return;
    const shadows = this.shadows;
    for (let i = 0; i < shadows.length; i++) {
      if (shadows[i].get(hash) === undefined) shadows[i].set(hash, true);
      else this.hits[i]++;
    }
    if (++this.sampled >= this.shadowEntries * SAMPLES_PER_ENTRY) this.decide();
  }

  private decide(): void {
    if (this.searching) {
      // No shadow did better than another: nothing learnt yet (all fit, or a scan); search again.
      if (this.hits.every((hits) => hits === this.hits[0])) {
        this.place(START_GRID);
        return;
      }
      let best = 0;
      for (let i = 1; i < this.hits.length; i++) if (this.hits[i] >= this.hits[best]) best = i;
      this.searching = false;
      this.move(this.shadowShares[best]);
      return;
    }
    const [smaller, larger] = this.hits;
    if (Math.abs(smaller - larger) <= NOISE_DEVIATIONS * Math.sqrt(smaller + larger)) {
      this.place(this.shadowShares);
      return;
    }
    this.move(smaller > larger ? this.share / STEP_FACTOR : this.share * STEP_FACTOR);
  }

  private move(share: number): void {
    this.share = Math.min(1, Math.max(MIN_SHARE, share));
    this.apply(this.share);
    this.place([this.share / SHADOW_SPREAD, Math.min(1, this.share * SHADOW_SPREAD)]);
  }

  /**
   * Sets the shadows' shares. Each new share reuses the warm shadow whose share was closest (on the
   * log scale), so its contents already reflect a similar window; missing shadows are created.
   */
  private place(shares: number[]): void {
    const available = this.shadows.map((shadow, i) => ({ shadow, share: this.shadowShares[i] }));
    this.shadows = shares.map((share) => {
      let closest = -1;
      for (let i = 0; i < available.length; i++) {
        if (
          closest < 0 ||
          logDistance(available[i].share, share) < logDistance(available[closest].share, share)
        ) {
          closest = i;
        }
      }
      if (closest < 0) return this.createShadow(this.shadowEntries, share);
      const [{ shadow }] = available.splice(closest, 1);
      shadow.setWindowFraction(share);
      return shadow;
    });
    this.shadowShares = shares;
    this.hits = shares.map(() => 0);
    this.sampled = 0;
  }
}

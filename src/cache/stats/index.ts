/** The cache's statistics primitives: a bounded top-k of keys and a fixed-memory latency histogram. */

export { LatencyHistogram, type LatencySnapshot } from './latency-histogram.js';
export { DEFAULT_TOP_K_CAPACITY, SpaceSaving, type TopKey } from './space-saving.js';

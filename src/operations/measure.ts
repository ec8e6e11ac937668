/**
 * `keel measure`: each endpoint's latency without the cache and with it, and the improvement —
 * the deployment guide's baseline measurement, comparing like with like.
 *
 * Without the cache: the same request through the gateway with `Cache-Control: no-store`, which
 * the gateway passes straight to the origin (or, with `originUrl`, the origin itself). With the
 * cache: the request as clients send it, after one warming request. Requests are sequential, so
 * each time is one request's latency, not a queue's; the two series alternate so both see the
 * same machine.
 */
import { request } from 'undici';
import { LatencyHistogram, type LatencySnapshot } from '../cache/index.js';

export interface EndpointMeasurement {
  path: string;
  withoutCache: LatencySnapshot;
  withCache: LatencySnapshot;
  /** Share of the p50 saved by the cache (0.9 = 90 % faster). */
  improvement: number;
  /** The X-Cache outcomes seen on the cached requests. */
  outcomes: Record<string, number>;
  errors: number;
}

export interface MeasureOptions {
  baseUrl: URL;
  paths: string[];
  samples: number;
  /** Measure "without cache" against the origin directly instead of through the gateway. */
  originUrl?: URL;
}

async function timed(
  url: URL,
  headers: Record<string, string>,
): Promise<{ ms: number; status: number; xCache?: string }> {
  const started = performance.now();
  const response = await request(url, { headers });
  await response.body.dump();
  const xCache = response.headers['x-cache'];
  return {
    ms: performance.now() - started,
    status: response.statusCode,
    xCache: typeof xCache === 'string' ? xCache : undefined,
  };
}

export async function measureEndpoints(options: MeasureOptions): Promise<EndpointMeasurement[]> {
  const results: EndpointMeasurement[] = [];
  for (const path of options.paths) {
    const cached = new URL(path, options.baseUrl);
    const direct = new URL(path, options.originUrl ?? options.baseUrl);
    const bypass: Record<string, string> =
      options.originUrl === undefined ? { 'cache-control': 'no-store' } : {};
    const without = new LatencyHistogram();
    const withCache = new LatencyHistogram();
    const outcomes: Record<string, number> = {};
    let errors = 0;
    await timed(cached, {});
    for (let i = 0; i < options.samples; i++) {
      const slow = await timed(direct, bypass);
      const fast = await timed(cached, {});
      without.record(slow.ms);
      withCache.record(fast.ms);
      outcomes[fast.xCache ?? 'none'] = (outcomes[fast.xCache ?? 'none'] ?? 0) + 1;
      if (slow.status >= 500 || fast.status >= 500) errors++;
    }
    const before = without.snapshot();
    const after = withCache.snapshot();
    results.push({
      path,
      withoutCache: before,
      withCache: after,
      improvement: before.p50 === 0 ? 0 : 1 - after.p50 / before.p50,
      outcomes,
      errors,
    });
  }
  return results;
}

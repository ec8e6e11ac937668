/**
 * `keel measure`: each endpoint's latency without the cache and with it, and the improvement —
 * the baseline measurement of a deployment, comparing like with like.
 *
 * Without the cache: the same request to the origin itself (`originUrl`, else the origin the
 * gateway names in its /api/status; no client request can make the gateway skip its cache). With
 * the cache: the request as clients send it, through the gateway, after one warming request.
 * Requests are sequential, so each time is one request's latency, not a queue's; the two series
 * alternate so both see the same machine.
 */
import { request } from 'undici';
import { LatencyHistogram, type LatencySnapshot } from '../cache/index.js';
import { ConfigError, type KeelError } from '../errors.js';
import { gatewayJson } from './gateway-client.js';

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
  /** The origin, for "without cache"; by default the one the gateway's /api/status names. */
  originUrl?: URL;
  /** Checks (and may refuse) the origin the gateway names: measurement sends it real load. */
  checkOrigin?: (url: URL) => URL;
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
  const origin =
    options.originUrl ?? (options.checkOrigin ?? ((url) => url))(await originOf(options.baseUrl));
  for (const path of options.paths) {
    const cached = new URL(path, options.baseUrl);
    const direct = new URL(path, origin);
    const without = new LatencyHistogram();
    const withCache = new LatencyHistogram();
    const outcomes: Record<string, number> = {};
    let errors = 0;
    await timed(cached, {});
    for (let i = 0; i < options.samples; i++) {
      const slow = await timed(direct, {});
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

/** The origin the gateway at `base` names in its /api/status. */
async function originOf(base: URL): Promise<URL> {
  const statusUrl = new URL('/api/status', base);
  let named: unknown;
  try {
    named = (await gatewayJson<{ origin?: { url?: unknown } }>(statusUrl)).origin?.url;
  } catch (error) {
    if ((error as KeelError).code === 'GATEWAY_UNREACHABLE') throw error;
  }
  if (typeof named !== 'string')
    throw new ConfigError(
      '--origin-url',
      `${statusUrl.href} did not name the origin (with KEEL_ADMIN_PORT it answers on the admin listener); pass --origin-url`,
    );
  return new URL(named);
}

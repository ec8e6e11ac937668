/**
 * `keel loadtest`: sustained load on the gateway with autocannon, cycling through the given paths,
 * reporting progress once a second and a summary at the end (throughput, latency percentiles,
 * errors, non-2xx answers, and how the gateway answered: its X-Cache outcomes).
 */
import type { IncomingHttpHeaders } from 'node:http';
import autocannon from 'autocannon';
import { assertGatewayAnswers } from './gateway-client.js';

export interface LoadTestOptions {
  url: URL;
  paths: string[];
  connections: number;
  durationSeconds: number;
  /** Called about once a second with the seconds elapsed and the requests completed so far. */
  onProgress?: (elapsedSeconds: number, requests: number) => void;
}

export interface LoadTestSummary {
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  throughputBytesPerSecond: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  outcomes: Record<string, number>;
}

export async function runLoadTest(options: LoadTestOptions): Promise<LoadTestSummary> {
  // Nothing to load: say so at once, rather than after a table of connection errors.
  await assertGatewayAnswers(options.url);
  const outcomes: Record<string, number> = {};
  let completed = 0;
  const countOutcome = ({ headers }: { headers: string[] }) => {
    completed++;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i]?.toLowerCase() !== 'x-cache') continue;
      const outcome = headers[i + 1] ?? 'none';
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
  };
  const started = Date.now();
  const ticker = setInterval(() => options.onProgress?.((Date.now() - started) / 1000, completed), 1_000);
  try {
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
      autocannon(
        {
          url: options.url.origin,
          connections: options.connections,
          duration: options.durationSeconds,
          requests: options.paths.map((path) => ({ method: 'GET', path })),
          // autocannon emits the parser's header info ({ headers: [name, value, …] }), not the
          // IncomingHttpHeaders its type declarations promise.
          setupClient: (client) =>
            client.on('headers', countOutcome as unknown as (headers: IncomingHttpHeaders) => void),
        },
        (error, finished) => (error ? reject(error) : resolve(finished)),
      );
    });
    return {
      requests: result.requests.total,
      requestsPerSecond: result.requests.average,
      latencyMs: {
        p50: result.latency.p50,
        p90: result.latency.p90,
        p99: result.latency.p99,
        max: result.latency.max,
        mean: result.latency.average,
      },
      throughputBytesPerSecond: result.throughput.average,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      outcomes,
    };
  } finally {
    clearInterval(ticker);
  }
}

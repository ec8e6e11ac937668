/**
 * What `keel serve` prints once it is ready: where the API, the dashboard, the metrics and the
 * admin API answer, what the origin and the cache are, and whether the origin answers at all (a
 * gateway in front of an origin that is down answers every miss with 502, which a newcomer should
 * learn now rather than from the first request). With the bundled sample origin, the first line
 * is a request to try.
 */
import pc from 'picocolors';
import { request } from 'undici';
import { displayUrl, type ServeConfig } from '../config.js';
import type { RunningServer } from '../server/index.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';

/** How long the origin has to answer the banner's probe. */
const ORIGIN_PROBE_TIMEOUT_MS = 2_000;

export async function banner(server: RunningServer, config: ServeConfig, startedMs: number): Promise<string> {
  const perf = server.cache.getPerformanceStats();
  const sample = server.sampleOrigin !== undefined;
  const origin = config.origin === undefined ? server.originUrl : displayUrl(config.origin);
  const lines = [`${pc.bold('Keel')} gateway ready in ${formatDuration(startedMs)}`];
  if (sample)
    lines.push(
      `  try        curl -i ${pc.cyan(`${server.url}/products/1`)}   (twice: X-Cache MISS, then HIT)`,
    );
  lines.push(
    `  API        ${pc.cyan(server.url)}   (cached per the routes: ${server.routes.routes.length} routes)`,
    `  dashboard  ${pc.cyan(`${server.adminUrl}/dashboard`)}`,
    `  metrics    ${pc.cyan(`${server.adminUrl}/metrics`)}   status ${pc.cyan(`${server.adminUrl}/api/status`)}`,
    `  origin     ${origin}${sample ? pc.dim('   (bundled sample: a commerce API over embedded PostgreSQL, in its own process)') : ''}`,
  );
  const probe = await probeOrigin(server.originUrl, config.originHealthPath);
  if (probe !== undefined) lines.push(`             ${pc.yellow(probe)}`);
  lines.push(
    `  cache      L1 ${formatBytes(perf.memory.budgetBytes)}${config.redisUrl === undefined ? pc.dim(' · L1 only (set REDIS_URL for the shared L2)') : ` · Redis L2 ${perf.l2?.state}`}`,
    `  admin      ${config.adminToken === undefined ? pc.dim('off (set KEEL_ADMIN_TOKEN)') : `${server.adminUrl}/admin`}`,
    `  rollouts   switches in ${server.rollout.storeName}`,
  );
  if (server.rollout.storeWarning !== undefined)
    lines.push(`             ${pc.yellow(server.rollout.storeWarning)}`);
  return lines.join('\n');
}

/** Undefined when the origin answers below 500 at `path`; else what is wrong, in a sentence. */
async function probeOrigin(origin: string, path: string): Promise<string | undefined> {
  try {
    const answer = await request(new URL(path, origin), {
      method: 'GET',
      headersTimeout: ORIGIN_PROBE_TIMEOUT_MS,
      bodyTimeout: ORIGIN_PROBE_TIMEOUT_MS,
    });
    await answer.body.dump();
    if (answer.statusCode < 500) return undefined;
    return `the origin answers ${answer.statusCode} at ${path} (KEEL_ORIGIN_HEALTH_PATH)`;
  } catch (error) {
    const reason = (error as { code?: string }).code ?? (error as Error).message;
    return `the origin is not answering (${reason}): every request that misses the cache will get 502 until it does`;
  }
}

/**
 * The operations commands: `keel cache verify`, `measure`, `loadtest`, `analyze`, `status`,
 * `routes`. Each parses its flags, calls the library function in src/operations/, and prints a
 * table; a failed check or an unhealthy status ends with exit code 1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import type { Command } from 'commander';
import pc from 'picocolors';
import { ConfigError } from '../errors.js';
import {
  analyze,
  checkStatus,
  loadTarget,
  measureEndpoints,
  parsePaths,
  reportHtml,
  runLoadTest,
  verifyCache,
} from '../operations/index.js';
import { SAMPLE_ROUTES_YAML } from '../sample-origin/routes.js';
import { parseDuration } from '../util/duration.js';
import { parseWholeNumber } from '../util/whole-number.js';
import { adminClient, DEFAULT_GATEWAY, operatorName } from './admin-access.js';

function table(head: string[], rows: (string | number)[][]): string {
  const out = new Table({ head: head.map((cell) => pc.bold(cell)), style: { head: [], border: [] } });
  out.push(...rows.map((row) => row.map(String)));
  return out.toString();
}

/** `keel verify`: the cache against a real Redis. */
function verifyCommand(command: Command): void {
  command
    .description(
      'Redis connection and latency, then set/get/delete/tag/pattern round trips across two instances',
    )
    .option(
      '--redis-url <url>',
      'the Redis to verify (REDIS_URL)',
      process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    )
    .action(async (options: { redisUrl: string }) => {
      const results = await verifyCache(options.redisUrl);
      console.log(
        table(
          ['check', 'result', 'detail', 'ms'],
          results.map((r) => [r.check, r.ok ? pc.green('pass') : pc.red('FAIL'), r.detail, ms(r.ms)]),
        ),
      );
      const failed = results.filter((result) => !result.ok).length;
      console.log(
        failed === 0
          ? pc.green(`all ${results.length} checks passed`)
          : pc.red(`${failed} of ${results.length} checks failed`),
      );
      if (failed > 0) process.exitCode = 1;
    });
}

function positiveInt(text: string, flag: string): number {
  const n = parseWholeNumber(text);
  if (n === undefined || n === 0) throw new ConfigError(flag, `expected a positive integer (got "${text}")`);
  return n;
}

function pathsFrom(option: string): string[] {
  let text = option;
  if (!option.startsWith('/')) {
    try {
      text = readFileSync(option, 'utf8');
    } catch (error) {
      throw new ConfigError('--paths', `cannot read ${option}: ${(error as Error).message}`);
    }
  }
  return parsePaths(text, '--paths');
}

const ms = (value: number) => value.toFixed(2);
const colourLevel = (level: string) =>
  level === 'ok'
    ? pc.green(level)
    : level === 'n/a'
      ? pc.dim(level)
      : level === 'critical' || level === 'high'
        ? pc.red(level)
        : pc.yellow(level);

export function operationsCommands(program: Command): void {
  // One shape: every operation is `keel <verb>`; `keel cache verify` stays as the older spelling.
  verifyCommand(program.command('verify'));
  verifyCommand(program.command('cache').description('the older spelling of keel verify').command('verify'));

  program
    .command('measure')
    .description('each endpoint without and with the cache: p50/p95/p99 and the improvement')
    .requiredOption('--paths <file|list>', 'a file of paths (one per line) or /a,/b')
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .option(
      '--origin-url <url>',
      'the origin, measured for "without cache" (default: the origin the gateway names in /api/status)',
    )
    .option('--samples <n>', 'requests per endpoint and side', '50')
    .option('--allow-remote', 'allow targets other than this machine')
    .action(
      async (options: {
        paths: string;
        baseUrl: string;
        originUrl?: string;
        samples: string;
        allowRemote?: boolean;
      }) => {
        const results = await measureEndpoints({
          baseUrl: loadTarget(options.baseUrl, '--base-url', options.allowRemote === true),
          originUrl:
            options.originUrl === undefined
              ? undefined
              : loadTarget(options.originUrl, '--origin-url', options.allowRemote === true),
          checkOrigin: (url) => loadTarget(url.href, '--origin-url', options.allowRemote === true),
          paths: pathsFrom(options.paths),
          samples: positiveInt(options.samples, '--samples'),
        });
        console.log(
          table(
            [
              'endpoint',
              'without p50/p95/p99 ms',
              'with p50/p95/p99 ms',
              'improvement (p50)',
              'X-Cache',
              'errors',
            ],
            results.map((r) => [
              r.path,
              `${ms(r.withoutCache.p50)} / ${ms(r.withoutCache.p95)} / ${ms(r.withoutCache.p99)}`,
              `${ms(r.withCache.p50)} / ${ms(r.withCache.p95)} / ${ms(r.withCache.p99)}`,
              `${(r.improvement * 100).toFixed(1)} %`,
              Object.entries(r.outcomes)
                .map(([outcome, n]) => `${outcome} ${n}`)
                .join(', '),
              r.errors,
            ]),
          ),
        );
      },
    );

  program
    .command('loadtest')
    .description('sustained load on the gateway (autocannon), with a progress bar and a summary')
    .requiredOption('--paths <file|list>', 'a file of paths (one per line) or /a,/b')
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .option('--connections <n>', 'concurrent connections', '64')
    .option('--duration <time>', 'how long, e.g. 30s or 5m', '30s')
    .option('--allow-remote', 'allow targets other than this machine')
    .action(
      async (options: {
        paths: string;
        baseUrl: string;
        connections: string;
        duration: string;
        allowRemote?: boolean;
      }) => {
        const durationMs = parseDuration(options.duration);
        if (durationMs === undefined || durationMs < 1000)
          throw new ConfigError(
            '--duration',
            `expected a duration of at least 1s (got "${options.duration}")`,
          );
        const seconds = Math.round(durationMs / 1000);
        const bar = new SingleBar({
          format: ' {bar} {value}/{total} s | {requests} requests',
          hideCursor: true,
        });
        bar.start(seconds, 0, { requests: 0 });
        const summary = await runLoadTest({
          url: loadTarget(options.baseUrl, '--base-url', options.allowRemote === true),
          paths: pathsFrom(options.paths),
          connections: positiveInt(options.connections, '--connections'),
          durationSeconds: seconds,
          onProgress: (elapsed, requests) => bar.update(Math.min(seconds, Math.floor(elapsed)), { requests }),
        });
        bar.update(seconds);
        bar.stop();
        console.log(
          table(
            [
              'requests',
              'req/s',
              'latency p50 / p90 / p99 / max ms',
              'errors',
              'timeouts',
              'non-2xx',
              'X-Cache',
            ],
            [
              [
                summary.requests,
                summary.requestsPerSecond.toFixed(0),
                `${summary.latencyMs.p50} / ${summary.latencyMs.p90} / ${summary.latencyMs.p99} / ${summary.latencyMs.max}`,
                summary.errors,
                summary.timeouts,
                summary.non2xx,
                Object.entries(summary.outcomes)
                  .map(([o, n]) => `${o} ${n}`)
                  .join(', '),
              ],
            ],
          ),
        );
        if (summary.errors > 0 || summary.non2xx > 0) process.exitCode = 1;
      },
    );

  program
    .command('analyze')
    .description("the gateway's recent history (or Prometheus's) as figures, charts and recommendations")
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .option('--prometheus <url>', 'read the history from this Prometheus instead')
    .option('--range <time>', 'with --prometheus: how far back', '1h')
    .option('--report <file>', 'write an HTML report here')
    .option('--allow-remote', 'allow targets other than this machine')
    .action(
      async (options: {
        baseUrl: string;
        prometheus?: string;
        range: string;
        report?: string;
        allowRemote?: boolean;
      }) => {
        const rangeMs = parseDuration(options.range);
        if (rangeMs === undefined || rangeMs < 60_000)
          throw new ConfigError('--range', `expected a duration of at least 1m (got "${options.range}")`);
        const analysis = await analyze({
          gateway: loadTarget(options.baseUrl, '--base-url', options.allowRemote === true),
          prometheus:
            options.prometheus === undefined
              ? undefined
              : loadTarget(options.prometheus, '--prometheus', options.allowRemote === true),
          rangeSeconds: rangeMs / 1000,
        });
        const { http, cache } = analysis.status;
        console.log(
          `${http.requests} requests, hit rate ${(http.hitRate * 100).toFixed(1)} %, p95 ${ms(http.latencyMs.p95)} ms, L1 ${(cache.memory.utilization * 100).toFixed(1)} % of its budget; ${analysis.series.length} intervals from ${analysis.source}`,
        );
        for (const item of analysis.recommendations) {
          const mark =
            item.severity === 'action'
              ? pc.red('action')
              : item.severity === 'consider'
                ? pc.yellow('consider')
                : pc.green('info');
          console.log(`  ${mark} [${item.topic}] ${item.text}`);
        }
        if (options.report !== undefined) {
          writeFileSync(options.report, reportHtml(analysis));
          console.log(`report: ${options.report}`);
        }
      },
    );

  program
    .command('status')
    .description(
      "the gateway's health and figures against the thresholds table (exit 1 when high or critical)",
    )
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .option('--sync-url <url>', 'also the listing sync’s service (`keel sync serve`, port 3002)')
    .option('--allow-remote', 'allow targets other than this machine')
    .action(async (options: { baseUrl: string; syncUrl?: string; allowRemote?: boolean }) => {
      const remote = options.allowRemote === true;
      const report = await checkStatus(
        loadTarget(options.baseUrl, '--base-url', remote),
        options.syncUrl === undefined ? undefined : loadTarget(options.syncUrl, '--sync-url', remote),
      );
      console.log(
        `ready: ${report.ready ? pc.green('yes') : pc.red('no')}  ${Object.entries(report.readiness)
          .map(([name, check]) => `${name} ${check.ok ? pc.green('ok') : pc.red(check.detail)}`)
          .join('  ')}`,
      );
      console.log(
        table(
          ['watched', 'value', 'target', 'level'],
          report.rows.map((row) => [row.title, row.value, row.target, colourLevel(row.level)]),
        ),
      );
      if (!report.healthy) process.exitCode = 1;
    });

  const routes = program
    .command('routes')
    .description("a running gateway's routes and their enablement (admin API, KEEL_ADMIN_TOKEN)");
  routes
    .command('list')
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .action(async (options: { baseUrl: string }) => {
      const admin = adminClient(options.baseUrl);
      console.log(
        table(
          ['route', 'kind', 'path', 'methods', 'enabled'],
          (await admin.routes()).map((r) => [
            r.name,
            r.kind,
            r.path,
            r.methods.join(','),
            r.enabledPercent === null ? '–' : `${r.enabledPercent} %`,
          ]),
        ),
      );
    });
  routes
    .command('enable <percent> [routes...]')
    .description(
      "serve this share (0–100) of the named read routes' requests through the cache (all read routes when none is named)",
    )
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .action(async (percentText: string, names: string[], options: { baseUrl: string }) => {
      const percent = parseWholeNumber(percentText);
      if (percent === undefined || percent > 100)
        throw new ConfigError('percent', `expected an integer 0–100 (got "${percentText}")`);
      const admin = adminClient(options.baseUrl);
      for (const change of await admin.setEnablement(names, percent, operatorName()))
        console.log(`${change.name}: ${change.from} % → ${change.to} %`);
    });
  routes
    .command('example')
    .description('print the sample routes file, a starting point for your own')
    .action(() => {
      process.stdout.write(SAMPLE_ROUTES_YAML);
    });
  routes
    .command('flush')
    .description("empty the gateway's cache (both tiers, every instance)")
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .action(async (options: { baseUrl: string }) => {
      await adminClient(options.baseUrl).flush();
      console.log('flushed');
    });
}

/**
 * `keel rollout demo` (`npm run demo:rollout`): a canary rollout carried out by the controller, end
 * to end on this machine, with nothing installed and nothing to configure.
 *
 * It starts the sample origin, two copies of it on loopback — `stable` and `candidate`, the same
 * service and data, as blue and green are (origin-copy.ts) — a local webhook receiver standing in
 * for Slack (webhook-receiver.ts), and a gateway whose `customer` route (passed through, never
 * cached: each origin's own errors and latency show) names the candidate. Clients with 1,000
 * different ids request customers throughout, and the built-in `canary` plan moves the route's
 * traffic switch 5 → 25 → 50 → 100 %, under a clock running `speed` times faster than real time
 * (a 30-minute stage lasts 15 s at the default 120×). The plan is evaluated every 5 minutes of plan
 * time rather than 30 s, so that each evaluation of the 5 % stage holds the 20 candidate latencies
 * its significance test needs at the demo's modest load. Every decision is printed as the audit records
 * it, with the guards' values; every notification as the receiver gets it; the dashboard shows it
 * live.
 *
 * With no fault the canary promotes to complete. `--fault errors` makes the candidate answer 20 % of
 * requests with 503: the critical trigger (error rate > 5 % for 5 minutes) rolls it back.
 * `--fault latency` adds 150 ms to each of its answers: the high trigger (latency significantly
 * worse than stable's) pauses it, and an hour later, still breaching and unacknowledged, rolls it
 * back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pc from 'picocolors';
import { request } from 'undici';
import { loadConfig } from '../config.js';
import {
  type AuditRecord,
  canary,
  type Plan,
  type RolloutRecord,
  type RolloutStore,
  scaledClock,
} from '../rollout/index.js';
import { spawnSampleOrigin } from '../sample-origin/child.js';
import { SAMPLE_ROUTES_YAML } from '../sample-origin/routes.js';
import { type RunningServer, startServer } from '../server/index.js';
import { formatDuration } from '../util/duration.js';
import { type FaultKind, type OriginCopy, startOriginCopy } from './origin-copy.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

export interface RolloutDemoOptions {
  fault?: FaultKind;
  /** Plan time per real time. */
  speed: number;
  /** The gateway's port (0: a free one). */
  port: number;
  print: (line: string) => void;
}

const ROUTE = 'customer';
const CUSTOMERS = 500;
const CLIENT_IDS = 1_000;
const CLIENTS = 16;
/** Pause of each client between requests: about CLIENTS × 1000 / (PAUSE + origin latency) requests/s. */
const CLIENT_PAUSE_MS = 40;
const ORIGIN_LATENCY_MS = 40;
const WATCH_EVERY_MS = 250;
const METRICS_SHOWN = 4;
const EVALUATION_INTERVAL_MS = 5 * 60_000;
const FINISHED = new Set<RolloutRecord['status']>(['complete', 'rolled-back', 'stopped']);

/** Runs the demo to its end; resolves with the rollout's final status. */
export async function runRolloutDemo(options: RolloutDemoOptions): Promise<RolloutRecord['status']> {
  const { print } = options;
  const folder = mkdtempSync(join(tmpdir(), 'keel-rollout-demo-'));
  const closers: (() => Promise<void>)[] = [async () => rmSync(folder, { recursive: true, force: true })];
  try {
    print(pc.dim('starting the sample origin (embedded PostgreSQL, a few seconds)…'));
    const origin = await spawnSampleOrigin({ latencyMs: ORIGIN_LATENCY_MS });
    closers.unshift(() => origin.close());
    const stable = await startOriginCopy(origin.url);
    const candidate = await startOriginCopy(origin.url);
    closers.unshift(
      () => stable.close(),
      () => candidate.close(),
    );
    candidate.fault.kind = options.fault;
    // The first line of each notification (its subject); the rest repeats what the audit printed.
    const receiver = await startWebhookReceiver((text) =>
      print(`${pc.magenta('   webhook')}  ${text.split('\n', 1)[0]}`),
    );
    closers.unshift(() => receiver.close());
    const gateway = await startDemoGateway(folder, stable, candidate, receiver, options);
    closers.unshift(() => gateway.close());
    print(introduction(gateway, candidate, options));

    const stopLoad = startLoad(gateway.url);
    closers.unshift(stopLoad);
    const { actions, store } = gateway.rollout.rollout;
    const record = await actions.start(demoPlan(), 'operator:demo', `demo-${Date.now()}`);
    const final = await watch(record.id, store, print);
    await stopLoad();
    await gateway.rollout.rollout.notifier.idle();
    print(
      `\n${pc.bold(`the rollout ended ${final}`)}; ${receiver.received.length} notifications reached the webhook. ` +
        (options.fault === undefined
          ? 'Run it again with --fault errors or --fault latency to see a regression rolled back.'
          : 'Run it again without --fault to see the canary promote to complete.'),
    );
    return final;
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}

async function startDemoGateway(
  folder: string,
  stable: OriginCopy,
  candidate: OriginCopy,
  receiver: WebhookReceiver,
  options: RolloutDemoOptions,
): Promise<RunningServer> {
  const routes = join(folder, 'routes.yaml');
  const customerRoute = `  - name: ${ROUTE}\n    path: /customers/:id\n`;
  if (!SAMPLE_ROUTES_YAML.includes(customerRoute))
    throw new Error('the sample routes have no customer route');
  writeFileSync(
    routes,
    SAMPLE_ROUTES_YAML.replace(customerRoute, `${customerRoute}    candidate: ${candidate.url}\n`),
  );
  const config = loadConfig({
    KEEL_PORT: String(options.port),
    KEEL_ORIGIN: stable.url,
    KEEL_ROUTES: routes,
    KEEL_DATA_DIR: join(folder, 'data'),
    KEEL_STICKY_KEY: 'header:x-user-id',
    ALERT_WEBHOOK_URL: receiver.url,
    LOG_LEVEL: 'silent',
  });
  return startServer(config, { rolloutClock: scaledClock(options.speed) });
}

function introduction(gateway: RunningServer, candidate: OriginCopy, options: RolloutDemoOptions): string {
  const plan = demoPlan();
  const fault =
    options.fault === 'errors'
      ? `answers ${candidate.fault.errorShare * 100} % of requests with 503`
      : options.fault === 'latency'
        ? `adds ${candidate.fault.addedMs} ms to every answer`
        : 'behaves (no --fault)';
  return [
    '',
    `${pc.bold('gateway')}    ${gateway.url}   dashboard: ${gateway.adminUrl}/dashboard`,
    `${pc.bold('route')}      ${ROUTE} (/customers/:id): stable ${gateway.originUrl}, candidate ${candidate.url}, which ${fault}`,
    `${pc.bold('plan')}       canary: ${plan.stages.map((stage) => `${Object.values(stage.switches)[0]} %`).join(' → ')}, each stage ${formatDuration(plan.stages[0]?.minDurationMs ?? 0)}, evaluated every ${formatDuration(plan.evaluationIntervalMs)}; time runs ${options.speed}× faster`,
    `${pc.bold('clients')}    ${CLIENTS} at once, ${CLIENT_IDS} client ids (sticky: x-user-id)`,
    '',
  ].join('\n');
}

/** The built-in canary on the demo's route, evaluated every EVALUATION_INTERVAL_MS of plan time. */
function demoPlan(): Plan {
  return { ...canary({ route: ROUTE }), evaluationIntervalMs: EVALUATION_INTERVAL_MS };
}

/** Clients requesting customers until stopped; resolves the stopper once they have all finished. */
function startLoad(base: string): () => Promise<void> {
  let running = true;
  const client = async () => {
    while (running) {
      const id = 1 + Math.floor(Math.random() * CUSTOMERS);
      const user = `client-${Math.floor(Math.random() * CLIENT_IDS)}`;
      try {
        const answer = await request(`${base}/customers/${id}`, { headers: { 'x-user-id': user } });
        await answer.body.dump();
      } catch {
        // The gateway is stopping.
      }
      await sleep(CLIENT_PAUSE_MS);
    }
  };
  const clients = Promise.all(Array.from({ length: CLIENTS }, client));
  return async () => {
    running = false;
    await clients;
  };
}

/** Prints each audit record of the rollout as it appears, with the metrics behind it; resolves when it ends. */
export async function watch(
  id: string,
  store: RolloutStore,
  print: (line: string) => void,
): Promise<RolloutRecord['status']> {
  const started = Date.now();
  const seen = new Set<string>();
  for (;;) {
    const records = (await store.audit({ rolloutId: id, limit: 50 })).reverse();
    for (const entry of records) {
      const key = `${entry.at}|${entry.action}|${entry.actor}`;
      if (seen.has(key)) continue;
      seen.add(key);
      print(decisionLine(entry, Date.now() - started));
      const metrics = entry.action === 'weights' ? undefined : metricsLine(entry.metrics);
      if (metrics !== undefined) print(pc.dim(`           ${metrics}`));
    }
    const record = await store.rollout(id);
    if (record !== undefined && FINISHED.has(record.status)) return record.status;
    await sleep(WATCH_EVERY_MS);
  }
}

function decisionLine(entry: AuditRecord, elapsedMs: number): string {
  const at = pc.dim(`${(elapsedMs / 1000).toFixed(1).padStart(5)} s`);
  const weights = Object.entries(entry.switches ?? {})
    .map(([key, weight]) => `${key} ${weight} %`)
    .join(', ');
  const action =
    entry.action === 'rollback'
      ? pc.red(entry.action)
      : entry.action === 'pause'
        ? pc.yellow(entry.action)
        : pc.green(entry.action);
  return `${at}  ${action.padEnd(18)} ${entry.actor}: ${entry.reason}${weights === '' ? '' : pc.dim(` (${weights})`)}`;
}

/** The metric values a decision was taken on (the guards' texts and their values), a few at most. */
function metricsLine(metrics: Record<string, number> | undefined): string | undefined {
  const entries = Object.entries(metrics ?? {}).slice(0, METRICS_SHOWN);
  if (entries.length === 0) return undefined;
  return entries.map(([text, value]) => `${text}: ${Number(value.toPrecision(3))}`).join('; ');
}

/**
 * A plan's custom metrics (plan.ts `metrics:`), collected for each evaluation of its guards:
 *
 * - `promql`: an instant query to Prometheus (`prometheusUrl`), the first series' value; an empty
 *   answer or a failed query is no value (logged), so a Prometheus outage never rolls back.
 * - `gauge`: a function registered in this process (`RolloutGauges`), such as the sync engine's
 *   success rate.
 * - `probe`: an HTTP check run on its own schedule (every `interval`, within `timeout`, passing on
 *   `expectStatus`), from when the plan's rollout is evaluated here; its value is the share of
 *   checks that passed since the previous evaluation, and its consecutive failures feed probe
 *   triggers (`consecutive: 3`). A probe URL that is a path is resolved against the candidate
 *   origin of the probe's route.
 *
 * Intervals follow the rollout clock (clock.ts): a 10 s probe under a clock scaled 1,000× checks
 * every 10 ms, so a week-long plan runs in a test; a probe's timeout stays a real wait, and a probe
 * never has two checks in flight.
 */
import { request } from 'undici';
import type { RolloutClock } from './clock.js';
import type { CustomMetric, Plan, Probe } from './plan.js';
import type { Reading } from './readings.js';

const QUERY_TIMEOUT_MS = 5_000;

export interface MetricLog {
  warn(fields: object, message: string): void;
}

/** In-process gauges by name: `gauges.register('sync.success_rate', () => engine.successRate())`. */
export class RolloutGauges {
  private readonly gauges = new Map<string, () => number | undefined>();

  register(name: string, read: () => number | undefined): void {
    this.gauges.set(name, read);
  }

  read(name: string): number | undefined {
    return this.gauges.get(name)?.();
  }
}

export interface CustomMetricOptions {
  prometheusUrl?: string;
  gauges: RolloutGauges;
  /** The candidate origin of a route, for probes given as a path. */
  candidateOrigin?: (route: string) => string | undefined;
  clock: RolloutClock;
  log: MetricLog;
}

/** The probes of one plan, running while its rollout is evaluated here. */
class ProbeSet {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly state = new Map<
    string,
    { passed: number; checked: number; failuresInARow: number; inFlight: boolean }
  >();

  constructor(
    probes: [string, Probe][],
    private readonly options: CustomMetricOptions,
  ) {
    for (const [name, probe] of probes) {
      this.state.set(name, { passed: 0, checked: 0, failuresInARow: 0, inFlight: false });
      const every = Math.max(1, probe.intervalMs / options.clock.scale);
      const timer = setInterval(() => void this.check(name, probe), every);
      timer.unref();
      this.timers.push(timer);
    }
  }

  failures(name: string): number {
    return this.state.get(name)?.failuresInARow ?? 0;
  }

  /** The share of checks that passed since the previous call. */
  take(name: string): Reading {
    const state = this.state.get(name);
    if (state === undefined || state.checked === 0) return { value: undefined, samples: 0 };
    const reading = { value: state.passed / state.checked, samples: state.checked };
    state.passed = 0;
    state.checked = 0;
    return reading;
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
  }

  /** One check, unless the previous one is still waiting (a hung endpoint holds one request, not many). */
  private async check(name: string, probe: Probe): Promise<void> {
    const state = this.state.get(name);
    if (state === undefined || state.inFlight) return;
    state.inFlight = true;
    const passed = await this.passes(probe).finally(() => {
      state.inFlight = false;
    });
    state.checked++;
    if (passed) {
      state.passed++;
      state.failuresInARow = 0;
    } else state.failuresInARow++;
  }

  private async passes(probe: Probe): Promise<boolean> {
    const base = probe.route === undefined ? undefined : this.options.candidateOrigin?.(probe.route);
    let url: URL;
    try {
      url = new URL(probe.url, base);
    } catch {
      return false;
    }
    try {
      // The timeout is a real wait on the network: a scaled clock shortens intervals, not it.
      const answer = await request(url, { signal: AbortSignal.timeout(probe.timeoutMs) });
      await answer.body.dump();
      return answer.statusCode === probe.expectStatus;
    } catch {
      return false;
    }
  }
}

export class CustomMetrics {
  private readonly probeSets = new Map<string, ProbeSet>();

  constructor(private readonly options: CustomMetricOptions) {}

  /** Starts the probes of rollout `id`'s plan (once). */
  watch(id: string, plan: Plan): void {
    if (this.probeSets.has(id)) return;
    const probes = Object.entries(plan.metrics).filter(
      (entry): entry is [string, { probe: Probe }] => 'probe' in entry[1],
    );
    this.probeSets.set(
      id,
      new ProbeSet(
        probes.map(([name, metric]) => [name, metric.probe]),
        this.options,
      ),
    );
  }

  /** Stops rollout `id`'s probes. */
  unwatch(id: string): void {
    this.probeSets.get(id)?.stop();
    this.probeSets.delete(id);
  }

  unwatchAll(): void {
    for (const id of [...this.probeSets.keys()]) this.unwatch(id);
  }

  /** Consecutive failed checks of probe `name` of rollout `id`. */
  probeFailures(id: string, name: string): number {
    return this.probeSets.get(id)?.failures(name) ?? 0;
  }

  /** The value of each custom metric of the plan, for one evaluation. */
  async collect(id: string, plan: Plan): Promise<Map<string, Reading>> {
    const readings = new Map<string, Reading>();
    await Promise.all(
      Object.entries(plan.metrics).map(async ([name, metric]) => {
        readings.set(name, await this.read(id, name, metric));
      }),
    );
    return readings;
  }

  private async read(id: string, name: string, metric: CustomMetric): Promise<Reading> {
    if ('gauge' in metric) {
      const value = this.options.gauges.read(metric.gauge);
      return value === undefined ? { value, samples: 0 } : { value, samples: 1 };
    }
    if ('probe' in metric) return this.probeSets.get(id)?.take(name) ?? { value: undefined, samples: 0 };
    return this.query(name, metric.promql);
  }

  private async query(name: string, expression: string): Promise<Reading> {
    const base = this.options.prometheusUrl;
    if (base === undefined) {
      this.options.log.warn({ metric: name }, 'a PromQL metric needs a Prometheus URL; it has no value');
      return { value: undefined, samples: 0 };
    }
    try {
      const url = new URL('/api/v1/query', base);
      url.searchParams.set('query', expression);
      const answer = await request(url, { signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
      const body = (await answer.body.json()) as { data?: { result?: { value?: [number, string] }[] } };
      const value = Number(body.data?.result?.[0]?.value?.[1]);
      return Number.isFinite(value) ? { value, samples: 1 } : { value: undefined, samples: 0 };
    } catch (error) {
      this.options.log.warn({ metric: name, reason: (error as Error).message }, 'PromQL query failed');
      return { value: undefined, samples: 0 };
    }
  }
}

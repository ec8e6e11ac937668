/**
 * Reading a plan's metrics: a value and the number of samples behind it, from the gateway's own
 * figures (`stable.*`, `candidate.*`, `shadow.match_rate`), from what the host process reports
 * (`cache.*`, `process.*`), or from a plan's custom metrics collected for this evaluation (PromQL
 * answers, in-process gauges, probe results).
 *
 * A value is undefined when there is nothing to judge (no request on that side, no comparison, a
 * source that did not answer): guards then neither pass a criterion nor fire a trigger (plan.ts).
 * Latencies are read in seconds, as plans write them.
 */
import type { IntervalFigures, VariantFigures } from './figures.js';

export interface Reading {
  value: number | undefined;
  /** Requests, comparisons or checks behind the value (1 for a gauge or a query). */
  samples: number;
}

/** Figures the host process reports by name (`cache.hit_rate`, `process.cpu_ratio`, …). */
export type HostFigures = (name: string) => number | undefined;

export interface ReadingContext {
  figures: IntervalFigures;
  host: HostFigures;
  /** The plan's custom metrics, as collected for this evaluation. */
  custom: ReadonlyMap<string, Reading>;
}

const NOTHING: Reading = { value: undefined, samples: 0 };
const MS_PER_SECOND = 1_000;

export function readMetric(name: string, context: ReadingContext): Reading {
  const custom = context.custom.get(name);
  if (custom !== undefined) return custom;
  const [scope, figure] = name.split('.', 2) as [string, string];
  if (scope === 'stable' || scope === 'candidate') return sideFigure(context.figures[scope], figure);
  if (name === 'shadow.match_rate') {
    const { compared, matched } = context.figures.shadow;
    return { value: compared === 0 ? undefined : matched / compared, samples: compared };
  }
  const value = context.host(name);
  return value === undefined ? NOTHING : { value, samples: 1 };
}

function sideFigure(side: VariantFigures, figure: string): Reading {
  const samples = side.requests;
  if (figure === 'requests') return { value: samples, samples };
  if (samples === 0) return NOTHING;
  switch (figure) {
    case 'error_rate':
      return { value: side.errors / samples, samples };
    case 'p50':
      return { value: side.latency.percentile(50) / MS_PER_SECOND, samples };
    case 'p95':
      return { value: side.latency.percentile(95) / MS_PER_SECOND, samples };
    case 'p99':
      return { value: side.latency.percentile(99) / MS_PER_SECOND, samples };
    default:
      return NOTHING;
  }
}

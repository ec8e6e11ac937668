/**
 * Guards: whether a stage's success criteria hold, and which rollback triggers fire, as plan.ts
 * defines them. Pure functions of the readings (readings.ts) and the time: the controller feeds
 * them a stage's totals for the criteria and the last interval for the triggers.
 *
 * A trigger fires when its breach has lasted its `for` duration: each evaluation that finds it
 * breaching keeps the time the breach began (in `breaches`, saved with the rollout so an instance
 * taking over the guards keeps timing it), and one that finds it not breaching forgets it. A probe
 * trigger fires once its probe failed `consecutive` checks in a row. A criterion or trigger that
 * cannot be judged (too few samples, no traffic on a side) does not hold and does not fire.
 */
import {
  type Comparison,
  type Criterion,
  criterionText,
  type Op,
  type ThresholdCriterion,
  type Trigger,
  triggerText,
} from './plan.js';
import { type ReadingContext, readMetric } from './readings.js';
import type { Severity } from './state.js';
import { errorRateWorse, latencyWorse, type Verdict } from './statistics.js';

export interface Judgement {
  /** true or false when judged; undefined when it could not be (too little data). */
  holds: boolean | undefined;
  /** The value judged (a ratio of two metrics, a p-value), when there is one. */
  value?: number;
  text: string;
}

export interface FiredTrigger {
  trigger: Trigger;
  severity: Severity;
  text: string;
  value?: number;
}

export interface TriggerEvaluation {
  fired: FiredTrigger[];
  /** Breaches being timed after this evaluation, by trigger text → when each began. */
  breaches: Record<string, number>;
  /** The value of every trigger judged, by its text, for the audit and the status. */
  values: Record<string, number>;
}

/** Consecutive failed checks per probe name. */
export type ProbeFailures = (probe: string) => number;

/** Does `criterion` hold over `context`? */
export function judgeCriterion(criterion: Criterion, context: ReadingContext): Judgement {
  const text = criterionText(criterion);
  if ('compare' in criterion) {
    const verdict = compare(criterion.compare, context);
    if (verdict.outcome === 'insufficient') return { holds: undefined, text: `${text}: ${verdict.reason}` };
    return { holds: !verdict.worse, value: verdict.pValue, text };
  }
  const value = thresholdValue(criterion, context);
  return value === undefined
    ? { holds: undefined, text }
    : { holds: meets(value, criterion.op, criterion.threshold), value, text };
}

/** Is `trigger`'s condition met now (before its `for` duration is counted)? */
export function breachNow(
  trigger: Trigger,
  context: ReadingContext,
  probeFailures: ProbeFailures,
): Judgement {
  const text = triggerText(trigger);
  if ('probe' in trigger) {
    const failures = probeFailures(trigger.probe);
    return { holds: failures >= trigger.consecutive, value: failures, text };
  }
  if ('compare' in trigger) {
    const verdict = compare(trigger.compare, context);
    if (verdict.outcome === 'insufficient') return { holds: undefined, text };
    return { holds: verdict.worse, value: verdict.pValue, text };
  }
  const value = thresholdValue(trigger, context);
  return value === undefined
    ? { holds: undefined, text }
    : { holds: meets(value, trigger.op, trigger.threshold), value, text };
}

/** Times every trigger's breach from `previous` to `now`; returns those whose breach lasted. */
export function evaluateTriggers(
  triggers: readonly Trigger[],
  context: ReadingContext,
  probeFailures: ProbeFailures,
  previous: Readonly<Record<string, number>>,
  now: number,
): TriggerEvaluation {
  const evaluation: TriggerEvaluation = { fired: [], breaches: {}, values: {} };
  for (const trigger of triggers) {
    const judged = breachNow(trigger, context, probeFailures);
    if (judged.value !== undefined) evaluation.values[judged.text] = judged.value;
    if (judged.holds !== true) continue;
    const since = previous[judged.text] ?? now;
    evaluation.breaches[judged.text] = since;
    const lasted = 'probe' in trigger || now - since >= trigger.forMs;
    if (lasted)
      evaluation.fired.push({ trigger, severity: trigger.severity, text: judged.text, value: judged.value });
  }
  return evaluation;
}

/** The most severe of `fired` (critical, then high, then medium), or undefined. */
export function mostSevere(fired: readonly FiredTrigger[]): FiredTrigger | undefined {
  const order: Severity[] = ['critical', 'high', 'medium'];
  return [...fired].sort((a, b) => order.indexOf(a.severity) - order.indexOf(b.severity))[0];
}

function thresholdValue(rule: ThresholdCriterion, context: ReadingContext): number | undefined {
  const reading = readMetric(rule.metric, context);
  if (reading.value === undefined || reading.samples < (rule.minSamples ?? 1)) return undefined;
  if (rule.relativeTo === undefined) return reading.value;
  const base = readMetric(rule.relativeTo, context);
  if (base.value === undefined || base.value === 0 || base.samples < (rule.minSamples ?? 1)) return undefined;
  return reading.value / base.value;
}

function compare(comparison: Comparison, context: ReadingContext): Verdict {
  const { stable, candidate } = context.figures;
  const minimum = comparison.minSamples ?? 0;
  if (Math.min(stable.requests, candidate.requests) < minimum)
    return { outcome: 'insufficient', reason: `fewer than ${minimum} requests on a side` };
  return comparison.metric === 'error_rate'
    ? errorRateWorse(stable, candidate, comparison.alpha)
    : latencyWorse(stable.samples(), candidate.samples(), comparison.alpha);
}

function meets(value: number, op: Op, threshold: number): boolean {
  switch (op) {
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
  }
}

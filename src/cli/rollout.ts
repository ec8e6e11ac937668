/**
 * `keel rollout validate <file>`: checks a rollout plan and prints its stages (what each sets, how
 * long it holds, what promotes it and what rolls it back), or the first mistake as
 * `file:line:col: field: message` with exit code 2, as `keel serve` does for a bad routes file.
 *
 * `keel rollout plans [name] [--route R]`: lists the built-in plans, or prints one as YAML, ready
 * to edit and to pass to `validate` (and to the controller's `start`).
 *
 * `keel rollout demo [--fault errors|latency]`: a canary carried out end to end on this machine
 * (operations/rollout-demo.ts).
 *
 * The operator's commands on a running gateway (start, status, promote…) are rollout-operate.ts.
 */
import type { Command } from 'commander';
import pc from 'picocolors';
import { ConfigError } from '../errors.js';
import { runRolloutDemo } from '../operations/rollout-demo.js';
import {
  BUILTIN_PLANS,
  criterionText,
  loadPlanFile,
  type Plan,
  planToYaml,
  stageWeights,
  triggerText,
} from '../rollout/index.js';
import { closest } from '../util/closest.js';
import { formatDuration } from '../util/duration.js';
import { rolloutOperateCommands } from './rollout-operate.js';

export function rolloutCommand(program: Command): Command {
  const rollout = program
    .command('rollout')
    .description('guarded progressive delivery: rollout plans, their stages and their guards');

  rollout
    .command('validate <file>')
    .description('check a rollout plan and print its stages, or its first mistake as file:line:col')
    .action((file: string) => {
      console.log(planSummary(loadPlanFile(file)));
    });

  rollout
    .command('plans [name]')
    .description('list the built-in plans, or print one as YAML')
    .option('--route <route>', 'the gateway route the plan moves')
    .action((name: string | undefined, options: { route?: string }) => {
      if (name === undefined) console.log(builtinList());
      else process.stdout.write(planToYaml(builtinPlan(name, options.route)));
    });
  rollout
    .command('demo')
    .description('a canary rollout end to end on this machine: sample origin, candidate, gateway, webhook')
    .option('--fault <kind>', 'make the candidate regress: errors (20 % 503s) or latency (+150 ms)')
    .option('--speed <n>', 'how many times faster than real time the plan runs', '120')
    .option('--port <port>', "the gateway's port (0: a free one)", '0')
    .action(async (options: { fault?: string; speed: string; port: string }) => {
      if (options.fault !== undefined && options.fault !== 'errors' && options.fault !== 'latency')
        throw new ConfigError('--fault', `expected errors or latency (got "${options.fault}")`);
      const speed = Number(options.speed);
      if (!Number.isFinite(speed) || speed < 1)
        throw new ConfigError('--speed', `expected a number of at least 1 (got "${options.speed}")`);
      await runRolloutDemo({
        fault: options.fault,
        speed,
        port: Number(options.port),
        print: (line) => console.log(line),
      });
    });
  rolloutOperateCommands(rollout);
  return rollout;
}

function builtinList(): string {
  const width = Math.max(...Object.keys(BUILTIN_PLANS).map((name) => name.length));
  const lines = Object.entries(BUILTIN_PLANS).map(
    ([name, { summary, needsRoute }]) =>
      `  ${pc.bold(name.padEnd(width))}  ${summary}${needsRoute ? pc.dim(' (--route)') : ''}`,
  );
  return ['built-in plans (keel rollout plans <name> --route <route> prints one):', ...lines].join('\n');
}

function builtinPlan(name: string, route: string | undefined): Plan {
  const builtin = BUILTIN_PLANS[name];
  if (builtin === undefined) {
    const likely = closest(name, Object.keys(BUILTIN_PLANS));
    const guess = likely === undefined ? '' : ` (did you mean "${likely}"?)`;
    throw new ConfigError(
      name,
      `not a built-in plan${guess}; the built-in plans are ${Object.keys(BUILTIN_PLANS).join(', ')}`,
    );
  }
  if (!builtin.needsRoute) return builtin.build();
  if (route === undefined) {
    throw new ConfigError('--route', `the ${name} plan moves a route's switches: name it (--route <route>)`);
  }
  return builtin.build(route);
}

/** What a plan does, stage by stage, for a person to check before starting it. */
export function planSummary(plan: Plan): string {
  const lines = [
    `${pc.green('valid')}: ${pc.bold(plan.name)}, ${plan.stages.length} stage${plan.stages.length === 1 ? '' : 's'}, guards evaluated every ${formatDuration(plan.evaluationIntervalMs)}, notifications in ${plan.locale}`,
  ];
  if (plan.description !== undefined) lines.push(`  ${plan.description}`);
  for (const [index, stage] of plan.stages.entries()) {
    lines.push(
      '',
      `  ${index + 1}. ${pc.bold(stage.name)}: ${weightsText(stageWeights(plan, index))}, at least ${formatDuration(stage.minDurationMs)}, gate ${stage.gate}`,
    );
    if (stage.description !== undefined) lines.push(`     ${pc.dim(stage.description)}`);
    lines.push(...listed('promotes when', stage.success.map(criterionText), '     '));
    lines.push(...listed('rolls back on', stage.rollback.map(triggerText), '     '));
  }
  lines.push('', ...listed('every stage rolls back on', plan.rollback.map(triggerText), '  '));
  lines.push(`  safe weights (rollback, emergency stop): ${weightsText(plan.safe)}`);
  return lines.join('\n');
}

function listed(title: string, items: readonly string[], indent: string): string[] {
  return items.length === 0 ? [] : [`${indent}${title}:`, ...items.map((item) => `${indent}  - ${item}`)];
}

function weightsText(weights: Readonly<Record<string, number | undefined>>): string {
  return Object.entries(weights)
    .map(([key, weight]) => `${key} ${weight} %`)
    .join(', ');
}

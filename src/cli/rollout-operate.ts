/**
 * `keel rollout start|status|promote|pause|resume|ack|rollback|stop|history|emergency-stop`: the
 * operator's side of the rollouts of a running gateway, through its admin API (KEEL_ADMIN_TOKEN,
 * --base-url). Any instance will do: they share the rollouts. Each action is audited under the
 * operator's login name (`operator:<name>`), with `--reason` when given.
 *
 *   keel rollout start canary --route listing      a built-in plan on a route
 *   keel rollout start rollout.yaml                 a plan file (validated here first)
 *   keel rollout status [id]                        every rollout, or one with its guards
 *   keel rollout promote <id> --reason "…"          past a manual gate
 *   keel rollout emergency-stop --reason "…"        every switch to its safe weight, everywhere
 *   keel rollout emergency-stop --clear             lets the rollouts go on
 *   keel rollout diff [route]                       the latest shadow mismatches of the instance asked
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import pc from 'picocolors';
import type { RolloutAction, RolloutView } from '../operations/admin-client.js';
import { loadPlanFile, type RolloutRecord } from '../rollout/index.js';
import type { Mismatch, ShadowCounts } from '../server/index.js';
import { formatDuration } from '../util/duration.js';
import { adminClient, DEFAULT_GATEWAY, operatorName } from './admin-access.js';

const ACTIONS: Record<RolloutAction, string> = {
  promote: 'move a rollout to its next stage (past a manual gate, or ahead of its criteria)',
  pause: 'hold a rollout at its stage',
  resume: 'let a paused rollout go on (its stage starts over)',
  ack: "acknowledge a guard's pause: it no longer rolls back at its deadline",
  rollback: 'roll a rollout back: its switches to their safe weights',
  stop: 'end a rollout, its switches to their safe weights',
};

interface GatewayOptions {
  baseUrl: string;
}

export function rolloutOperateCommands(rollout: Command): void {
  rollout
    .command('start <plan>')
    .description('start a built-in plan (with --route) or a plan file on a running gateway')
    .option('--route <route>', 'the route a built-in plan moves')
    .option('--id <id>', 'the rollout name (default: plan, date and a random suffix)')
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .action(async (plan: string, options: GatewayOptions & { route?: string; id?: string }) => {
      const body = existsSync(plan) ? { plan: validPlanText(plan) } : { builtin: plan, route: options.route };
      const record = await adminClient(options.baseUrl).startRollout({
        ...body,
        id: options.id,
        by: operatorName(),
      });
      console.log(`${pc.green('started')} ${pc.bold(record.id)} (${record.plan}), stage 1`);
    });

  rollout
    .command('status [id]')
    .description('the rollouts, their stages and switches; with an id, its guards as last evaluated')
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .action(async (id: string | undefined, options: GatewayOptions) => {
      const admin = adminClient(options.baseUrl);
      if (id !== undefined) return console.log(rolloutDetail(await admin.rollout(id)));
      const view = await admin.rollouts();
      if (view.emergencyStop?.active === true)
        console.log(pc.red(`EMERGENCY STOP by ${view.emergencyStop.actor}: ${view.emergencyStop.reason}`));
      if (view.rollouts.length === 0) console.log('no rollouts');
      for (const record of view.rollouts) console.log(rolloutLine(record));
      const switches = Object.entries(view.switches);
      if (switches.length > 0) console.log(`switches: ${switches.map(([k, w]) => `${k} ${w} %`).join(', ')}`);
    });

  for (const [action, description] of Object.entries(ACTIONS) as [RolloutAction, string][]) {
    rollout
      .command(`${action} <id>`)
      .description(description)
      .option('--reason <text>', 'why, for the audit and the notifications')
      .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
      .action(async (id: string, options: GatewayOptions & { reason?: string }) => {
        console.log(
          rolloutLine(
            await adminClient(options.baseUrl).rolloutAction(id, action, operatorName(), options.reason),
          ),
        );
      });
  }

  rollout
    .command('history [id]')
    .description('the audit of one rollout, or of every switch change, newest first')
    .option('--limit <n>', 'how many records', '50')
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .action(async (id: string | undefined, options: GatewayOptions & { limit: string }) => {
      for (const entry of await adminClient(options.baseUrl).history(id, Number(options.limit)))
        console.log(
          `${new Date(entry.at).toISOString()}  ${pc.bold(entry.action.padEnd(10))} ${entry.actor}: ${entry.reason}`,
        );
    });

  rollout
    .command('diff [route]')
    .description("the latest shadow mismatches of the instance asked: both answers' differences")
    .option('--limit <n>', 'how many mismatches', '20')
    .option('--json', 'both answers in full (headers and bodies), as JSON')
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .action(
      async (route: string | undefined, options: GatewayOptions & { limit: string; json?: boolean }) => {
        const shadow = await adminClient(options.baseUrl).shadow(route, Number(options.limit));
        if (options.json === true) return console.log(JSON.stringify(shadow, null, 2));
        printShadow(shadow);
      },
    );

  rollout
    .command('emergency-stop')
    .description('every active rollout to its safe weights on every instance, no promotion until cleared')
    .option('--reason <text>', 'why (required to stop)')
    .option('--clear', 'clear the emergency stop')
    .option('--base-url <url>', 'the gateway', DEFAULT_GATEWAY)
    .action(async (options: GatewayOptions & { reason?: string; clear?: boolean }) => {
      const admin = adminClient(options.baseUrl);
      if (options.clear === true) {
        await admin.clearEmergencyStop(operatorName(), options.reason);
        return console.log(`${pc.green('cleared')}: the rollouts go on from their stages`);
      }
      if (options.reason === undefined) throw new Error('say why with --reason "…"');
      const { safeWeights } = await admin.emergencyStop(operatorName(), options.reason);
      const set = Object.entries(safeWeights).map(([key, weight]) => `${key} ${weight} %`);
      console.log(`${pc.red('stopped')}: ${set.length === 0 ? 'no active rollout' : set.join(', ')}`);
    });
}

/** Prints the shadow counts and the latest mismatches, each with its differences. */
function printShadow({ counts, mismatches }: { counts: ShadowCounts; mismatches: Mismatch[] }): void {
  const rate =
    counts.compared === 0
      ? 'no comparison yet'
      : `${((100 * counts.matched) / counts.compared).toFixed(2)} % identical`;
  console.log(
    `shadow: ${counts.compared} compared, ${rate}; ${counts.failed} unanswered, ${counts.dropped} not sent (rate, concurrency, candidate paused), ${counts.skipped} too large to compare`,
  );
  if (mismatches.length === 0) {
    console.log('no mismatch kept');
    return;
  }
  for (const mismatch of mismatches) {
    console.log(
      `\n${new Date(mismatch.at).toISOString()}  ${pc.bold(`${mismatch.method} ${mismatch.path}`)}  (${mismatch.route})  stable ${mismatch.stable.status}, candidate ${mismatch.candidate.status}`,
    );
    for (const difference of mismatch.differences)
      console.log(
        `  ${difference.path}: ${pc.green(shown(difference.expected))} → ${pc.red(shown(difference.actual))}`,
      );
    if (mismatch.more > 0) console.log(pc.dim(`  … and ${mismatch.more} more`));
  }
}

function shown(value: unknown): string {
  const text = value === undefined ? '(none)' : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** The text of plan file `path`, once it validates here (its mistakes name the file and line). */
function validPlanText(path: string): string {
  loadPlanFile(path);
  return readFileSync(path, 'utf8');
}

function rolloutLine(record: RolloutRecord): string {
  const pause =
    record.pause === undefined
      ? ''
      : pc.yellow(` paused (${record.pause.severity}): ${record.pause.trigger}`);
  return `${pc.bold(record.id)}  ${record.plan}  ${record.status}  stage ${record.stage + 1}${pause}`;
}

function rolloutDetail(view: RolloutView): string {
  const lines = [rolloutLine(view), `  stage since ${new Date(view.stageStartedAt).toISOString()}`];
  if (view.pause?.rollbackAt !== undefined && view.pause.acknowledgedBy === undefined)
    lines.push(
      `  rolls back in ${formatDuration(Math.max(0, view.pause.rollbackAt - Date.now()))} unless acknowledged`,
    );
  if (view.guards === null) {
    lines.push(pc.dim('  guards: not evaluated yet'));
    return lines.join('\n');
  }
  const { at, instance } = view.guards;
  lines.push(pc.dim(`  guards evaluated by ${instance} at ${new Date(at).toISOString()}`));
  for (const criterion of view.guards.criteria) {
    const mark =
      criterion.holds === true
        ? pc.green('holds')
        : criterion.holds === false
          ? pc.red('fails')
          : pc.dim('waits');
    lines.push(`  ${mark}  ${criterion.text}`);
  }
  for (const [text, value] of Object.entries(view.guards.values))
    lines.push(
      `  ${view.guards.breaching.includes(text) ? pc.red('breach') : 'ok    '}  ${text}: ${Number(value.toPrecision(4))}`,
    );
  return lines.join('\n');
}

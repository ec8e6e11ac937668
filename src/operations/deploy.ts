/**
 * `keel deploy --phase N` (scripts/cache-verification/deploy.sh): the staged cache deployment as
 * the cache-enable rollout plan, on every instance of the gateway at once.
 *
 *   phase 1   read-only routes cached for 10 % of requests (write-affected routes not cached)
 *   phase 2   read-only routes 100 %, write-affected routes 10 %
 *   phase 3   every route 100 %
 *
 * A phase starts the cache-enable rollout when none is active, then promotes it until it is at
 * that phase; each promotion is audited under the operator's name, with `deploy --phase=N` as its
 * reason. Asking for a phase the rollout has passed is refused: going back is a rollback.
 *
 * `keel deploy --rollback [--phase N]` (rollback_cache.sh) rolls the active cache-enable rollout
 * back — every read route straight to the origin, on every instance — and, with `--phase`, first
 * checks that it is at that phase, so a rollback meant for one deployment cannot undo another.
 * With no active rollout, it sets every read route to 0 % directly.
 */
import { ConfigError } from '../errors.js';
import type { RolloutRecord } from '../rollout/index.js';
import type { AdminClient } from './admin-client.js';

export const CACHE_ENABLE = 'cache-enable';
export const PHASES = [1, 2, 3] as const;
export type Phase = (typeof PHASES)[number];

/** What each step did, one line each, for the operator. */
export type DeploySteps = string[];

export async function deployPhase(admin: AdminClient, phase: Phase, by: string): Promise<DeploySteps> {
  const steps: DeploySteps = [];
  let rollout = await activeCacheEnable(admin);
  if (rollout === undefined) {
    rollout = await admin.startRollout({ builtin: CACHE_ENABLE, by });
    steps.push(`started ${rollout.id} at phase 1`);
  }
  if (rollout.stage + 1 > phase)
    throw new ConfigError(
      '--phase',
      `${rollout.id} is at phase ${rollout.stage + 1} already; to go back, roll back (rollback_cache.sh) and deploy again`,
    );
  while (rollout.stage + 1 < phase) {
    rollout = await admin.rolloutAction(rollout.id, 'promote', by, `deploy --phase=${phase}`);
    steps.push(`promoted ${rollout.id} to phase ${rollout.stage + 1}`);
  }
  if (steps.length === 0) steps.push(`${rollout.id} is at phase ${phase} already`);
  return steps;
}

export async function rollbackDeployment(
  admin: AdminClient,
  by: string,
  phase: Phase | undefined,
): Promise<DeploySteps> {
  const rollout = await activeCacheEnable(admin);
  if (rollout === undefined) {
    const changes = await admin.setEnablement([], 0, by);
    return [`no active ${CACHE_ENABLE} rollout; ${changes.length} read routes set to 0 %`];
  }
  if (phase !== undefined && rollout.stage + 1 !== phase)
    throw new ConfigError(
      '--phase',
      `${rollout.id} is at phase ${rollout.stage + 1}, not ${phase}; nothing was rolled back`,
    );
  await admin.rolloutAction(rollout.id, 'rollback', by, `rollback --phase=${rollout.stage + 1}`);
  return [`rolled back ${rollout.id}: every read route straight to the origin, on every instance`];
}

async function activeCacheEnable(admin: AdminClient): Promise<RolloutRecord | undefined> {
  const { rollouts } = await admin.rollouts();
  return rollouts.find(
    (rollout) =>
      rollout.plan === CACHE_ENABLE && (rollout.status === 'running' || rollout.status === 'paused'),
  );
}

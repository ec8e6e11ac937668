/**
 * The sync as a migration's runner opens it: with KEEL_SYNC_FLAG, the rollout (its store, and in
 * `keel sync serve` its controller) whose flag shares the listings out between the systems. Apart
 * from the sync module, which does not depend on the rollout.
 */
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import { type Plan, Rollout } from '../rollout/index.js';
import { type OpenSync, type Ownership, openSync, type SyncConfig } from '../sync/index.js';

/**
 * The sync, and with KEEL_SYNC_FLAG the rollout flag that shares the listings out between the
 * systems (sticky by property number): the new system writes those inside the flag's weight, the
 * others the rest; at 0 %, with KEEL_SYNC_SHADOW_TABLE, the new system writes its shadow table
 * (open.ts). The flag is read from the rollout store of REDIS_URL, else DATABASE_URL, else the data
 * folder `.keel` (where `keel serve` and `keel rollout` keep it on one machine). `controller`:
 * whether this process also evaluates the rollouts' guards (`keel sync serve`).
 */
export async function openSyncWithRollout(
  config: SyncConfig,
  log: Logger,
  options: { controller: boolean } = { controller: false },
): Promise<OpenSync & { rollout?: Rollout }> {
  const { flag } = config;
  if (flag === undefined) return openSync(config, log);
  const rollout = await Rollout.open({
    namespace: config.namespace,
    redisUrl: config.redisUrl,
    databaseUrl: config.databaseUrl?.href,
    dataDir: '.keel',
    controller: options.controller,
    webhookUrl: config.alertWebhookUrl,
    log: log.child({ component: 'rollout' }),
    checkTargets: (plan) => onlyTheFlag(plan, flag),
  });
  const shares = flagShares(rollout, flag, config.system);
  try {
    const sync = await openSync(config, log, {
      ownership: shares.ownership,
      shadowPhase: config.system === 'new' ? shares.shadowPhase : undefined,
    });
    return {
      ...sync,
      rollout,
      async close() {
        await sync.close();
        await rollout.close();
      },
    };
  } catch (error) {
    await rollout.close();
    throw error;
  }
}

/**
 * What flag `flag` gives `system`: the new system the listings inside its weight (sticky by
 * property number), any other the rest; and whether the migration is in its shadow phase (0 %).
 */
export function flagShares(
  rollout: Rollout,
  flag: string,
  system: string,
): { ownership: Ownership; shadowPhase: () => boolean } {
  const isNew = system === 'new';
  const weight = () => rollout.flags.weight(flag) ?? 0;
  return {
    ownership: {
      owns: (key) => rollout.isEnabled(flag, { key }) === isNew,
      share: () => (isNew ? weight() : 100 - weight()),
    },
    shadowPhase: () => weight() === 0,
  };
}

/** Refuses a plan moving anything but the sync's flag: this service has no routes to move. */
function onlyTheFlag(plan: Plan, flag: string): void {
  for (const stage of plan.stages)
    for (const key of Object.keys(stage.switches))
      if (key !== `flag:${flag}`)
        throw new ConfigError(
          'plan',
          `stage ${stage.name} moves ${key}; the sync's service moves only flag:${flag} (KEEL_SYNC_FLAG)`,
        );
}

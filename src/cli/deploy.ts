/**
 * `keel deploy`: the staged cache deployment (src/operations/deploy.ts) as deploy.sh and
 * rollback_cache.sh run it:
 *
 *   keel deploy --env=staging                    phase 1 on the gateway at STAGING_URL
 *   keel deploy --env=production --phase=2       phase 2 on the gateway at --base-url (or PRODUCTION_URL)
 *   keel deploy --rollback [--phase=2]           roll the cache-enable rollout back
 *
 * It talks to one instance's admin API (KEEL_ADMIN_TOKEN); the rollout reaches every instance.
 */
import type { Command } from 'commander';
import { ConfigError } from '../errors.js';
import { deployPhase, PHASES, type Phase, rollbackDeployment } from '../operations/deploy.js';
import { adminClient, DEFAULT_GATEWAY, operatorName } from './admin-access.js';

/** Where each environment's gateway is, when --base-url is not given. */
const ENVIRONMENT_URLS = { staging: 'STAGING_URL', production: 'PRODUCTION_URL' } as const;

interface DeployOptions {
  env?: string;
  phase?: string;
  rollback?: boolean;
  baseUrl?: string;
}

export function deployCommand(program: Command): void {
  program
    .command('deploy')
    .description(
      'staged cache deployment on every instance: phase 1 (read-only 10 %), 2, 3 (all), or --rollback',
    )
    .option('--env <env>', 'staging or production: the gateway at STAGING_URL or PRODUCTION_URL')
    .option('--phase <n>', 'the phase to reach: 1, 2 or 3 (default 1)')
    .option('--rollback', 'roll the cache deployment back (with --phase: only if it is at that phase)')
    .option('--base-url <url>', 'the gateway (default: by --env, else http://127.0.0.1:8080)')
    .action(async (options: DeployOptions) => {
      const admin = adminClient(baseUrl(options));
      const by = operatorName();
      const phase = options.phase === undefined ? undefined : parsePhase(options.phase);
      const steps =
        options.rollback === true
          ? await rollbackDeployment(admin, by, phase)
          : await deployPhase(admin, phase ?? 1, by);
      for (const step of steps) console.log(step);
    });
}

function parsePhase(text: string): Phase {
  const phase = PHASES.find((candidate) => String(candidate) === text);
  if (phase === undefined) throw new ConfigError('--phase', `expected 1, 2 or 3 (got "${text}")`);
  return phase;
}

function baseUrl(options: DeployOptions): string {
  if (options.baseUrl !== undefined) return options.baseUrl;
  if (options.env === undefined) return DEFAULT_GATEWAY;
  const variable = ENVIRONMENT_URLS[options.env as keyof typeof ENVIRONMENT_URLS];
  if (variable === undefined)
    throw new ConfigError('--env', `expected staging or production (got "${options.env}")`);
  const url = process.env[variable];
  if (url === undefined || url === '')
    throw new ConfigError(variable, `set it to the ${options.env} gateway's URL, or pass --base-url`);
  return url;
}

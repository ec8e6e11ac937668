/**
 * `keel serve`: starts the gateway (startServer) with the configuration from the environment and
 * the flags, prints where everything is, and shuts down cleanly on SIGINT or SIGTERM.
 */

import closeWithGrace from 'close-with-grace';
import type { Command } from 'commander';
import pc from 'picocolors';
import { loadConfig, SETTINGS, type SettingName, type SettingTable, unknownVariables } from '../config.js';
import { startSampleOrigin } from '../sample-origin/index.js';
import { startServer } from '../server/index.js';
import { banner } from './banner.js';

/** How long answers in progress get to finish at shutdown. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Adds one flag per setting of the configuration table, with its variable and default in --help. */
export function addSettingFlags<Table extends SettingTable = typeof SETTINGS>(
  command: Command,
  names: readonly (keyof Table & string)[],
  table: Table = SETTINGS as unknown as Table,
): Command {
  for (const name of names) {
    const setting = table[name] as Table[string];
    const boolean = setting.expected.startsWith('true');
    const help = `${setting.description} (${setting.env}${setting.fallback === undefined ? '' : `, default ${setting.fallback}`})`;
    command.option(boolean ? `--${setting.flag} [value]` : `--${setting.flag} <value>`, help);
  }
  return command;
}

/** The flags commander parsed, keyed by setting name, as text (loadConfig reads them). */
export function settingFlags<Table extends SettingTable = typeof SETTINGS>(
  options: Record<string, unknown>,
  names: readonly (keyof Table & string)[],
  table: Table = SETTINGS as unknown as Table,
): Partial<Record<keyof Table, string>> {
  const flags: Partial<Record<keyof Table, string>> = {};
  for (const name of names) {
    const key = (table[name] as Table[string]).flag.replace(/-([a-z])/g, (_, letter: string) =>
      letter.toUpperCase(),
    );
    const value = options[key];
    if (value !== undefined) flags[name] = value === true ? 'true' : String(value);
  }
  return flags;
}

export const SERVE_SETTINGS = Object.keys(SETTINGS) as SettingName[];

export function serveCommand(program: Command): void {
  const command = program
    .command('serve')
    .description(
      'put the cache in front of an HTTP API (the bundled sample origin when no --origin is given)',
    );
  addSettingFlags(command, SERVE_SETTINGS).action(async (options: Record<string, unknown>) => {
    const config = loadConfig(process.env, settingFlags(options, SERVE_SETTINGS));
    for (const name of unknownVariables(process.env))
      console.warn(pc.yellow(`keel: ${name} is not a setting of keel serve; it is ignored`));
    const started = performance.now();
    const server = await startServer(config, {
      onProgress: (step) => console.log(pc.dim(`keel: ${step}…`)),
    });
    console.log(await banner(server, config, performance.now() - started));
    // SIGHUP: read the routes file again, without a restart (connections and cache kept), and
    // reopen the log file (LOG_FILE_PATH) after a rotation.
    process.on('SIGHUP', () => {
      server.reopenLog();
      try {
        const count = server.reloadRoutes();
        server.app.log.info({ routes: count }, 'routes file reloaded');
      } catch (error) {
        server.app.log.error(
          { reason: (error as Error).message },
          'routes file not reloaded: it cannot be used, so the routes stay as they were',
        );
      }
    });
    // On SIGINT or SIGTERM: stop accepting, let answers in progress finish, close the origin
    // connections and Redis; past SHUTDOWN_GRACE_MS (or at a second signal) exit anyway. SIGHUP
    // is not a shutdown here: it reloads the routes (above).
    closeWithGrace({ delay: SHUTDOWN_GRACE_MS, skip: ['SIGHUP'] }, async ({ signal, err }) => {
      if (err !== undefined) server.app.log.error({ err }, 'shutting down after an uncaught error');
      else console.log(`\n${signal}: shutting down`);
      await server.close();
    });
  });
}

export function sampleOriginCommand(program: Command): void {
  program
    .command('sample-origin')
    .description(
      'only the bundled sample origin (a Shopify-like API over embedded PostgreSQL), for benchmarks and demos',
    )
    .option('--port <port>', 'port on 127.0.0.1 (0: any free port)', '4100')
    .option('--latency <time>', 'added latency per request', '40ms')
    .action(async (options: { port: string; latency: string }) => {
      const config = loadConfig({ KEEL_PORT: options.port, KEEL_SAMPLE_LATENCY: options.latency });
      const origin = await startSampleOrigin({ port: config.port, latencyMs: config.sampleLatency });
      console.log(`sample origin ready at ${origin.url}`);
      process.once('SIGTERM', () => void origin.close().then(() => process.exit(0)));
      process.once('SIGINT', () => void origin.close().then(() => process.exit(0)));
    });
}

#!/usr/bin/env node
/**
 * `keel`: the command line. Each command is a thin shell over a library function; a bad setting
 * ends it with the setting's name and exit code 2, any other failure with its message and code 1.
 */
import { Command } from 'commander';
import { isKeelError } from '../errors.js';
import { KEEL_VERSION } from '../version.js';
import { deployCommand } from './deploy.js';
import { monitoringCommand } from './monitoring.js';
import { operationsCommands } from './operations.js';
import { rolloutCommand } from './rollout.js';
import { sampleOriginCommand, serveCommand } from './serve.js';
import { syncCommand } from './sync.js';

const program = new Command('keel')
  .description('Keel: caching gateway and operations toolkit')
  .version(KEEL_VERSION, '-V, --version', 'print the version')
  .showHelpAfterError();
serveCommand(program);
sampleOriginCommand(program);
monitoringCommand(program);
operationsCommands(program);
rolloutCommand(program);
deployCommand(program);
syncCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`keel: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(isKeelError(error, 'CONFIG_INVALID') ? 2 : 1);
});

/**
 * The gateway's log: pino, JSON lines on stdout (pretty when stdout is a terminal), and with
 * LOG_FILE_PATH also appended to that file, so an operator who runs Keel as a service can keep
 * a log file of their own without a shipper. Secrets that could reach a log line (the client's
 * Authorization and Cookie, REDIS_URL, the admin token) are written as ***.
 *
 * The file is opened once at start-up, where a path that cannot be written fails with a
 * ConfigError naming the setting, and reopened on SIGHUP (`reopen()`), as logrotate expects
 * after it moves the file away. A write error later (disk full) is reported on stderr once and
 * does not stop the gateway: its answers matter more than its log.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { ConfigError } from '../errors.js';

const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'config.REDIS_URL',
  'config.DATABASE_URL',
  'config.ALERT_WEBHOOK_URL',
  'config.KEEL_ADMIN_TOKEN',
];

export interface GatewayLog {
  logger: Logger;
  /** Opens the log file again under its name (after a rotation); nothing without a file. */
  reopen(): void;
  /** Writes what is buffered and closes the file. */
  close(): void;
}

/** The log at `level`; `file` (with the setting it came from, for errors) adds the file. */
export function gatewayLog(level: string, file?: { path: string; setting: string }): GatewayLog {
  const terminal: DestinationStream = process.stdout.isTTY
    ? pretty({ translateTime: 'HH:MM:ss', ignore: 'pid,hostname' })
    : pino.destination(1);
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '***' } };
  if (file === undefined) return { logger: pino(options, terminal), reopen() {}, close() {} };

  assertWritable(file.path, file.setting);
  const destination = pino.destination({ dest: file.path, append: true, mkdir: true, sync: false });
  let reported = false;
  destination.on('error', (error: Error) => {
    if (reported) return;
    reported = true;
    process.stderr.write(`keel: cannot write the log file ${file.path} (${error.message})\n`);
  });
  const streams = pino.multistream([
    { level: 'trace', stream: terminal },
    { level: 'trace', stream: destination },
  ]);
  return {
    logger: pino(options, streams),
    reopen: () => destination.reopen(),
    close: () => {
      destination.flushSync();
      destination.end();
    },
  };
}

/** Creates the folder and opens the file for appending once, so a bad path fails at start-up. */
function assertWritable(path: string, setting: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    closeSync(openSync(path, 'a'));
  } catch (error) {
    throw new ConfigError(setting, `cannot be opened for appending: ${(error as Error).message}`);
  }
}

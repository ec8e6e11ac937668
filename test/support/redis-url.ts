/**
 * The Redis that ordinary integration tests share.
 *
 * In order: `REDIS_URL` when set (the developer's explicit choice, used as given); else the
 * conventional local server at redis://127.0.0.1:6379 if it answers PING within 500 ms; else a
 * throwaway redis-server spawned for this process, killed when the process exits. The answer is
 * memoized per process, so every test file in a worker shares one server. Tests that break their
 * server on purpose use startRedisServer() instead.
 */
import { findExecutable, installHint } from './executables.js';
import { pingRedis } from './redis-probe.js';
import { startRedisServer } from './redis-server.js';

/** Where a developer's Redis listens by default. */
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

let resolved: Promise<string> | undefined;

/** A redis:// URL of a server that answers PING (see the note above for where it comes from). */
export function redisUrl(): Promise<string> {
  resolved ??= findRedis().catch((error: unknown) => {
    resolved = undefined; // a failure is not memoized: the next call looks again
    throw error;
  });
  return resolved;
}

async function findRedis(): Promise<string> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (await pingRedis(DEFAULT_REDIS_URL)) return DEFAULT_REDIS_URL;
  if ((await findExecutable('redis-server')) === undefined) {
    throw new Error(
      `No Redis reachable at REDIS_URL (not set) or ${DEFAULT_REDIS_URL}, and redis-server is not installed: ` +
        `${installHint('redis-server')} or set REDIS_URL.`,
    );
  }
  return (await startRedisServer()).url;
}

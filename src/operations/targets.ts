/**
 * Where the operations commands may send traffic. Measurement and load tests generate real load,
 * so by default they only target this machine (loopback addresses); pointing them elsewhere takes
 * an explicit `--allow-remote`, so a typo cannot load-test production.
 */
import { ConfigError } from '../errors.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The parsed URL; throws ConfigError naming `setting` when it is not an http(s) URL, or not loopback without `allowRemote`. */
export function loadTarget(text: string, setting: string, allowRemote: boolean): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(setting, `expected an http:// URL (got "${text}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(setting, `expected an http:// URL (got "${text}")`);
  if (!allowRemote && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new ConfigError(
      setting,
      `${url.host} is not this machine; load is only sent to loopback addresses unless --allow-remote is given`,
    );
  }
  return url;
}

/** Paths from a file (one per line, `#` comments) or a comma-separated list. */
export function parsePaths(text: string, setting: string): string[] {
  const paths = text
    .split(/[\n,]/)
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '');
  const bad = paths.find((path) => !path.startsWith('/'));
  if (bad !== undefined) throw new ConfigError(setting, `every path must start with "/" (got "${bad}")`);
  if (paths.length === 0) throw new ConfigError(setting, 'list at least one path');
  return paths;
}

/**
 * Finding the programs the integration tests and benchmarks run (Redis, Prometheus, Alertmanager's
 * amtool, Chromium, nginx, wrk) on PATH, and saying how to install them when they are missing.
 *
 * The integration tests run the real thing, so a missing program is a set-up problem the developer
 * must fix: the error names the Debian package that provides it rather than failing later with a
 * bare ENOENT from spawn.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** The programs the test support spawns, each with the Debian package that installs it. */
const DEBIAN_PACKAGES = {
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  setpriv: 'util-linux',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  amtool: 'prometheus-alertmanager',
  chromium: 'chromium',
  nginx: 'nginx',
  wrk: 'wrk',
} as const;

export type Program = keyof typeof DEBIAN_PACKAGES;

/** The programs `npm test` needs (the benchmarks' nginx and wrk are not among them). */
export const TEST_PROGRAMS: readonly Program[] = [
  'redis-server',
  'redis-cli',
  'setpriv',
  'prometheus',
  'promtool',
  'amtool',
  'chromium',
];

/** The Debian package that installs `program`. */
export function debianPackage(program: Program): string {
  return DEBIAN_PACKAGES[program];
}

/** The absolute path of `program` on PATH, or undefined when it is not installed. */
export async function findExecutable(program: Program): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, program);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Like findExecutable, but throws an error that says which package to install. */
export async function requireExecutable(program: Program): Promise<string> {
  const path = await findExecutable(program);
  if (path === undefined)
    throw new Error(`${program} is not installed (not found on PATH): ${installHint(program)}`);
  return path;
}

/** "install the Debian package X (apt-get install X)". */
export function installHint(program: Program): string {
  const pkg = DEBIAN_PACKAGES[program];
  return `install the Debian package ${pkg} (apt-get install ${pkg})`;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

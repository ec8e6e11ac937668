/**
 * Run by `npm test` before the tests (npm's `pretest`): the integration tests run real programs
 * from Debian (Redis, Prometheus with promtool, Alertmanager's amtool, Chromium), so a fresh
 * machine must get them first. Missing ones are installed with apt-get when this runs as root (as
 * CI and a fresh container do); otherwise it stops at once with the one command that installs
 * them, rather than letting the tests fail one by one.
 */
import { spawnSync } from 'node:child_process';
import { debianPackage, findExecutable, TEST_PROGRAMS } from '../test/support/executables.js';

const missing: string[] = [];
for (const program of TEST_PROGRAMS) {
  if ((await findExecutable(program)) === undefined) missing.push(debianPackage(program));
}
const packages = [...new Set(missing)];
if (packages.length > 0) {
  const command = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  if (process.getuid?.() !== 0 || !spawnSync('apt-get', ['--version']).stdout) {
    console.error(`The tests need Debian packages that are not installed: ${packages.join(', ')}.`);
    console.error(`Install them with: sudo apt-get update && sudo ${command}`);
    process.exit(1);
  }
  console.log(`Installing what the tests run: ${packages.join(', ')} (apt-get)`);
  for (const args of [['update', '-qq'], command.split(' ').slice(1)]) {
    const result = spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (result.status !== 0) {
      console.error(`apt-get ${args.join(' ')} failed (exit ${result.status}).`);
      process.exit(1);
    }
  }
}

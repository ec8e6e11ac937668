/**
 * `npm run audit`: `npm audit --audit-level=high` for CI. A high or critical advisory against a
 * dependency fails the run, listed by package. When the registry's advisory service cannot be
 * reached (an offline mirror, a proxy that refuses its POST), the audit cannot say anything: that
 * is printed as a warning and does not fail the run, so a build is never red for a network it
 * does not control, and never green in silence either.
 */
import { spawnSync } from 'node:child_process';

interface AuditReport {
  statusCode?: number;
  message?: string;
  metadata?: { vulnerabilities?: Record<string, number> };
  vulnerabilities?: Record<string, { severity: string; via: unknown[] }>;
}

const run = spawnSync('npm', ['audit', '--audit-level=high', '--json'], { encoding: 'utf8' });
let report: AuditReport;
try {
  report = JSON.parse(run.stdout) as AuditReport;
} catch {
  console.error(`npm audit printed no report (exit ${run.status}):\n${run.stderr}`);
  process.exit(1);
}

if (report.metadata === undefined) {
  const reason = report.message ?? `exit ${run.status}`;
  console.warn(`npm audit: the advisory service could not be asked (${reason}); nothing was checked.`);
  process.exit(0);
}

const serious = Object.entries(report.vulnerabilities ?? {}).filter(([, entry]) =>
  ['high', 'critical'].includes(entry.severity),
);
const counts = report.metadata.vulnerabilities ?? {};
console.log(
  `npm audit: ${Object.entries(counts)
    .map(([level, count]) => `${count} ${level}`)
    .join(', ')}`,
);
if (serious.length > 0) {
  for (const [name, entry] of serious) console.error(`  ${entry.severity}: ${name}`);
  console.error('Run `npm audit` for the advisories and `npm audit fix` (or an override) to resolve them.');
  process.exit(1);
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { THRESHOLDS } from '../../../src/observability/index.js';

const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'monitoring.md'), 'utf8');

describe('docs/monitoring.md', () => {
  it('lists every row of the thresholds table with its target', () => {
    for (const row of THRESHOLDS) {
      const line = doc.split('\n').find((text) => text.startsWith(`| \`${row.name}\` |`));
      expect(line, row.name).toBeDefined();
      expect(line).toContain(`[${row.runbook}](#${row.runbook})`);
    }
  });

  it('has the runbook section every alert links to', () => {
    for (const anchor of new Set(THRESHOLDS.map((row) => row.runbook)))
      expect(doc).toContain(`\n### ${anchor}\n`);
  });
});

/**
 * `keel monitoring setup DIR`: everything a Prometheus + Alertmanager + Grafana stack needs to watch
 * Keel, written into one folder — prometheus.yml, the alerting rules and their unit tests,
 * alertmanager.yml, and the three Grafana dashboards under grafana/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alertRulesTestYaml, alertRulesYaml } from './alert-rules.js';
import { type AlertRouting, alertmanagerYaml } from './alertmanager.js';
import { grafanaDashboards } from './grafana.js';
import { prometheusYaml } from './prometheus-config.js';

export interface MonitoringSetup {
  targets: string[];
  syncTargets?: string[];
  alertmanager: string;
  routing: AlertRouting;
  runbookBase?: string;
}

/** Writes the files; returns their paths, relative to `dir`. */
export function writeMonitoringSetup(dir: string, setup: MonitoringSetup): string[] {
  const files: Record<string, string> = {
    'prometheus.yml': prometheusYaml({
      targets: setup.targets,
      syncTargets: setup.syncTargets,
      rulesFile: 'keel-rules.yml',
      alertmanager: setup.alertmanager,
    }),
    'keel-rules.yml': alertRulesYaml(setup.runbookBase),
    'keel-rules.test.yml': alertRulesTestYaml('keel-rules.yml', setup.runbookBase),
    'alertmanager.yml': alertmanagerYaml(setup.routing),
  };
  for (const [name, model] of Object.entries(grafanaDashboards()))
    files[join('grafana', name)] = `${JSON.stringify(model, null, 2)}\n`;
  mkdirSync(join(dir, 'grafana'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return Object.keys(files);
}

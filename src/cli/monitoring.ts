/**
 * `keel monitoring rules | alertmanager | dashboards | setup`: the monitoring files, generated from
 * the thresholds table (src/observability/). Alert receivers come from the environment; a missing
 * one is filled with an example.com placeholder and named in a warning, so the files are always
 * valid (amtool accepts them) and the operator knows what is left to fill in.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import pc from 'picocolors';
import {
  type AlertRouting,
  alertmanagerYaml,
  alertRulesTestYaml,
  alertRulesYaml,
  DEFAULT_CHANNELS,
  DEFAULT_RUNBOOK_BASE,
  grafanaDashboards,
  writeMonitoringSetup,
} from '../observability/index.js';

/**
 * Each receiver's variable and placeholder. The Slack webhook is also read as ALERT_WEBHOOK_URL,
 * its common name in deployment scripts (KEEL_ALERT_SLACK_WEBHOOK_URL wins when both are set).
 */
const RECEIVER_SETTINGS = {
  slackWebhookUrl: ['KEEL_ALERT_SLACK_WEBHOOK_URL', 'https://hooks.slack.example.com/services/REPLACE/ME'],
  emailTo: ['KEEL_ALERT_EMAIL_TO', 'dev-team@example.com'],
  emailFrom: ['KEEL_ALERT_EMAIL_FROM', 'keel-alerts@example.com'],
  smarthost: ['KEEL_ALERT_SMTP_SMARTHOST', 'smtp.example.com:587'],
  pagerWebhookUrl: ['KEEL_ALERT_PAGER_WEBHOOK_URL', 'https://pager.example.com/hooks/keel'],
} as const;

/** The receivers from the environment; warns about each placeholder used. */
export function alertRoutingFromEnv(env: NodeJS.ProcessEnv, warn: (line: string) => void): AlertRouting {
  const value = (key: keyof typeof RECEIVER_SETTINGS): string => {
    const [name, placeholder] = RECEIVER_SETTINGS[key];
    const given = env[name] || (key === 'slackWebhookUrl' ? env.ALERT_WEBHOOK_URL : undefined);
    if (given !== undefined && given !== '') return given;
    const alias = key === 'slackWebhookUrl' ? ' (or ALERT_WEBHOOK_URL)' : '';
    warn(`${name}${alias} is not set: alertmanager.yml uses the placeholder ${placeholder}`);
    return placeholder;
  };
  return {
    slackWebhookUrl: value('slackWebhookUrl'),
    channels: DEFAULT_CHANNELS,
    email: {
      to: value('emailTo'),
      from: value('emailFrom'),
      smarthost: value('smarthost'),
      username: env.KEEL_ALERT_SMTP_USERNAME,
      password: env.KEEL_ALERT_SMTP_PASSWORD,
    },
    pagerWebhookUrl: value('pagerWebhookUrl'),
  };
}

function output(path: string | undefined, text: string): void {
  if (path === undefined) process.stdout.write(text);
  else writeFileSync(path, text);
}

const warn = (line: string) => console.error(pc.yellow(`warning: ${line}`));

export function monitoringCommand(program: Command): void {
  const monitoring = program
    .command('monitoring')
    .description('Prometheus rules, Alertmanager routing and Grafana dashboards for Keel');

  monitoring
    .command('rules')
    .description('the alerting rules from the thresholds table (and their promtool unit tests with --tests)')
    .option('-o, --output <file>', 'write the rules here instead of standard output')
    .option(
      '--tests <file>',
      'also write the promtool unit tests here (they name the rules file given with -o)',
    )
    .option('--runbook-base <url>', 'base URL of the runbook anchors', DEFAULT_RUNBOOK_BASE)
    .action((options: { output?: string; tests?: string; runbookBase: string }) => {
      output(options.output, alertRulesYaml(options.runbookBase));
      if (options.tests !== undefined)
        writeFileSync(
          options.tests,
          alertRulesTestYaml(options.output ?? 'keel-rules.yml', options.runbookBase),
        );
    });

  monitoring
    .command('alertmanager')
    .description(
      'an Alertmanager configuration routing each severity to its receivers (KEEL_ALERT_* variables)',
    )
    .option('-o, --output <file>', 'write it here instead of standard output')
    .action((options: { output?: string }) =>
      output(options.output, alertmanagerYaml(alertRoutingFromEnv(process.env, warn))),
    );

  monitoring
    .command('dashboards <dir>')
    .description('the Grafana dashboards (real time, daily, weekly, listing sync) as JSON files')
    .action((dir: string) => {
      mkdirSync(dir, { recursive: true });
      for (const [name, model] of Object.entries(grafanaDashboards()))
        writeFileSync(join(dir, name), `${JSON.stringify(model, null, 2)}\n`);
      console.log(`wrote ${Object.keys(grafanaDashboards()).length} dashboards to ${dir}`);
    });

  monitoring
    .command('setup <dir>')
    .description('prometheus.yml, rules, rule tests, alertmanager.yml and dashboards in one folder')
    .option('--target <host:port...>', 'gateway instances to scrape', ['127.0.0.1:8080'])
    .option('--sync-target <host:port...>', '`keel sync serve` instances to scrape (job keel-sync)')
    .option('--alertmanager <host:port>', 'where Prometheus sends alerts', '127.0.0.1:9093')
    .option('--runbook-base <url>', 'base URL of the runbook anchors', DEFAULT_RUNBOOK_BASE)
    .action(
      (
        dir: string,
        options: { target: string[]; syncTarget?: string[]; alertmanager: string; runbookBase: string },
      ) => {
        const files = writeMonitoringSetup(dir, {
          targets: options.target,
          syncTargets: options.syncTarget,
          alertmanager: options.alertmanager,
          routing: alertRoutingFromEnv(process.env, warn),
          runbookBase: options.runbookBase,
        });
        console.log(`wrote to ${dir}:\n${files.map((file) => `  ${file}`).join('\n')}`);
        console.log(
          `check with: promtool check config ${join(dir, 'prometheus.yml')} && promtool test rules ${join(dir, 'keel-rules.test.yml')} && amtool check-config ${join(dir, 'alertmanager.yml')}`,
        );
      },
    );
}

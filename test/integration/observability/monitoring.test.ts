/**
 * The generated monitoring files, checked by the real tools (promtool and amtool from the Debian
 * packages prometheus and prometheus-alertmanager), and a real Prometheus scraping `keel serve`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHANNELS, THRESHOLDS, writeMonitoringSetup } from '../../../src/observability/index.js';
import type { RunningServer } from '../../../src/server/index.js';
import {
  freePort,
  requireExecutable,
  startTestOrigin,
  type TestOrigin,
  waitUntil,
} from '../../support/index.js';
import { Gateways, get } from '../server/gateway-harness.js';

/** One alert per level of each row of the thresholds table. */
const ALERT_COUNT = THRESHOLDS.reduce((count, row) => count + row.levels.length, 0);

const run = promisify(execFile);
const ROUTING = {
  slackWebhookUrl: 'https://hooks.slack.example.com/services/T/B/x',
  channels: DEFAULT_CHANNELS,
  email: { to: 'dev-team@example.com', from: 'keel@example.com', smarthost: 'smtp.example.com:587' },
  pagerWebhookUrl: 'https://pager.example.com/hooks/keel',
};

let origin: TestOrigin;
let gateway: RunningServer;
const gateways = new Gateways();
const dir = mkdtempSync(join(tmpdir(), 'keel-monitoring-'));

beforeAll(async () => {
  origin = await startTestOrigin(() => ({ body: '{"ok":true}' }));
  gateway = await gateways.start(origin.url, 'routes:\n  - name: item\n    path: /items/:id\n    ttl: 1m\n');
  writeMonitoringSetup(dir, {
    targets: [new URL(gateway.url).host],
    syncTargets: ['127.0.0.1:3002'],
    alertmanager: '127.0.0.1:9093',
    routing: ROUTING,
  });
});
afterAll(async () => {
  await gateways.closeAll();
  await origin.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('generated monitoring files', () => {
  it('pass promtool check config and check rules', async () => {
    const promtool = await requireExecutable('promtool');
    const config = await run(promtool, ['check', 'config', join(dir, 'prometheus.yml')]);
    expect(config.stdout).toMatch(/SUCCESS: 1 rule files found/);
    const rules = await run(promtool, ['check', 'rules', join(dir, 'keel-rules.yml')]);
    expect(rules.stdout).toMatch(new RegExp(`SUCCESS: ${ALERT_COUNT} rules found`));
  });

  it('fire every alert from synthetic series, and stay silent below each threshold (promtool test rules)', async () => {
    const promtool = await requireExecutable('promtool');
    const { stdout } = await run(promtool, ['test', 'rules', join(dir, 'keel-rules.test.yml')]);
    expect(stdout).toMatch(/SUCCESS/);
  });

  it('route severities in a configuration amtool accepts', async () => {
    const amtool = await requireExecutable('amtool');
    const { stdout } = await run(amtool, ['check-config', join(dir, 'alertmanager.yml')]);
    expect(stdout).toMatch(/SUCCESS/);
    expect(stdout).toMatch(/4 receivers/);
    expect(stdout).toMatch(/2 inhibit rules/);
  });

  it('expose metrics that pass promtool check metrics', async () => {
    await get(`${gateway.url}/items/1`);
    await get(`${gateway.url}/items/1`);
    const metrics = (await get(`${gateway.url}/metrics`)).body;
    const promtool = await requireExecutable('promtool');
    const child = execFile(promtool, ['check', 'metrics']);
    child.stdin?.end(metrics);
    const [code, output] = await new Promise<[number | null, string]>((resolve) => {
      let text = '';
      child.stdout?.on('data', (chunk: Buffer) => (text += chunk));
      child.stderr?.on('data', (chunk: Buffer) => (text += chunk));
      child.on('close', (exit) => resolve([exit, text]));
    });
    expect(output).toBe('');
    expect(code).toBe(0);
  });
});

describe('a real Prometheus', () => {
  let prometheus: ChildProcess | undefined;
  afterAll(() => prometheus?.kill('SIGKILL'));

  it('scrapes keel serve and answers a Keel metric through its HTTP API', async () => {
    const binary = await requireExecutable('prometheus');
    const port = await freePort();
    const config = join(dir, 'scrape-fast.yml');
    writeFileSync(
      config,
      `global: { scrape_interval: 1s, evaluation_interval: 1s }\nrule_files: [keel-rules.yml]\nscrape_configs:\n  - job_name: keel\n    static_configs: [{ targets: ['${new URL(gateway.url).host}'] }]\n`,
    );
    prometheus = spawn(
      binary,
      [
        `--config.file=${config}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
      ],
      { stdio: 'ignore' },
    );
    await get(`${gateway.url}/items/2`);
    const query = `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent('sum(keel_http_requests_total{route="item"})')}`;
    const answered = await waitUntil(async () => {
      const body = JSON.parse((await get(query)).body);
      return (
        body.status === 'success' && body.data.result.length > 0 && Number(body.data.result[0].value[1]) >= 1
      );
    }, 30_000);
    expect(answered).toBe(true);
    const rules = JSON.parse((await get(`http://127.0.0.1:${port}/api/v1/rules`)).body);
    expect(rules.data.groups[0].rules.length).toBe(ALERT_COUNT);
  }, 60_000);
});

describe('start_monitoring.sh', () => {
  it('starts Prometheus with the rules and Alertmanager, then prints their addresses and the Grafana import', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'keel-start-monitoring-'));
    const [prometheusPort, alertmanagerPort] = [await freePort(), await freePort()];
    try {
      const started = await run('scripts/cache-verification/start_monitoring.sh', [], {
        env: {
          ...process.env,
          MONITORING_DIR: folder,
          PROMETHEUS_PORT: String(prometheusPort),
          ALERTMANAGER_PORT: String(alertmanagerPort),
          ALERT_WEBHOOK_URL: 'https://hooks.slack.example.com/services/T/B/seed-name',
        },
      });
      expect(started.stdout).toContain(`Prometheus    http://127.0.0.1:${prometheusPort}`);
      expect(started.stdout).toContain('import');
      const rules = await (await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/rules`)).json();
      expect(JSON.stringify(rules)).toContain('KeelErrorRate');
      const status = await fetch(`http://127.0.0.1:${alertmanagerPort}/api/v2/status`);
      expect(status.status).toBe(200);
      // ALERT_WEBHOOK_URL, the common name, sets the Slack webhook (Alertmanager masks it in its API).
      expect(readFileSync(join(folder, 'alertmanager.yml'), 'utf8')).toContain('seed-name');
    } finally {
      // Stop both, as the script's last line says, and wait for them to exit: they write their data
      // as they shut down, so the folder can only go once they are gone.
      const pids = ['prometheus.pid', 'alertmanager.pid'].flatMap((file) => {
        const path = join(folder, file);
        return existsSync(path) ? [Number(readFileSync(path, 'utf8'))] : [];
      });
      for (const pid of pids) signalIfAlive(pid, 'SIGTERM');
      const exited = await waitUntil(async () => pids.every((pid) => !isAlive(pid)), 15_000);
      if (!exited) for (const pid of pids) signalIfAlive(pid, 'SIGKILL');
      rmSync(folder, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    }
  }, 60_000);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  if (isAlive(pid)) process.kill(pid, signal);
}

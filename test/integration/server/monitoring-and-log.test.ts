/**
 * The monitoring and log settings of a real `keel serve` process, under the names deployment
 * scripts commonly use: MONITORING_ENABLED=false takes the figures off the network (the paths
 * stay the gateway's, so the origin is never asked for them), MONITORING_INTERVAL sets the
 * status history's interval, and LOG_FILE_PATH appends the log to a file that SIGHUP reopens
 * after a rotation.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkStatus } from '../../../src/operations/status-check.js';
import {
  type GatewayProcess,
  startGatewayProcess,
  startTestOrigin,
  type TestOrigin,
  waitUntil,
} from '../../support/index.js';
import { get } from './gateway-harness.js';

const ROUTES = `
routes:
  - name: item
    path: /items/:id
    ttl: 1m
`;

let origin: TestOrigin;
let folder: string;
let logFile: string;
let quiet: GatewayProcess;
let watched: GatewayProcess;

beforeAll(async () => {
  origin = await startTestOrigin((request) => ({ body: JSON.stringify({ url: request.url }) }));
  folder = mkdtempSync(join(tmpdir(), 'keel-log-'));
  logFile = join(folder, 'property-sync', 'app.log');
  [quiet, watched] = await Promise.all([
    startGatewayProcess({
      origin: origin.url,
      routes: ROUTES,
      env: { MONITORING_ENABLED: 'false', LOG_FILE_PATH: logFile, LOG_LEVEL: 'info' },
    }),
    startGatewayProcess({ origin: origin.url, routes: ROUTES, env: { MONITORING_INTERVAL: '1000' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([quiet?.stop(), watched?.stop()]);
  await origin?.close();
  rmSync(folder, { recursive: true, force: true });
});

describe('MONITORING_ENABLED=false', () => {
  it('answers the monitoring paths 404 with the reason, never asks the origin, and keeps health', async () => {
    for (const path of ['/metrics', '/api/status', '/api/status/history', '/dashboard']) {
      const answer = await get(`${quiet.url}${path}`);
      expect(answer.status, path).toBe(404);
      expect(JSON.parse(answer.body).error.code, path).toBe('MONITORING_DISABLED');
      expect(origin.count(path), path).toBe(0);
    }
    expect((await get(`${quiet.url}/health/live`)).status).toBe(200);
    expect((await get(`${quiet.url}/items/1`)).status).toBe(200);
  });

  it('makes keel status say that monitoring is off and which setting turned it off', async () => {
    await expect(checkStatus(new URL(quiet.url))).rejects.toThrow(
      /Monitoring is off on this gateway \(MONITORING_ENABLED=false\)/,
    );
  });
});

describe('MONITORING_INTERVAL', () => {
  it('sets the interval of the status history (a bare number is milliseconds, as in MONITORING_INTERVAL=60000)', async () => {
    expect(
      await waitUntil(
        async () => JSON.parse((await get(`${watched.url}/api/status/history`)).body).length >= 4,
        10_000,
      ),
    ).toBe(true);
    const history = JSON.parse((await get(`${watched.url}/api/status/history`)).body) as { at: number }[];
    const kept = history.slice(0, -1);
    for (let i = 1; i < kept.length; i++) {
      const gap = (kept[i] as { at: number }).at - (kept[i - 1] as { at: number }).at;
      expect(gap).toBeGreaterThan(800);
      expect(gap).toBeLessThan(2_000);
    }
  });
});

describe('LOG_FILE_PATH', () => {
  it('appends JSON lines to the file (its folder made), and SIGHUP reopens it after a rotation', async () => {
    expect(
      await waitUntil(
        async () => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('listening'),
        5_000,
      ),
    ).toBe(true);
    const first = readFileSync(logFile, 'utf8').trimEnd().split('\n');
    for (const line of first) expect(JSON.parse(line)).toHaveProperty('level');
    renameSync(logFile, `${logFile}.1`);
    quiet.signal('SIGHUP');
    expect(
      await waitUntil(
        async () => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('routes file reloaded'),
        5_000,
      ),
    ).toBe(true);
    expect(readFileSync(`${logFile}.1`, 'utf8')).not.toContain('routes file reloaded');
    // The same lines still reach stdout for a service manager.
    expect(quiet.stdout()).toContain('routes file reloaded');
  });
});

/**
 * The live dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download). The page loads, its figures change after traffic, and a screenshot is taken: into the
 * temporary directory, or over docs/dashboard.png with KEEL_UPDATE_SCREENSHOT=1 (so that a test run
 * leaves the working tree as it found it).
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/index.js';
import { Gateways, get } from '../integration/server/gateway-harness.js';
import { requireExecutable } from '../support/index.js';

const UPDATE_SCREENSHOT = process.env.KEEL_UPDATE_SCREENSHOT === '1';
const SCREENSHOT = UPDATE_SCREENSHOT
  ? join(import.meta.dirname, '..', '..', 'docs', 'dashboard.png')
  : join(tmpdir(), `keel-dashboard-${process.pid}.png`);
const gateways = new Gateways();
let gateway: RunningServer;
let browser: Browser;

beforeAll(async () => {
  gateway = await gateways.start(
    undefined,
    undefined,
    { KEEL_SAMPLE_LATENCY: '5ms' },
    { historyIntervalMs: 500 },
  );
  browser = await chromium.launch({
    executablePath: await requireExecutable('chromium'),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await gateways.closeAll();
  if (!UPDATE_SCREENSHOT) await rm(SCREENSHOT, { force: true });
});

describe('dashboard', () => {
  it('loads, shows figures that change after traffic, and can be kept as a screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${gateway.url}/dashboard?refresh=1`);
    await expect
      .poll(() => page.textContent('#requests-total'), { timeout: 10_000 })
      .toMatch(/^\d+ requests in all$/);
    const before = Number((await page.textContent('#requests-total'))?.split(' ')[0]);
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 40 }, (_, i) => get(`${gateway.url}/products/${1 + (i % 10)}`)));
    }
    await expect
      .poll(async () => Number((await page.textContent('#requests-total'))?.split(' ')[0]), {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(before + 120);
    await expect.poll(() => page.textContent('#hit-rate'), { timeout: 10_000 }).not.toBe('0.0 %');
    expect(await page.textContent('#redis')).toBe('L1 only');
    await expect.poll(() => page.locator('#routes tr').count()).toBeGreaterThanOrEqual(7);
    await expect.poll(() => page.locator('#chart-rate polyline').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.textContent('#routes')).toContain('/products/:id');
    await page.waitForTimeout(2_500);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(errors).toEqual([]);
  }, 60_000);
});

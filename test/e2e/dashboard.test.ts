/**
 * The live dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download). A freshly started gateway's page shows figures at once (no placeholders, charts with
 * a time axis, "–" where there is no data), its figures move with traffic, and two screenshots
 * are taken (fresh, and under load): into the temporary directory, or over docs/dashboard-*.png
 * with KEEL_UPDATE_SCREENSHOT=1 (so that a test run leaves the working tree as it found it).
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/index.js';
import { Gateways, get } from '../integration/server/gateway-harness.js';
import { requireExecutable } from '../support/index.js';

const UPDATE_SCREENSHOTS = process.env.KEEL_UPDATE_SCREENSHOT === '1';
const screenshot = (name: string) =>
  UPDATE_SCREENSHOTS
    ? join(import.meta.dirname, '..', '..', 'docs', `dashboard-${name}.png`)
    : join(tmpdir(), `keel-dashboard-${name}-${process.pid}.png`);
const gateways = new Gateways();
let gateway: RunningServer;
let browser: Browser;

beforeAll(async () => {
  gateway = await gateways.start(undefined, undefined, {
    KEEL_SAMPLE_LATENCY: '5ms',
    MONITORING_INTERVAL: '1s',
  });
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
  if (!UPDATE_SCREENSHOTS) for (const name of ['fresh', 'load']) await rm(screenshot(name), { force: true });
});

/** Requests through the gateway until `stop` says so: products (cached), customers (private). */
async function traffic(until: () => boolean): Promise<void> {
  while (!until()) {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        get(`${gateway.url}/${i % 5 === 0 ? 'customers' : 'products'}/${1 + (i % 10)}`),
      ),
    );
  }
}

async function open(width: number): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('request', (request) => {
    if (request.url().endsWith('/favicon.ico')) errors.push('asked for /favicon.ico');
  });
  return { page, errors };
}

describe('dashboard', () => {
  it('shows a fresh gateway at once: figures, charts with a time axis, "–" where nothing happened', async () => {
    const { page, errors } = await open(1400);
    await page.goto(`${gateway.url}/dashboard?refresh=1`);
    // Drawn from the state served with the page: no wait for a first fetch.
    expect(await page.textContent('#meta')).toMatch(/^origin http:\/\/127\.0\.0\.1:\d+ \(sample\)/);
    expect(await page.textContent('#latency')).toBe('–');
    expect(await page.textContent('#hit-rate')).toBe('–');
    expect(await page.locator('#chart-memory polyline').count()).toBe(3);
    expect(await page.locator('#chart-memory text', { hasText: 'now' }).count()).toBe(1);
    const routes = await page.locator('#routes tr').allTextContents();
    expect(routes.find((row) => row.startsWith('product-write'))).toContain('–');
    await page.screenshot({ path: screenshot('fresh'), fullPage: true });
    expect(errors).toEqual([]);
  }, 30_000);

  it('follows traffic: a live request rate, hit rate and latency, private answers as bypass', async () => {
    const { page, errors } = await open(1400);
    await page.goto(`${gateway.url}/dashboard?refresh=1`);
    let done = false;
    const load = traffic(() => done);
    try {
      await expect
        .poll(async () => Number(await page.textContent('#request-rate')), { timeout: 10_000 })
        .toBeGreaterThan(0);
      await expect.poll(() => page.textContent('#hit-rate'), { timeout: 10_000 }).toMatch(/^\d+\.\d %$/);
      await expect.poll(() => page.textContent('#latency'), { timeout: 10_000 }).toMatch(/ ms$/);
      await expect.poll(() => page.locator('#chart-rate polyline').count(), { timeout: 10_000 }).toBe(1);
      await page.waitForTimeout(4_000);
      await page.screenshot({ path: screenshot('load'), fullPage: true });
    } finally {
      done = true;
      await load;
    }
    const customer = (await page.locator('#routes tr').allTextContents()).find((row) =>
      row.startsWith('customer'),
    );
    // The origin marks customers private: all bypass, so no hit rate to show.
    expect(customer).toMatch(/– \/ \d+ \/ \d+ \/ \d+ \/ \d+$|0 \/ 0 \/ 0 \/ 0 \/ \d+$/);
    expect(await page.textContent('#redis')).toBe('L1 only');
    expect(errors).toEqual([]);
  }, 60_000);

  it('keeps the latency card on one line at 760 px', async () => {
    const { page } = await open(760);
    await page.goto(`${gateway.url}/dashboard`);
    const box = await page.locator('#latency').boundingBox();
    expect(box?.height).toBeLessThan(40);
    const overflow = await page.$eval('#latency', (element) => element.scrollWidth > element.clientWidth);
    expect(overflow).toBe(false);
  });
});

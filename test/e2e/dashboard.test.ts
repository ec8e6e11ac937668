/**
 * The live dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download). A freshly started gateway's page shows figures at once (no placeholders, charts with
 * a time axis, "–" where there is no data, one quiet line for the rollouts), its figures move with
 * traffic, and its rollout panel follows a rollout (cache-enable, moved to its second stage, where
 * the sample's product routes — write-affected: product writes invalidate them — are cached for
 * 10 % of clients, hence a client id per request) and escapes what operators wrote. Two
 * screenshots are taken (fresh, and under load with the rollout): into the temporary directory, or
 * over docs/dashboard-*.png with KEEL_UPDATE_SCREENSHOT=1 (so that a test run leaves the working
 * tree as it found it).
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheEnable, parsePlan } from '../../src/rollout/index.js';
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
    // Bucketed by a client id rather than the IP, so that a 10 % stage caches some of the test's clients.
    KEEL_STICKY_KEY: 'header:x-client',
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

/** Requests through the gateway until `stop` says so: products (cached), customers (private), from 200 clients. */
async function traffic(until: () => boolean): Promise<void> {
  let client = 0;
  while (!until()) {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        get(`${gateway.url}/${i % 5 === 0 ? 'customers' : 'products'}/${1 + (i % 10)}`, {
          'x-client': `client-${client++ % 200}`,
        }),
      ),
    );
  }
}

/** The rollout panel's cards, as text. */
const cards = (page: Page) => page.locator('#rollouts .rollout').allTextContents();

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
    expect(await page.textContent('#rollouts')).toBe(
      'no rollout — keel rollout start <plan> starts one (keel rollout plans lists the built-in ones)',
    );
    await page.screenshot({ path: screenshot('fresh'), fullPage: true });
    expect(errors).toEqual([]);
  }, 30_000);

  it('draws a rollout from the state served with the page, then follows it', async () => {
    const { rollout } = gateway.rollout;
    // Evaluated every second rather than every 30 s, so that the guards' values show at once.
    const record = await rollout.actions.start(
      { ...cacheEnable(), evaluationIntervalMs: 1_000 },
      'operator:test',
    );
    const { page, errors } = await open(1400);
    // Nothing from the API: what the panel shows can only come from the page as served.
    await page.route('**/api/**', (route) => route.abort());
    await page.goto(`${gateway.url}/dashboard`);
    const [served] = await cards(page);
    expect(served).toContain(record.id);
    expect(served).toMatch(/running/);
    expect(served).toContain('Stage 1 of 3, read-only-10');
    expect(served).toMatch(/\d+ s in stage of 24 h minimum/);
    expect(served).toMatch(/cache:read-only10 %cache:write-affected0 %/);
    expect(served).toContain('hit_rate >= 0.6');
    expect(served).toContain('candidate.error_rate > 0.05 for 5m (critical)');
    await page.close();

    const api = JSON.parse((await get(`${gateway.url}/api/rollouts`)).body);
    expect(api.rollouts.map((r: { id: string }) => r.id)).toEqual([record.id]);
    expect(api.rollouts[0].switches).toEqual([
      { key: 'cache:read-only', weight: 10, stageWeight: 10 },
      { key: 'cache:write-affected', weight: 0, stageWeight: 0 },
    ]);

    const live = await open(1400);
    await live.page.goto(`${gateway.url}/dashboard?refresh=1`);
    await rollout.actions.promote(record.id, 'operator:test', 'the first stage looks right');
    await expect
      .poll(async () => (await cards(live.page))[0], { timeout: 10_000 })
      .toContain('Stage 2 of 3, write-affected-10');
    const [promoted] = await cards(live.page);
    expect(promoted).toMatch(/cache:read-only100 %cache:write-affected10 %/);
    // The guards of the new stage, once evaluated (every second): each criterion and trigger judged.
    await expect
      .poll(async () => (await cards(live.page))[0], { timeout: 10_000 })
      .toMatch(/guards evaluated \d+ s ago/);
    // A first evaluation on a loaded machine may lack a figure still; the next ones judge them all.
    const judged = live.page.locator('#rollouts .rollout li .mark');
    await expect.poll(async () => await judged.allTextContents(), { timeout: 10_000 }).not.toContain('–');
    expect(live.errors).toEqual([]);
    await live.page.close();
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
      await expect
        .poll(async () => (await cards(page))[0], { timeout: 10_000 })
        .toMatch(/cache\.hit_rate >= 0\.6/);
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

  it('escapes what operators wrote: rollout ids, plan and stage descriptions, the emergency stop', async () => {
    const { rollout } = gateway.rollout;
    const html = '<img src=x onerror="window.injected=1">';
    const plan = parsePlan(
      [
        'name: escape-test',
        `description: '${html}'`,
        'stages:',
        '  - name: on',
        `    description: '<script>window.injected=2</script>'`,
        '    switches: { flag:escape-test: 50 }',
        '    minDuration: 1h',
        '    gate: manual',
      ].join('\n'),
      'escape test',
    );
    const id = '<script>window.injected=3</script>';
    await rollout.actions.start(plan, 'operator:test', id);
    await rollout.actions.emergencyStop('operator:<b>test</b>', `stop ${html}`);
    try {
      const { page, errors } = await open(1400);
      await page.goto(`${gateway.url}/dashboard?refresh=1`);
      const texts = await cards(page);
      const card = texts.find((text) => text.startsWith(id));
      expect(card).toContain(`plan escape-test — ${html}`);
      expect(card).toContain('<script>window.injected=2</script>');
      expect(await page.textContent('#emergency-stop')).toMatch(
        /^EMERGENCY STOP by operator:<b>test<\/b>, \d+ s ago: stop <img src=x onerror="window.injected=1">/,
      );
      // And after a poll, drawn from /api/rollouts.
      await rollout.actions.clearEmergencyStop('operator:test');
      await expect.poll(() => page.locator('#emergency-stop').count(), { timeout: 10_000 }).toBe(0);
      expect((await cards(page)).find((text) => text.startsWith(id))).toContain(html);
      expect(await page.evaluate(() => (globalThis as { injected?: number }).injected)).toBeUndefined();
      expect(await page.locator('#rollouts img, #rollouts script').count()).toBe(0);
      expect(errors).toEqual([]);
      // The embedded state cannot close its script element either.
      const served = (await get(`${gateway.url}/dashboard`)).body;
      expect(served).not.toContain('<script>window.injected');
      // A pause, with the operator's reason.
      await rollout.actions.pause(id, 'operator:test', `hold ${html}`);
      await expect
        .poll(async () => (await cards(page)).find((text) => text.startsWith(id)), { timeout: 10_000 })
        .toMatch(
          /Paused \(medium\) \d+ s ago: hold <img src=x onerror="window.injected=1">acknowledged by operator:test/,
        );
      // Once stopped it shows as the last finished rollout, its switch at the safe weight.
      await rollout.actions.stop(id, 'operator:test');
      await expect
        .poll(async () => (await cards(page)).find((text) => text.startsWith(id)), { timeout: 10_000 })
        .toMatch(/stopped.*ended \d+ s ago.*flag:escape-test0 %/);
      await page.close();
    } finally {
      await rollout.actions.clearEmergencyStop('operator:test');
      await rollout.actions.stop(id, 'operator:test').catch(() => undefined);
    }
  }, 30_000);

  it('answers /api/rollouts 404 MONITORING_DISABLED when monitoring is off', async () => {
    const quiet = await gateways.start(gateway.originUrl, undefined, { MONITORING_ENABLED: 'false' });
    const answer = await get(`${quiet.url}/api/rollouts`);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body).error.code).toBe('MONITORING_DISABLED');
  });
});

/**
 * SIGHUP reloads the routes file of a running `keel serve`: the new rules apply to the next
 * requests, an answer in progress is not cut, the cache is kept, and a file that cannot be used
 * changes nothing (the gateway says why in its log).
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GatewayProcess,
  startGatewayProcess,
  startTestOrigin,
  type TestOrigin,
  waitUntil,
} from '../../support/index.js';
import { get } from './gateway-harness.js';

const BEFORE = `
routes:
  - name: item
    path: /items/:id
    ttl: 1m
`;
const AFTER = `${BEFORE}  - name: listing
    path: /listings/:id
    ttl: 1m
`;

let origin: TestOrigin;
let gateway: GatewayProcess;

beforeAll(async () => {
  origin = await startTestOrigin((request) => ({
    delayMs: request.url === '/items/slow' ? 1_500 : 0,
    body: JSON.stringify({ url: request.url }),
  }));
  gateway = await startGatewayProcess({ origin: origin.url, routes: BEFORE, env: { LOG_LEVEL: 'info' } });
});
afterAll(async () => {
  await gateway?.stop();
  await origin?.close();
});

describe('SIGHUP', () => {
  it('reloads the routes file without cutting answers in progress or emptying the cache', async () => {
    await get(`${gateway.url}/items/1`);
    expect((await get(`${gateway.url}/listings/1`)).xCache).toBe('BYPASS');
    const slow = get(`${gateway.url}/items/slow`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    writeFileSync(gateway.routesFile as string, AFTER);
    gateway.signal('SIGHUP');
    expect(await waitUntil(async () => gateway.stdout().includes('routes file reloaded'), 5_000)).toBe(true);
    expect((await slow).status).toBe(200);
    expect((await get(`${gateway.url}/items/1`)).xCache).toBe('HIT');
    await get(`${gateway.url}/listings/1`);
    expect((await get(`${gateway.url}/listings/1`)).xCache).toBe('HIT');
  });

  it('keeps the routes it has when the new file cannot be used, and says why', async () => {
    writeFileSync(gateway.routesFile as string, 'routes:\n  - path: /a/*/b\n');
    gateway.signal('SIGHUP');
    expect(await waitUntil(async () => gateway.stdout().includes('routes file not reloaded'), 5_000)).toBe(
      true,
    );
    expect(gateway.stdout()).toMatch(/routes\.yaml:2:\d+: routes\[0\]\.path/);
    expect((await get(`${gateway.url}/listings/1`)).xCache).toBe('HIT');
  });
});

import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';
import { bucketOf, parseStickyKey } from '../../../src/server/enablement.js';

describe('enablement buckets', () => {
  it('spreads clients evenly, keeps each client in one bucket per route, and differs between routes', () => {
    const counts = new Array<number>(10).fill(0);
    for (let client = 0; client < 20_000; client++)
      counts[Math.floor(bucketOf(`user-${client}`, 'product') / 10)]!++;
    for (const count of counts) expect(count).toBeGreaterThan(1_700);
    expect(bucketOf('user-1', 'product')).toBe(bucketOf('user-1', 'product'));
    const differing = Array.from(
      { length: 100 },
      (_, i) => bucketOf(`u${i}`, 'a') !== bucketOf(`u${i}`, 'b'),
    ).filter(Boolean);
    expect(differing.length).toBeGreaterThan(80);
  });

  it('reads the sticky key setting, naming it on error', () => {
    expect(parseStickyKey('ip', 'S')).toEqual({ from: 'ip' });
    expect(parseStickyKey('header:X-User-Id', 'S')).toEqual({ from: 'header', name: 'x-user-id' });
    expect(parseStickyKey('cookie:session', 'S')).toEqual({ from: 'cookie', name: 'session' });
    expect(() => parseStickyKey('user', 'KEEL_STICKY_KEY')).toThrow(/^KEEL_STICKY_KEY: expected "ip"/);
  });
});

describe('configuration', () => {
  it('has defaults for everything but the optional settings', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      memory: 'auto',
      namespace: 'keel-gateway',
      upstreamTimeout: 10_000,
      maxBodyBytes: 8 * 1024 * 1024,
      logLevel: 'info',
    });
    expect(config.origin).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
  });

  it('reads the environment, lets flags win, and names the variable or flag of a bad value', () => {
    const config = loadConfig(
      { KEEL_PORT: '9000', KEEL_MEMORY_MAX_BYTES: '64mb', KEEL_UPSTREAM_TIMEOUT: '2s' },
      { port: '9100' },
    );
    expect(config.port).toBe(9100);
    expect(config.memory).toBe(64 * 1024 * 1024);
    expect(config.upstreamTimeout).toBe(2_000);
    expect(() => loadConfig({ KEEL_PORT: 'http' })).toThrow(ConfigError);
    expect(() => loadConfig({ KEEL_PORT: 'http' })).toThrow(
      /^KEEL_PORT: expected a port number 0–65535 \(got "http"\)/,
    );
    expect(() => loadConfig({}, { origin: 'ftp://x' })).toThrow(/^--origin: expected an http/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/^LOG_LEVEL: /);
  });

  it('never shows secrets, in errors or in the effective configuration', () => {
    expect(() => loadConfig({ KEEL_ADMIN_TOKEN: 'short' })).toThrow(/\(got \*\*\*\)/);
    const shown = describeConfig(
      loadConfig({ REDIS_URL: 'redis://:hunter2@cache:6379', KEEL_ADMIN_TOKEN: 'a-long-enough-admin-token' }),
    );
    expect(shown.REDIS_URL).toBe('***');
    expect(shown.KEEL_ADMIN_TOKEN).toBe('***');
    expect(JSON.stringify(shown)).not.toMatch(/hunter2|a-long-enough/);
  });
});

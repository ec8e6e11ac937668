import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { OptimizedCacheManager } from '../../../../src/cache/index.js';
import { type Connections, openConnections } from '../../../../src/cache/redis/connection.js';
import { type RedisOptions, redisOptionsSchema } from '../../../../src/cache/redis/options.js';

let opened: Connections | undefined;

afterEach(() => {
  opened?.commands.disconnect();
  opened?.subscriber.disconnect();
  opened = undefined;
});

/** The ioredis options of the command connection (nothing connects: the clients are lazy). */
function commandOptionsFor(redis: RedisOptions) {
  opened = openConnections(redisOptionsSchema.parse(redis));
  return (opened.commands as Redis).options;
}

describe('Redis connections through Sentinel', () => {
  it("use the Sentinels' own credentials and TLS, and TLS to the primary when `tls` is set", () => {
    const options = commandOptionsFor({
      sentinel: {
        sentinels: ['10.0.0.1:26379'],
        name: 'shop',
        username: 'watcher',
        password: 'sentinel-secret',
        tls: true,
      },
      password: 'data-secret',
      tls: true,
    });
    expect(options.sentinels).toEqual([{ host: '10.0.0.1', port: 26379 }]);
    expect(options).toMatchObject({
      name: 'shop',
      sentinelUsername: 'watcher',
      sentinelPassword: 'sentinel-secret',
      sentinelTLS: {},
      password: 'data-secret',
      tls: {},
      enableTLSForSentinelMode: true,
      failoverDetector: true,
    });
  });

  it('reach the primary in plain text without `tls`', () => {
    const options = commandOptionsFor({
      sentinel: { sentinels: [{ host: 's1', port: 26379 }], name: 'shop' },
    });
    expect(options.enableTLSForSentinelMode).toBe(false);
    expect(options.sentinelTLS).toBeUndefined();
  });

  it('reject a bad Sentinel setting at start-up, naming it', () => {
    expect(
      () =>
        new OptimizedCacheManager({
          redis: { sentinel: { sentinels: ['s1:26379'], name: 'shop', password: '' } },
        }),
    ).toThrow(/redis\.sentinel\.password/);
    expect(() => new OptimizedCacheManager({ redis: { sentinel: { sentinels: [], name: 'shop' } } })).toThrow(
      /redis\.sentinel\.sentinels/,
    );
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTlsRedisServer, type TlsRedisHandle } from '../../../support/index.js';
import { Managers, uniqueNamespace } from './managers.js';

let server: TlsRedisHandle;
const managers = new Managers();

beforeAll(async () => {
  server = await startTlsRedisServer();
});

afterAll(async () => {
  await managers.closeAll();
  await server.stop();
});

describe('Redis tier over TLS', () => {
  it('connects with rediss:// and a trusted CA, and shares values between instances', async () => {
    const ns = uniqueNamespace('tls');
    const redis = { url: server.url, tls: { ca: server.ca }, required: true };
    const a = await managers.open(ns, redis);
    const b = await managers.open(ns, redis);
    await a.set('secret', { over: 'tls' });
    expect(await b.get('secret')).toEqual({ over: 'tls' });
    expect(b.getPerformanceStats().l2?.state).toBe('ready');
  });

  it('refuses to start against a server whose certificate it cannot verify', async () => {
    await expect(
      managers.open(uniqueNamespace('tlsbad'), { url: server.url, required: true, connectTimeoutMs: 1_000 }),
    ).rejects.toThrow(/REDIS_UNAVAILABLE|did not answer/);
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { loadSyncConfig, restSourceConfig } from '../../../src/sync/index.js';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadSyncConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('the sync configuration', () => {
  it('has the deployment guide’s defaults', () => {
    const config = loadSyncConfig({});
    expect(config).toMatchObject({
      batchSize: 100,
      rateLimit: 10,
      breakerThreshold: 5,
      breakerTimeout: 60_000,
      poolMin: 5,
      poolMax: 20,
      monitoringInterval: 60_000,
      logLevel: 'info',
      system: 'new',
      name: 'property_listings',
    });
    expect(restSourceConfig(config)).toBeUndefined();
  });

  it('names the variable of a value that does not parse, without showing a secret', () => {
    expect(configError({ SYNC_BATCH_SIZE: '0' }).setting).toBe('SYNC_BATCH_SIZE');
    expect(configError({ SYNC_RATE_LIMIT_PER_SECOND: '10/s' }).setting).toBe('SYNC_RATE_LIMIT_PER_SECOND');
    expect(configError({ SYNC_CIRCUIT_BREAKER_TIMEOUT: 'soon' }).setting).toBe(
      'SYNC_CIRCUIT_BREAKER_TIMEOUT',
    );
    expect(configError({ DATABASE_URL: 'mysql://db/x' }).setting).toBe('DATABASE_URL');
    expect(configError({ SUPABASE_REST_URL: 'ftp://x' }).setting).toBe('SUPABASE_REST_URL');
    const empty = configError({ SUPABASE_SERVICE_ROLE_KEY: '' });
    expect(empty.setting).toBe('SUPABASE_SERVICE_ROLE_KEY');
    // A bare number would be bytes: the unit is required.
    expect(configError({ KEEL_SYNC_MAX_PAGE_BYTES: '32' }).setting).toBe('KEEL_SYNC_MAX_PAGE_BYTES');
    expect(configError({ KEEL_SYNC_SHADOW_TABLE: 'Listings; drop' }).setting).toBe('KEEL_SYNC_SHADOW_TABLE');
    const bad = configError({ DATABASE_URL: 'postgres//user:hunter2@db' });
    expect(bad.message).not.toContain('hunter2');
  });

  it('refuses DB_POOL_MIN above DB_POOL_MAX, and a REST URL without a key', () => {
    expect(configError({ DB_POOL_MIN: '30', DB_POOL_MAX: '20' }).message).toMatch(
      /^DB_POOL_MIN: is 30, more than DB_POOL_MAX \(20\)/,
    );
    expect(configError({ SUPABASE_URL: 'https://p.supabase.co' }).setting).toBe(
      'SUPABASE_REST_HEADERS_APIKEY',
    );
    // The shadow phase's table cannot be the table the listings are written to.
    expect(configError({ KEEL_SYNC_TABLE: 'listings', KEEL_SYNC_SHADOW_TABLE: 'listings' }).message).toMatch(
      /^KEEL_SYNC_SHADOW_TABLE: is the table the listings are written to \(KEEL_SYNC_TABLE\)/,
    );
  });

  it('reads the REST source as Supabase projects are set up', () => {
    const fromProject = restSourceConfig(
      loadSyncConfig({
        SUPABASE_URL: 'https://p.supabase.co',
        SUPABASE_ANON_KEY: 'anon',
        SUPABASE_SERVICE_ROLE_KEY: 'service',
      }),
    );
    expect(fromProject?.url.href).toBe('https://p.supabase.co/rest/v1');
    expect(fromProject?.headers).toEqual({ apikey: 'anon', Authorization: 'Bearer service' });
    expect(fromProject?.credentialSettings).toEqual(['SUPABASE_ANON_KEY', 'SUPABASE_SERVICE_ROLE_KEY']);

    const explicit = restSourceConfig(
      loadSyncConfig({
        SUPABASE_REST_URL: 'https://p.supabase.co/rest/v1',
        SUPABASE_REST_HEADERS_APIKEY: 'key',
        SUPABASE_REST_HEADERS_AUTHORIZATION: 'Bearer token',
      }),
    );
    expect(explicit?.headers).toEqual({ apikey: 'key', Authorization: 'Bearer token' });
    expect(explicit?.credentialSettings).toEqual([
      'SUPABASE_REST_HEADERS_APIKEY',
      'SUPABASE_REST_HEADERS_AUTHORIZATION',
    ]);
  });
});

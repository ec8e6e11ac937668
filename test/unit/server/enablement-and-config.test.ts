import { describe, expect, it } from 'vitest';
import { describeConfig, displayUrl, loadConfig, unknownVariables } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';
import { parseStickyKey } from '../../../src/server/enablement.js';

describe('enablement', () => {
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

  it('reads numbers as plain decimal digits only, in every numeric setting', () => {
    for (const bad of ['0x1F9B', '8.1e3', '+8080', ' 8080', '8080 ', '65536'])
      expect(() => loadConfig({ KEEL_PORT: bad }), bad).toThrow(/^KEEL_PORT: expected a port number/);
    for (const [env, bad] of [
      ['KEEL_UPSTREAM_CONNECTIONS', '1e2'],
      ['KEEL_UPSTREAM_CONNECTIONS', '0x10'],
      ['KEEL_MAX_BODY_BYTES', ' 8mb'],
      ['KEEL_MAX_BODY_BYTES', '1e3kb'],
      ['KEEL_MEMORY_MAX_BYTES', '0x100000'],
      ['KEEL_UPSTREAM_TIMEOUT', '1e4'],
      ['KEEL_SAMPLE_LATENCY', '-1ms'],
    ] as const) {
      expect(() => loadConfig({ [env]: bad }), `${env}=${bad}`).toThrow(new RegExp(`^${env}: expected`));
    }
  });

  it('refuses an empty variable or flag instead of reading it as unset (or as 0)', () => {
    expect(() => loadConfig({ KEEL_PORT: '' })).toThrow(
      /^KEEL_PORT: is empty, which is not read as unset: unset KEEL_PORT to use the default \(8080\)/,
    );
    expect(() => loadConfig({ KEEL_ORIGIN: '' })).toThrow(/^KEEL_ORIGIN: is empty/);
    expect(() => loadConfig({}, { port: '' })).toThrow(/^--port: is empty, .*leave the flag out/);
  });

  it('reads the common monitoring and log variables, with their KEEL_* aliases', () => {
    const defaults = loadConfig({});
    expect(defaults).toMatchObject({ monitoringEnabled: true, monitoringInterval: 10_000 });
    expect(defaults.logFile).toBeUndefined();
    const common = loadConfig({
      MONITORING_ENABLED: 'false',
      MONITORING_INTERVAL: '60000',
      LOG_FILE_PATH: '/var/log/keel/app.log',
    });
    expect(common).toMatchObject({
      monitoringEnabled: false,
      monitoringInterval: 60_000,
      logFile: '/var/log/keel/app.log',
    });
    const aliases = loadConfig({
      KEEL_MONITORING_ENABLED: 'no',
      KEEL_MONITORING_INTERVAL: '30s',
      KEEL_LOG_FILE: 'keel.log',
    });
    expect(aliases).toMatchObject({
      monitoringEnabled: false,
      monitoringInterval: 30_000,
      logFile: 'keel.log',
    });
    // The common name wins over its alias; errors name the variable that was read.
    expect(loadConfig({ MONITORING_INTERVAL: '5s', KEEL_MONITORING_INTERVAL: '1h' }).monitoringInterval).toBe(
      5_000,
    );
    expect(() => loadConfig({ KEEL_MONITORING_INTERVAL: '500ms' })).toThrow(
      /^KEEL_MONITORING_INTERVAL: expected a duration from 1s to 1h/,
    );
    expect(() => loadConfig({ KEEL_MONITORING_ENABLED: '' })).toThrow(
      /^KEEL_MONITORING_ENABLED: is empty, .*unset KEEL_MONITORING_ENABLED/,
    );
    expect(() => loadConfig({ LOG_FILE_PATH: '/var/log/keel/' })).toThrow(
      /^LOG_FILE_PATH: expected a file path/,
    );
    expect(
      unknownVariables({ KEEL_LOG_FILE: 'a', KEEL_MONITORING_INTERVAL: '1m', KEEL_LOG_FIEL: 'b' }),
    ).toEqual(['KEEL_LOG_FIEL (did you mean KEEL_LOG_FILE?)']);
  });

  it('bounds the origin timeout: 1ms to 10m, never 0 (no timeout at all)', () => {
    expect(loadConfig({ KEEL_UPSTREAM_TIMEOUT: '10m' }).upstreamTimeout).toBe(600_000);
    expect(loadConfig({ KEEL_UPSTREAM_TIMEOUT: '1ms' }).upstreamTimeout).toBe(1);
    for (const bad of ['0', '0s', '10m1s', '1d'])
      expect(() => loadConfig({ KEEL_UPSTREAM_TIMEOUT: bad }), bad).toThrow(
        /^KEEL_UPSTREAM_TIMEOUT: expected a duration from 1ms to 10m/,
      );
  });

  it('takes an admin token of 16+ visible characters, not one character repeated', () => {
    expect(loadConfig({ KEEL_ADMIN_TOKEN: 'abcdefghijklmnop' }).adminToken).toBe('abcdefghijklmnop');
    for (const bad of [
      ' '.repeat(16),
      'a'.repeat(32),
      'abcdefghijklmno',
      'abcdefgh ijklmnop',
      'abcdefghijklmnop\n',
      'abcdefghijklmnopé',
    ])
      expect(() => loadConfig({ KEEL_ADMIN_TOKEN: bad }), JSON.stringify(bad)).toThrow(
        /^KEEL_ADMIN_TOKEN: expected a token of 16 or more visible ASCII characters.* \(got \*\*\*\)$/,
      );
  });

  it('takes an origin of scheme, host and port only: the client path is forwarded as is', () => {
    expect(loadConfig({ KEEL_ORIGIN: 'https://api.internal:3000' }).origin?.href).toBe(
      'https://api.internal:3000/',
    );
    for (const bad of ['http://api/v1', 'http://api/?x=1', 'http://api?', 'http://api/#top', 'http://api#'])
      expect(() => loadConfig({ KEEL_ORIGIN: bad }), bad).toThrow(
        /^KEEL_ORIGIN: expected an http:\/\/ or https:\/\/ URL with no path, query or fragment \(the gateway forwards the client's path as is\)/,
      );
  });

  it('keeps the origin credentials for the gateway and masks them wherever the config is shown', () => {
    const config = loadConfig({ KEEL_ORIGIN: 'http://svc:s3cret@api.internal:3000' });
    expect([config.origin?.username, config.origin?.password]).toEqual(['svc', 's3cret']);
    expect(describeConfig(config).KEEL_ORIGIN).toBe('http://***:***@api.internal:3000/');
    expect(displayUrl(new URL('http://svc@api/'))).toBe('http://***@api/');
    let message = '';
    try {
      loadConfig({ KEEL_ORIGIN: 'http://svc:s3cr@t@api.internal/v1' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/\(got "http:\/\/\*\*\*:\*\*\*@api\.internal\/v1"\)$/);
    expect(message).not.toMatch(/s3cr|svc/);
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

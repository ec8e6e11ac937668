import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { SAMPLE_ROUTES_YAML } from '../../../src/sample-origin/routes.js';
import { parseRoutes } from '../../../src/server/routes-file.js';

function failure(text: string): ConfigError {
  try {
    parseRoutes(text, 'routes.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('routes file', () => {
  it('compiles the sample routes: kinds, TTL rules, tags from path parameters, defaults', () => {
    const routes = parseRoutes(SAMPLE_ROUTES_YAML, 'sample');
    const product = routes.find((route) => route.name === 'product')!;
    expect(product).toMatchObject({
      kind: 'read',
      methods: ['GET', 'HEAD'],
      dataType: 'product',
      ttl: { kind: 'origin' },
      graceMs: 300_000,
      timeoutMs: 5_000,
      enabledPercent: 100,
    });
    expect(product.tags.map((tag) => tag({ id: '42' }))).toEqual(['product:42']);
    expect(routes.find((route) => route.name === 'product-list')!.ttl).toEqual({ kind: 'fixed', ms: 30_000 });
    const write = routes.find((route) => route.name === 'product-write')!;
    expect(write.kind).toBe('write');
    expect(write.invalidates.map((tag) => tag({ id: '7' }))).toEqual([
      'product:7',
      'products',
      'inventory:7',
    ]);
    expect([...product.cacheableStatuses]).toEqual([200, 203, 301, 404]);
  });

  it('names the file, line, column and field of a schema error', () => {
    const error = failure('routes:\n  - path: /a\n  - path: /b\n    ttl: soon\n');
    expect(error.message).toMatch(
      /^routes\.yaml:4:10: routes\[1\]\.ttl: expected "adaptive", "origin" or a duration like "5m" \(got "soon"\)/,
    );
  });

  it('places a missing field at its parent, and a YAML syntax error at its own position', () => {
    expect(failure('routes:\n  - dataType: product\n').message).toMatch(
      /^routes\.yaml:2:5: routes\[0\]\.path: /,
    );
    expect(failure('routes:\n  - path: /a\n   ttl: 5m\n').message).toMatch(
      /^routes\.yaml:3:\d+: not valid YAML/,
    );
  });

  it('refuses mixed methods, tags naming unknown parameters, duplicate names and unknown fields', () => {
    expect(failure('routes:\n  - path: /a\n    methods: [GET, PUT]\n').message).toMatch(
      /routes\[0\]\.methods: a route is either read/,
    );
    expect(failure('routes:\n  - path: /a/:id\n    tags: ["a:{name}"]\n').message).toMatch(
      /routes\[0\]\.tags: "a:\{name\}" uses \{name\}/,
    );
    expect(failure('routes:\n  - path: /a\n  - path: /a\n').message).toMatch(
      /routes\[1\]\.name: "GET,HEAD \/a" names two routes/,
    );
    expect(failure('routes:\n  - path: /a\n    ttll: 5m\n').message).toMatch(
      /routes\.yaml:2:5: routes\[0\]: Unrecognized key: "ttll"/,
    );
    expect(failure('routes:\n  - path: /a\n    methods: [PUT]\n    ttl: 5m\n').message).toMatch(
      /routes\[0\]\.ttl: write routes are not cached/,
    );
    expect(failure('routes: []\n').message).toMatch(/routes: list at least one route/);
  });
});

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
      /^routes\.yaml:4:10: routes\[1\]\.ttl: expected "adaptive", "origin" or a duration up to 365d, like "5m" \(got "soon"\)$/,
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
    expect(failure('routes:\n  - path: /a\n    name: x\n  - path: /b\n    name: x\n').message).toMatch(
      /routes\.yaml:5:11: routes\[1\]\.name: "x" names two routes/,
    );
    expect(failure('routes:\n  - path: /a\n    ttll: 5m\n').message).toMatch(
      /^routes\.yaml:3:5: routes\[0\]\.ttll: unknown field \(did you mean "ttl"\?\); the fields of a route are name, path, methods, /,
    );
    expect(failure('routes:\n  - path: /a\n    methods: [PUT]\n    ttl: 5m\n').message).toMatch(
      /routes\[0\]\.ttl: write routes are not cached/,
    );
    expect(failure('routes: []\n').message).toMatch(/routes: list at least one route/);
  });

  it('refuses routes that would match the same requests, naming the route they clash with', () => {
    expect(failure('routes:\n  - path: /a/:id\n  - path: /a/:name\n').message).toBe(
      'routes.yaml:3:11: routes[1].path: "/a/:name" matches the same GET requests as routes[0] ("/a/:id"); ' +
        'a request is handled by one route only, so merge the two or remove one',
    );
    const twice =
      'routes:\n  - { name: x, path: /a, methods: [PUT] }\n  - { name: y, path: /a, methods: [POST, PUT] }\n';
    expect(failure(twice).message).toMatch(
      /^routes\.yaml:3:22: routes\[1\]\.path: .* same PUT requests as routes\[0\]/,
    );
    expect(failure('routes:\n  - path: /a\n  - path: /a/\n').message).toMatch(
      /routes\[1\]\.path: "\/a\/" matches/,
    );
    // Different shapes or different methods do not clash: the router prefers the more specific one.
    const distinct = parseRoutes(
      'routes:\n  - path: /a/:id\n  - path: /a/*\n  - path: /a/b\n  - path: /a/:x\n    methods: [PUT]\n',
      'r',
    );
    expect(distinct.map((route) => route.path)).toEqual(['/a/:id', '/a/*', '/a/b', '/a/:x']);
  });

  it('takes paths of static segments, whole-segment parameters named once and a last "*"', () => {
    const reasons: Record<string, RegExp> = {
      '/a/*/b': /"\/a\/\*\/b": "\*" matches the rest of the path, so it can only be the last segment$/,
      '/a/:id/:id': /"\/a\/:id\/:id" names the parameter :id twice; give each a distinct name$/,
      '/a/b:c': /":" and "\*" are only allowed as a whole segment/,
      '/a/:id.json': /a parameter is ":" and a name of letters, digits and "_" filling its whole segment/,
      '/a//b': /has an empty segment/,
      '/files*': /":" and "\*" are only allowed as a whole segment/,
    };
    for (const [path, reason] of Object.entries(reasons)) {
      const message = failure(`routes:\n  - path: ${path}\n`).message;
      expect(message, path).toMatch(/^routes\.yaml:2:11: routes\[0\]\.path: /);
      expect(message, path).toMatch(reason);
    }
    expect(parseRoutes('routes:\n  - path: /files/*\n  - path: /\n', 'r').map((r) => r.path)).toEqual([
      '/files/*',
      '/',
    ]);
  });

  it('refuses an empty file, a file that is not a mapping, and YAML aliases that expand without bound', () => {
    expect(failure('').message).toBe(
      'routes.yaml:1:1: (file): the file is empty; list the routes under "routes:" (keel routes example)',
    );
    expect(failure('# nothing yet\n').message).toMatch(/^routes\.yaml:1:1: \(file\): the file is empty/);
    expect(failure('- path: /a\n').message).toBe(
      'routes.yaml:1:1: (file): expected a mapping with a "routes:" list (got a list)',
    );
    expect(failure('hello\n').message).toMatch(/\(file\): expected a mapping .*\(got "hello"\)$/);
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < 9; level++)
      laughs.push(
        `${'abcdefghi'[level]}: &${'abcdefghi'[level]} [${Array(10)
          .fill(`*${'abcdefghi'[level - 1]}`)
          .join(', ')}]`,
      );
    expect(failure(`${laughs.join('\n')}\nroutes: [{ path: /a, tags: *i }]\n`).message).toMatch(
      /^routes\.yaml:2:8: b\[0\]: the YAML aliases here expand to more than 100 nodes/,
    );
    expect(failure('routes:\n  - path: /a\n    tags: *nothing\n').message).toMatch(
      /^routes\.yaml:3:11: routes\[0\]\.tags: not valid YAML: Unresolved alias/,
    );
    const shared = parseRoutes('routes:\n  - path: /a\n    tags: &t [x]\n  - path: /b\n    tags: *t\n', 'r');
    expect(shared[1]?.tags.map((tag) => tag({}))).toEqual(['x']);
  });

  it("words the schema's complaints as expected … (got …)", () => {
    expect(failure('routes: { path: /a }\n').message).toBe(
      'routes.yaml:1:9: routes: expected a list (got a mapping)',
    );
    expect(failure('routes:\n  - path: /a\n    methods: [GOT]\n').message).toMatch(
      /^routes\.yaml:3:15: routes\[0\]\.methods\[0\]: expected one of GET, HEAD, POST, PUT, PATCH, DELETE \(got "GOT"\)$/,
    );
    expect(failure('routes:\n  - path: /a\n    enabled: 150\n').message).toMatch(
      /routes\[0\]\.enabled: expected at most 100 \(got 150\)$/,
    );
    expect(failure('routes:\n  - path: /a\n    cacheAuthenticated: "yes"\n').message).toMatch(
      /routes\[0\]\.cacheAuthenticated: expected true or false \(got "yes"\)$/,
    );
  });

  it('refuses what the cache cannot store: ttl or grace past a year, 255+ tags, a dataType past 255 bytes', () => {
    for (const ttl of ['1e20', '366d', '100000000000000d'])
      expect(failure(`routes:\n  - path: /a\n    ttl: ${ttl}\n`).message, ttl).toMatch(
        /^routes\.yaml:3:10: routes\[0\]\.ttl: expected "adaptive", "origin" or a duration up to 365d/,
      );
    expect(failure('routes:\n  - path: /a\n    grace: 366d\n').message).toMatch(
      /routes\[0\]\.grace: expected a duration up to 365d, like "5m" or a number of ms \(got "366d"\)$/,
    );
    expect(failure('defaults:\n  grace: 1e20\nroutes:\n  - path: /a\n').message).toMatch(
      /^routes\.yaml:2:10: defaults\.grace: /,
    );
    const year = parseRoutes('routes:\n  - path: /a\n    ttl: 365d\n    grace: 365d\n', 'r')[0]!;
    expect([year.ttl, year.graceMs]).toEqual([{ kind: 'fixed', ms: 31_536_000_000 }, 31_536_000_000]);

    const tags = (n: number) =>
      `routes:\n  - path: /a\n    tags: [${Array.from({ length: n }, (_, i) => `t${i}`).join(', ')}]\n`;
    expect(parseRoutes(tags(254), 'r')[0]!.tags).toHaveLength(254);
    expect(failure(tags(255)).message).toMatch(
      /routes\[0\]\.tags: at most 254 tags: a cached answer holds 255, one of them the path tag the gateway adds$/,
    );
    // 128 characters, 256 bytes: the limit is in bytes.
    expect(failure(`routes:\n  - path: /a\n    dataType: ${'é'.repeat(128)}\n`).message).toMatch(
      /routes\[0\]\.dataType: must be at most 255 bytes in UTF-8/,
    );
    expect(
      parseRoutes(`routes:\n  - path: /a\n    dataType: ${'é'.repeat(127)}\n`, 'r')[0]!.dataType,
    ).toHaveLength(127);
  });

  it("reads numbers as plain decimals: YAML's hex, octal, exponent and .inf forms are text", () => {
    for (const value of ['0x3e8', '0o17', '1e3', '.inf'])
      expect(failure(`routes:\n  - path: /a\n    timeout: ${value}\n`).message, value).toMatch(
        new RegExp(
          `routes\\[0\\]\\.timeout: expected a duration .*\\(got "${value.replace('.', '\\.')}"\\)$`,
        ),
      );
    expect(failure('routes:\n  - path: /a\n    enabled: 0x10\n').message).toMatch(
      /routes\[0\]\.enabled: expected a number \(got "0x10"\)$/,
    );
    const plain = parseRoutes('routes:\n  - path: /a\n    timeout: 1500\n    enabled: 50\n', 'r')[0]!;
    expect([plain.timeoutMs, plain.enabledPercent]).toEqual([1500, 50]);
  });

  it('bounds origin timeouts: 1ms to 10m, never 0 (no timeout at all)', () => {
    for (const [yaml, field] of [
      ['routes:\n  - path: /a\n    timeout: 0\n', 'routes\\[0\\]\\.timeout'],
      ['routes:\n  - path: /a\n    timeout: 10m1s\n', 'routes\\[0\\]\\.timeout'],
      ['defaults:\n  timeout: 0s\nroutes:\n  - path: /a\n', 'defaults\\.timeout'],
    ] as const) {
      expect(failure(yaml).message, yaml).toMatch(
        new RegExp(
          `${field}: expected a duration from 1ms to 10m, like "5s" or a number of ms \\(got (0|"0s"|"10m1s")\\)$`,
        ),
      );
    }
    expect(parseRoutes('routes:\n  - path: /a\n    timeout: 10m\n', 'r')[0]!.timeoutMs).toBe(600_000);
  });
});

describe('a route’s candidate origin', () => {
  const route = (candidate: string) => `routes:\n  - path: /a\n    candidate: ${candidate}\n`;

  it('is an origin URL, or a mapping that also says whether writes may be copied to it', () => {
    const [plain] = parseRoutes(route('http://127.0.0.1:4001'), 'routes.yaml');
    expect(plain?.candidate?.origin.origin).toBe('http://127.0.0.1:4001');
    expect(plain?.candidate?.dryRun).toBe(false);
    const [dry] = parseRoutes(route('{ origin: "https://green.internal", dryRun: true }'), 'routes.yaml');
    expect(dry?.candidate).toMatchObject({ dryRun: true });
    expect(dry?.candidate?.origin.origin).toBe('https://green.internal');
    expect(parseRoutes('routes:\n  - path: /a\n', 'routes.yaml')[0]?.candidate).toBeUndefined();
  });

  it('refuses a path, another scheme, text that is no URL and unknown fields, naming the field', () => {
    expect(failure(route('http://127.0.0.1:4001/v2')).message).toMatch(
      /^routes\.yaml:3:16: routes\[0\]\.candidate\.origin: an origin is a scheme, host and port/,
    );
    expect(failure(route('ftp://host')).message).toMatch(
      /candidate\.origin: expected an http:\/\/ or https:\/\//,
    );
    expect(failure(route('green')).message).toMatch(
      /expected an origin URL like "http:\/\/127.0.0.1:4001" \(got "green"\)/,
    );
    expect(failure(route('{ origin: "http://a", dry: true }')).message).toMatch(
      /candidate\.dry: unknown field; the fields of candidate are origin, dryRun/,
    );
  });
});

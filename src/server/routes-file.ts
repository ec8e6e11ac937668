/**
 * The routes file: which paths of the origin Keel caches, how, and what writes invalidate.
 *
 * ```yaml
 * defaults: { ttl: adaptive, grace: 1m }
 * routes:
 *   - path: /products/:id              # read route: GET and HEAD are cached
 *     dataType: product                # feeds the adaptive TTL (product ×1.5, inventory ×0.5 …)
 *     ttl: origin                      # "5m", "adaptive", or "origin" (the origin's Cache-Control)
 *     tags: ["product:{id}"]           # built from path parameters
 *     enabled: 10                      # % of requests cached (sticky per client)
 *   - path: /products/:id
 *     methods: [PUT, PATCH, DELETE]    # write route: passed through
 *     invalidates: ["product:{id}", "products"]   # on a 2xx/3xx answer
 *   - path: /listings/:id
 *     candidate: http://127.0.0.1:4001 # a second origin for traffic and shadow switches (rollout)
 *     compare: { ignore: [updated_at] }   # how its answers are compared with the stable origin's
 * ```
 *
 * A file that cannot be used fails start-up with a ConfigError naming the file, the line and the
 * field (`routes.yaml:14:10: routes[2].ttl: …`), worded `expected … (got …)`: src/util/yaml-file.ts
 * reads the YAML (plain decimal numbers only, aliases bounded against "billion laughs") and places
 * each error at its node.
 *
 * Everything the gateway would fail on later is refused here, at start-up:
 * - Paths follow one grammar: segments of static text, `:name` parameters filling a whole segment
 *   (each name once), and `*` as the last segment only. Two routes whose paths have the same shape
 *   (`/a/:id` and `/a/:name`; `/a` and `/a/`, which the router treats alike) for a common method
 *   would match the same requests, so only one of them could ever answer: that is an error too.
 * - Values the cache cannot store: ttl and grace are at most a year each (the cache keeps them as
 *   48-bit milliseconds, and a year is far past any answer's useful life); a read route has at most
 *   254 tags (a cached value holds 255, and the gateway adds a `path:` tag to each entry); a
 *   dataType has at most 255 UTF-8 bytes. Origin timeouts are 1 ms to 10 minutes (config.ts).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { MAX_DATA_TYPE_BYTES, MAX_TAGS } from '../cache/index.js';
import { ORIGIN_TIMEOUT_MS } from '../config.js';
import { ConfigError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import {
  durationMs,
  durationWithin,
  type Fail,
  parseYamlFile,
  shown,
  strictMapping,
  type YamlFileKind,
} from '../util/yaml-file.js';
import { isRouteGroup } from './route-groups.js';

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
const READ_METHODS: readonly HttpMethod[] = ['GET', 'HEAD'];
/** Statuses RFC 9111 lets a cache store by default that a JSON API returns: OK, non-authoritative, moved, not found. */
const DEFAULT_CACHEABLE_STATUSES = [200, 203, 301, 404];
const DEFAULT_GRACE_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 10_000;
/** Longest ttl and grace: a year (the cache could hold 8,900 years; no answer stays useful that long). */
const MAX_LIFETIME_MS = 365 * 86_400_000;
/** Tags a route may name: the cache's limit per value, less the `path:` tag the gateway adds. */
const MAX_ROUTE_TAGS = MAX_TAGS - 1;
const TEMPLATE_PARAM = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const PARAM_SEGMENT = /^:[A-Za-z_][A-Za-z0-9_]*$/;
const PATH_SYNTAX = /^\/[^\s?#]*$/;

/** A path pattern as the router reads it, and what it takes to compare two of them. */
interface PathPattern {
  text: string;
  params: ReadonlySet<string>;
  /** The pattern with parameter names dropped and no trailing slash: equal shapes match the same paths. */
  shape: string;
}

const grace = durationWithin(0, MAX_LIFETIME_MS, '5m');
const timeout = durationWithin(ORIGIN_TIMEOUT_MS.min, ORIGIN_TIMEOUT_MS.max, '5s');
const ttl = z.unknown().transform((value, context): number | 'adaptive' | 'origin' => {
  if (value === 'adaptive' || value === 'origin') return value;
  const ms = durationMs(value);
  if (ms === undefined || ms > MAX_LIFETIME_MS) {
    context.addIssue({
      code: 'custom',
      message: `expected "adaptive", "origin" or a duration up to ${formatDuration(MAX_LIFETIME_MS)}, like "5m" (got ${shown(value)})`,
    });
    return z.NEVER;
  }
  return ms;
});
/** What a client's own Cache-Control does (http-cache.ts): `ignore` it, as CDNs do, or `honor` it (RFC 9111). */
const clientCacheControl = z.enum(['ignore', 'honor']);
const statuses = z.array(z.number().int().min(100).max(599)).min(1);
const path = z
  .string()
  .regex(PATH_SYNTAX, 'must start with "/" and hold no query, fragment or spaces')
  .transform((text, context): PathPattern => {
    const pattern = parsePathPattern(text);
    if (typeof pattern === 'string') {
      context.addIssue({ code: 'custom', message: pattern });
      return z.NEVER;
    }
    return pattern;
  });
const dataType = z
  .string()
  .min(1)
  .refine((text) => Buffer.byteLength(text, 'utf8') <= MAX_DATA_TYPE_BYTES, {
    message: `must be at most ${MAX_DATA_TYPE_BYTES} bytes in UTF-8 (the cache stores its length in one byte)`,
  });
const tags = z
  .array(z.string().min(1))
  .max(
    MAX_ROUTE_TAGS,
    `at most ${MAX_ROUTE_TAGS} tags: a cached answer holds ${MAX_TAGS}, one of them the path tag the gateway adds`,
  );

/** How two answers of the route are compared (the consistency probe, shadow traffic): rollout/compare.ts. */
const compare = strictMapping('compare', {
  ignore: z.array(z.string().min(1)).optional(),
  headers: z.array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header name')).optional(),
});

/**
 * A route's candidate origin (the new system, the green deployment): `http://host:port`, or a
 * mapping that also says whether it is a dry-run target, to which writes may be shadowed.
 */
const candidateOrigin = z.string().transform((text, context): URL => {
  const url = originUrl(text);
  if (typeof url === 'string') {
    context.addIssue({ code: 'custom', message: url });
    return z.NEVER;
  }
  return url;
});
const candidate = z.preprocess(
  (value) => (typeof value === 'string' ? { origin: value } : value),
  strictMapping('candidate', { origin: candidateOrigin, dryRun: z.boolean().default(false) }),
);

const routeSchema = strictMapping('a route', {
  name: z.string().min(1).optional(),
  path,
  methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
  dataType: dataType.optional(),
  ttl: ttl.optional(),
  grace: grace.optional(),
  tags: tags.optional(),
  invalidates: z.array(z.string().min(1)).optional(),
  enabled: z.number().int().min(0).max(100).optional(),
  cacheAuthenticated: z.boolean().optional(),
  cacheableStatuses: statuses.optional(),
  timeout: timeout.optional(),
  clientCacheControl: clientCacheControl.optional(),
  sortQuery: z.boolean().optional(),
  compare: compare.optional(),
  candidate: candidate.optional(),
});

const defaultsSchema = strictMapping('defaults', {
  ttl: ttl.optional(),
  grace: grace.optional(),
  cacheableStatuses: statuses.optional(),
  timeout: timeout.optional(),
  clientCacheControl: clientCacheControl.optional(),
  sortQuery: z.boolean().optional(),
});

const fileSchema = strictMapping('the file', {
  defaults: defaultsSchema.optional(),
  routes: z.array(routeSchema).min(1, 'list at least one route'),
});

const ROUTES_FILE: YamlFileKind<z.infer<typeof fileSchema>> = {
  schema: fileSchema,
  name: 'a routes file',
  topLevel: 'a mapping with a "routes:" list',
  whenEmpty: 'list the routes under "routes:" (keel routes example)',
};

type RawRoute = z.infer<typeof routeSchema>;
type Defaults = z.infer<typeof defaultsSchema>;

export type TtlRule = { kind: 'fixed'; ms: number } | { kind: 'adaptive' } | { kind: 'origin' };

/** A tag built from a route's path parameters: `product:{id}` → `product:42`. */
export type TagTemplate = (params: Readonly<Record<string, string>>) => string;

export interface RouteRule {
  /** Unique; `GET /products/:id` unless the file names it. */
  name: string;
  path: string;
  methods: readonly HttpMethod[];
  /** Read routes are cached; write routes pass through and invalidate. */
  kind: 'read' | 'write';
  dataType: string;
  ttl: TtlRule;
  graceMs: number;
  tags: readonly TagTemplate[];
  invalidates: readonly TagTemplate[];
  /** The templates as written (`product:{id}`), for telling which reads a write affects. */
  tagSources: readonly string[];
  invalidateSources: readonly string[];
  /** Share of requests (0–100) served through the cache; the rest pass through. */
  enabledPercent: number;
  cacheAuthenticated: boolean;
  cacheableStatuses: ReadonlySet<number>;
  timeoutMs: number;
  /** Whether a client's `Cache-Control: no-cache`, `no-store`, `max-age` count (http-cache.ts). */
  clientCacheControl: 'ignore' | 'honor';
  /** Query parameters sorted by name before keying and forwarding (request-target.ts). */
  sortQuery: boolean;
  /** JSON fields left out and headers compared when two answers are compared (rollout/compare.ts). */
  compare: { ignore: readonly string[]; headers: readonly string[] };
  /**
   * The second origin the route's `traffic:` and `shadow:` switches send requests to; `dryRun`:
   * it may be sent copies of writes (it writes nowhere that matters).
   */
  candidate?: { origin: URL; dryRun: boolean };
}

/** Reads and validates a routes file; throws ConfigError naming the file, line and field. */
export function loadRoutesFile(path: string): RouteRule[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('KEEL_ROUTES', `cannot read the routes file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseRoutes(text, path);
}

/** Parses routes from YAML text; `source` names it in errors. */
export function parseRoutes(text: string, source: string): RouteRule[] {
  const {
    data: { defaults = {}, routes },
    fail,
  } = parseYamlFile(text, source, ROUTES_FILE);
  checkOverlaps(routes, fail);
  const names = new Set<string>();
  return routes.map((raw, index) => {
    const route = compileRoute(raw, defaults, (field, message) => fail(['routes', index, field], message));
    if (names.has(route.name))
      fail(['routes', index, 'name'], `"${route.name}" names two routes; give one a distinct name`);
    if (isRouteGroup(route.name))
      fail(
        ['routes', index, 'name'],
        `"${route.name}" is the name of a route group (rollout switches); choose another`,
      );
    names.add(route.name);
    return route;
  });
}

/**
 * A path pattern, or why it is not one. Segments are static text, `:name` (a whole segment, each
 * name once) or a last `*`; an empty segment is refused except as a trailing slash.
 */
function parsePathPattern(text: string): PathPattern | string {
  const segments = text.split('/').slice(1);
  const params = new Set<string>();
  const shape: string[] = [];
  for (const [index, segment] of segments.entries()) {
    const last = index === segments.length - 1;
    if (segment === '') {
      if (!last) return `"${text}" has an empty segment ("//"); remove it`;
    } else if (segment === '*') {
      if (!last) return `"${text}": "*" matches the rest of the path, so it can only be the last segment`;
      shape.push('*');
    } else if (segment.startsWith(':')) {
      if (!PARAM_SEGMENT.test(segment)) {
        return `"${text}": a parameter is ":" and a name of letters, digits and "_" filling its whole segment (got "${segment}")`;
      }
      const name = segment.slice(1);
      if (params.has(name)) return `"${text}" names the parameter :${name} twice; give each a distinct name`;
      params.add(name);
      shape.push(':');
    } else if (/[:*]/.test(segment)) {
      return `"${text}": ":" and "*" are only allowed as a whole segment (":name" or a last "*"), not in "${segment}"`;
    } else {
      shape.push(segment);
    }
  }
  return { text, params, shape: `/${shape.join('/')}` };
}

/** Two routes whose paths have the same shape and share a method would match the same requests. */
function checkOverlaps(routes: readonly RawRoute[], fail: Fail): void {
  const claimed = new Map<string, number>();
  for (const [index, route] of routes.entries()) {
    for (const method of route.methods ?? READ_METHODS) {
      const key = `${method} ${route.path.shape}`;
      const other = claimed.get(key);
      if (other !== undefined) {
        fail(
          ['routes', index, 'path'],
          `"${route.path.text}" matches the same ${method} requests as routes[${other}] ("${routes[other]?.path.text}"); ` +
            'a request is handled by one route only, so merge the two or remove one',
        );
      }
      claimed.set(key, index);
    }
  }
}

function compileRoute(
  raw: RawRoute,
  defaults: Defaults,
  fail: (field: string, message: string) => never,
): RouteRule {
  const methods = raw.methods ?? READ_METHODS;
  const reads = methods.filter((method) => READ_METHODS.includes(method));
  if (reads.length > 0 && reads.length !== methods.length) {
    fail(
      'methods',
      'a route is either read (GET, HEAD) or write (POST, PUT, PATCH, DELETE); split it in two',
    );
  }
  const kind = reads.length > 0 ? 'read' : 'write';
  if (kind === 'read' && raw.invalidates !== undefined) fail('invalidates', 'only write routes invalidate');
  if (kind === 'write') {
    for (const field of [
      'ttl',
      'grace',
      'tags',
      'enabled',
      'cacheAuthenticated',
      'cacheableStatuses',
      'clientCacheControl',
      'sortQuery',
    ] as const) {
      if (raw[field] !== undefined) fail(field, `write routes are not cached, so they take no ${field}`);
    }
  }
  const template = (field: 'tags' | 'invalidates', text: string): TagTemplate => {
    for (const [, name] of text.matchAll(TEMPLATE_PARAM)) {
      if (!raw.path.params.has(name as string))
        fail(field, `"${text}" uses {${name}}, which is not a parameter of ${raw.path.text}`);
    }
    return (values) => text.replace(TEMPLATE_PARAM, (_, name: string) => values[name] ?? '');
  };
  const ttlSetting = raw.ttl ?? defaults.ttl ?? 'adaptive';
  return {
    name: raw.name ?? `${methods.join(',')} ${raw.path.text}`,
    path: raw.path.text,
    methods,
    kind,
    dataType: raw.dataType ?? 'default',
    ttl: typeof ttlSetting === 'number' ? { kind: 'fixed', ms: ttlSetting } : { kind: ttlSetting },
    graceMs: raw.grace ?? defaults.grace ?? DEFAULT_GRACE_MS,
    tags: (raw.tags ?? []).map((text) => template('tags', text)),
    invalidates: (raw.invalidates ?? []).map((text) => template('invalidates', text)),
    tagSources: raw.tags ?? [],
    invalidateSources: raw.invalidates ?? [],
    enabledPercent: raw.enabled ?? 100,
    cacheAuthenticated: raw.cacheAuthenticated ?? false,
    cacheableStatuses: new Set(
      raw.cacheableStatuses ?? defaults.cacheableStatuses ?? DEFAULT_CACHEABLE_STATUSES,
    ),
    timeoutMs: raw.timeout ?? defaults.timeout ?? DEFAULT_TIMEOUT_MS,
    clientCacheControl: raw.clientCacheControl ?? defaults.clientCacheControl ?? 'ignore',
    sortQuery: raw.sortQuery ?? defaults.sortQuery ?? false,
    compare: {
      ignore: raw.compare?.ignore ?? [],
      headers: (raw.compare?.headers ?? []).map((name) => name.toLowerCase()),
    },
    candidate: raw.candidate,
  };
}

/** An origin URL (scheme, host, port, optional credentials), or why the text is not one. */
function originUrl(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `expected an origin URL like "http://127.0.0.1:4001" (got ${shown(text)})`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `expected an http:// or https:// origin (got ${shown(text)})`;
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '')
    return `an origin is a scheme, host and port; requests keep their own path (got ${shown(text)})`;
  return url;
}

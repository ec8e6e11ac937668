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
 * ```
 *
 * A file that cannot be used fails start-up with a ConfigError naming the file, the line and the
 * field (`routes.yaml:14:10: routes[2].ttl: …`): YAML syntax errors carry their own position, and a
 * schema error is placed at the YAML node of the field (or of its parent when the field is missing).
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { parseDuration } from '../util/duration.js';

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
const READ_METHODS: readonly HttpMethod[] = ['GET', 'HEAD'];
/** Statuses RFC 9111 lets a cache store by default that a JSON API returns: OK, non-authoritative, moved, not found. */
const DEFAULT_CACHEABLE_STATUSES = [200, 203, 301, 404];
const DEFAULT_GRACE_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 10_000;
const TEMPLATE_PARAM = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const duration = z.union([z.number(), z.string()]).transform((value, context) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    context.addIssue({
      code: 'custom',
      message: `expected a duration like "30s", "5m" or a number of ms (got ${JSON.stringify(value)})`,
    });
    return z.NEVER;
  }
  return ms;
});
const ttl = z.union([z.number(), z.string()]).transform((value, context): number | 'adaptive' | 'origin' => {
  if (value === 'adaptive' || value === 'origin') return value;
  const ms = parseDuration(value);
  if (ms === undefined) {
    context.addIssue({
      code: 'custom',
      message: `expected "adaptive", "origin" or a duration like "5m" (got ${JSON.stringify(value)})`,
    });
    return z.NEVER;
  }
  return ms;
});
const statuses = z.array(z.number().int().min(100).max(599)).min(1);

const routeSchema = z
  .object({
    name: z.string().min(1).optional(),
    path: z.string().regex(/^\/[^\s?#]*$/, 'must start with "/" and hold no query, fragment or spaces'),
    methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
    dataType: z.string().min(1).max(255).optional(),
    ttl: ttl.optional(),
    grace: duration.optional(),
    tags: z.array(z.string().min(1)).optional(),
    invalidates: z.array(z.string().min(1)).optional(),
    enabled: z.number().int().min(0).max(100).optional(),
    cacheAuthenticated: z.boolean().optional(),
    cacheableStatuses: statuses.optional(),
    timeout: duration.optional(),
  })
  .strict();

const fileSchema = z
  .object({
    defaults: z
      .object({
        ttl: ttl.optional(),
        grace: duration.optional(),
        cacheableStatuses: statuses.optional(),
        timeout: duration.optional(),
      })
      .strict()
      .optional(),
    routes: z.array(routeSchema).min(1, 'list at least one route'),
  })
  .strict();

type RawRoute = z.infer<typeof routeSchema>;

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
  /** Share of requests (0–100) served through the cache; the rest pass through. */
  enabledPercent: number;
  cacheAuthenticated: boolean;
  cacheableStatuses: ReadonlySet<number>;
  timeoutMs: number;
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
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const syntaxError = doc.errors[0];
  if (syntaxError !== undefined) {
    const { line, col } = lineCounter.linePos(syntaxError.pos[0]);
    throw new ConfigError(
      `${source}:${line}:${col}`,
      `not valid YAML: ${syntaxError.message.split('\n')[0]}`,
    );
  }
  const parsed = fileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    throw new ConfigError(
      `${source}:${positionOf(doc, lineCounter, issue.path)}`,
      `${fieldName(issue.path)}: ${issue.message}`,
    );
  }
  const defaults = parsed.data.defaults ?? {};
  const names = new Set<string>();
  return parsed.data.routes.map((raw, index) => {
    const fail = (field: string, message: string): never => {
      const path = ['routes', index, field];
      throw new ConfigError(
        `${source}:${positionOf(doc, lineCounter, path)}`,
        `${fieldName(path)}: ${message}`,
      );
    };
    const route = compileRoute(raw, defaults, fail);
    if (names.has(route.name)) fail('name', `"${route.name}" names two routes; give one a distinct name`);
    names.add(route.name);
    return route;
  });
}

function compileRoute(
  raw: RawRoute,
  defaults: {
    ttl?: number | 'adaptive' | 'origin';
    grace?: number;
    cacheableStatuses?: number[];
    timeout?: number;
  },
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
    ] as const) {
      if (raw[field] !== undefined) fail(field, `write routes are not cached, so they take no ${field}`);
    }
  }
  const params = new Set(
    [...raw.path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1] as string),
  );
  const template = (field: 'tags' | 'invalidates', text: string): TagTemplate => {
    for (const [, name] of text.matchAll(TEMPLATE_PARAM)) {
      if (!params.has(name as string))
        fail(field, `"${text}" uses {${name}}, which is not a parameter of ${raw.path}`);
    }
    return (values) => text.replace(TEMPLATE_PARAM, (_, name: string) => values[name] ?? '');
  };
  const ttlSetting = raw.ttl ?? defaults.ttl ?? 'adaptive';
  return {
    name: raw.name ?? `${methods.join(',')} ${raw.path}`,
    path: raw.path,
    methods,
    kind,
    dataType: raw.dataType ?? 'default',
    ttl: typeof ttlSetting === 'number' ? { kind: 'fixed', ms: ttlSetting } : { kind: ttlSetting },
    graceMs: raw.grace ?? defaults.grace ?? DEFAULT_GRACE_MS,
    tags: (raw.tags ?? []).map((text) => template('tags', text)),
    invalidates: (raw.invalidates ?? []).map((text) => template('invalidates', text)),
    enabledPercent: raw.enabled ?? 100,
    cacheAuthenticated: raw.cacheAuthenticated ?? false,
    cacheableStatuses: new Set(
      raw.cacheableStatuses ?? defaults.cacheableStatuses ?? DEFAULT_CACHEABLE_STATUSES,
    ),
    timeoutMs: raw.timeout ?? defaults.timeout ?? DEFAULT_TIMEOUT_MS,
  };
}

/** `routes[2].ttl` for a path `['routes', 2, 'ttl']`. */
function fieldName(path: readonly PropertyKey[]): string {
  return (
    path
      .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
      .join('') || '(file)'
  );
}

/** `line:column` of the deepest YAML node along `path` that exists. */
function positionOf(
  doc: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): string {
  for (let length = path.length; length >= 0; length--) {
    const node = length === 0 ? doc.contents : doc.getIn(path.slice(0, length) as (string | number)[], true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range !== undefined) {
      const { line, col } = lineCounter.linePos(range[0]);
      return `${line}:${col}`;
    }
  }
  return '1:1';
}

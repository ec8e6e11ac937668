/**
 * The admin API, `/admin/*`: registered only when KEEL_ADMIN_TOKEN is set, and answering only
 * requests with `Authorization: Bearer <token>`. The token is compared in constant time (SHA-256
 * digests of both, so neither the length nor a prefix leaks through timing); a wrong or missing
 * token gets 401 with no detail.
 *
 *   POST /admin/invalidate          { url } | { tags } | { pattern }  → { removed }
 *   POST /admin/flush                                                  → { flushed: true }
 *   GET  /admin/routes                                                 → the routes and their enablement
 *   PUT  /admin/routes/:name/enabled { percent: 0–100, by? }           → { name, enabledPercent }
 *   GET  /admin/config                                                 → the effective configuration, secrets as ***
 *   …/admin/rollouts, /admin/audit, /admin/emergency-stop              → the rollouts (admin-rollouts.ts)
 *
 * A request the API cannot act on is the client's to fix: a body that fails the route's schema, a
 * glob the cache cannot compile (`[`), a URL too long to be a cache key. Those answer 400 with the
 * gateway's error body, `{ error: { code, message } }` (code INVALID_ARGUMENT or INVALID_KEY); any
 * other failure is left to Fastify's handler (500).
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { OptimizedCacheManager } from '../cache/index.js';
import { isKeelError } from '../errors.js';
import type { Rollout } from '../rollout/index.js';
import { actorOf, rolloutAdminRoutes } from './admin-rollouts.js';
import { bearerCheck } from './bearer-token.js';
import { baseKey, keyedTarget } from './cache-key.js';
import { parseTarget, type RequestTarget } from './request-target.js';
import type { RouteTable } from './route-table.js';
import type { ShadowTraffic } from './shadow-traffic.js';

export interface AdminOptions {
  token: string;
  cache: OptimizedCacheManager;
  routes: RouteTable;
  rollout: Rollout;
  shadow: ShadowTraffic;
  config: () => Record<string, unknown>;
}

const invalidateBody = {
  type: 'object',
  properties: {
    url: { type: 'string', pattern: '^/' },
    tags: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    pattern: { type: 'string', minLength: 1 },
  },
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: false,
} as const;

export async function adminRoutes(app: FastifyInstance, options: AdminOptions): Promise<void> {
  const bearsToken = bearerCheck(options.token);
  app.addHook('onRequest', async (request, reply) => {
    if (!bearsToken(request.headers.authorization)) {
      reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'Unauthorized.' } });
    }
  });
  app.setErrorHandler(refuseBadRequests);

  app.post<{ Body: { url?: string; tags?: string[]; pattern?: string } }>(
    '/invalidate',
    { schema: { body: invalidateBody } },
    async (request) => {
      const { url, tags, pattern } = request.body;
      if (url !== undefined) {
        const target = parseTarget(url) as RequestTarget; // the schema admits paths only
        const key = baseKey(keyedTarget(target, options.routes.match('GET', target.path)?.route));
        // The URL's entry, and its variants (keyed `<key>\n…`: Vary values, a trusted proxy's headers).
        const removed =
          Number(await options.cache.delete(key)) + (await options.cache.invalidate(`${escapeGlob(key)}\n*`));
        return { removed };
      }
      if (tags !== undefined) return { removed: await options.cache.invalidateTags(tags) };
      return { removed: await options.cache.invalidate(pattern as string) };
    },
  );

  app.post('/flush', async () => {
    await options.cache.clear();
    return { flushed: true };
  });

  app.get('/routes', async () =>
    options.routes.routes.map((route) => ({
      name: route.name,
      kind: route.kind,
      path: route.path,
      methods: route.methods,
      enabledPercent: route.kind === 'read' ? options.routes.enabledPercent(route) : null,
    })),
  );

  app.put<{ Params: { name: string }; Body: { percent: number; by?: string } }>(
    '/routes/:name/enabled',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            percent: { type: 'integer', minimum: 0, maximum: 100 },
            by: { type: 'string', minLength: 1, maxLength: 100 },
          },
          required: ['percent'],
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const route = options.routes.route(request.params.name);
      if (route === undefined || route.kind !== 'read') {
        return reply.code(404).send({
          error: {
            code: 'NOT_FOUND',
            message: `No read route named "${request.params.name}"; GET /admin/routes lists them.`,
          },
        });
      }
      // A switch of every instance, kept across restarts (route-table.ts), with its audit record.
      await options.rollout.board.set(
        { [`cache:${route.name}`]: request.body.percent },
        {
          at: Date.now(),
          actor: actorOf(request.body.by),
          action: 'set-weight',
          reason: `route ${route.name} enabled via the admin API`,
        },
      );
      request.log.info({ route: route.name, percent: request.body.percent }, 'route enablement changed');
      return { name: route.name, enabledPercent: request.body.percent };
    },
  );

  app.get('/config', async () => options.config());
  await app.register(rolloutAdminRoutes, { rollout: options.rollout, shadow: options.shadow });
}

/** 400 for what the client sent wrong; anything else goes on to Fastify's own handler. */
function refuseBadRequests(error: FastifyError, _request: unknown, reply: FastifyReply): FastifyReply {
  if (isKeelError(error, 'INVALID_ARGUMENT') || isKeelError(error, 'INVALID_KEY')) {
    return reply.code(400).send({ error: { code: error.code, message: error.message } });
  }
  // The shared state is out of reach (Redis or PostgreSQL down): nothing changed, retry later.
  if (isKeelError(error, 'STORE_UNAVAILABLE')) {
    return reply.code(503).send({ error: { code: error.code, message: error.message } });
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return reply.code(status).send({ error: { code: 'INVALID_ARGUMENT', message: error.message } });
  }
  throw error;
}

/** The key as a glob that matches only itself. */
function escapeGlob(key: string): string {
  return key.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * The sample origin: a small commerce API in the style of Shopify's REST Admin API, over the
 * catalogue of catalog.ts, answering with a configurable latency — the slow origin that `npm start`
 * puts Keel in front of, and that the gateway's tests and benchmark use.
 *
 * It behaves as an HTTP origin should, so the gateway's HTTP caching has something to honour:
 * products carry an ETag (their version) and Last-Modified and answer conditional GETs with 304;
 * each resource says how it may be cached (products `public, max-age=60`, listings 30 s,
 * inventory 5 s with must-revalidate, customers `private`). `failing` makes every request fail
 * with 503, for demonstrating and testing what the gateway does when its origin is down.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Catalog } from './catalog.js';

export interface SampleOriginOptions {
  /** Mean added latency per request, in ms. */
  latencyMs: number;
  /** Latency varies uniformly by ± this many ms. */
  jitterMs: number;
}

export interface OriginControls {
  /** While true, every request but /health answers 503. */
  failing: boolean;
  /** Requests answered, by route pattern (`GET /products/:id`), for tests and the tour. */
  readonly requests: Map<string, number>;
}

const PRODUCT_CACHE_CONTROL = 'public, max-age=60';
const LISTING_CACHE_CONTROL = 'public, max-age=30';
const INVENTORY_CACHE_CONTROL = 'public, max-age=5, must-revalidate';
const CUSTOMER_CACHE_CONTROL = 'private, max-age=0';
const MAX_PAGE_SIZE = 250;
const DEFAULT_PAGE_SIZE = 50;

const idParams = {
  type: 'object',
  properties: { id: { type: 'integer', minimum: 1 } },
  required: ['id'],
} as const;

interface IdRoute {
  Params: { id: number };
}

export function sampleOriginApp(
  catalog: Catalog,
  options: SampleOriginOptions,
  controls: OriginControls,
): FastifyInstance {
  const app = Fastify({ logger: false });

  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/health') return;
    const pattern = `${request.method} ${request.routeOptions.url ?? request.url}`;
    controls.requests.set(pattern, (controls.requests.get(pattern) ?? 0) + 1);
    const jitter = (Math.random() * 2 - 1) * options.jitterMs;
    await sleep(Math.max(0, options.latencyMs + jitter));
    if (controls.failing) {
      reply.code(503).send({ errors: 'The sample origin is failing on purpose (controls.failing).' });
    }
  });

  app.get('/health', async () => ({ status: 'ok' }));

  app.get<{ Querystring: { limit?: number; page?: number; collection_id?: number } }>(
    '/products',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE },
            page: { type: 'integer', minimum: 1 },
            collection_id: { type: 'integer', minimum: 1 },
          },
        },
      },
    },
    async (request, reply) => {
      const { limit = DEFAULT_PAGE_SIZE, page = 1, collection_id } = request.query;
      reply.header('cache-control', LISTING_CACHE_CONTROL);
      return { products: await catalog.products(limit, page, collection_id) };
    },
  );

  app.get<IdRoute>('/products/:id', { schema: { params: idParams } }, async (request, reply) => {
    const product = await catalog.product(request.params.id);
    if (product === undefined) return notFound(reply, 'product');
    return conditional(request, reply, {
      etag: `"product-${product.id}-v${product.version}"`,
      lastModified: new Date(product.updated_at),
      cacheControl: PRODUCT_CACHE_CONTROL,
      body: { product },
    });
  });

  app.put<IdRoute & { Body: { product: { title?: string; price?: string } } }>(
    '/products/:id',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          properties: {
            product: {
              type: 'object',
              properties: {
                title: { type: 'string', minLength: 1 },
                price: { type: 'string', pattern: '^[0-9]+(\\.[0-9]{1,2})?$' },
              },
              additionalProperties: false,
            },
          },
          required: ['product'],
        },
      },
    },
    async (request, reply) => {
      const product = await catalog.updateProduct(request.params.id, request.body.product);
      if (product === undefined) return notFound(reply, 'product');
      return { product };
    },
  );

  app.delete<IdRoute>('/products/:id', { schema: { params: idParams } }, async (request, reply) => {
    if (!(await catalog.deleteProduct(request.params.id))) return notFound(reply, 'product');
    return {};
  });

  app.get<IdRoute>('/products/:id/inventory', { schema: { params: idParams } }, async (request, reply) => {
    const levels = await catalog.inventory(request.params.id);
    if (levels.length === 0) return notFound(reply, 'product');
    reply.header('cache-control', INVENTORY_CACHE_CONTROL);
    return { inventory_levels: levels };
  });

  app.put<IdRoute & { Body: { location: string; available: number } }>(
    '/products/:id/inventory',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          properties: { location: { type: 'string' }, available: { type: 'integer', minimum: 0 } },
          required: ['location', 'available'],
        },
      },
    },
    async (request, reply) => {
      const { location, available } = request.body;
      const level = await catalog.setInventory(request.params.id, location, available);
      if (level === undefined) return notFound(reply, 'inventory level');
      return { inventory_level: level };
    },
  );

  app.get<IdRoute>('/customers/:id', { schema: { params: idParams } }, async (request, reply) => {
    const customer = await catalog.customer(request.params.id);
    if (customer === undefined) return notFound(reply, 'customer');
    reply.header('cache-control', CUSTOMER_CACHE_CONTROL);
    return { customer };
  });

  app.put<IdRoute & { Body: { customer: { first_name?: string; last_name?: string } } }>(
    '/customers/:id',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          properties: {
            customer: {
              type: 'object',
              properties: { first_name: { type: 'string' }, last_name: { type: 'string' } },
              additionalProperties: false,
            },
          },
          required: ['customer'],
        },
      },
    },
    async (request, reply) => {
      const customer = await catalog.updateCustomer(request.params.id, request.body.customer);
      if (customer === undefined) return notFound(reply, 'customer');
      return { customer };
    },
  );

  return app;
}

function notFound(reply: FastifyReply, what: string) {
  return reply.code(404).send({ errors: `No such ${what}.` });
}

/** Answers with validators and caching headers, or 304 when the client's copy is current. */
function conditional(
  request: FastifyRequest,
  reply: FastifyReply,
  representation: { etag: string; lastModified: Date; cacheControl: string; body: unknown },
) {
  reply
    .header('etag', representation.etag)
    .header('last-modified', representation.lastModified.toUTCString())
    .header('cache-control', representation.cacheControl);
  const ifNoneMatch = request.headers['if-none-match'];
  const ifModifiedSince = request.headers['if-modified-since'];
  const notModified =
    ifNoneMatch !== undefined
      ? ifNoneMatch.split(',').some((tag) => tag.trim() === representation.etag || tag.trim() === '*')
      : ifModifiedSince !== undefined && representation.lastModified.getTime() <= Date.parse(ifModifiedSince);
  if (notModified) return reply.code(304).send();
  return representation.body;
}

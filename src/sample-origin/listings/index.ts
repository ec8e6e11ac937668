/**
 * The bundled sample listings origin: a PostgREST-compatible `/rest/v1/property_listings` over
 * generated listings (catalog.ts, app.ts). `keel sync` reads it when no SUPABASE_REST_URL is set;
 * the sync's tests and benchmark read it through the real `@supabase/postgrest-js` client.
 */
import Fastify from 'fastify';
import { type ListingsAuth, type ListingsControls, listingsRoutes } from './app.js';
import { ListingCatalog } from './catalog.js';

export type { ListingsAuth, ListingsControls, ListingsFault } from './app.js';
export { type Listing, ListingCatalog, type ListingChange } from './catalog.js';

export interface ListingsOrigin {
  /** Base URL of the REST API, e.g. http://127.0.0.1:4100/rest/v1 */
  readonly restUrl: string;
  readonly catalog: ListingCatalog;
  readonly controls: ListingsControls;
  close(): Promise<void>;
}

export interface ListingsOriginOptions {
  /** Listings generated (default 1,000). */
  listings?: number;
  /** Seed of the generated listings. */
  seed?: number;
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  auth?: ListingsAuth;
  /** Most rows per answer, as PostgREST's db-max-rows (default 1,000). */
  maxRows?: number;
}

export async function startListingsOrigin(options: ListingsOriginOptions = {}): Promise<ListingsOrigin> {
  const catalog = new ListingCatalog(options.listings ?? 1_000, options.seed);
  const controls: ListingsControls = { faults: [], requests: 0 };
  const app = Fastify({ logger: false });
  listingsRoutes(app, { catalog, controls, auth: options.auth, maxRows: options.maxRows ?? 1_000 });
  const address = await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  return { restUrl: `${address}/rest/v1`, catalog, controls, close: () => app.close() };
}

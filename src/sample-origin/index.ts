/**
 * The sample origin (a slow, Shopify-like commerce API over embedded PostgreSQL): started by
 * `npm start` when no origin is configured, and by the gateway's tests and benchmark.
 */

import { type OriginControls, type SampleOriginOptions, sampleOriginApp } from './app.js';
import { Catalog, type CatalogSize } from './catalog.js';

export type { OriginControls } from './app.js';
export type { Customer, InventoryLevel, Product } from './catalog.js';

export interface SampleOrigin extends OriginControls {
  /** Base URL, e.g. http://127.0.0.1:4100 */
  readonly url: string;
  close(): Promise<void>;
}

export interface StartSampleOriginOptions extends Partial<SampleOriginOptions>, Partial<CatalogSize> {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  host?: string;
}

const DEFAULTS = { latencyMs: 40, jitterMs: 20, products: 1_000, customers: 500, collections: 20 };

export async function startSampleOrigin(options: StartSampleOriginOptions = {}): Promise<SampleOrigin> {
  const settings = { ...DEFAULTS, ...options };
  const catalog = await Catalog.create(settings);
  const controls: OriginControls = { failing: false, requests: new Map() };
  const app = sampleOriginApp(catalog, settings, controls);
  const address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  return Object.assign(controls, {
    url: address,
    async close() {
      await app.close();
      await catalog.close();
    },
  });
}

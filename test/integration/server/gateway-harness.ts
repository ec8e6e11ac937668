/** Starts gateways for the server's integration tests, over a test origin or the sample origin. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfig } from '../../../src/config.js';
import { type RunningServer, type ServerOverrides, startServer } from '../../../src/server/index.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export class Gateways {
  private readonly running: RunningServer[] = [];
  /** The gateways' folders (routes file, rollout state), removed by closeAll. */
  private readonly folders: string[] = [];

  /** A gateway in front of `origin` (the sample origin when undefined) with these routes. */
  async start(
    origin: string | undefined,
    routesYaml: string | undefined,
    env: Record<string, string> = {},
    overrides: ServerOverrides = {},
  ): Promise<RunningServer> {
    const settings: Record<string, string> = {
      KEEL_PORT: '0',
      LOG_LEVEL: 'silent',
      KEEL_MEMORY_MAX_BYTES: '64mb',
      KEEL_ADMIN_TOKEN: ADMIN_TOKEN,
      ...env,
    };
    if (origin !== undefined) settings.KEEL_ORIGIN = origin;
    // Each gateway's files (routes, its rollout state) in a folder of its own, removed by closeAll.
    const folder = mkdtempSync(join(tmpdir(), 'keel-gateway-'));
    this.folders.push(folder);
    settings.KEEL_DATA_DIR ??= join(folder, 'data');
    if (routesYaml !== undefined) {
      const file = join(folder, 'routes.yaml');
      writeFileSync(file, routesYaml);
      settings.KEEL_ROUTES = file;
    }
    const server = await startServer(loadConfig(settings), overrides);
    this.running.push(server);
    return server;
  }

  /** Stops one gateway now (closeAll then leaves it alone). */
  async stop(server: RunningServer): Promise<void> {
    this.running.splice(this.running.indexOf(server), 1);
    await server.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.running.splice(0).map((server) => server.close()));
    for (const folder of this.folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  xCache: string | undefined;
}

/** One request, sent as given (undici: unlike fetch, it adds no Cache-Control of its own). */
export async function get(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string | Buffer,
): Promise<Answer> {
  const response = await request(url, { method: method as 'GET', headers, body });
  const text = await response.body.text();
  const xCache = response.headers['x-cache'];
  return {
    status: response.statusCode,
    headers: response.headers,
    body: text,
    xCache: typeof xCache === 'string' ? xCache : undefined,
  };
}

export function admin(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token = ADMIN_TOKEN,
): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return get(`${base}/admin${path}`, headers, method, body === undefined ? undefined : JSON.stringify(body));
}

/**
 * The gateway's listeners: the public one, a raw Node server whose connections and timeouts are
 * bounded (client-connections.ts, Node's headers, request and keep-alive timeouts), and, with
 * KEEL_ADMIN_PORT, the operations app's own. Without it the public listener hands the operations
 * endpoints' paths to the operations app and every other path to the gateway.
 *
 * A port that cannot be taken is a ConfigError naming its setting.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type ServeConfig, settingSource } from '../config.js';
import { ConfigError } from '../errors.js';
import { automaticConnectionLimit, ClientConnections } from './client-connections.js';

/** How often Node looks for connections past their headers or request timeout. */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** The monitoring endpoints' paths (answered 404 MONITORING_DISABLED when monitoring is off). */
export const MONITORING_PATHS = [
  '/metrics',
  '/api/status',
  '/api/status/history',
  '/api/rollouts',
  '/dashboard',
] as const;
/** Paths of the operations endpoints (and `/admin/…` when the admin API is on). */
const OPERATIONS_PATHS = new Set<string>(['/health/live', '/health/ready', ...MONITORING_PATHS]);

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** The public listener (not yet listening) and its connection bookkeeping. */
export function publicListener(config: ServeConfig): { server: Server; connections: ClientConnections } {
  const server = createServer({
    headersTimeout: config.headersTimeout,
    requestTimeout: Math.max(config.requestTimeout, config.headersTimeout),
    keepAliveTimeout: config.idleTimeout,
    connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
  });
  const connections = new ClientConnections(server, {
    maxConnections:
      config.maxConnections === 'auto'
        ? automaticConnectionLimit(config.upstreamConnections)
        : config.maxConnections,
    headersTimeoutMs: config.headersTimeout,
  });
  return { server, connections };
}

/** The public listener's requests: operations paths to `operations` (when shared), the rest to `gateway`. */
export function route(
  server: Server,
  gateway: RequestHandler,
  operations: RequestHandler | undefined,
  admin: boolean,
): void {
  if (operations === undefined) server.on('request', gateway);
  else
    server.on('request', (request, response) =>
      isOperationsPath(request.url, admin) ? operations(request, response) : gateway(request, response),
    );
}

/** Starts the listeners; returns the public URL and the operations URL. */
export async function listen(
  app: FastifyInstance,
  server: Server,
  config: ServeConfig,
): Promise<{ url: string; adminUrl: string }> {
  if (config.adminPort === undefined) {
    const url = await listenOn(settingSource(config, 'port'), config.host, config.port, () =>
      app.listen({ host: config.host, port: config.port }),
    );
    return { url, adminUrl: url };
  }
  await app.ready();
  const url = await listenOn(settingSource(config, 'port'), config.host, config.port, async () => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return urlOf(server);
  });
  const adminPort = config.adminPort;
  const adminUrl = await listenOn(settingSource(config, 'adminPort'), config.adminHost, adminPort, () =>
    app.listen({ host: config.adminHost, port: adminPort }),
  );
  return { url, adminUrl };
}

/** Stops accepting, closes idle connections, and resolves once the answers in progress are sent. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

async function listenOn(
  setting: string,
  host: string,
  port: number,
  start: () => Promise<string>,
): Promise<string> {
  try {
    return await start();
  } catch (error) {
    throw new ConfigError(setting, `cannot listen on ${host}:${port} (${(error as Error).message})`, {
      cause: error,
    });
  }
}

function urlOf(server: Server): string {
  const { address, port, family } = server.address() as AddressInfo;
  return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
}

/** Whether a request path is one of the operations endpoints on a shared listener. */
function isOperationsPath(url: string | undefined, admin: boolean): boolean {
  if (url === undefined) return false;
  const at = url.indexOf('?');
  const path = at < 0 ? url : url.slice(0, at);
  return OPERATIONS_PATHS.has(path) || (admin && (path === '/admin' || path.startsWith('/admin/')));
}

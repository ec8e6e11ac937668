/** keel/server: the caching gateway behind `keel serve`. */
export { type RunningServer, type ServerOverrides, startServer } from './app.js';
export { type HttpMethod, loadRoutesFile, parseRoutes, type RouteRule } from './routes-file.js';
export type { Mismatch, ShadowCounts } from './shadow-traffic.js';
export type { HistoryPoint, StatusSnapshot } from './status.js';

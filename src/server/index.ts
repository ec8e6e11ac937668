/** keel/server: the caching gateway behind `keel serve`, and the sync's service behind `keel sync serve`. */
export { type RunningServer, type ServerOverrides, startServer } from './app.js';
export { gatewayLog } from './log.js';
export { type HttpMethod, loadRoutesFile, parseRoutes, type RouteRule } from './routes-file.js';
export type { Mismatch, ShadowCounts } from './shadow-traffic.js';
export type { HistoryPoint, StatusSnapshot } from './status.js';
export { flagShares, openSyncWithRollout } from './sync-rollout.js';
export { type SyncService, startSyncService } from './sync-service.js';

/**
 * Real Redis for integration tests: the shared server, dedicated servers to break, a cluster, and
 * a TCP proxy for network faults. No mocks: DESIGN.md asks for the real thing in tests.
 *
 * - redisUrl(): the Redis ordinary tests share (REDIS_URL, else 127.0.0.1:6379, else a spawned one).
 * - startRedisServer(): a server of the test's own, to kill, restart and pause.
 * - startRedisCluster(masters): a masters-only Redis Cluster, ready when every node says ok.
 * - startRedisSentinel(): a primary, a replica and a Sentinel, with a forced failover.
 * - startTlsRedisServer(): a server with a TLS port and a test CA, for rediss:// URLs.
 * - startTcpProxy(target): drop, blackhole or refuse connections between a client and a server.
 * - freePort(): a free loopback port.
 *
 * Servers are spawned from the redis-server on PATH (Debian package redis-server; the cluster also
 * needs redis-cli from redis-tools), bind 127.0.0.1 only, keep nothing on disk, and die with the
 * test process.
 */
export { freePort, freePorts } from './free-port.js';
export { type ClusterNode, type RedisClusterHandle, startRedisCluster } from './redis-cluster.js';
export { pingRedis, type RedisTarget, withRedis } from './redis-probe.js';
export { type RedisSentinelHandle, startRedisSentinel } from './redis-sentinel.js';
export { type RedisServerHandle, startRedisServer } from './redis-server.js';
export { startTlsRedisServer, type TlsRedisHandle } from './redis-tls.js';
export { redisUrl } from './redis-url.js';
export { startTcpProxy, type TcpProxyHandle } from './tcp-proxy.js';
export { waitUntil } from './wait.js';

/**
 * A throwaway Redis Cluster of masters only, for tests of cluster-aware clients.
 *
 * Each node is a redis-server with `--cluster-enabled yes` on its own free port, with an explicit
 * cluster bus port (`--cluster-port`, Redis 7+) rather than the default port + 10000, which can
 * fall outside the port range or be taken. `redis-cli --cluster create` splits the 16384 slots
 * evenly and joins the nodes; we then wait until every node itself reports `cluster_state:ok`, so
 * a client that starts from any node sees the full slot map. Replicas are started only when asked
 * for (`replicas: true`, one per master, for failover tests): each doubles the start-up cost.
 *
 * Start-up takes about 1–3 s (redis-cli waits for the gossip to converge). The short
 * `--cluster-node-timeout` keeps that convergence, and any failure detection, quick.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { requireExecutable } from './executables.js';
import { freePorts, LOOPBACK } from './free-port.js';
import { withRedis } from './redis-probe.js';
import { launchRedisServer, type RedisProcess } from './redis-process.js';
import { waitUntil } from './wait.js';

/** redis-cli refuses to create a cluster of fewer masters. */
const MIN_MASTERS = 3;
/** Cluster node timeout: how soon a silent node is suspected; short for tests. */
const NODE_TIMEOUT_MS = 2_000;
/** Bound on `redis-cli --cluster create`, which itself polls until the nodes agree. */
const CREATE_TIMEOUT_MS = 30_000;
/** Bound on every node reporting cluster_state:ok after the create. */
const CLUSTER_OK_TIMEOUT_MS = 20_000;
/** How much of redis-cli's output is kept for error messages. */
const OUTPUT_TAIL_CHARS = 4_000;

export interface ClusterNode {
  readonly host: string;
  readonly port: number;
}

export interface RedisClusterHandle {
  /** The masters (the first holds the lowest slots); pass them to `new Cluster(nodes)`. */
  readonly nodes: ClusterNode[];
  /** With `replicas`: the replica of each master, in the order of `nodes`. */
  readonly replicas: ClusterNode[];
  /** Stops every node (SIGTERM, waits for exit) and removes their directories; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts `masters` cluster-enabled servers (and, with `replicas: true`, one replica of each),
 * creates the cluster and waits until it is ok and every replica is in sync.
 */
export async function startRedisCluster(
  masters = MIN_MASTERS,
  options: { replicas?: boolean } = {},
): Promise<RedisClusterHandle> {
  if (!Number.isInteger(masters) || masters < MIN_MASTERS) {
    throw new Error(`A Redis Cluster needs at least ${MIN_MASTERS} masters; got ${masters}.`);
  }
  const redisCli = await requireExecutable('redis-cli');
  const count = options.replicas === true ? masters * 2 : masters;
  const ports = await freePorts(count * 2); // a client port and a cluster bus port per node
  const launches = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => launchNode(ports[2 * i], ports[2 * i + 1])),
  );
  const servers = launches.flatMap((launch) => (launch.status === 'fulfilled' ? [launch.value] : []));
  const stop = async () => {
    await Promise.all(servers.map((server) => server.terminate('SIGTERM')));
  };
  try {
    const failed = launches.find((launch) => launch.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const all = servers.map((server) => ({ host: LOOPBACK, port: server.port }));
    await createCluster(redisCli, all, options.replicas === true ? 1 : 0);
    await waitForClusterOk(all);
    const { nodes, replicas } = await roles(all, options.replicas === true ? 1 : 0);
    return { nodes, replicas, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function launchNode(port: number, busPort: number): Promise<RedisProcess> {
  return launchRedisServer(port, (dir) => [
    ...['--cluster-enabled', 'yes', '--cluster-port', String(busPort)],
    ...['--cluster-config-file', join(dir, `nodes-${port}.conf`)],
    ...['--cluster-node-timeout', String(NODE_TIMEOUT_MS)],
  ]);
}

async function createCluster(redisCli: string, nodes: ClusterNode[], replicas: number): Promise<void> {
  const addresses = nodes.map((node) => `${node.host}:${node.port}`);
  const args = ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'];
  const { code, output } = await run(redisCli, args, CREATE_TIMEOUT_MS);
  if (code !== 0) {
    throw new Error(
      `redis-cli --cluster create ${addresses.join(' ')} failed (${code ?? `no exit within ${CREATE_TIMEOUT_MS} ms`}); ` +
        `its output:\n${output}`,
    );
  }
}

async function waitForClusterOk(nodes: ClusterNode[]): Promise<void> {
  const allOk = async () => {
    const infos = await Promise.all(nodes.map((node) => withRedis(node, (client) => client.cluster('INFO'))));
    return infos.every((info) => info.includes('cluster_state:ok'));
  };
  if (!(await waitUntil(allOk, CLUSTER_OK_TIMEOUT_MS))) {
    const ports = nodes.map((node) => node.port).join(', ');
    throw new Error(
      `Redis Cluster on ports ${ports} did not reach cluster_state:ok within ${CLUSTER_OK_TIMEOUT_MS} ms`,
    );
  }
}

/**
 * The masters, ordered by their first slot, and the replica of each, once every node's view agrees
 * (`replicasPerMaster` replicas each, links up), from CLUSTER NODES (`<id> <host:port@bus> <flags>
 * <master id or -> <ping> <pong> <epoch> <link> <slots>...`): right after the create, gossip may
 * still show a replica as a master without slots.
 */
async function roles(
  all: ClusterNode[],
  replicasPerMaster: number,
): Promise<{ nodes: ClusterNode[]; replicas: ClusterNode[] }> {
  let found: { nodes: ClusterNode[]; replicas: ClusterNode[] } | undefined;
  const settled = async () => {
    const lines = (await withRedis(all[0] as ClusterNode, (client) => client.cluster('NODES'))) as string;
    const parsed = lines
      .trim()
      .split('\n')
      .map((line) => {
        const [id, address, , masterId, , , , , slots] = line.split(' ');
        const port = Number((address as string).split('@')[0]?.split(':')[1]);
        return {
          id,
          port,
          masterId,
          firstSlot: slots === undefined ? undefined : Number(slots.split('-')[0]),
        };
      });
    const masters = parsed
      .filter((node) => node.firstSlot !== undefined)
      .sort((a, b) => (a.firstSlot as number) - (b.firstSlot as number));
    const replicas = masters.flatMap((master) => parsed.filter((node) => node.masterId === master.id));
    if (replicas.length !== masters.length * replicasPerMaster) return false;
    const infos = await Promise.all(
      replicas.map((node) =>
        withRedis({ host: LOOPBACK, port: node.port }, (client) => client.info('replication')),
      ),
    );
    if (!infos.every((info) => info.includes('master_link_status:up'))) return false;
    const address = (node: { port: number }) => ({ host: LOOPBACK, port: node.port });
    found = { nodes: masters.map(address), replicas: replicas.map(address) };
    return true;
  };
  if (!(await waitUntil(settled, CLUSTER_OK_TIMEOUT_MS)) || found === undefined) {
    throw new Error(`Redis Cluster roles did not settle within ${CLUSTER_OK_TIMEOUT_MS} ms`);
  }
  return found;
}

/** Runs a program to completion (or kills it at `timeoutMs`, giving code null) and keeps its output. */
function run(
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const append = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const finish = (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, output: output.trimEnd() });
    };
    child.once('error', (error) => {
      append(Buffer.from(error.message));
      finish(null);
    });
    child.once('close', (code) => finish(code));
  });
}

import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClusterNode,
  type RedisClusterHandle,
  startRedisCluster,
  waitUntil,
} from '../../../support/index.js';
import { deleteWhileReplicationIsCut, Managers, uniqueNamespace } from './managers.js';

let cluster: RedisClusterHandle;
let raw: Cluster;
const managers = new Managers();

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  raw = new Cluster(cluster.nodes);
});

afterAll(async () => {
  await managers.closeAll();
  raw.disconnect();
  await cluster.stop();
});

describe('Redis tier on a 3-master Redis Cluster', () => {
  it('spreads a namespace over every master and reads it back in batches', async () => {
    const ns = uniqueNamespace('cl');
    const nodes = { cluster: { nodes: cluster.nodes } };
    const writer = await managers.open(ns, nodes);
    const reader = await managers.open(ns, nodes);
    await Promise.all(Array.from({ length: 300 }, (_, i) => writer.set(`product:${i}`, { i })));
    const perMaster = await Promise.all(raw.nodes('master').map((node) => node.dbsize()));
    for (const count of perMaster) expect(count).toBeGreaterThan(50);
    const values = await Promise.all(Array.from({ length: 300 }, (_, i) => reader.get(`product:${i}`)));
    expect(values).toEqual(Array.from({ length: 300 }, (_, i) => ({ i })));
    expect(reader.getPerformanceStats().l2?.errors).toBe(0);
  });

  it('invalidates tags, dependencies and patterns across slots, on every instance', async () => {
    const ns = uniqueNamespace('clinv');
    const nodes = { cluster: { nodes: cluster.nodes } };
    const a = await managers.open(ns, nodes);
    const b = await managers.open(ns, nodes);
    for (let i = 0; i < 100; i++) await a.set(`p:${i}`, i, { tags: [i % 2 === 0 ? 'even' : 'odd'] });
    await a.set('summary', 'x', { dependsOn: ['p:1'] });
    await a.set('order:1', 'o');
    expect(await b.get('p:2')).toBe(2);
    expect(await b.invalidateTags(['even'])).toBe(50);
    expect(await waitUntil(async () => (await a.get('p:2')) === undefined, 2_000)).toBe(true);
    expect(await b.delete('p:1')).toBe(true);
    expect(await waitUntil(async () => (await a.get('summary')) === undefined, 2_000)).toBe(true);
    expect(await a.invalidate('p:*')).toBe(49);
    expect(await b.get('order:1')).toBe('o');
    for (const node of raw.nodes('master')) {
      expect(await node.keys(`${ns}#v:p:*`)).toEqual([]);
    }
  });

  it('drains a tag of several chunks and its dependents across slots, leaving no drain behind', async () => {
    const ns = uniqueNamespace('cldrain');
    const nodes = { cluster: { nodes: cluster.nodes } };
    const a = await managers.open(ns, nodes);
    const b = await managers.open(ns, nodes);
    const members = 3_000;
    for (let start = 0; start < members; start += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) => a.set(`m:${start + j}`, start + j, { tags: ['{braced}tag'] })),
      );
    }
    await Promise.all(
      Array.from({ length: members / 10 }, (_, i) => a.set(`dep:${i}`, i, { dependsOn: [`m:${i * 10}`] })),
    );
    await a.set('order:1', 'o');
    expect(await b.get('dep:7')).toBe(7);
    expect(await b.invalidateTags(['{braced}tag'])).toBe(members + members / 10);
    for (const node of raw.nodes('master')) {
      expect(await node.keys(`${ns}#v:m:*`)).toEqual([]);
      expect(await node.keys(`${ns}#v:dep:*`)).toEqual([]);
      expect(await node.keys(`${ns}#[td]:*`)).toEqual([]);
    }
    expect(await raw.zcard(`${ns}#drains`)).toBe(0);
    expect(await waitUntil(async () => (await a.get('dep:7')) === undefined, 2_000)).toBe(true);
    expect(await b.get('order:1')).toBe('o');
  });

  it('keeps instances coherent and protects against stampedes over the cluster', async () => {
    const ns = uniqueNamespace('clcoh');
    const nodes = { cluster: { nodes: cluster.nodes }, lock: true };
    const instances = await Promise.all(Array.from({ length: 3 }, () => managers.open(ns, nodes)));
    let calls = 0;
    const results = await Promise.all(
      instances.flatMap((cache) =>
        Array.from({ length: 50 }, () =>
          cache.getOrSet('cold', async () => {
            calls++;
            await new Promise((resolve) => setTimeout(resolve, 30));
            return 'filled once';
          }),
        ),
      ),
    );
    expect(calls).toBe(1);
    expect(new Set(results)).toEqual(new Set(['filled once']));
    await instances[0].set('cold', 'updated');
    expect(await waitUntil(async () => (await instances[2].get('cold')) === 'updated', 2_000)).toBe(true);
  });

  it('after a failover, a delete the old master acknowledged but never replicated is applied again', async () => {
    const own = await startRedisCluster(3, { replicas: true });
    const direct: Redis[] = [];
    const clientOf = (node: ClusterNode) => {
      const client = new Redis({ ...node, maxRetriesPerRequest: 1 });
      client.on('error', () => {});
      direct.push(client);
      return client;
    };
    try {
      const ns = uniqueNamespace('clfo');
      const redis = {
        cluster: { nodes: own.nodes },
        commandTimeoutMs: 200,
        breaker: { failures: 3, halfOpenAfterMs: 300 },
      };
      const a = await managers.open(ns, redis);
      const b = await managers.open(ns, redis);
      const key = `${ns}#v:price`;
      await a.set('price', 100);
      const masters = own.nodes.map(clientOf);
      // The masters without the key's slot answer MOVED.
      const holder = (await Promise.all(masters.map((master) => master.exists(key).catch(() => 0)))).indexOf(
        1,
      );
      const master = masters[holder] as Redis;
      const replica = clientOf(own.replicas[holder] as ClusterNode);
      await replica.call('READONLY');
      await deleteWhileReplicationIsCut(a, master, replica, key);

      await replica.cluster('FAILOVER', 'TAKEOVER');
      expect(
        await waitUntil(async () => (await replica.info('replication')).includes('role:master'), 5_000),
      ).toBe(true);
      // The tier re-reads the slot map every second, sees the new master and replays.
      expect(await waitUntil(async () => (await replica.exists(key)) === 0, 5_000)).toBe(true);
      expect(await waitUntil(async () => (await b.get('price')) === undefined, 2_000)).toBe(true);
    } finally {
      await managers.closeAll();
      for (const client of direct) client.disconnect();
      await own.stop();
    }
  }, 60_000);
});

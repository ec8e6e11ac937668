/**
 * The rollout store contract (src/rollout/state.ts), one suite run against every store: memory,
 * the file store, real Redis and real PostgreSQL. No mocks. Each test works in a namespace of its
 * own, opens as many instances on it as it needs (instances of one namespace share the state, as
 * gateways sharing a Redis do), and deletes what the namespace left behind afterwards.
 *
 * The propagation test moves one switch 200 times on one instance, one change at a time, and
 * times each change from the start of `setSwitches` until both other instances' listeners have
 * it; p50 and p99 are printed, and p99 must stay within the second in which issue 17 wants every
 * instance to apply a weight.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../../src/errors.js';
import type {
  AuditRecord,
  RolloutRecord,
  RolloutStore,
  StoreEvent,
  SwitchKey,
} from '../../../src/rollout/state.js';
import {
  AUDIT_CAP,
  InProcessBackend,
  MemoryRolloutStore,
  openFileRolloutStore,
  openPostgresRolloutStore,
  openRedisRolloutStore,
  openRolloutStore,
  stateFilePath,
} from '../../../src/rollout/store/index.js';
import { ROLLOUT_TABLES } from '../../../src/rollout/store/postgres-store.js';
import { RolloutKeys } from '../../../src/rollout/store/redis-store.js';
import { databaseUrl, freePort, redisUrl, waitUntil, withRedis } from '../../support/index.js';

/** Switch changes timed by the propagation test, and the p99 it must stay within. */
const PROPAGATION_CHANGES = 200;
const PROPAGATION_P99_LIMIT_MS = 1_000;
/** How long any single event may take to arrive before a test fails. */
const EVENT_TIMEOUT_MS = 5_000;
/** A lease's ttl in the lease test: long enough for a loaded machine, short enough to wait out. */
const LEASE_TTL_MS = 800;

interface StoreKind {
  name: string;
  /** Opens an instance on `namespace`; instances of one namespace share their state. */
  open(namespace: string): Promise<RolloutStore>;
  /** Deletes whatever the namespace left behind. */
  clear(namespace: string): Promise<void>;
  /** Cuts the event connections of the namespace's instances; only stores that have them. */
  breakEvents?(namespace: string): Promise<void>;
  /**
   * Whether this suite checks the audit cap by writing past it: the memory store and Redis keep
   * the newest 10,000 records; the file store does too, but 10,001 fsynced rewrites are slow, so
   * test/unit/rollout/file-store.test.ts checks it from a prepared file; PostgreSQL keeps all.
   */
  checkAuditCap: boolean;
}

const memoryBackends = new Map<string, InProcessBackend>();
let dataDir = '';

const memoryKind: StoreKind = {
  name: 'memory',
  async open(namespace) {
    const backend = memoryBackends.get(namespace) ?? new InProcessBackend();
    memoryBackends.set(namespace, backend);
    return new MemoryRolloutStore(backend);
  },
  async clear(namespace) {
    memoryBackends.delete(namespace);
  },
  checkAuditCap: true,
};

const fileKind: StoreKind = {
  name: 'file',
  open: (namespace) => openFileRolloutStore({ dataDir, namespace }),
  async clear(namespace) {
    const path = stateFilePath(dataDir, namespace);
    await Promise.all([rm(path, { force: true }), rm(`${path}.lock`, { force: true })]);
  },
  checkAuditCap: false,
};

const redisKind: StoreKind = {
  name: 'redis',
  open: async (namespace) => openRedisRolloutStore({ url: await redisUrl(), namespace }),
  async clear(namespace) {
    await withRedis(await redisUrl(), async (redis) => {
      const keys = await redis.keys(new RolloutKeys(namespace).everything());
      if (keys.length > 0) await redis.del(...keys);
    });
  },
  async breakEvents(namespace) {
    await withRedis(await redisUrl(), async (redis) => {
      const clients = String(await redis.client('LIST')).split('\n');
      const ours = clients.filter((line) => line.includes(` name=keel-rollout-events:${namespace} `));
      for (const line of ours) await redis.client('KILL', 'ID', /\bid=(\d+)/.exec(line)?.[1] as string);
    });
  },
  checkAuditCap: true,
};

const postgresKind: StoreKind = {
  name: 'postgres',
  open: async (namespace) => openPostgresRolloutStore({ url: await databaseUrl(), namespace }),
  async clear(namespace) {
    await withPostgres(async (client) => {
      for (const table of ROLLOUT_TABLES)
        await client.query(`DELETE FROM ${table} WHERE namespace = $1`, [namespace]);
    });
  },
  async breakEvents(namespace) {
    await withPostgres((client) =>
      client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
        `keel-rollout-events:${namespace}`,
      ]),
    );
  },
  checkAuditCap: false,
};

async function withPostgres<T>(use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: await databaseUrl() });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'keel-rollout-store-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe.each([memoryKind, fileKind, redisKind, postgresKind])('rollout store contract: $name', (kind) => {
  let namespace = '';
  let opened: RolloutStore[] = [];

  /** `count` instances on this test's namespace, closed after the test. */
  async function instances(count: number): Promise<RolloutStore[]> {
    const stores = await Promise.all(Array.from({ length: count }, () => kind.open(namespace)));
    opened.push(...stores);
    return stores;
  }

  beforeAll(async () => {
    await kind.open(`probe-${randomUUID()}`).then((store) => store.close()); // the backend is there
  });

  afterEach(async () => {
    await Promise.all(opened.map((store) => store.close()));
    opened = [];
    await kind.clear(namespace);
  });

  it('starts with no switches, sets several at once and merges later changes', async () => {
    namespace = uniqueNamespace();
    const [a, b] = await instances(2);
    expect(await a.switches()).toEqual([]);

    await a.setSwitches({ 'traffic:listing': 10, 'cache:read-only': 25.5 }, audit(1_000, 'first'));
    await b.setSwitches({ 'traffic:listing': 50, 'flag:sync.rest': 100 }, audit(2_000, 'second'));

    expect(await a.switches()).toEqual([
      { key: 'cache:read-only', weight: 25.5, updatedAt: 1_000 },
      { key: 'flag:sync.rest', weight: 100, updatedAt: 2_000 },
      { key: 'traffic:listing', weight: 50, updatedAt: 2_000 },
    ]);
    expect(await b.switches()).toEqual(await a.switches());
  });

  it('refuses weights outside 0–100 and malformed switch keys, changing nothing', async () => {
    namespace = uniqueNamespace();
    const [store] = await instances(1);
    const refused = [
      { 'cache:a': 101 },
      { 'cache:a': -1 },
      { 'cache:a': Number.NaN },
      { 'cache:a': '50' as unknown as number },
      { 'route:a': 50 } as Record<SwitchKey, number>,
      { 'cache:': 50 } as Record<SwitchKey, number>,
    ];
    for (const weights of refused) {
      await expect(store.setSwitches(weights, audit(1, 'bad'))).rejects.toSatisfy((error) =>
        isKeelError(error, 'INVALID_ARGUMENT'),
      );
    }
    expect(await store.switches()).toEqual([]);
    expect(await store.audit()).toEqual([]);
  });

  it('appends an audit record with every change, newest first, filtered by rollout', async () => {
    namespace = uniqueNamespace();
    const [a, b] = await instances(2);
    const metrics = { errorRate: 0.1 + 0.2, p99Seconds: 1.2345678901234567 };
    const started = { ...audit(1_001, 'start'), rolloutId: 'r-1', metrics };
    const promoted = { ...audit(1_002, 'promote'), rolloutId: 'r-1', actor: 'guard:error-rate' };

    await a.setSwitches({ 'cache:read-only': 10 }, audit(1_000, 'by hand'));
    await a.saveRollout(rolloutRecord('r-1', 1), started);
    await b.setSwitches({ 'traffic:listing': 50 }, promoted);

    const all = await b.audit();
    expect(all).toEqual([
      { ...promoted, switches: { 'cache:read-only': 10, 'traffic:listing': 50 } },
      started,
      { ...audit(1_000, 'by hand'), switches: { 'cache:read-only': 10 } },
    ]);
    expect(await a.audit({ rolloutId: 'r-1' })).toEqual(all.slice(0, 2));
    expect(await a.audit({ limit: 1 })).toEqual(all.slice(0, 1));
    expect(await a.audit({ rolloutId: 'r-1', limit: 1 })).toEqual(all.slice(0, 1));
    expect(await a.audit({ rolloutId: 'r-2' })).toEqual([]);
  });

  it('saves a rollout only over the version it read: of concurrent saves, exactly one wins', async () => {
    namespace = uniqueNamespace();
    const stores = await instances(3);
    const [a, b] = stores as [RolloutStore, RolloutStore];
    const events = await EventLog.of(b);

    expect(await a.saveRollout(rolloutRecord('r-1', 1), { ...audit(1, 'start'), rolloutId: 'r-1' })).toBe(
      true,
    );
    expect(await b.saveRollout(rolloutRecord('r-1', 1), audit(2, 'start again'))).toBe(false);
    expect(await b.saveRollout(rolloutRecord('r-1', 3), audit(3, 'skips a version'))).toBe(false);
    await events.waitFor((event) => event.type === 'rollout' && event.id === 'r-1');

    const rounds = 10;
    for (let version = 2; version <= rounds + 1; version++) {
      const saves = stores.map((store, i) =>
        store.saveRollout(
          { ...rolloutRecord('r-1', version), stage: i },
          { ...audit(version, `save by ${i}`), rolloutId: 'r-1' },
        ),
      );
      expect((await Promise.all(saves)).filter(Boolean)).toHaveLength(1);
    }
    const stored = await b.rollout('r-1');
    expect(stored?.version).toBe(rounds + 1);
    expect(await a.rollouts()).toEqual([stored]);
    expect(await a.audit({ rolloutId: 'r-1' })).toHaveLength(rounds + 1); // the winners only
    expect(await a.rollout('r-unknown')).toBeUndefined();
  });

  it('hands out copies: changing what was read or saved does not change the store', async () => {
    namespace = uniqueNamespace();
    const [store] = await instances(1);
    const record = rolloutRecord('r-1', 1);
    await store.saveRollout(record, audit(1, 'start'));
    record.stage = 7;
    const read = (await store.rollout('r-1')) as RolloutRecord;
    read.version = 99;
    expect(await store.rollout('r-1')).toEqual(rolloutRecord('r-1', 1));
  });

  it("shares the guards' last evaluation of each rollout with every instance, the newest replacing it", async () => {
    namespace = uniqueNamespace();
    const [a, b] = await instances(2);
    expect(await b.guards('r-1')).toBeUndefined();
    const first = {
      at: 1_000,
      instance: 'gateway-a',
      values: { 'candidate.error_rate > 0.05 for 5m (critical)': 0.01 },
      criteria: [{ text: 'candidate.error_rate < 0.01', holds: false }],
      breaching: [],
    };
    await a.publishGuards('r-1', first);
    expect(await b.guards('r-1')).toEqual(first);
    const second = { ...first, at: 2_000, breaching: ['candidate.error_rate > 0.05 for 5m (critical)'] };
    await a.publishGuards('r-1', second);
    expect(await b.guards('r-1')).toEqual(second);
    expect(await b.guards('r-2')).toBeUndefined();
  });

  it('sets the emergency stop with the safe weights, tells every instance, and lifts it', async () => {
    namespace = uniqueNamespace();
    const [a, b] = await instances(2);
    const events = await EventLog.of(b);
    await a.setSwitches({ 'traffic:listing': 50, 'cache:read-only': 100 }, audit(1, 'before'));
    expect(await a.emergencyStop()).toBeUndefined();

    const stop = { active: true, actor: 'operator:ann', reason: 'errors on listing', at: 5_000 };
    await a.setEmergencyStop(stop, { 'traffic:listing': 0 });

    expect(await b.emergencyStop()).toEqual(stop);
    expect(await b.switches()).toContainEqual({ key: 'traffic:listing', weight: 0, updatedAt: 5_000 });
    const [record] = await b.audit({ limit: 1 });
    expect(record).toMatchObject({ actor: 'operator:ann', action: 'emergency-stop', reason: stop.reason });
    expect(record?.switches).toEqual({ 'traffic:listing': 0, 'cache:read-only': 100 });
    const switched = await events.waitFor((event) => weightIn(event, 'traffic:listing') === 0);
    expect(switched.type).toBe('switches');
    await events.waitFor((event) => event.type === 'emergency-stop' && event.stop.active);

    const lifted = { active: false, actor: 'operator:bob', reason: 'fixed', at: 6_000 };
    await b.setEmergencyStop(lifted, {});
    expect(await a.emergencyStop()).toEqual(lifted);
    await events.waitFor((event) => event.type === 'emergency-stop' && !event.stop.active);
    expect((await a.audit({ limit: 1 }))[0]?.action).toBe('emergency-stop-cleared');
  });

  it('gives a lease to one holder at a time, renewed by it, taken by another once it lapses', async () => {
    namespace = uniqueNamespace();
    const [a, b, c] = (await instances(3)) as [RolloutStore, RolloutStore, RolloutStore];
    const takes = await Promise.all(
      [a, b, c].map((store, i) => store.lease('guards', `holder-${i}`, LEASE_TTL_MS)),
    );
    expect(takes.filter(Boolean)).toHaveLength(1);
    const holder = takes.indexOf(true);
    const [first, second] = holder === 0 ? [a, b] : holder === 1 ? [b, c] : [c, a];
    const firstName = `holder-${holder}`;

    await sleep(LEASE_TTL_MS / 2);
    expect(await first.lease('guards', firstName, LEASE_TTL_MS)).toBe(true); // renewed
    await sleep(LEASE_TTL_MS / 2 + 100);
    expect(await second.lease('guards', 'other', LEASE_TTL_MS)).toBe(false); // still held thanks to the renewal
    await second.releaseLease('guards', 'other'); // not the holder: nothing happens
    expect(await second.lease('guards', 'other', LEASE_TTL_MS)).toBe(false);

    await sleep(LEASE_TTL_MS + 200); // the holder stops renewing
    expect(await second.lease('guards', 'other', LEASE_TTL_MS)).toBe(true);
    expect(await first.lease('guards', firstName, LEASE_TTL_MS)).toBe(false);
    await second.releaseLease('guards', 'other');
    expect(await first.lease('guards', firstName, LEASE_TTL_MS)).toBe(true);
  });

  it('delivers every change to every instance within a second (200 changes timed)', async () => {
    namespace = uniqueNamespace();
    const [writer, ...readers] = await instances(3);
    const own = await EventLog.of(writer as RolloutStore);
    const arrivals = readers.map(() => new Arrival());
    await Promise.all(readers.map((reader, i) => reader.subscribe((event) => arrivals[i]?.see(event))));

    const latencies: number[] = [];
    for (let change = 0; change < PROPAGATION_CHANGES; change++) {
      const weight = (change % 100) + 1; // never the previous change's weight
      const seen = arrivals.map((arrival) => arrival.expect('traffic:listing', weight));
      const start = performance.now();
      await writer?.setSwitches({ 'traffic:listing': weight }, audit(change, 'propagation'));
      for (const at of await Promise.all(seen)) latencies.push(at - start);
    }

    const p50 = percentile(latencies, 0.5);
    const p99 = percentile(latencies, 0.99);
    console.log(
      `[rollout store: ${kind.name}] ${PROPAGATION_CHANGES} switch changes, 1 writer → 2 other instances: ` +
        `p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${Math.max(...latencies).toFixed(2)} ms`,
    );
    expect(p99).toBeLessThanOrEqual(PROPAGATION_P99_LIMIT_MS);
    await own.waitFor(
      (event) => weightIn(event, 'traffic:listing') === ((PROPAGATION_CHANGES - 1) % 100) + 1,
    );
  }, 120_000);

  it('keeps the state after every instance has closed', async () => {
    namespace = uniqueNamespace();
    const [a] = await instances(1);
    const stop = { active: true, actor: 'operator:ann', reason: 'test', at: 3 };
    await a?.setSwitches({ 'cache:read-only': 40 }, audit(1, 'set'));
    await a?.saveRollout(rolloutRecord('r-1', 1), audit(2, 'start'));
    await a?.setEmergencyStop(stop, {});
    await a?.close();

    const [later] = await instances(1);
    expect(await later?.switches()).toEqual([{ key: 'cache:read-only', weight: 40, updatedAt: 1 }]);
    expect(await later?.rollout('r-1')).toEqual(rolloutRecord('r-1', 1));
    expect(await later?.emergencyStop()).toEqual(stop);
    expect(await later?.audit()).toHaveLength(3);
  });

  it.runIf(kind.checkAuditCap)(
    `keeps the newest ${AUDIT_CAP} audit records`,
    async () => {
      namespace = uniqueNamespace();
      const [store] = (await instances(1)) as [RolloutStore];
      const changes = Array.from({ length: AUDIT_CAP + 1 }, (_, i) => {
        const record = { ...audit(i, `change ${i}`), ...(i % 1_000 === 999 ? { rolloutId: 'r-1' } : {}) };
        return store.setSwitches({ 'cache:read-only': i % 101 }, record);
      });
      await Promise.all(changes);

      const records = await store.audit({ limit: AUDIT_CAP * 2 });
      expect(records).toHaveLength(AUDIT_CAP);
      expect([records[0]?.reason, records.at(-1)?.reason]).toEqual([`change ${AUDIT_CAP}`, 'change 1']);
      const rollout = await store.audit({ rolloutId: 'r-1' }); // spread over the whole list
      expect(rollout.map((record) => record.at)).toEqual([
        9_999, 8_999, 7_999, 6_999, 5_999, 4_999, 3_999, 2_999, 1_999, 999,
      ]);
    },
    60_000,
  );

  it.skipIf(kind.breakEvents === undefined)(
    'after its event connection breaks, re-reads and hands its listeners the current state',
    async () => {
      namespace = uniqueNamespace();
      const [a, b] = (await instances(2)) as [RolloutStore, RolloutStore];
      const events = await EventLog.of(b);
      await a.setSwitches({ 'traffic:listing': 30 }, audit(1, 'before'));
      await events.waitFor((event) => weightIn(event, 'traffic:listing') === 30);
      const seenBefore = events.events.length;

      await kind.breakEvents?.(namespace);
      const resync = await events.waitFor((event, i) => i >= seenBefore && event.type === 'switches', 15_000);
      expect(weightIn(resync, 'traffic:listing')).toBe(30); // no change was made: this is the re-read

      await a.setSwitches({ 'traffic:listing': 60 }, audit(2, 'after'));
      await events.waitFor((event) => weightIn(event, 'traffic:listing') === 60); // listening again
    },
    30_000,
  );

  it('closes without leaving open handles, and refuses calls afterwards', async () => {
    const before = openHandles();
    namespace = uniqueNamespace();
    const stores = await Promise.all([kind.open(namespace), kind.open(namespace)]);
    const [a, b] = stores as [RolloutStore, RolloutStore];
    const events = await EventLog.of(b);
    await a.subscribe(() => {});
    await a.setSwitches({ 'cache:read-only': 5 }, audit(1, 'set'));
    await a.lease('guards', 'a', 10_000);
    await events.waitFor((event) => weightIn(event, 'cache:read-only') === 5);
    await Promise.all(stores.map((store) => store.close()));

    const settled = await waitUntil(async () => openHandles() <= before, 3_000);
    expect(settled, `open handles: ${process.getActiveResourcesInfo().join(', ')}`).toBe(true);
    await expect(a.switches()).rejects.toSatisfy((error) => isKeelError(error, 'STORE_CLOSED'));
    await a.close(); // closing twice is harmless
  });
});

describe('opening a rollout store', () => {
  it('picks Redis when a Redis URL is set, else PostgreSQL, else the file in the data dir', async () => {
    const namespace = uniqueNamespace();
    const [redis, postgres] = [await redisUrl(), await databaseUrl()];
    const cases = [
      { options: { redisUrl: redis, databaseUrl: postgres, dataDir }, type: 'RedisRolloutStore' },
      { options: { redisUrl: '', databaseUrl: postgres, dataDir }, type: 'PostgresRolloutStore' },
      { options: { databaseUrl: '', dataDir }, type: 'MemoryRolloutStore' },
    ];
    for (const { options, type } of cases) {
      const store = await openRolloutStore({ ...options, namespace });
      expect(store.constructor.name).toBe(type);
      await store.close();
    }
    await Promise.all([redisKind.clear(namespace), postgresKind.clear(namespace), fileKind.clear(namespace)]);
    await expect(openRolloutStore({ namespace })).rejects.toSatisfy((error) =>
      isKeelError(error, 'CONFIG_INVALID'),
    );
  });

  it('refuses a namespace that is not 1–64 letters, digits, "_", ".", ":" or "-"', async () => {
    for (const namespace of ['', 'a}b', 'a*', 'x'.repeat(65)]) {
      await expect(openFileRolloutStore({ dataDir, namespace })).rejects.toSatisfy((error) =>
        isKeelError(error, 'INVALID_ARGUMENT'),
      );
    }
  });

  it('fails with STORE_UNAVAILABLE naming REDIS_URL and the address, never the password', async () => {
    const port = await freePort();
    const error = await openRedisRolloutStore({
      url: `redis://:s3cret@127.0.0.1:${port}`,
      namespace: 'x',
    }).catch((thrown: unknown) => thrown);
    expect(isKeelError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain(`Redis at 127.0.0.1:${port} (REDIS_URL)`);
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('fails with STORE_UNAVAILABLE naming DATABASE_URL and the address, never the password', async () => {
    const port = await freePort();
    const url = `postgresql://keel:s3cret@127.0.0.1:${port}/rollouts`;
    const error = await openPostgresRolloutStore({ url, namespace: 'x' }).catch((thrown: unknown) => thrown);
    expect(isKeelError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain(`PostgreSQL at 127.0.0.1:${port}/rollouts (DATABASE_URL)`);
    expect((error as Error).message).not.toContain('s3cret');
  });
});

/** Records a store's events and waits for the one a test expects. */
class EventLog {
  readonly events: StoreEvent[] = [];

  static async of(store: RolloutStore): Promise<EventLog> {
    const log = new EventLog();
    await store.subscribe((event) => log.events.push(event));
    return log;
  }

  async waitFor(
    predicate: (event: StoreEvent, index: number) => boolean,
    timeoutMs = EVENT_TIMEOUT_MS,
  ): Promise<StoreEvent> {
    const arrived = await waitUntil(async () => this.events.some(predicate), timeoutMs);
    const found = this.events.find(predicate);
    if (!arrived || found === undefined) {
      throw new Error(
        `no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events.slice(-5))}`,
      );
    }
    return found;
  }
}

/** The moment a listener first sees a switch at the weight the propagation test waits for. */
class Arrival {
  private wanted: { key: SwitchKey; weight: number; arrived: (at: number) => void } | undefined;

  expect(key: SwitchKey, weight: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${key} = ${weight} never arrived`)), EVENT_TIMEOUT_MS);
      const arrived = (at: number) => {
        clearTimeout(timer);
        resolve(at);
      };
      this.wanted = { key, weight, arrived };
    });
  }

  see(event: StoreEvent): void {
    if (this.wanted === undefined || weightIn(event, this.wanted.key) !== this.wanted.weight) return;
    this.wanted.arrived(performance.now());
    this.wanted = undefined;
  }
}

function weightIn(event: StoreEvent, key: SwitchKey): number | undefined {
  return event.type === 'switches' ? event.switches.find((entry) => entry.key === key)?.weight : undefined;
}

function audit(at: number, reason: string): Omit<AuditRecord, 'switches'> {
  return { at, actor: 'operator:test', action: 'set', reason };
}

function rolloutRecord(id: string, version: number): RolloutRecord {
  return {
    id,
    plan: 'canary',
    planText: 'stages:\n  - weight: 10\n',
    status: 'running',
    stage: 0,
    stageStartedAt: 1_000,
    startedAt: 1_000,
    version,
  };
}

function uniqueNamespace(): string {
  return `test-${randomUUID()}`;
}

function percentile(values: number[], share: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)] as number;
}

/** Sockets and timers keeping the process alive. */
function openHandles(): number {
  return process.getActiveResourcesInfo().filter((type) => type === 'TCPSocketWrap' || type === 'Timeout')
    .length;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * RedisStore: the Redis operations of the tier, one method per thing the cache needs, with no
 * policy (no retries, no breaker, no batching of callers: see resilience.ts and read-batcher.ts).
 *
 * Commands are issued through `issue()`, which holds the socket's writes until the end of the turn
 * (turn-writer.ts), so the commands of a turn leave in one write; only PING and SCAN, each awaited
 * before anything else is sent, go out directly.
 *
 * Cluster. Every command names keys of one slot: MGET is split by slot, UNLINK is grouped by slot,
 * scripts touch one key each (scripts.ts), and SCAN runs on every master. Commands issued together
 * are not sent as an explicit pipeline (ioredis refuses cross-slot pipelines in Cluster) but issued
 * in the same tick, where auto-pipelining groups them per node.
 *
 * Index keys of the wrong type. Keel's indexes are sorted sets; a key of another type at an
 * index's name (left by another program, a bug, or anyone with write access to Redis) makes every
 * command on it fail with WRONGTYPE, and would otherwise fail every write naming that tag or
 * dependency, again and again. Such a key holds nothing Keel can use, so `repairing` deletes it,
 * counts it (`indexRepairs`) and runs the command once more; the failure never reaches the circuit
 * breaker. The scripts are written so that a wrong-typed index fails their first command on it,
 * before they change anything.
 */
import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './connection.js';
import { type Drain, type DrainCommands, type IndexKind, TOMBSTONE_MS } from './index-drain.js';
import type { KeyLayout } from './key-layout.js';
import { DRAIN_READ, INDEX_ADD, INDEX_MOVE, INDEX_NEVER, LOCK_RELEASE } from './scripts.js';
import { TurnWriter } from './turn-writer.js';

/** Keys per UNLINK or MGET command: big enough to amortize a round trip, small enough not to stall Redis. */
const KEYS_PER_COMMAND = 500;
/** SCAN's COUNT hint: keys examined per SCAN call. */
const SCAN_COUNT = 1_000;
/** Above every byte of a UTF-8 string: the end of a lexicographic range of members by prefix. */
const PAST_ANY_UTF8 = Buffer.from([0xff]);

interface ScriptCommands {
  keelIndexAdd(index: string, member: string, expiresAt: number, now: number): Promise<number>;
  keelIndexMove(index: string, draining: string): Promise<number>;
  keelDrainRead(draining: string, count: number, startShare: number, tombstoneMs: number): Promise<string[]>;
  keelLockRelease(lock: string, token: string): Promise<number>;
}

export interface StoredWrite {
  key: string;
  envelope: Buffer;
  /** Expiry of the stored value in ms since the epoch (TTL + grace), Infinity for none. */
  expiresAt: number;
  tags: readonly string[];
  dependsOn: readonly string[];
}

export class RedisStore implements DrainCommands {
  /** Index keys found holding another type, deleted and rebuilt (see the note). */
  indexRepairs = 0;
  private readonly writer: TurnWriter;

  constructor(
    private readonly client: RedisClient,
    private readonly cluster: boolean,
    readonly keys: KeyLayout,
  ) {
    client.defineCommand('keelIndexAdd', { numberOfKeys: 1, lua: INDEX_ADD });
    client.defineCommand('keelIndexMove', { numberOfKeys: 2, lua: INDEX_MOVE });
    client.defineCommand('keelDrainRead', { numberOfKeys: 1, lua: DRAIN_READ });
    client.defineCommand('keelLockRelease', { numberOfKeys: 1, lua: LOCK_RELEASE });
    this.writer = new TurnWriter(cluster ? undefined : (client as Redis));
  }

  /** Sends the commands issued so far in this turn now, rather than at its end. */
  flush(): void {
    this.writer.flush();
  }

  /** The stored envelopes of `keys`, null where there is none, in the same order. */
  async getMany(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const redisKeys = keys.map((key) => this.keys.value(key));
    if (!this.cluster) {
      if (redisKeys.length === 1) return [await this.issue().getBuffer(redisKeys[0])];
      return this.issue().mgetBuffer(...redisKeys);
    }
    const results = new Array<Buffer | null>(keys.length);
    const bySlot = groupBySlot(redisKeys);
    await Promise.all(
      [...bySlot.values()].map(async (positions) => {
        const values = await this.issue().mgetBuffer(...positions.map((i) => redisKeys[i]));
        positions.forEach((position, i) => {
          results[position] = values[i];
        });
      }),
    );
    return results;
  }

  /** Stores the envelope and indexes it under its tags and the keys it depends on. */
  async write(write: StoredWrite, now: number): Promise<void> {
    const valueKey = this.keys.value(write.key);
    const stored = Number.isFinite(write.expiresAt)
      ? this.issue().set(valueKey, write.envelope, 'PX', Math.max(1, Math.ceil(write.expiresAt - now)))
      : this.issue().set(valueKey, write.envelope);
    if (write.tags.length === 0 && write.dependsOn.length === 0) {
      await stored;
      return;
    }
    const score = Number.isFinite(write.expiresAt) ? Math.ceil(write.expiresAt) : INDEX_NEVER;
    const pending: Promise<unknown>[] = [stored];
    for (const tag of write.tags) pending.push(this.indexAdd(this.keys.tag(tag), write.key, score, now));
    for (const dependency of write.dependsOn) {
      pending.push(this.indexAdd(this.keys.dependents(dependency), write.key, score, now));
    }
    await Promise.all(pending);
  }

  /** Deletes the values of `keys`; returns how many existed. */
  async unlink(keys: readonly string[]): Promise<number> {
    return this.unlinkRedisKeys(keys.map((key) => this.keys.value(key)));
  }

  // Drains (index-drain.ts).

  /** The names whose index of `kind` exists: one EXISTS per slot, and one per key where only some do. */
  async indexesPresent(kind: IndexKind, names: readonly string[]): Promise<string[]> {
    const unique = [...new Set(names)];
    const indexes = unique.map((name) => this.keys.index(kind, name));
    const groups = this.cluster ? [...groupBySlot(indexes).values()] : [indexes.map((_, i) => i)];
    const present: string[] = [];
    await Promise.all(
      groups.map(async (positions) => {
        const count = await this.issue().exists(...positions.map((i) => indexes[i] as string));
        if (count === 0) return;
        const each =
          count === positions.length
            ? positions.map(() => 1)
            : await Promise.all(positions.map((i) => this.issue().exists(indexes[i] as string)));
        positions.forEach((i, n) => {
          if (each[n] === 1) present.push(unique[i] as string);
        });
      }),
    );
    return present;
  }

  async drainsOf(kind: IndexKind, names: readonly string[]): Promise<Drain[]> {
    const directory = this.keys.drainDirectory;
    const lists = await Promise.all(
      names.map((name) => {
        const prefix = this.keys.drainMemberPrefix(kind, name);
        const end = Buffer.concat([Buffer.from(`(${prefix}`), PAST_ANY_UTF8]);
        return this.repairing(directory, () => this.issue().zrangebylex(directory, `[${prefix}`, end));
      }),
    );
    return this.drainsNamed(lists.flat());
  }

  async pendingDrains(count: number): Promise<Drain[]> {
    const directory = this.keys.drainDirectory;
    return this.drainsNamed(
      await this.repairing(directory, () => this.issue().zrange(directory, 0, count - 1)),
    );
  }

  async recordDrains(drains: readonly Drain[]): Promise<void> {
    const directory = this.keys.drainDirectory;
    const scored = drains.flatMap((drain) => [0, this.keys.drainMember(drain)]);
    await this.repairing(directory, () => this.issue().zadd(directory, ...scored));
  }

  async forgetDrains(drains: readonly Drain[]): Promise<void> {
    const directory = this.keys.drainDirectory;
    const members = drains.map((drain) => this.keys.drainMember(drain));
    await this.repairing(directory, () => this.issue().zrem(directory, ...members));
  }

  async moveIndex(drain: Drain): Promise<boolean> {
    const index = this.keys.index(drain.kind, drain.name);
    const draining = this.keys.draining(drain);
    return (await this.repairing(index, () => this.issue().keelIndexMove(index, draining))) === 1;
  }

  async readDrain(drain: Drain, count: number, startShare: number): Promise<string[]> {
    const draining = this.keys.draining(drain);
    return this.repairing(draining, () =>
      this.issue().keelDrainRead(draining, count, startShare, TOMBSTONE_MS),
    );
  }

  async forgetDrained(drain: Drain, members: readonly string[]): Promise<void> {
    await this.issue().zrem(this.keys.draining(drain), ...members);
  }

  async takeLease(id: string, token: string, ms: number): Promise<boolean> {
    return (await this.issue().set(this.keys.drainLease(id), token, 'PX', ms, 'NX')) === 'OK';
  }

  async renewLease(id: string, ms: number): Promise<void> {
    await this.issue().pexpire(this.keys.drainLease(id), ms);
  }

  async releaseLease(id: string, token: string): Promise<void> {
    await this.issue().keelLockRelease(this.keys.drainLease(id), token);
  }

  /** The cache keys of the namespace's values matching the glob, in SCAN batches (every master in Cluster). */
  async *scanKeys(glob: string): AsyncGenerator<string[]> {
    for await (const batch of this.scan(this.keys.valuePattern(glob))) {
      yield batch.map((redisKey) => this.keys.keyOf(redisKey));
    }
  }

  /** Deletes everything the namespace stores: values, indexes and locks; returns how many keys. */
  async unlinkNamespace(): Promise<number> {
    return this.scanUnlink(this.keys.everything());
  }

  /** Takes the stampede lock of `key` for `ttlMs`; true when this token now holds it. */
  async acquireLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.issue().set(this.keys.lock(key), token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async releaseLock(key: string, token: string): Promise<void> {
    await this.issue().keelLockRelease(this.keys.lock(key), token);
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.issue().publish(channel, message);
  }

  /**
   * Which server, and which replication history, the single-node connection is on: `run_id`
   * changes when a server restarts, `master_replid` when a replica is promoted or a primary is
   * made a replica (its data then replaced by the new primary's).
   */
  async serverIdentity(): Promise<string> {
    const [server, replication] = await Promise.all([
      this.issue().info('server'),
      this.issue().info('replication'),
    ]);
    return `${infoField(server, 'run_id')}/${infoField(replication, 'master_replid')}`;
  }

  async ping(): Promise<void> {
    if (this.cluster) await Promise.all((this.client as Cluster).nodes('master').map((node) => node.ping()));
    else await (this.client as Redis).ping();
  }

  /** The drains that directory members name; members Keel did not write are removed (a repair). */
  private async drainsNamed(members: readonly string[]): Promise<Drain[]> {
    const drains: Drain[] = [];
    const foreign: string[] = [];
    for (const member of members) {
      const drain = this.keys.drainOf(member);
      if (drain === undefined) foreign.push(member);
      else drains.push(drain);
    }
    if (foreign.length > 0) {
      this.indexRepairs++;
      await this.issue().zrem(this.keys.drainDirectory, ...foreign);
    }
    return drains;
  }

  private indexAdd(index: string, member: string, expiresAt: number, now: number): Promise<number> {
    return this.repairing(index, () => this.issue().keelIndexAdd(index, member, expiresAt, now));
  }

  /**
   * Runs a command on an index key; when the key turns out to hold another type, deletes it, counts
   * the repair and runs the command again (see the file's note).
   */
  private async repairing<T>(index: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      if (!isWrongType(error)) throw error;
      this.indexRepairs++;
      await this.issue().unlink(index);
      return command();
    }
  }

  /** The client (with the tier's scripts), to issue a command of this turn: held for the turn's one write. */
  private issue(): RedisClient & ScriptCommands {
    this.writer.hold();
    return this.client as RedisClient & ScriptCommands;
  }

  private async scanUnlink(match: string): Promise<number> {
    let removed = 0;
    for await (const batch of this.scan(match)) removed += await this.unlinkRedisKeys(batch);
    return removed;
  }

  private async *scan(match: string): AsyncGenerator<string[]> {
    const nodes = this.cluster ? (this.client as Cluster).nodes('master') : [this.client as Redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
        cursor = next;
        if (found.length > 0) yield found;
      } while (cursor !== '0');
    }
  }

  private async unlinkRedisKeys(redisKeys: readonly string[]): Promise<number> {
    if (redisKeys.length === 0) return 0;
    const groups = this.cluster
      ? [...groupBySlot(redisKeys).values()].map((positions) => positions.map((i) => redisKeys[i]))
      : [redisKeys];
    const counts = await Promise.all(
      groups.flatMap((group) =>
        chunks(group, KEYS_PER_COMMAND).map((chunk) => this.issue().unlink(...chunk)),
      ),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }
}

/** True for Redis's reply to a command on a key of another type (also when raised inside a script). */
function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('WRONGTYPE');
}

/** A field of an INFO reply (`name:value` lines); empty when absent. */
function infoField(info: string, name: string): string {
  const line = info.split('\r\n').find((candidate) => candidate.startsWith(`${name}:`));
  return line === undefined ? '' : line.slice(name.length + 1);
}

/** Positions of the keys by their Cluster slot. */
function groupBySlot(redisKeys: readonly string[]): Map<number, number[]> {
  const bySlot = new Map<number, number[]>();
  redisKeys.forEach((redisKey, position) => {
    const slot = calculateSlot(redisKey);
    const positions = bySlot.get(slot);
    if (positions === undefined) bySlot.set(slot, [position]);
    else positions.push(position);
  });
  return bySlot;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

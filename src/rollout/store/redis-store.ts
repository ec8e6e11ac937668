/**
 * The rollout store in Redis, shared by every instance that names the same Redis and namespace.
 *
 * Keys, all under one hash tag so that Redis Cluster keeps a namespace on one slot and the
 * scripts below may touch several of them:
 *
 *   keel:rollout:{<namespace>}:switches        hash: switch key → SwitchState JSON
 *   keel:rollout:{<namespace>}:rollouts        hash: rollout id → RolloutRecord JSON
 *   keel:rollout:{<namespace>}:audit           list, newest first, trimmed to the newest 10,000
 *   keel:rollout:{<namespace>}:emergency-stop  string: EmergencyStop JSON
 *   keel:rollout:{<namespace>}:lease:<name>    string: the holder, expiring after the lease's ttl
 *   keel:rollout:{<namespace>}:events          pub/sub channel: StoreEvent JSON
 *
 * Atomic changes. A switch change, a rollout save and the emergency stop each run as one Lua
 * script that writes the state, appends the audit record, trims the audit list and publishes the
 * event, so no instance ever sees a change without its audit record or misses its event because
 * the writer died in between. A rollout save compares the stored version first (compare-and-set).
 * Scripts build their JSON by concatenating what the client sent and what Redis holds, never by
 * re-encoding numbers (Lua's cjson keeps 14 significant digits), so a value reads back exactly as
 * it was written. An audit entry is `{"record":<AuditRecord>,"switches":[<SwitchState>…]}`; the
 * reader folds the switches into the record's `switches` map.
 *
 * Events. Every change publishes on the namespace's channel, which a second connection (a
 * subscribed connection can do nothing else) receives. Pub/sub delivers at most once: when that
 * connection comes back after a break, the store subscribes again, then reads the switches and
 * the emergency stop and hands them to the listeners as events, so a change published during the
 * break is not missed for good.
 *
 * Leases. SET NX PX takes a free lease; a script renews it only for its holder, and another
 * releases it only for its holder, so an instance whose lease lapsed and was taken cannot renew or
 * release the new holder's. Expiry is Redis's clock, the same for every instance.
 *
 * Commands fail at once while Redis is unreachable (no offline queue) with STORE_UNAVAILABLE; the
 * connection keeps trying in the background. Credentials never appear in messages.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { KeelError } from '../../errors.js';
import type {
  AuditRecord,
  EmergencyStop,
  GuardStatus,
  RolloutRecord,
  RolloutStore,
  StoreEvent,
  SwitchKey,
  SwitchState,
} from '../state.js';
import {
  AUDIT_CAP,
  addressOf,
  auditLimit,
  checkedWeights,
  checkLease,
  checkNamespace,
  checkRollout,
  deliver,
  emergencyStopAudit,
  errorMessage,
  GUARDS_KEPT_MS,
  parseEvent,
  type StoreListener,
  sortedRollouts,
  sortedSwitches,
  storeClosed,
  weightsByKey,
} from './contract.js';

export interface RedisRolloutStoreOptions {
  /** redis:// or rediss:// URL (REDIS_URL). */
  url: string;
  namespace: string;
  /** How long opening waits for Redis, and each command for its reply. */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
/** Reconnection backoff: doubles from the base up to the cap, and never gives up. */
const RECONNECT_BASE_DELAY_MS = 50;
const RECONNECT_MAX_DELAY_MS = 1_000;
/** Pause between attempts to resynchronize after the event connection came back. */
const RESYNC_RETRY_MS = 500;
/** Audit entries read per LRANGE while looking for one rollout's records. */
const AUDIT_PAGE = 1_000;
const REDIS_PORT = 6379;

/**
 * KEYS[1] switches, KEYS[2] audit, KEYS[3] emergency stop; ARGV[1] channel, ARGV[2] audit cap,
 * ARGV[3] audit record JSON, ARGV[4] emergency stop JSON or '' for a plain switch change,
 * ARGV[5…] switch key and SwitchState JSON, in pairs. Publishes the switches unless an emergency
 * stop moves none, then the stop.
 */
const APPLY_CHANGE = `
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local switches = '[' .. table.concat(redis.call('HVALS', KEYS[1]), ',') .. ']'
redis.call('LPUSH', KEYS[2], '{"record":' .. ARGV[3] .. ',"switches":' .. switches .. '}')
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
if ARGV[4] == '' or #ARGV >= 5 then
  redis.call('PUBLISH', ARGV[1], '{"type":"switches","switches":' .. switches .. '}')
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[3], ARGV[4])
  redis.call('PUBLISH', ARGV[1], '{"type":"emergency-stop","stop":' .. ARGV[4] .. '}')
end
return 1
`;

/**
 * KEYS[1] rollouts, KEYS[2] audit; ARGV[1] channel, ARGV[2] audit cap, ARGV[3] id, ARGV[4] new
 * version, ARGV[5] record JSON, ARGV[6] audit record JSON, ARGV[7] event JSON. Saves only over
 * version ARGV[4] - 1 (0: none stored); returns 1 when saved, 0 when another save came first.
 */
const SAVE_ROLLOUT = `
local stored = redis.call('HGET', KEYS[1], ARGV[3])
local version = 0
if stored then version = cjson.decode(stored).version end
if version ~= tonumber(ARGV[4]) - 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[5])
redis.call('LPUSH', KEYS[2], '{"record":' .. ARGV[6] .. '}')
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
redis.call('PUBLISH', ARGV[1], ARGV[7])
return 1
`;

/** KEYS[1] lease; ARGV[1] holder, ARGV[2] ttl (ms). Extends the lease only for its holder. */
const RENEW_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** KEYS[1] lease; ARGV[1] holder. Deletes the lease only for its holder. */
const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface RolloutScripts {
  keelRolloutApplyChange(...keysAndArgs: (string | number)[]): Promise<number>;
  keelRolloutSave(...keysAndArgs: (string | number)[]): Promise<number>;
  keelRolloutRenewLease(lease: string, holder: string, ttlMs: number): Promise<number>;
  keelRolloutReleaseLease(lease: string, holder: string): Promise<number>;
}

type ScriptedRedis = Redis & RolloutScripts;

/** An audit list entry as the scripts write it (see the note). */
interface StoredAudit {
  record: AuditRecord;
  switches?: SwitchState[];
}

/** The Redis names of one namespace. */
export class RolloutKeys {
  readonly switches: string;
  readonly rollouts: string;
  readonly audit: string;
  readonly emergencyStop: string;
  readonly channel: string;
  private readonly leasePrefix: string;
  private readonly guardsPrefix: string;

  constructor(readonly namespace: string) {
    const base = `keel:rollout:{${namespace}}:`;
    this.switches = `${base}switches`;
    this.rollouts = `${base}rollouts`;
    this.audit = `${base}audit`;
    this.emergencyStop = `${base}emergency-stop`;
    this.channel = `${base}events`;
    this.leasePrefix = `${base}lease:`;
    this.guardsPrefix = `${base}guards:`;
  }

  /** The guards' last evaluation of a rollout (a string that expires). */
  guards(id: string): string {
    return this.guardsPrefix + id;
  }

  lease(name: string): string {
    return this.leasePrefix + name;
  }

  /** The SCAN MATCH pattern of every key of the namespace (a namespace holds no glob character). */
  everything(): string {
    return `keel:rollout:{${this.namespace}}:*`;
  }
}

/** Connects to Redis at `options.url`; fails with STORE_UNAVAILABLE naming REDIS_URL and the address. */
export async function openRedisRolloutStore(options: RedisRolloutStoreOptions): Promise<RedisRolloutStore> {
  checkNamespace(options.namespace);
  const address = addressOf(options.url, REDIS_PORT);
  const client = new Redis(options.url, clientOptions(options)) as ScriptedRedis;
  let lastError: unknown;
  client.on('error', (error: unknown) => {
    lastError = error;
  });
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new KeelError(
      'STORE_UNAVAILABLE',
      `Cannot reach Redis at ${address} (REDIS_URL) for the rollout state: ${errorMessage(lastError ?? error)}. ` +
        'Start Redis there, or fix REDIS_URL.',
      { cause: lastError ?? error },
    );
  }
  client.defineCommand('keelRolloutApplyChange', { numberOfKeys: 3, lua: APPLY_CHANGE });
  client.defineCommand('keelRolloutSave', { numberOfKeys: 2, lua: SAVE_ROLLOUT });
  client.defineCommand('keelRolloutRenewLease', { numberOfKeys: 1, lua: RENEW_LEASE });
  client.defineCommand('keelRolloutReleaseLease', { numberOfKeys: 1, lua: RELEASE_LEASE });
  return new RedisRolloutStore(client, new RolloutKeys(options.namespace), address);
}

function clientOptions(options: RedisRolloutStoreOptions): RedisOptions {
  return {
    connectionName: `keel-rollout:${options.namespace}`,
    connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) =>
      Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_BASE_DELAY_MS * 2 ** Math.min(attempt, 10)),
    lazyConnect: true,
  };
}

export class RedisRolloutStore implements RolloutStore {
  private readonly listeners = new Set<StoreListener>();
  private subscribing: Promise<Redis> | undefined;
  private closed = false;

  constructor(
    private readonly client: ScriptedRedis,
    private readonly keys: RolloutKeys,
    private readonly address: string,
  ) {}

  async switches(): Promise<SwitchState[]> {
    const values = await this.run('reading the switches', () => this.client.hvals(this.keys.switches));
    return sortedSwitches(values.map((text) => JSON.parse(text) as SwitchState));
  }

  async setSwitches(
    weights: Partial<Record<SwitchKey, number>>,
    audit: Omit<AuditRecord, 'switches'>,
  ): Promise<void> {
    await this.applyChange(checkedWeights(weights), audit, audit.at, undefined);
  }

  async rollout(id: string): Promise<RolloutRecord | undefined> {
    const text = await this.run('reading a rollout', () => this.client.hget(this.keys.rollouts, id));
    return text === null ? undefined : (JSON.parse(text) as RolloutRecord);
  }

  async rollouts(): Promise<RolloutRecord[]> {
    const values = await this.run('reading the rollouts', () => this.client.hvals(this.keys.rollouts));
    return sortedRollouts(values.map((text) => JSON.parse(text) as RolloutRecord));
  }

  async saveRollout(record: RolloutRecord, audit: AuditRecord): Promise<boolean> {
    checkRollout(record);
    const event: StoreEvent = { type: 'rollout', id: record.id };
    const saved = await this.run('saving a rollout', () =>
      this.client.keelRolloutSave(
        ...[this.keys.rollouts, this.keys.audit, this.keys.channel, AUDIT_CAP, record.id, record.version],
        ...[JSON.stringify(record), JSON.stringify(audit), JSON.stringify(event)],
      ),
    );
    return saved === 1;
  }

  async audit(options: { rolloutId?: string; limit?: number } = {}): Promise<AuditRecord[]> {
    const limit = auditLimit(options.limit);
    const { rolloutId } = options;
    return this.run('reading the audit', async () => {
      const found: AuditRecord[] = [];
      for (let start = 0; found.length < limit; start += AUDIT_PAGE) {
        const page = await this.client.lrange(this.keys.audit, start, start + AUDIT_PAGE - 1);
        for (const entry of page.map(auditRecordOf)) {
          if (found.length < limit && (rolloutId === undefined || entry.rolloutId === rolloutId))
            found.push(entry);
        }
        if (page.length < AUDIT_PAGE) break;
      }
      return found;
    });
  }

  async emergencyStop(): Promise<EmergencyStop | undefined> {
    const text = await this.run('reading the emergency stop', () => this.client.get(this.keys.emergencyStop));
    return text === null ? undefined : (JSON.parse(text) as EmergencyStop);
  }

  async setEmergencyStop(stop: EmergencyStop, weights: Partial<Record<SwitchKey, number>>): Promise<void> {
    await this.applyChange(checkedWeights(weights), emergencyStopAudit(stop), stop.at, stop);
  }

  async publishGuards(id: string, status: GuardStatus): Promise<void> {
    await this.run("sharing the guards' values", () =>
      this.client.set(this.keys.guards(id), JSON.stringify(status), 'PX', GUARDS_KEPT_MS),
    );
  }

  async guards(id: string): Promise<GuardStatus | undefined> {
    const text = await this.run("reading the guards' values", () => this.client.get(this.keys.guards(id)));
    return text === null ? undefined : (JSON.parse(text) as GuardStatus);
  }

  async lease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkLease(name, holder, ttlMs);
    const key = this.keys.lease(name);
    return this.run('taking a lease', async () => {
      if ((await this.client.keelRolloutRenewLease(key, holder, ttlMs)) === 1) return true;
      return (await this.client.set(key, holder, 'PX', ttlMs, 'NX')) === 'OK';
    });
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.run('releasing a lease', () =>
      this.client.keelRolloutReleaseLease(this.keys.lease(name), holder),
    );
  }

  async subscribe(listener: (event: StoreEvent) => void): Promise<void> {
    if (this.closed) throw storeClosed();
    this.subscribing ??= this.run('subscribing to changes', () => this.openSubscriber());
    this.subscribing.catch(() => {
      this.subscribing = undefined;
    });
    await this.subscribing;
    this.listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    const subscriber = await this.subscribing?.catch(() => undefined);
    await Promise.all([quit(this.client), subscriber && quit(subscriber)]);
  }

  private async applyChange(
    entries: [SwitchKey, number][],
    audit: Omit<AuditRecord, 'switches'>,
    at: number,
    stop: EmergencyStop | undefined,
  ): Promise<void> {
    const { switches, audit: auditKey, emergencyStop, channel } = this.keys;
    const { switches: _dropped, ...record } = audit as AuditRecord;
    const pairs = entries.flatMap(([key, weight]) => [key, JSON.stringify({ key, weight, updatedAt: at })]);
    await this.run(stop === undefined ? 'setting switches' : 'setting the emergency stop', () =>
      this.client.keelRolloutApplyChange(
        ...[switches, auditKey, emergencyStop, channel, AUDIT_CAP, JSON.stringify(record)],
        ...[stop === undefined ? '' : JSON.stringify(stop), ...pairs],
      ),
    );
  }

  /** A connection subscribed to the channel, which resynchronizes after each break (see the note). */
  private async openSubscriber(): Promise<Redis> {
    const subscriber = this.client.duplicate({
      connectionName: `keel-rollout-events:${this.keys.namespace}`,
    });
    subscriber.on('error', () => {}); // reconnection is automatic; commands report their own failures
    subscriber.on('message', (channel: string, text: string) => {
      const event = channel === this.keys.channel ? parseEvent(text) : undefined;
      if (event !== undefined) deliver(this.listeners, event);
    });
    let broken = false;
    subscriber.on('close', () => {
      broken = true;
    });
    subscriber.on('ready', () => {
      if (!broken) return;
      broken = false;
      void this.resynchronize(subscriber);
    });
    try {
      await subscriber.connect();
      await subscriber.subscribe(this.keys.channel);
    } catch (error) {
      subscriber.disconnect();
      throw error;
    }
    return subscriber;
  }

  /** Subscribes again, then hands the current switches and emergency stop to the listeners. */
  private async resynchronize(subscriber: Redis): Promise<void> {
    while (!this.closed) {
      try {
        await subscriber.subscribe(this.keys.channel);
        const [switches, stop] = await Promise.all([this.switches(), this.emergencyStop()]);
        deliver(this.listeners, { type: 'switches', switches });
        if (stop !== undefined) deliver(this.listeners, { type: 'emergency-stop', stop });
        return;
      } catch {
        await sleep(RESYNC_RETRY_MS, undefined, { ref: false });
      }
    }
  }

  /** Runs a Redis command; STORE_CLOSED after close(), STORE_UNAVAILABLE naming Redis when it fails. */
  private async run<T>(what: string, command: () => Promise<T>): Promise<T> {
    if (this.closed) throw storeClosed();
    try {
      return await command();
    } catch (error) {
      throw new KeelError(
        'STORE_UNAVAILABLE',
        `Rollout store: ${what} failed on Redis at ${this.address} (REDIS_URL): ${errorMessage(error)}.`,
        { cause: error },
      );
    }
  }
}

function auditRecordOf(entry: string): AuditRecord {
  const { record, switches } = JSON.parse(entry) as StoredAudit;
  return switches === undefined ? record : { ...record, switches: weightsByKey(sortedSwitches(switches)) };
}

async function quit(client: Redis): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

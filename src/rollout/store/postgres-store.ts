/**
 * The rollout store in PostgreSQL, shared by every instance that names the same database and
 * namespace.
 *
 * Tables (created at open when missing; every row carries its namespace):
 *
 *   keel_rollout_switches        (namespace, key) → weight, updated_at (ms since the epoch)
 *   keel_rollout_rollouts        (namespace, id) → version, record (jsonb RolloutRecord)
 *   keel_rollout_audit           (namespace, seq) → rollout_id, record (jsonb AuditRecord); all kept
 *   keel_rollout_emergency_stop  namespace → stop (jsonb EmergencyStop)
 *   keel_rollout_leases          (namespace, name) → holder, expires_at (the database's clock)
 *
 * Opening runs the CREATE TABLE IF NOT EXISTS statements in one transaction under an advisory
 * lock: run by several instances at once, CREATE … IF NOT EXISTS can still fail on a duplicate
 * catalog entry, and the lock makes them take turns.
 *
 * Atomic changes. A switch change or an emergency stop is one transaction: it takes the
 * namespace's advisory lock, writes, reads back every switch, inserts the audit record (with the
 * switches after the change) and queues a NOTIFY, delivered when it commits. The lock makes
 * such changes of one namespace take turns, so each one's read-back includes the previous one and
 * notifications arrive in the order of the changes. A rollout save is compare-and-set:
 * `UPDATE … WHERE version = <new version - 1>` (or an INSERT that does nothing when the row exists,
 * for version 1), then the audit insert and the NOTIFY, in one transaction; of two concurrent
 * saves, the second waits for the first's row lock, then finds the version moved and changes
 * nothing.
 *
 * Events. A dedicated connection LISTENs on the namespace's channel (`keel_rollout_` and a hash
 * of the namespace: channel names are limited to 63 bytes). A notification only says what
 * changed (`{"type":"switches"}`, `{"type":"emergency-stop"}`, `{"type":"rollout","id":…}`): the
 * receiving instance reads the current switches or stop and hands those to its listeners, so a
 * namespace may hold any number of switches (a payload is limited to 8,000 bytes). Reads run one
 * after another, so listeners see states in order. The connection sends a heartbeat query; when
 * it fails or the connection drops, the store reconnects with backoff, LISTENs again and then
 * hands the listeners the current switches (and emergency stop), so a NOTIFY missed while
 * disconnected cannot leave the instance stale.
 *
 * Leases. One upsert takes a lease that is free or lapsed, or renews it for its holder, with the
 * expiry computed by the database (`now()`), never by a caller: two machines whose clocks
 * disagree still cannot both hold a lease. Concurrent takers serialize on the row.
 *
 * Failures of the database become STORE_UNAVAILABLE naming DATABASE_URL's host, port and
 * database, never its credentials.
 */
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type ClientConfig, type Notification, Pool, type PoolClient } from 'pg';
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
  type StoreListener,
  sortedRollouts,
  sortedSwitches,
  storeClosed,
  weightsByKey,
} from './contract.js';

export interface PostgresRolloutStoreOptions {
  /** postgresql:// URL (DATABASE_URL). */
  url: string;
  namespace: string;
  /** How long opening (and each later connection) waits for the server. */
  connectTimeoutMs?: number;
  /** Connections of the pool (the event connection comes on top). */
  poolSize?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_POOL_SIZE = 4;
const POSTGRES_PORT = 5432;
/** How often the event connection proves it is alive, and how long its proof may take. */
const HEARTBEAT_MS = 5_000;
const HEARTBEAT_TIMEOUT_MS = 5_000;
/** Reconnection backoff of the event connection: doubles from the base up to the cap. */
const RECONNECT_BASE_DELAY_MS = 100;
const RECONNECT_MAX_DELAY_MS = 2_000;
/** Pause before reading again after an event's read failed. */
const RESYNC_RETRY_MS = 500;

const SCHEMA = `
SELECT pg_advisory_xact_lock(hashtextextended('keel_rollout:schema', 0));
CREATE TABLE IF NOT EXISTS keel_rollout_switches (
  namespace text NOT NULL,
  key text NOT NULL,
  weight double precision NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (namespace, key)
);
CREATE TABLE IF NOT EXISTS keel_rollout_rollouts (
  namespace text NOT NULL,
  id text NOT NULL,
  version bigint NOT NULL,
  record jsonb NOT NULL,
  PRIMARY KEY (namespace, id)
);
CREATE TABLE IF NOT EXISTS keel_rollout_audit (
  namespace text NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  rollout_id text,
  record jsonb NOT NULL,
  PRIMARY KEY (namespace, seq)
);
CREATE INDEX IF NOT EXISTS keel_rollout_audit_by_rollout ON keel_rollout_audit (namespace, rollout_id, seq);
CREATE TABLE IF NOT EXISTS keel_rollout_emergency_stop (
  namespace text PRIMARY KEY,
  stop jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS keel_rollout_guards (
  namespace text NOT NULL,
  rollout_id text NOT NULL,
  status jsonb NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, rollout_id)
);
CREATE TABLE IF NOT EXISTS keel_rollout_leases (
  namespace text NOT NULL,
  name text NOT NULL,
  holder text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (namespace, name)
);`;

/** The tables of the store, for whoever must clear a namespace (tests). */
export const ROLLOUT_TABLES = [
  'keel_rollout_switches',
  'keel_rollout_rollouts',
  'keel_rollout_audit',
  'keel_rollout_emergency_stop',
  'keel_rollout_leases',
  'keel_rollout_guards',
] as const;

const SQL = {
  lockNamespace: `SELECT pg_advisory_xact_lock(hashtextextended('keel_rollout:' || $1, 0))`,
  switches: 'SELECT key, weight, updated_at FROM keel_rollout_switches WHERE namespace = $1',
  setSwitches: `
    INSERT INTO keel_rollout_switches (namespace, key, weight, updated_at)
    SELECT $1, key, weight, $4 FROM unnest($2::text[], $3::float8[]) AS change (key, weight)
    ON CONFLICT (namespace, key) DO UPDATE SET weight = excluded.weight, updated_at = excluded.updated_at`,
  rollout: 'SELECT record FROM keel_rollout_rollouts WHERE namespace = $1 AND id = $2',
  rollouts: 'SELECT record FROM keel_rollout_rollouts WHERE namespace = $1',
  insertRollout: `
    INSERT INTO keel_rollout_rollouts (namespace, id, version, record) VALUES ($1, $2, $3, $4::jsonb)
    ON CONFLICT (namespace, id) DO NOTHING`,
  updateRollout: `
    UPDATE keel_rollout_rollouts SET version = $3, record = $4::jsonb
    WHERE namespace = $1 AND id = $2 AND version = $3 - 1`,
  appendAudit: 'INSERT INTO keel_rollout_audit (namespace, rollout_id, record) VALUES ($1, $2, $3::jsonb)',
  audit: 'SELECT record FROM keel_rollout_audit WHERE namespace = $1 ORDER BY seq DESC LIMIT $2',
  rolloutAudit: `
    SELECT record FROM keel_rollout_audit WHERE namespace = $1 AND rollout_id = $3
    ORDER BY seq DESC LIMIT $2`,
  emergencyStop: 'SELECT stop FROM keel_rollout_emergency_stop WHERE namespace = $1',
  setEmergencyStop: `
    INSERT INTO keel_rollout_emergency_stop (namespace, stop) VALUES ($1, $2::jsonb)
    ON CONFLICT (namespace) DO UPDATE SET stop = excluded.stop`,
  lease: `
    INSERT INTO keel_rollout_leases AS lease (namespace, name, holder, expires_at)
    VALUES ($1, $2, $3, now() + $4::float8 * interval '1 millisecond')
    ON CONFLICT (namespace, name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE lease.holder = excluded.holder OR lease.expires_at <= now()`,
  publishGuards: `
    INSERT INTO keel_rollout_guards (namespace, rollout_id, status) VALUES ($1, $2, $3::jsonb)
    ON CONFLICT (namespace, rollout_id) DO UPDATE SET status = excluded.status, published_at = now()`,
  guards: `
    SELECT status FROM keel_rollout_guards
    WHERE namespace = $1 AND rollout_id = $2 AND published_at > now() - $3::float8 * interval '1 millisecond'`,
  releaseLease: 'DELETE FROM keel_rollout_leases WHERE namespace = $1 AND name = $2 AND holder = $3',
  notify: 'SELECT pg_notify($1, $2)',
};

/** What a notification says changed; the receiver reads the rest. */
type ChangeHint = { type: 'switches' } | { type: 'emergency-stop' } | { type: 'rollout'; id: string };

interface SwitchRow {
  key: SwitchKey;
  weight: number;
  updated_at: string;
}

/** The NOTIFY channel of `namespace`: a valid identifier of at most 63 bytes. */
function channelOf(namespace: string): string {
  return `keel_rollout_${createHash('sha256').update(namespace).digest('hex').slice(0, 40)}`;
}

/**
 * Connects to PostgreSQL at `options.url` and creates the tables when missing; fails with
 * STORE_UNAVAILABLE naming DATABASE_URL and the address.
 */
export async function openPostgresRolloutStore(
  options: PostgresRolloutStoreOptions,
): Promise<PostgresRolloutStore> {
  checkNamespace(options.namespace);
  const address = addressOf(options.url, POSTGRES_PORT);
  const connection: ClientConfig = {
    connectionString: withDefaultUser(options.url),
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    keepAlive: true,
  };
  const pool = new Pool({
    ...connection,
    application_name: `keel-rollout:${options.namespace}`,
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
  });
  pool.on('error', () => {}); // an idle connection that drops is discarded; the next query reports
  try {
    await createTables(pool, address);
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  return new PostgresRolloutStore(pool, connection, options.namespace, address);
}

/**
 * `url` with the operating-system user when it names no user and neither PGUSER nor USER is set,
 * as libpq (psql) connects; node-postgres alone would send no user name at all, which happens
 * under service managers and in containers that leave USER unset.
 */
function withDefaultUser(url: string): string {
  if (process.env.PGUSER || process.env.USER) return url;
  try {
    const parsed = new URL(url);
    if (parsed.username !== '' || parsed.hostname === '') return url;
    parsed.username = encodeURIComponent(userInfo().username);
    return parsed.toString();
  } catch {
    return url; // unparsable here: node-postgres reports it
  }
}

async function createTables(pool: Pool, address: string): Promise<void> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new KeelError(
      'STORE_UNAVAILABLE',
      `Cannot reach PostgreSQL at ${address} (DATABASE_URL) for the rollout state: ${errorMessage(error)}. ` +
        'Start PostgreSQL there, or fix DATABASE_URL.',
      { cause: error },
    );
  }
  try {
    await client.query(`BEGIN;${SCHEMA}\nCOMMIT;`);
    client.release();
  } catch (error) {
    client.release(true);
    throw new KeelError(
      'STORE_UNAVAILABLE',
      `Cannot create the rollout tables in PostgreSQL at ${address} (DATABASE_URL): ${errorMessage(error)}. ` +
        "The DATABASE_URL user needs the right to create tables in its schema (or create them from the store's note).",
      { cause: error },
    );
  }
}

export class PostgresRolloutStore implements RolloutStore {
  private readonly channel: string;
  private readonly listeners = new Set<StoreListener>();
  private events: ChangeListener | undefined;
  private subscribing: Promise<void> | undefined;
  /** Reads for notifications, one after another (see the note). */
  private reads: Promise<void> = Promise.resolve();
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly connection: ClientConfig,
    readonly namespace: string,
    private readonly address: string,
  ) {
    this.channel = channelOf(namespace);
  }

  async switches(): Promise<SwitchState[]> {
    return this.run('reading the switches', () => readSwitches(this.pool, this.namespace));
  }

  async setSwitches(
    weights: Partial<Record<SwitchKey, number>>,
    audit: Omit<AuditRecord, 'switches'>,
  ): Promise<void> {
    await this.applyChange(checkedWeights(weights), audit, audit.at, undefined);
  }

  async rollout(id: string): Promise<RolloutRecord | undefined> {
    const { rows } = await this.run('reading a rollout', () =>
      this.pool.query(SQL.rollout, [this.namespace, id]),
    );
    return rows[0]?.record as RolloutRecord | undefined;
  }

  async rollouts(): Promise<RolloutRecord[]> {
    const { rows } = await this.run('reading the rollouts', () =>
      this.pool.query(SQL.rollouts, [this.namespace]),
    );
    return sortedRollouts(rows.map((row) => row.record as RolloutRecord));
  }

  async saveRollout(record: RolloutRecord, audit: AuditRecord): Promise<boolean> {
    checkRollout(record);
    const row = [this.namespace, record.id, record.version, JSON.stringify(record)];
    return this.transaction('saving a rollout', async (client) => {
      const saved = await client.query(record.version === 1 ? SQL.insertRollout : SQL.updateRollout, row);
      if (saved.rowCount !== 1) return false;
      await client.query(SQL.appendAudit, [this.namespace, audit.rolloutId ?? null, JSON.stringify(audit)]);
      await this.notify(client, { type: 'rollout', id: record.id });
      return true;
    });
  }

  async audit(options: { rolloutId?: string; limit?: number } = {}): Promise<AuditRecord[]> {
    const limit = auditLimit(options.limit);
    const { rolloutId } = options;
    const { rows } = await this.run('reading the audit', () =>
      rolloutId === undefined
        ? this.pool.query(SQL.audit, [this.namespace, limit])
        : this.pool.query(SQL.rolloutAudit, [this.namespace, limit, rolloutId]),
    );
    return rows.map((row) => row.record as AuditRecord);
  }

  async emergencyStop(): Promise<EmergencyStop | undefined> {
    const { rows } = await this.run('reading the emergency stop', () =>
      this.pool.query(SQL.emergencyStop, [this.namespace]),
    );
    return rows[0]?.stop as EmergencyStop | undefined;
  }

  async setEmergencyStop(stop: EmergencyStop, weights: Partial<Record<SwitchKey, number>>): Promise<void> {
    await this.applyChange(checkedWeights(weights), emergencyStopAudit(stop), stop.at, stop);
  }

  async publishGuards(id: string, status: GuardStatus): Promise<void> {
    await this.run("sharing the guards' values", () =>
      this.pool.query(SQL.publishGuards, [this.namespace, id, JSON.stringify(status)]),
    );
  }

  async guards(id: string): Promise<GuardStatus | undefined> {
    const { rows } = await this.run("reading the guards' values", () =>
      this.pool.query(SQL.guards, [this.namespace, id, GUARDS_KEPT_MS]),
    );
    return rows[0]?.status as GuardStatus | undefined;
  }

  async lease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkLease(name, holder, ttlMs);
    const taken = await this.run('taking a lease', () =>
      this.pool.query(SQL.lease, [this.namespace, name, holder, ttlMs]),
    );
    return taken.rowCount === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.run('releasing a lease', () =>
      this.pool.query(SQL.releaseLease, [this.namespace, name, holder]),
    );
  }

  async subscribe(listener: (event: StoreEvent) => void): Promise<void> {
    if (this.closed) throw storeClosed();
    this.subscribing ??= this.run('listening for changes', () => this.listen());
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
    clearTimeout(this.retry);
    await this.subscribing?.catch(() => {});
    await this.events?.close();
    await this.reads;
    await this.pool.end();
  }

  private applyChange(
    entries: [SwitchKey, number][],
    audit: Omit<AuditRecord, 'switches'>,
    at: number,
    stop: EmergencyStop | undefined,
  ): Promise<void> {
    const { switches: _ignored, ...record } = audit as AuditRecord;
    const keys = entries.map(([key]) => key);
    const weights = entries.map(([, weight]) => weight);
    return this.transaction(
      stop === undefined ? 'setting switches' : 'setting the emergency stop',
      async (client) => {
        await client.query(SQL.lockNamespace, [this.namespace]);
        await client.query(SQL.setSwitches, [this.namespace, keys, weights, at]);
        if (stop !== undefined)
          await client.query(SQL.setEmergencyStop, [this.namespace, JSON.stringify(stop)]);
        const switches = weightsByKey(await readSwitches(client, this.namespace));
        await client.query(SQL.appendAudit, [
          this.namespace,
          record.rolloutId ?? null,
          JSON.stringify({ ...record, switches }),
        ]);
        if (stop === undefined || entries.length > 0) await this.notify(client, { type: 'switches' });
        if (stop !== undefined) await this.notify(client, { type: 'emergency-stop' });
      },
    );
  }

  private async notify(client: PoolClient, hint: ChangeHint): Promise<void> {
    await client.query(SQL.notify, [this.channel, JSON.stringify(hint)]);
  }

  private async listen(): Promise<void> {
    const events = new ChangeListener(
      { ...this.connection, application_name: `keel-rollout-events:${this.namespace}` },
      this.channel,
      (payload) => this.received(payload),
      () => this.resynchronize(),
    );
    await events.start();
    this.events = events;
  }

  private received(payload: string): void {
    let hint: ChangeHint;
    try {
      hint = JSON.parse(payload) as ChangeHint;
    } catch {
      return; // not ours
    }
    this.read(hint);
  }

  /** After a reconnection: the current switches and stop, whatever was missed meanwhile. */
  private resynchronize(): void {
    this.read({ type: 'switches' });
    this.read({ type: 'emergency-stop' });
  }

  /** Queues the read that turns `hint` into an event; a failed read is tried again later. */
  private read(hint: ChangeHint): void {
    this.reads = this.reads
      .then(async () => {
        const event = await this.eventOf(hint);
        if (event !== undefined) deliver(this.listeners, event);
      })
      .catch(() => {
        if (this.closed) return;
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.resynchronize(), RESYNC_RETRY_MS).unref();
      });
  }

  private async eventOf(hint: ChangeHint): Promise<StoreEvent | undefined> {
    if (hint.type === 'switches') return { type: 'switches', switches: await this.switches() };
    if (hint.type === 'rollout') return typeof hint.id === 'string' ? hint : undefined;
    if (hint.type !== 'emergency-stop') return undefined;
    const stop = await this.emergencyStop();
    return stop === undefined ? undefined : { type: 'emergency-stop', stop };
  }

  private async transaction<T>(what: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.run(what, async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        broken = await client.query('ROLLBACK').then(
          () => undefined,
          (rollbackError: Error) => rollbackError,
        );
        throw error;
      } finally {
        client.release(broken);
      }
    });
  }

  /** Runs a database call; STORE_CLOSED after close(), STORE_UNAVAILABLE naming the database when it fails. */
  private async run<T>(what: string, call: () => Promise<T>): Promise<T> {
    if (this.closed) throw storeClosed();
    try {
      return await call();
    } catch (error) {
      throw new KeelError(
        'STORE_UNAVAILABLE',
        `Rollout store: ${what} failed on PostgreSQL at ${this.address} (DATABASE_URL): ${errorMessage(error)}.`,
        { cause: error },
      );
    }
  }
}

async function readSwitches(client: Pool | PoolClient, namespace: string): Promise<SwitchState[]> {
  const { rows } = await client.query<SwitchRow>(SQL.switches, [namespace]);
  return sortedSwitches(
    rows.map((row) => ({ key: row.key, weight: row.weight, updatedAt: Number(row.updated_at) })),
  );
}

/**
 * The LISTEN connection: reconnects with backoff whenever it drops or its heartbeat fails, and
 * calls `reconnected` once it listens again.
 */
class ChangeListener {
  private client: Client | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private reconnecting: Promise<void> | undefined;
  private readonly stopping = new AbortController();

  constructor(
    private readonly config: ClientConfig,
    private readonly channel: string,
    private readonly notified: (payload: string) => void,
    private readonly reconnected: () => void,
  ) {}

  async start(): Promise<void> {
    this.client = await this.connect();
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS).unref();
  }

  async close(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.heartbeat);
    await this.reconnecting;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<Client> {
    const client = new Client({ ...this.config, query_timeout: HEARTBEAT_TIMEOUT_MS });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message: Notification) => {
      if (message.channel === this.channel) this.notified(message.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
  }

  private beat(): void {
    const client = this.client;
    client?.query('SELECT 1').catch(() => this.lost(client));
  }

  private lost(client: Client): void {
    if (client !== this.client || this.stopping.signal.aborted) return;
    this.client = undefined;
    client.end().catch(() => {});
    this.reconnecting = this.reconnect().finally(() => {
      this.reconnecting = undefined;
    });
  }

  private async reconnect(): Promise<void> {
    const { signal } = this.stopping;
    for (let attempt = 0; !signal.aborted; attempt++) {
      const delay = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_BASE_DELAY_MS * 2 ** Math.min(attempt, 10));
      const waited = await sleep(delay, true, { signal }).catch(() => false);
      if (!waited) return;
      const client = await this.connect().catch(() => undefined);
      if (client === undefined) continue;
      if (signal.aborted) {
        await client.end().catch(() => {});
        return;
      }
      this.client = client;
      this.reconnected();
      return;
    }
  }
}

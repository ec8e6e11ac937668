/**
 * The file store's own promises, beyond the contract every store keeps (that suite is
 * test/integration/rollout/store.test.ts): the state survives a restart, a write replaces the
 * file whole or not at all, a write that fails changes nothing, a file it cannot read is refused
 * and left alone, one data dir serves one process, and the audit keeps the newest 10,000 records.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isKeelError } from '../../../src/errors.js';
import type { AuditRecord, RolloutStore, StoreEvent } from '../../../src/rollout/state.js';
import { AUDIT_CAP, openFileRolloutStore, stateFilePath } from '../../../src/rollout/store/index.js';

const NAMESPACE = 'shop';

let dataDir = '';
let opened: RolloutStore[] = [];

async function open(namespace = NAMESPACE): Promise<RolloutStore> {
  const store = await openFileRolloutStore({ dataDir, namespace });
  opened.push(store);
  return store;
}

beforeEach(async () => {
  dataDir = join(await mkdtemp(join(tmpdir(), 'keel-file-store-')), 'data'); // created by the store
});

afterEach(async () => {
  await Promise.all(opened.map((store) => store.close()));
  opened = [];
  await rm(join(dataDir, '..'), { recursive: true, force: true });
});

describe('file rollout store', () => {
  it('keeps its state in one JSON file that a restarted store reads back', async () => {
    const store = await open();
    await store.setSwitches({ 'cache:read-only': 10 }, audit(1, 'set'));
    await store.setEmergencyStop({ active: true, actor: 'operator:ann', reason: 'stop', at: 2 }, {});
    await store.close();

    const file = JSON.parse(await readFile(stateFilePath(dataDir, NAMESPACE), 'utf8'));
    expect(file).toMatchObject({ format: 'keel-rollout-state/1', namespace: NAMESPACE });
    const restarted = await open();
    expect(await restarted.switches()).toEqual([{ key: 'cache:read-only', weight: 10, updatedAt: 1 }]);
    expect((await restarted.emergencyStop())?.active).toBe(true);
    expect(await restarted.audit()).toHaveLength(2);
  });

  it('writes one change at a time, each by replacing the whole file, leaving no temporary file', async () => {
    const store = await open();
    const changes = Array.from({ length: 50 }, (_, i) =>
      store.setSwitches({ [`flag:f${i}`]: i }, audit(i, `f${i}`)),
    );
    await Promise.all(changes);
    const file = JSON.parse(await readFile(stateFilePath(dataDir, NAMESPACE), 'utf8'));
    expect(file.switches).toHaveLength(50);
    expect(file.audit).toHaveLength(50);
    expect(file.audit[0].reason).toBe('f49');
    expect((await readdir(dataDir)).sort()).toEqual(['rollout-shop.json', 'rollout-shop.json.lock']);
  });

  it('refuses a change it cannot write, and then nothing of it is visible', async () => {
    const store = await open();
    const events: StoreEvent[] = [];
    await store.subscribe((event) => events.push(event));
    await store.setSwitches({ 'cache:read-only': 10 }, audit(1, 'written'));
    const blocker = `${stateFilePath(dataDir, NAMESPACE)}.${process.pid}.tmp`;
    await mkdir(blocker); // the temporary file cannot be created

    await expect(store.setSwitches({ 'cache:read-only': 90 }, audit(2, 'lost'))).rejects.toSatisfy((error) =>
      isKeelError(error, 'STORE_UNAVAILABLE'),
    );
    expect((await store.switches())[0]?.weight).toBe(10);
    expect(await store.audit()).toHaveLength(1);
    expect(events).toHaveLength(1);

    await rm(blocker, { recursive: true });
    await store.setSwitches({ 'cache:read-only': 90 }, audit(3, 'written again'));
    expect((await store.switches())[0]?.weight).toBe(90);
  });

  it('refuses a file that is not its state, naming it and leaving it as it was', async () => {
    const path = stateFilePath(dataDir, NAMESPACE);
    await mkdir(dataDir, { recursive: true });
    for (const text of ['{"format": "keel-rollout-state/1", "switc', '{"hello": "world"}']) {
      await writeFile(path, text);
      const error = await open().catch((thrown: unknown) => thrown);
      expect(isKeelError(error, 'STORE_CORRUPT')).toBe(true);
      expect((error as Error).message).toContain(path);
      expect(await readFile(path, 'utf8')).toBe(text);
    }
    await writeFile(path, JSON.stringify(stateFile('another-service', [])));
    await expect(open()).rejects.toThrow(/belongs to namespace "another-service"/);
  });

  it('serves one process: a data dir in use by another live process is refused', async () => {
    await mkdir(dataDir, { recursive: true });
    const lock = `${stateFilePath(dataDir, NAMESPACE)}.lock`;
    await writeFile(lock, String(process.ppid)); // the test runner: alive, and not this process
    const error = await open().catch((thrown: unknown) => thrown);
    expect(isKeelError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/in use by process \d+.*REDIS_URL or DATABASE_URL/);
  });

  it('takes over the lock of a process that has died, and removes it when the last handle closes', async () => {
    await mkdir(dataDir, { recursive: true });
    const lock = `${stateFilePath(dataDir, NAMESPACE)}.lock`;
    const dead = spawn(process.execPath, ['-e', '']);
    await once(dead, 'exit');
    await writeFile(lock, String(dead.pid));

    const [first, second] = [await open(), await open()];
    expect(await readFile(lock, 'utf8')).toBe(String(process.pid));
    await first.close();
    expect(await readFile(lock, 'utf8')).toBe(String(process.pid)); // the second handle still uses it
    await second.close();
    await expect(readFile(lock, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it(`keeps the newest ${AUDIT_CAP} audit records`, async () => {
    await mkdir(dataDir, { recursive: true });
    const full = Array.from({ length: AUDIT_CAP }, (_, i) => audit(AUDIT_CAP - i, `old ${AUDIT_CAP - i}`));
    await writeFile(stateFilePath(dataDir, NAMESPACE), JSON.stringify(stateFile(NAMESPACE, full)));
    const store = await open();
    await store.setSwitches({ 'cache:read-only': 1 }, audit(AUDIT_CAP + 1, 'newest'));

    const records = await store.audit({ limit: AUDIT_CAP + 10 });
    expect(records).toHaveLength(AUDIT_CAP);
    expect(records[0]?.reason).toBe('newest');
    expect(records.at(-1)?.reason).toBe('old 2'); // 'old 1', the oldest, was dropped
  });
});

function audit(at: number, reason: string): Omit<AuditRecord, 'switches'> {
  return { at, actor: 'operator:test', action: 'set', reason };
}

function stateFile(namespace: string, auditRecords: Omit<AuditRecord, 'switches'>[]) {
  return { format: 'keel-rollout-state/1', namespace, switches: [], rollouts: [], audit: auditRecords };
}

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { SOURCES, sourceOf, TRACES } from '../../../bench/hitratio/catalog.js';
import { lruHits } from '../../../bench/hitratio/lru.js';
import { NEVER, nextUses, optHits } from '../../../bench/hitratio/opt.js';
import { readTrace } from '../../../bench/hitratio/readers.js';
import { readReference } from '../../../bench/hitratio/reference.js';
import { locateTraces, whereToGet } from '../../../bench/hitratio/trace-files.js';

const trace = (...ids: number[]) => Int32Array.from(ids);
const opt = (ids: Int32Array, unique: number, capacity: number) =>
  optHits(ids, nextUses(ids, unique), unique, capacity);

// Belady's textbook string 1,2,3,4,1,2,5,1,2,3,4,5 as dense ids, with 3 frames.
const BELADY = trace(0, 1, 2, 3, 0, 1, 4, 0, 1, 2, 3, 4);
// A loop one key longer than the cache: LRU's worst case.
const LOOP = trace(0, 1, 2, 0, 1, 2, 0, 1, 2);

describe('LRU', () => {
  it('hits on recently used keys and evicts the least recently used', () => {
    // 0 m, 1 m, 0 h, 2 m (evicts 1), 0 h, 1 m.
    expect(lruHits(trace(0, 1, 0, 2, 0, 1), 3, 2)).toBe(2);
    // 0 m, 0 h, 1 m (evicts 0), 1 h, 0 m.
    expect(lruHits(trace(0, 0, 1, 1, 0), 2, 1)).toBe(2);
    // 10 faults in 12 accesses: only the 1 and 2 after the 5 hit.
    expect(lruHits(BELADY, 5, 3)).toBe(2);
    expect(lruHits(LOOP, 3, 2)).toBe(0);
    expect(lruHits(LOOP, 3, 3)).toBe(6);
  });
});

describe('Belady OPT with bypass', () => {
  it('precomputes the next use of every access', () => {
    expect([...nextUses(trace(0, 1, 0, 2, 0, 1), 3)]).toEqual([2, 5, 4, NEVER, NEVER, NEVER]);
  });

  it('keeps what is used soonest and does not admit what is used latest', () => {
    // 0 m, 1 m, 0 h, 2 m (used never again: bypassed), 0 h, 1 h.
    expect(opt(trace(0, 1, 0, 2, 0, 1), 3, 2)).toBe(3);
    // The textbook's 7 faults: hits on 1, 2, 1, 2, 3.
    expect(opt(BELADY, 5, 3)).toBe(5);
    // Bypass keeps 0 and 1 and never admits 2: 4 hits, where demand paging (always admit) gets 3.
    expect(opt(LOOP, 3, 2)).toBe(4);
    expect(opt(LOOP, 3, 3)).toBe(6);
  });
});

describe('trace readers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-hitratio-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const int64BE = (values: readonly bigint[]) => {
    const bytes = Buffer.alloc(8 * values.length);
    for (let i = 0; i < values.length; i++) bytes.writeBigInt64BE(values[i], 8 * i);
    return bytes;
  };
  const int32BE = (values: readonly number[]) => {
    const bytes = Buffer.alloc(4 * values.length);
    for (let i = 0; i < values.length; i++) bytes.writeInt32BE(values[i], 4 * i);
    return bytes;
  };

  it('expands ARC block ranges into one key per block (zstd)', async () => {
    const path = join(dir, 'tiny.lis.zst');
    execFileSync('zstd', ['-q', '-o', path], { input: '10 3 0 0\n11 1 0 1\n5 2 0 2\n' });
    // Blocks 10, 11, 12, 11, 5, 6.
    expect(await readTrace(path, 'arc')).toEqual({ ids: trace(0, 1, 2, 1, 3, 4), unique: 5 });
  });

  it('rejects an ARC line without four fields', async () => {
    const path = join(dir, 'bad.lis.zst');
    execFileSync('zstd', ['-q', '-o', path], { input: '10 3 0 0\n11 1\n' });
    await expect(readTrace(path, 'arc')).rejects.toThrow('bad.lis.zst:2');
  });

  it('skips LIRS `*` markers and empty lines and trims CRLF (gzip)', async () => {
    const path = join(dir, 'tiny.trace.gz');
    writeFileSync(path, gzipSync('3\r\n*\r\n7\r\n\r\n3\r\n9'));
    expect(await readTrace(path, 'lirs')).toEqual({ ids: trace(0, 1, 0, 2), unique: 3 });
  });

  it('reads Corda keys as full 64-bit integers (gzip)', async () => {
    const path = join(dir, 'tiny_corda.gz');
    // 2^62 + 1 and 2^62 + 2 are one and the same double: only 64-bit keys keep them apart.
    writeFileSync(path, gzipSync(int64BE([(1n << 62n) + 1n, -1n, (1n << 62n) + 1n, (1n << 62n) + 2n])));
    expect(await readTrace(path, 'corda')).toEqual({ ids: trace(0, 1, 0, 2), unique: 3 });
  });

  it('reads cache2k keys as signed 32-bit integers (xz)', async () => {
    const path = join(dir, 'tiny.trace.xz');
    writeFileSync(path, execFileSync('xz', ['-z', '-c'], { input: int32BE([-268435455, 7, -268435455, 0]) }));
    expect(await readTrace(path, 'cache2k')).toEqual({ ids: trace(0, 1, 0, 2), unique: 3 });
  });

  it('names the Debian package when a decompressor is missing', async () => {
    const path = join(dir, 'no-cli.trace.xz');
    writeFileSync(path, '');
    const searchPath = process.env.PATH;
    process.env.PATH = dir; // a folder without `xz`
    try {
      await expect(readTrace(path, 'cache2k')).rejects.toThrow('Install the Debian package xz-utils');
    } finally {
      process.env.PATH = searchPath;
    }
  });
});

describe('trace catalog and trace files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-hitratio-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const byName = (name: string) => TRACES.find((spec) => spec.name === name)!;

  it('lists ascending cache sizes and the published source of every trace', () => {
    for (const spec of TRACES) {
      expect(spec.sizes.length).toBeGreaterThan(0);
      expect([...spec.sizes].sort((a, b) => a - b)).toEqual([...new Set(spec.sizes)]);
      expect(spec.source).toBe(SOURCES[spec.format]);
    }
    expect(byName('OLTP').sizes).toEqual([250, 500, 750, 1000, 1250, 1500, 1750, 2000, 5000, 10000, 15000]);
    expect(sourceOf(byName('OLTP'))).toBe('moka-rs/cache-trace arc/OLTP.lis.zst');
    expect(sourceOf(byName('loop'))).toBe(
      'ben-manes/caffeine simulator/src/main/resources/com/github/benmanes/caffeine/cache/simulator/parser/lirs/loop.trace.gz',
    );
  });

  it('splits the selected traces into present and missing files', async () => {
    writeFileSync(join(dir, 'gli.trace.gz'), '');
    mkdirSync(join(dir, 'cs.trace.gz')); // a folder of that name is not the file
    const selected = [byName('gli'), byName('cs'), byName('OLTP')];
    const files = await locateTraces(selected, dir);
    expect(files.folderExists).toBe(true);
    expect(files.present.map((spec) => spec.name)).toEqual(['gli']);
    expect(files.missing.map((spec) => spec.name)).toEqual(['cs', 'OLTP']);
    const absent = await locateTraces(selected, join(dir, 'absent'));
    expect(absent).toEqual({ folderExists: false, present: [], missing: selected });
  });

  it('says where to get files: one line per source folder, at its commit', () => {
    const lines = whereToGet([byName('OLTP'), byName('gli'), byName('P6'), byName('web07')]);
    expect(lines).toEqual([
      `https://github.com/moka-rs/cache-trace/tree/${SOURCES.arc.commit}/arc: OLTP.lis.zst, P6.lis.zst`,
      `https://github.com/ben-manes/caffeine/tree/${SOURCES.lirs.commit}/${SOURCES.lirs.folder}: gli.trace.gz`,
      `https://github.com/ben-manes/caffeine/tree/${SOURCES.cache2k.commit}/${SOURCES.cache2k.folder}: web07.trace.xz`,
    ]);
  });

  it('treats a missing reference file as absent, and reads one that is there', async () => {
    expect(await readReference(join(dir, 'reference-lru-opt.md'))).toBeUndefined();
    const path = join(dir, 'reference.md');
    writeFileSync(
      path,
      '**gli**\n\n| cache size | LRU % | OPT bypass % | OPT demand % |\n|---:|---:|---:|---:|\n| 1,000 | 11.21 | 53.15 | 53.13 |\n',
    );
    expect(await readReference(path)).toEqual(
      new Map([['gli', [{ size: 1000, lru: 11.21, optBypass: 53.15 }]]]),
    );
  });
});

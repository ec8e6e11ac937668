import { setImmediate as endOfTurn } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TurnWriter } from '../../../../src/cache/redis/turn-writer.js';
import { type RedisServerHandle, startRedisServer } from '../../../support/index.js';

// A server of this file's own: its read counter then counts this file's writes only.
let server: RedisServerHandle;
let client: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis(server.url, { enableAutoPipelining: false });
  await client.ping();
});

afterAll(async () => {
  client.disconnect();
  await server.stop();
});

/** Blocks this thread (timers, I/O and all) for `ms`. */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Read events Redis has processed (INFO stats), including the one of this INFO command. */
async function redisReads(): Promise<number> {
  const stats = await client.info('stats');
  return Number(/total_reads_processed:(\d+)/.exec(stats)?.[1]);
}

describe('TurnWriter', () => {
  it('sends the commands of one turn in one write, with every reply intact', async () => {
    const writer = new TurnWriter(client);
    const before = await redisReads();
    const writes = Array.from({ length: 100 }, (_, i) => {
      writer.hold();
      return client.set(`turn:${i}`, `value ${i}`);
    });
    // Held: nothing has left the process yet.
    expect(client.stream.writableCorked).toBe(1);
    expect(client.stream.writableLength).toBeGreaterThan(0);
    await Promise.all(writes);
    expect(client.stream.writableCorked).toBe(0);
    // One read event for the hundred commands, one for the INFO that counts them.
    expect((await redisReads()) - before).toBe(2);
    writer.hold();
    const values = await client.mget(Array.from({ length: 100 }, (_, i) => `turn:${i}`));
    expect(values).toEqual(Array.from({ length: 100 }, (_, i) => `value ${i}`));
  });

  it('without holding, each command is its own write', async () => {
    const before = await redisReads();
    for (let i = 0; i < 20; i++) await client.set(`alone:${i}`, 'x');
    expect((await redisReads()) - before).toBe(21);
  });

  it('flush sends what is held at once; the next command is held again until the end of the turn', async () => {
    const writer = new TurnWriter(client);
    writer.hold();
    const first = client.get('turn:1');
    writer.flush();
    expect(client.stream.writableCorked).toBe(0);
    expect(client.stream.writableLength).toBe(0);
    writer.hold();
    const second = client.get('turn:2');
    expect(client.stream.writableCorked).toBe(1);
    await endOfTurn();
    expect(client.stream.writableCorked).toBe(0);
    expect([await first, await second]).toEqual(['value 1', 'value 2']);
  });

  it('the first reply of a turn sends what is held at once, without waiting for the end of the turn', async () => {
    const writer = new TurnWriter(client);
    // In a timer callback: the replies that arrive are read before the turn ends.
    const corkedWhenTheReplyCame = await new Promise<number>((resolve) => {
      setTimeout(() => {
        const ping = client.ping();
        blockFor(20); // PING's reply is now waiting in this process's socket buffer
        writer.hold();
        void client.set('after-reply', 'sent');
        void ping.then(() => resolve(client.stream.writableCorked));
      }, 0);
    });
    expect(corkedWhenTheReplyCame).toBe(0);
    expect(await client.get('after-reply')).toBe('sent');
  });
});

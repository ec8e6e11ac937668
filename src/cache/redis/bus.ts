/**
 * InvalidationBus: keeps the L1 of every instance sharing a namespace coherent, over Redis pub/sub.
 *
 * Every `set`, `delete` and invalidation on one instance must remove the affected keys from the
 * other instances' L1 (they then read the new value from Redis). The bus publishes what changed —
 * keys, tags, patterns, or "everything" — and each receiver applies it to its own L1 with its own
 * tag and dependency index. Messages carry the sender's instance id (a sender ignores its own) and
 * the send time (receivers record the lag). What one instance changes within a tick goes out as
 * one message, so a burst of writes costs one PUBLISH.
 *
 * Pub/sub delivers at most once: a receiver that was disconnected has missed messages and cannot
 * know which. So whenever the subscription connection becomes ready again after having been down,
 * the receiver is told to resync, and the manager clears its L1 (it refills from Redis).
 *
 * The bus also carries "filled" notices: the keys a stampede-lock holder has just written, which
 * wake the instances waiting for them (stampede.ts).
 *
 * Message format (JSON): { s: sender, t: sent at (ms), k?: keys, g?: tags, p?: patterns, c?: 1,
 * f?: filled keys }. A message that does not parse is counted and ignored.
 */
import { LatencyHistogram } from '../stats/index.js';
import type { RedisClient } from './connection.js';

export interface BusChanges {
  keys: readonly string[];
  tags: readonly string[];
  patterns: readonly string[];
  clear: boolean;
  filled: readonly string[];
}

export interface BusHandlers {
  /** Another instance changed these; drop them from L1. */
  onChanges(changes: BusChanges): void;
  /** Messages may have been missed: drop the whole L1. */
  onResync(): void;
}

interface WireMessage {
  s: string;
  t: number;
  k?: string[];
  g?: string[];
  p?: string[];
  c?: 1;
  f?: string[];
}

export class BusCounters {
  published = 0;
  received = 0;
  malformed = 0;
  resyncs = 0;
  publishFailures = 0;
}

const NONE: readonly string[] = Object.freeze([]);

export class InvalidationBus {
  readonly counters = new BusCounters();
  readonly lag = new LatencyHistogram();
  private outgoing: WireMessage | undefined;
  private wasReady = false;
  private subscribed = false;
  private lostConnection = false;
  private closed = false;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly instanceId: string,
    private readonly publish: (message: string) => Promise<boolean>,
    private readonly handlers: BusHandlers,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    subscriber.on('close', () => {
      if (this.wasReady) this.lostConnection = true;
    });
    subscriber.on('ready', () => {
      // A subscription that failed (Redis was down at start) is made once the connection is up;
      // ioredis itself re-subscribes the ones that succeeded.
      if (!this.subscribed) this.start().catch(() => {});
      if (this.lostConnection) {
        this.lostConnection = false;
        this.counters.resyncs++;
        this.handlers.onResync();
      }
      this.wasReady = true;
    });
  }

  /** Subscribes; resolves once subscribed, rejects when the subscriber cannot connect. */
  async start(): Promise<void> {
    await this.subscriber.subscribe(this.channel);
    this.subscribed = true;
  }

  /** True when the subscription is live (messages are being received). */
  get connected(): boolean {
    return this.subscriber.status === 'ready';
  }

  /**
   * Marks the subscriber as having been down before its first connection, so that connecting
   * later resyncs: a manager that started without Redis may hold values others have changed.
   */
  startedDisconnected(): void {
    this.lostConnection = true;
  }

  keysChanged(keys: Iterable<string>): void {
    for (const key of keys) this.append('k', key);
  }

  tagsChanged(tags: Iterable<string>): void {
    for (const tag of tags) this.append('g', tag);
  }

  patternChanged(pattern: string): void {
    this.append('p', pattern);
  }

  cleared(): void {
    this.message().c = 1;
  }

  /**
   * Announces `keys` now, in a message of their own, through `send`: for a caller that must know
   * the message left before it goes on (a drain, before it forgets the keys it announces).
   * Rejects when `send` does.
   */
  async keysChangedNow(keys: readonly string[], send: (message: string) => Promise<unknown>): Promise<void> {
    const message: WireMessage = { s: this.instanceId, t: Date.now(), k: keys as string[] };
    await send(JSON.stringify(message));
    this.counters.published++;
  }

  filled(key: string): void {
    this.append('f', key);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscriber.removeAllListeners('message');
  }

  private append(field: 'k' | 'g' | 'p' | 'f', item: string): void {
    const message = this.message();
    const list = message[field];
    if (list === undefined) message[field] = [item];
    else list.push(item);
  }

  /** The message being gathered this tick (scheduling its send when it is new). */
  private message(): WireMessage {
    if (this.outgoing === undefined) {
      this.outgoing = { s: this.instanceId, t: 0 };
      process.nextTick(() => this.send());
    }
    return this.outgoing;
  }

  private send(): void {
    const message = this.outgoing as WireMessage;
    this.outgoing = undefined;
    if (this.closed) return;
    message.t = Date.now();
    this.counters.published++;
    void this.publish(JSON.stringify(message)).then((sent) => {
      if (!sent) this.counters.publishFailures++;
    });
  }

  private receive(text: string): void {
    let message: WireMessage;
    try {
      message = JSON.parse(text) as WireMessage;
      if (typeof message.s !== 'string' || typeof message.t !== 'number')
        throw new Error('not a bus message');
    } catch {
      this.counters.malformed++;
      return;
    }
    if (message.s === this.instanceId) return;
    this.counters.received++;
    this.lag.record(Math.max(0, Date.now() - message.t));
    this.handlers.onChanges({
      keys: stringList(message.k),
      tags: stringList(message.g),
      patterns: stringList(message.p),
      clear: message.c === 1,
      filled: stringList(message.f),
    });
  }
}

function stringList(value: unknown): readonly string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : NONE;
}

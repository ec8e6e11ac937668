/**
 * ReadBatcher: coalesces the reads issued in the same tick into one MGET (one per slot in
 * Cluster), as DataLoader does for databases.
 *
 * A read queues its key and, if it is the first of the tick, schedules a flush with
 * `process.nextTick`, which runs once the current burst of promise callbacks has drained: every
 * read issued by code resumed in that burst (64 requests woken by one reply, say) shares the
 * batch, and none waits for I/O. The same key read twice in a batch is fetched once. A failed
 * batch fails each of its reads, so the caller's resilience policy sees one failure per read.
 */

type Fetch = (keys: readonly string[]) => Promise<(Buffer | null)[]>;

interface Waiter {
  resolve: (value: Buffer | null) => void;
  reject: (error: unknown) => void;
}

export class ReadBatcher {
  private pending = new Map<string, Waiter[]>();
  private scheduled = false;
  /** Batches sent and keys fetched, for the statistics. */
  batches = 0;
  keysFetched = 0;

  constructor(private readonly fetch: Fetch) {}

  get(key: string): Promise<Buffer | null> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(key);
      if (waiters === undefined) this.pending.set(key, [{ resolve, reject }]);
      else waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    const keys = [...batch.keys()];
    this.batches++;
    this.keysFetched += keys.length;
    this.fetch(keys).then(
      (values) => {
        keys.forEach((key, i) => {
          for (const waiter of batch.get(key) as Waiter[]) waiter.resolve(values[i]);
        });
      },
      (error: unknown) => {
        for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
      },
    );
  }
}

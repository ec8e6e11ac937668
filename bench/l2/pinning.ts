/**
 * Pins the JavaScript thread of each contender's process to one CPU, so that Redis, on the same
 * machine, is not scheduled onto that CPU alongside it.
 *
 * Why: a contender and Redis answer each other all the time over loopback, and Linux tends to
 * wake a task on the CPU of the task that woke it. Left to the scheduler, the contender's event
 * loop and Redis spend stretches of seconds sharing one CPU while the other idles, then are spread
 * again. Measured on a 2-CPU machine, two processes running the same build of Keel through
 * scenario B, rounds paired: unpinned, the per-round ratio of two identical builds ranged over
 * 0.55–1.76 (whole runs of rounds at 0.6); with the JavaScript thread pinned, 0.86–1.17.
 *
 * Only the main thread is pinned (`taskset -p` with a thread id changes that thread alone), and only
 * once the process has said it is running (worker.ts sends `ready` first thing), by when V8's
 * helper threads (garbage collection, compilation) exist: they keep every CPU, as they would in
 * an unpinned service, so a library that leans on parallel garbage collection is not made to run
 * it on the event loop's CPU. Every contender is pinned to the same CPU; only one runs at a time.
 *
 * BENCH_PIN_CPU chooses the CPU (default 0); `off` leaves placement to the scheduler. Pinning is
 * skipped, and the report says why, on a machine with one CPU or without `taskset` (util-linux).
 */
import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The CPU the contenders' JavaScript threads run on, or why they are not pinned. */
export type Placement = { cpu: number } | { unpinned: string };

/** Where contenders go on this machine, from BENCH_PIN_CPU. */
export function placementFromEnv(setting = process.env.BENCH_PIN_CPU ?? '0'): Placement {
  if (setting === 'off') return { unpinned: 'BENCH_PIN_CPU=off' };
  const cpu = Number(setting);
  const count = cpus().length;
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= count) {
    throw new Error(`BENCH_PIN_CPU must be a CPU number from 0 to ${count - 1}, or off (got ${setting})`);
  }
  if (count < 2) return { unpinned: 'one CPU, shared with Redis' };
  if (process.platform !== 'linux') return { unpinned: `taskset is Linux-only (${process.platform})` };
  return { cpu };
}

/**
 * Pins thread `threadId` (a process's main thread has the process's id) to the placement's CPU.
 * Returns the placement that holds afterwards: unpinned, with the reason, when taskset failed.
 */
export async function pinThread(threadId: number, placement: Placement): Promise<Placement> {
  if (!('cpu' in placement)) return placement;
  try {
    await run('taskset', ['-p', '-c', String(placement.cpu), String(threadId)]);
    return placement;
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no taskset (util-linux)' : String(error);
    return { unpinned: reason };
  }
}

export function describePlacement(placement: Placement): string {
  return 'cpu' in placement
    ? `each contender's JavaScript thread on CPU ${placement.cpu} (BENCH_PIN_CPU)`
    : `contenders unpinned: ${placement.unpinned}`;
}

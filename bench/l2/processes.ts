/**
 * Each contender of `npm run bench:l2` runs in a process of its own (bench/l2/worker.ts), and the
 * coordinating process asks them for rounds one at a time, so only one contender runs at any
 * moment. Why separate processes: in one process, the heap one library keeps (a memory layer of
 * 10,000 entries, its Redis client's buffers) and the collections its allocations trigger land on
 * whichever contender runs next, and shared code (ioredis, msgpackr) is compiled for everyone's
 * call patterns at once. Measured on scenario B: in one process, Keel ÷ BentoCache moved with the
 * length of a round (2.56× at 40,000 getOrSet per round, 2.99× at 100,000); in processes of their
 * own it does not (2.78×, 2.80×). A production service runs one cache library, in its own process.
 *
 * A process is started with `ContenderProcess.start`, which waits for the worker's `ready` and then
 * pins its JavaScript thread (pinning.ts tells why).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ContenderName } from './contenders.js';
import type { RoundResult } from './measure.js';
import { type Placement, pinThread } from './pinning.js';
import type { Answer, Request } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export class ContenderProcess {
  private readonly child: ChildProcess;
  private readonly started: Promise<void>;
  /** Where the process's JavaScript thread runs (set by `start`). */
  placement: Placement = { unpinned: 'not started' };

  /** Starts the contender's process and, once it runs, places its JavaScript thread. */
  static async start(name: ContenderName, scenario: string, placement: Placement): Promise<ContenderProcess> {
    const contender = new ContenderProcess(name, scenario);
    await contender.started;
    contender.placement = await pinThread(contender.child.pid as number, placement);
    return contender;
  }

  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();

  private constructor(
    readonly name: ContenderName,
    scenario: string,
  ) {
    this.child = fork(WORKER, [scenario, name], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    this.started = new Promise((resolve, reject) => {
      this.child.once('message', () => resolve());
      this.child.once('exit', (code) =>
        reject(new Error(`${name}'s process exited (${code}) before it was ready`)),
      );
    });
    this.child.on('message', (answer: Answer | 'ready') => {
      if (answer === 'ready') return;
      const waiter = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      if (answer.error === undefined) waiter?.resolve(answer.result);
      else waiter?.reject(new Error(`${name}: ${answer.error}`));
    });
    this.child.on('exit', (code) => {
      for (const waiter of this.pending.values())
        waiter.reject(new Error(`${name}'s process exited (${code})`));
      this.pending.clear();
    });
  }

  prepare(): Promise<void> {
    return this.request({ command: 'prepare' }) as Promise<void>;
  }

  round(round: number): Promise<RoundResult> {
    return this.request({ command: 'round', round }) as Promise<RoundResult>;
  }

  async finish(): Promise<void> {
    await this.request({ command: 'finish' });
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill();
  }

  private request(request: Omit<Request, 'id'>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, ...request } satisfies Request);
    });
  }
}

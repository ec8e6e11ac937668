/**
 * Each contender of `npm run bench:l2` runs in a process of its own (bench/l2/worker.ts), and the
 * coordinating process asks them for rounds one at a time, so only one contender runs at any
 * moment. Why separate processes: in one process, the heap one library keeps (a memory layer of
 * 10,000 entries, its Redis client's buffers) and the collections its allocations trigger land on
 * whichever contender runs next, and shared code (ioredis, msgpackr) is compiled for everyone's
 * call patterns at once. Measured on scenario B: in one process, Keel ÷ BentoCache moved with the
 * length of a round (2.56× at 40,000 getOrSet per round, 2.99× at 100,000); in processes of their
 * own it does not (2.78×, 2.80×). A production service runs one cache library, in its own process.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ContenderName } from './contenders.js';
import type { RoundResult } from './measure.js';
import type { Answer, Request } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export class ContenderProcess {
  private readonly child: ChildProcess;
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();

  constructor(
    readonly name: ContenderName,
    scenario: string,
  ) {
    this.child = fork(WORKER, [scenario, name], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    this.child.on('message', (answer: Answer) => {
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

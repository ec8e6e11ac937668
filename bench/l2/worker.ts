/**
 * One contender's process in `npm run bench:l2`. Started by bench/l2/processes.ts with the
 * scenario and the contender's name as arguments; says `ready` once loaded (the coordinating
 * process then pins its JavaScript thread: pinning.ts); then answers the coordinating process's
 * requests one at a time over IPC: `prepare`, `round` (with its index), `finish`. Each answer
 * carries the request's id and either the result or the error's message; the process exits after
 * `finish`.
 */
import type { ContenderName } from './contenders.js';
import { GetScenario, type Scenario, ZipfScenario } from './measure.js';

export interface Request {
  id: number;
  command: 'prepare' | 'round' | 'finish';
  round?: number;
}

export interface Answer {
  id: number;
  result?: unknown;
  error?: string;
}

const [scenarioName, contenderName] = process.argv.slice(2) as [string, ContenderName];
const scenario: Scenario =
  scenarioName === 'get' ? new GetScenario(contenderName) : new ZipfScenario(contenderName);

async function answer(request: Request): Promise<unknown> {
  switch (request.command) {
    case 'prepare':
      return scenario.prepare();
    case 'round':
      return scenario.round(request.round ?? 0);
    case 'finish':
      return scenario.finish();
  }
}

process.send?.('ready');

process.on('message', (request: Request) => {
  answer(request).then(
    (result) => {
      process.send?.({ id: request.id, result } satisfies Answer);
      if (request.command === 'finish') process.disconnect();
    },
    (error: unknown) => {
      process.send?.({
        id: request.id,
        error: error instanceof Error ? error.stack : String(error),
      } satisfies Answer);
    },
  );
});

/**
 * wrk (the Debian package `wrk`) as the benchmark's load generator: a C program with an event loop
 * per thread, so the load it sends is never what limits a server measured on one core, as a load
 * generator in Node would be.
 *
 * The paths are written to a file that a small Lua script reads when each thread starts; every
 * request takes the next path, so N requests of a thread cover N distinct paths before any repeats
 * (threads start at different offsets). Results are read from wrk's report: requests per second,
 * the 99th percentile (`--latency`), socket errors and non-2xx/3xx answers. A script made with
 * `tail: true` also prints the latency of every 0.01 % from the 90th percentile up (wrk's own
 * histogram, read in its `done` hook), so that windows can be pooled (bench/lib/latency-tail.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

export interface WrkResult {
  rate: number;
  requests: number;
  p99Ms: number;
  /** Socket errors (connect, read, write, timeout) and answers outside 2xx/3xx. */
  errors: number;
  /** With a `tail` script: the latencies (ms) at the 90.00th, 90.01th, … 99.99th percentile. */
  tail?: number[];
}

/** The percentiles a `tail` script prints: 90 to 99.99, every 0.01. */
export const TAIL_FROM = 90;
export const TAIL_STEP = 0.01;
const TAIL_POINTS = 1_000;

export interface WrkLoad {
  url: string;
  /** The script that walks the paths (pathsScript). */
  script: string;
  seconds: number;
  connections: number;
  threads?: number;
}

/**
 * A Lua script that sends `paths` in turn, from a file of its own in `folder`. With `pauseMs`, each
 * connection waits that long before its next request (wrk's `delay`, not counted in latencies), so
 * the load is at most connections × 1000 / pauseMs requests per second: latency at a given load,
 * not at saturation.
 */
export function pathsScript(
  folder: string,
  paths: readonly string[],
  pauseMs?: number,
  options: { tail?: boolean } = {},
): string {
  const dir = mkdtempSync(join(folder, 'wrk-'));
  const list = join(dir, 'paths.txt');
  writeFileSync(list, `${paths.join('\n')}\n`);
  const script = join(dir, 'paths.lua');
  writeFileSync(
    script,
    `local paths, cursor = {}, 1
local threads = 0
setup = function(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end
init = function()
  for line in io.lines(${JSON.stringify(list)}) do paths[#paths + 1] = line end
  cursor = (offset % #paths) + 1
end
request = function()
  local path = paths[cursor]
  cursor = cursor % #paths + 1
  return wrk.format("GET", path)
end
${pauseMs === undefined ? '' : `delay = function() return ${pauseMs} end\n`}${options.tail === true ? TAIL_HOOK : ''}`,
  );
  return script;
}

export async function wrk(binary: string, load: WrkLoad): Promise<WrkResult> {
  const { stdout } = await run(binary, [
    `-t${load.threads ?? 1}`,
    `-c${load.connections}`,
    `-d${load.seconds}s`,
    '--latency',
    '-s',
    load.script,
    load.url,
  ]);
  return parseReport(stdout);
}

const TAIL_HOOK = `done = function(summary, latency, requests)
  local points = {}
  for i = 0, ${TAIL_POINTS - 1} do points[#points + 1] = latency:percentile(${TAIL_FROM} + i * ${TAIL_STEP}) end
  io.write("tail-us " .. table.concat(points, " ") .. "\\n")
end
`;

export function parseReport(report: string): WrkResult {
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(report)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(report)?.[1]);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)$/m.exec(report);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(report);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(report)?.[1] ?? 0);
  if (!Number.isFinite(rate) || p99 === null) throw new Error(`cannot read wrk's report:\n${report}`);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  return {
    rate,
    requests,
    p99Ms: Number(p99[1]) * (UNIT_MS[p99[2] as string] as number),
    errors: socketErrors + non2xx,
    tail: /^tail-us (.+)$/m
      .exec(report)?.[1]
      ?.split(' ')
      .map((us) => Number(us) / 1000),
  };
}

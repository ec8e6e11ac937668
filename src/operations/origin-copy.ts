/**
 * A copy of an origin for the rollout demo: an HTTP server on loopback that forwards every request
 * to the origin and relays its answer, as a second deployment of the same service in front of the
 * same database would answer (blue and green share their data). A fault can be switched on while
 * it runs: a share of requests answered 503, or latency added to every answer — the regression a
 * rollout's guards must catch.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

export type FaultKind = 'errors' | 'latency';

export interface Fault {
  kind: FaultKind | undefined;
  /** With `errors`: the share of requests answered 503. */
  errorShare: number;
  /** With `latency`: milliseconds added to every answer. */
  addedMs: number;
}

export interface OriginCopy {
  url: string;
  fault: Fault;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'host',
  'te',
  'trailer',
]);

/** Starts a copy of `origin` on a free loopback port, with no fault yet. */
export async function startOriginCopy(origin: string): Promise<OriginCopy> {
  const fault: Fault = { kind: undefined, errorShare: 0.2, addedMs: 150 };
  const server: Server = createServer((incoming, outgoing) => {
    void (async () => {
      if (fault.kind === 'latency') await sleep(fault.addedMs);
      if (fault.kind === 'errors' && Math.random() < fault.errorShare) {
        outgoing.writeHead(503, { 'content-type': 'application/json' });
        outgoing.end('{"errors":"the candidate fails on purpose (rollout demo)"}');
        return;
      }
      const answer = await request(new URL(incoming.url ?? '/', origin), {
        method: incoming.method as 'GET',
        headers: endToEnd(incoming.headers),
        body: incoming.method === 'GET' || incoming.method === 'HEAD' ? undefined : incoming,
      });
      outgoing.writeHead(answer.statusCode, endToEnd(answer.headers));
      await pipeline(answer.body, outgoing);
    })().catch(() => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    fault,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  return kept;
}

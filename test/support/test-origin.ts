/**
 * A programmable HTTP origin for the gateway's tests: each path answers with what the test says
 * (status, headers, body, delay, a body trickled in pieces), and every request it receives is
 * recorded, so a test can assert exactly what reached the origin (how many requests, which
 * headers). Request bodies are counted, and kept only up to KEPT_BODY_BYTES, so uploads of many
 * megabytes cost the test's process nothing. A handler may also take the raw response and write
 * whatever it likes (a hostile origin).
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOOPBACK } from './free-port.js';

/** Request bodies up to this size are kept as text in `received`; larger ones are only counted. */
const KEPT_BODY_BYTES = 1 << 20;

export interface OriginAnswer {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: string | Buffer;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Send the body in this many pieces, one every `everyMs` (headers first, at once). */
  trickle?: { pieces: number; everyMs: number };
  /** Write the answer by hand instead (the rest of the answer is ignored). */
  raw?: (response: ServerResponse) => void | Promise<void>;
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The body as text ('' when it was larger than KEPT_BODY_BYTES). */
  body: string;
  bodyBytes: number;
}

export type OriginHandler = (request: ReceivedRequest) => OriginAnswer | Promise<OriginAnswer>;

export interface TestOrigin {
  url: string;
  port: number;
  received: ReceivedRequest[];
  /** Requests received for a path (query included). */
  count(url: string): number;
  handle(handler: OriginHandler): void;
  close(): Promise<void>;
}

export async function startTestOrigin(handler: OriginHandler): Promise<TestOrigin> {
  let current = handler;
  const received: ReceivedRequest[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    let bodyBytes = 0;
    request.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.byteLength;
      if (bodyBytes <= KEPT_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', async () => {
      const seen = {
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: request.headers,
        body: bodyBytes <= KEPT_BODY_BYTES ? Buffer.concat(chunks).toString() : '',
        bodyBytes,
      };
      received.push(seen);
      const answer = await current(seen);
      if (answer.delayMs !== undefined) await sleep(answer.delayMs);
      if (answer.raw !== undefined) {
        await answer.raw(response);
        return;
      }
      await send(response, answer);
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${LOOPBACK}:${port}`,
    port,
    received,
    count: (url) => received.filter((request) => request.url === url).length,
    handle(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function send(response: ServerResponse, answer: OriginAnswer): Promise<void> {
  const headers: Record<string, string | string[]> = { 'content-type': 'application/json' };
  for (const [name, value] of Object.entries(answer.headers ?? {}))
    if (value !== undefined) headers[name] = value;
  response.writeHead(answer.status ?? 200, headers);
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body) : (answer.body ?? Buffer.alloc(0));
  if (answer.trickle === undefined) {
    response.end(body);
    return;
  }
  const { pieces, everyMs } = answer.trickle;
  const size = Math.ceil(body.byteLength / pieces);
  for (let at = 0; at < body.byteLength && !response.destroyed; at += size) {
    response.write(body.subarray(at, at + size));
    await sleep(everyMs);
  }
  response.end();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

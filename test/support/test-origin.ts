/**
 * A programmable HTTP origin for the gateway's tests: each path answers with what the test says
 * (status, headers, body, delay), and every request it receives is recorded, so a test can assert
 * exactly what reached the origin (how many requests, which conditional headers).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOOPBACK } from './free-port.js';

export interface OriginAnswer {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
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
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const seen = {
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      };
      received.push(seen);
      const answer = await current(seen);
      if (answer.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
      const headers: Record<string, string | string[]> = { 'content-type': 'application/json' };
      for (const [name, value] of Object.entries(answer.headers ?? {}))
        if (value !== undefined) headers[name] = value;
      response.writeHead(answer.status ?? 200, headers);
      response.end(answer.body ?? '');
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

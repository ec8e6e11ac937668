/**
 * Upstream: the gateway's connection pool to the origin (undici), and the one place requests are
 * forwarded.
 *
 * Forwarding follows RFC 9110 §7.6: hop-by-hop headers (and any named in `Connection`) are not
 * forwarded; `X-Forwarded-For`, `-Host` and `-Proto` and `Via` tell the origin who asked. The
 * response body is read whole, up to `maxBodyBytes`: cached entries are whole bodies, and a JSON
 * API's answers are small. A larger answer fails with UPSTREAM_TOO_LARGE rather than being cut.
 * A request gets `timeoutMs` for the origin's headers and again for its body; past either, it fails
 * with UPSTREAM_TIMEOUT. A connection error is UPSTREAM_UNAVAILABLE. All three name the origin.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { errors, Pool } from 'undici';
import { KeelError } from '../errors.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);
const VIA = '1.1 keel';

export interface UpstreamRequest {
  method: string;
  /** Path and query, as the client sent them. */
  url: string;
  headers: IncomingHttpHeaders;
  body?: Buffer;
  clientIp: string;
  timeoutMs: number;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** When the request left and when the whole response had arrived (ms since the epoch). */
  requestedAt: number;
  receivedAt: number;
}

export interface UpstreamOptions {
  /** Most open connections to the origin. */
  connections: number;
  maxBodyBytes: number;
}

export class Upstream {
  private readonly pool: Pool;

  constructor(
    readonly origin: URL,
    private readonly options: UpstreamOptions,
  ) {
    this.pool = new Pool(origin, { connections: options.connections, pipelining: 1 });
  }

  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    const requestedAt = Date.now();
    let response: Awaited<ReturnType<Pool['request']>>;
    try {
      response = await this.pool.request({
        method: request.method as 'GET',
        path: request.url,
        headers: forwardedHeaders(request),
        body: request.body,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
    } catch (error) {
      throw this.failure(error, request);
    }
    const chunks: Buffer[] = [];
    let length = 0;
    try {
      for await (const chunk of response.body) {
        length += (chunk as Buffer).byteLength;
        if (length > this.options.maxBodyBytes) {
          response.body.destroy();
          throw new KeelError(
            'UPSTREAM_TOO_LARGE',
            `${this.origin.origin}${request.url} answered more than ${this.options.maxBodyBytes} bytes; raise KEEL_MAX_BODY_BYTES.`,
          );
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      throw error instanceof KeelError ? error : this.failure(error, request);
    }
    return {
      status: response.statusCode,
      headers: response.headers as IncomingHttpHeaders,
      body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length),
      requestedAt,
      receivedAt: Date.now(),
    };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private failure(error: unknown, request: UpstreamRequest): KeelError {
    const target = `${this.origin.origin}${request.url}`;
    if (
      error instanceof errors.HeadersTimeoutError ||
      error instanceof errors.BodyTimeoutError ||
      error instanceof errors.ConnectTimeoutError
    ) {
      return new KeelError('UPSTREAM_TIMEOUT', `${target} did not answer within ${request.timeoutMs} ms.`, {
        cause: error,
      });
    }
    return new KeelError(
      'UPSTREAM_UNAVAILABLE',
      `${target} could not be reached (${(error as Error).message}); check that the origin is up.`,
      { cause: error },
    );
  }
}

function forwardedHeaders(request: UpstreamRequest): Record<string, string | string[]> {
  const named = new Set(
    String(request.headers.connection ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase()),
  );
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    headers[name] = value;
  }
  const forwardedFor = request.headers['x-forwarded-for'];
  headers['x-forwarded-for'] =
    forwardedFor === undefined ? request.clientIp : `${forwardedFor}, ${request.clientIp}`;
  if (request.headers.host !== undefined) headers['x-forwarded-host'] = request.headers.host;
  headers['x-forwarded-proto'] ??= 'http';
  headers.via = request.headers.via === undefined ? VIA : `${request.headers.via}, ${VIA}`;
  return headers;
}

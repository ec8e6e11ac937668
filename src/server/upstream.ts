/**
 * Upstream: the gateway's connections to the origin (an undici Pool), and the one place requests
 * are sent to it.
 *
 * An exchange is bounded as a whole: its deadline (the route's timeout) starts when the gateway
 * asks for a connection and covers the wait for one, the request, the answer's headers and its
 * whole body, however slowly the body trickles in; past it, the exchange is aborted and fails with
 * UPSTREAM_TIMEOUT. Waiting for a free connection has a shorter limit of its own
 * (KEEL_UPSTREAM_QUEUE_TIMEOUT, connection-slots.ts): UPSTREAM_BUSY. A connection error is
 * UPSTREAM_UNAVAILABLE. Messages name the origin: they are for the log, never for clients.
 *
 * The answer's body is not read here. The caller either buffers it whole (`buffer`, for an answer
 * it stores: bounded by a size and by the shared ByteBudget) or streams it on (`stream`), and
 * must do one or `discard` it: the connection slot returns when the body has ended or been
 * destroyed (at the latest at the deadline, which destroys it).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { type Dispatcher, errors, Pool } from 'undici';
import { isKeelError, KeelError } from '../errors.js';
import type { ByteBudget } from './byte-budget.js';
import { ConnectionSlots } from './connection-slots.js';
import type { HeaderMap } from './http-cache.js';

/** A discarded body up to this size is read out (keeping its connection); a longer one closes it. */
const DISCARD_READ_BYTES = 64 * 1024;

export interface UpstreamRequest {
  method: string;
  /** Path and query, normalised (request-target.ts). */
  path: string;
  headers: OutgoingHttpHeaders;
  body?: Buffer | AsyncIterable<Buffer>;
  /** The whole exchange, from asking for a connection to the last byte of the answer. */
  timeoutMs: number;
}

export interface UpstreamOptions {
  /** Most open connections to the origin. */
  connections: number;
  /** Longest wait for a free connection. */
  queueTimeoutMs: number;
}

export class Upstream {
  /** The origin: scheme, host and port (its credentials, if any, are forwarding.ts's). */
  readonly origin: URL;
  readonly slots: ConnectionSlots;
  private readonly pool: Pool;

  constructor(
    origin: URL,
    private readonly options: UpstreamOptions,
  ) {
    this.origin = new URL(origin.origin);
    this.pool = new Pool(this.origin, { connections: options.connections, pipelining: 1 });
    this.slots = new ConnectionSlots(options.connections);
  }

  /** Sends the request; resolves when the answer's headers have arrived. */
  async exchange(request: UpstreamRequest): Promise<Exchange> {
    const requestedAt = Date.now();
    const deadline = new Deadline(request.timeoutMs);
    try {
      await this.slots.take(Math.min(this.options.queueTimeoutMs, request.timeoutMs));
    } catch (error) {
      deadline.clear();
      throw error;
    }
    const done = () => {
      deadline.clear();
      this.slots.give();
    };
    const fail = (error: unknown) => this.failure(error, request, deadline);
    let answer: Dispatcher.ResponseData;
    try {
      answer = await this.pool.request({
        method: request.method as Dispatcher.HttpMethod,
        path: request.path,
        headers: request.headers as Record<string, string | string[]>,
        body:
          request.body === undefined || Buffer.isBuffer(request.body)
            ? request.body
            : Readable.from(request.body),
        signal: deadline.signal,
      });
    } catch (error) {
      done();
      throw fail(error);
    }
    return new Exchange(answer, requestedAt, done, fail);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private failure(error: unknown, request: UpstreamRequest, deadline: Deadline): KeelError {
    if (isKeelError(error) && error.code !== 'UPSTREAM_UNAVAILABLE') return error;
    const target = `${this.origin.origin}${request.path}`;
    if (
      deadline.expired ||
      error instanceof errors.HeadersTimeoutError ||
      error instanceof errors.BodyTimeoutError ||
      error instanceof errors.ConnectTimeoutError
    ) {
      return new KeelError('UPSTREAM_TIMEOUT', `${target} did not answer within ${request.timeoutMs} ms`, {
        cause: error,
      });
    }
    return new KeelError('UPSTREAM_UNAVAILABLE', `${target} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** An origin answer whose headers have arrived; its body is read by one of buffer, stream, discard. */
export class Exchange {
  readonly status: number;
  readonly headers: HeaderMap;
  /** When the request left, and when the answer (its whole body, once buffered) had arrived. */
  readonly requestedAt: number;
  receivedAt: number;
  private readonly body: Dispatcher.ResponseData['body'];
  /** The body's chunks, read through one iterator (a loop left early would destroy the body). */
  private readonly chunks: AsyncIterator<unknown>;
  /** Chunks `buffer` read before it gave up: streamed first. */
  private prefix: Buffer[] = [];
  private finished = false;

  constructor(
    answer: Dispatcher.ResponseData,
    requestedAt: number,
    private readonly done: () => void,
    private readonly fail: (error: unknown) => KeelError,
  ) {
    this.status = answer.statusCode;
    this.headers = answer.headers;
    this.requestedAt = requestedAt;
    this.receivedAt = Date.now();
    this.body = answer.body;
    this.chunks = this.body[Symbol.asyncIterator]();
    this.body.once('close', () => this.finish());
  }

  /** The Content-Length the origin declared, if a valid one. */
  get declaredLength(): number | undefined {
    const value = this.headers['content-length'];
    return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
  }

  /**
   * Reads the whole body if it is at most `maxBytes` and `budget` can hold it while it is read
   * (given back once read: what is stored then counts against the cache's own budget). Undefined
   * otherwise, the body then to be streamed: nothing read is lost.
   */
  async buffer(maxBytes: number, budget: ByteBudget): Promise<Buffer | undefined> {
    const declared = this.declaredLength;
    if (declared !== undefined && declared > maxBytes) return undefined;
    let held = 0;
    try {
      for (let next = await this.chunks.next(); !next.done; next = await this.chunks.next()) {
        const chunk = next.value as Buffer;
        this.prefix.push(chunk);
        // Past either bound, stop reading: the rest streams after what was read.
        if (held + chunk.byteLength > maxBytes || !budget.take(chunk.byteLength)) return undefined;
        held += chunk.byteLength;
      }
    } catch (error) {
      throw this.fail(error);
    } finally {
      budget.give(held);
    }
    const chunks = this.prefix;
    this.prefix = [];
    this.receivedAt = Date.now();
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  }

  /** The body (what `buffer` read first, then the rest); its errors are the exchange's KeelErrors. */
  stream(): Readable {
    const { chunks, body, fail } = this;
    const prefix = this.prefix;
    this.prefix = [];
    return Readable.from(
      (async function* () {
        yield* prefix;
        try {
          for (let next = await chunks.next(); !next.done; next = await chunks.next())
            yield next.value as Buffer;
        } catch (error) {
          throw fail(error);
        } finally {
          if (!body.destroyed) body.destroy();
        }
      })(),
      { objectMode: false },
    );
  }

  /** Drops the body; a short remainder is read out so the connection can be reused. */
  discard(): void {
    this.prefix = [];
    if (!this.body.destroyed) this.body.dump({ limit: DISCARD_READ_BYTES }).catch(() => {});
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.done();
  }
}

/** An exchange's deadline: aborts it when the time is up. */
class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  expired = false;

  constructor(ms: number) {
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort();
    }, ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/**
 * The REST source: a PostgREST (Supabase) table read through `@supabase/postgrest-js`, one page
 * per call, in keyset order:
 *
 *   GET /rest/v1/<table>?select=*&order=updated_at.asc,id.asc&limit=<n>
 *       &or=(updated_at.gt."<T>",and(updated_at.eq."<T>",id.gt.<N>))
 *
 * Keyset, not offset: a row updated while a run pages through the table moves to the end of the
 * order, so it is read once more with its new values instead of shifting the pages after it (an
 * offset would skip one row per change before it, and read another twice). The timestamp goes
 * back to the server exactly as it sent it, so no precision is lost between pages.
 *
 * The client's own retries are off: the engine retries, paces and breaks the circuit itself
 * (engine.ts), and needs to see each failure. Every answer is classified here:
 *   - 401, 403 → SYNC_AUTH_FAILED naming the settings the credentials came from (validateAuth, as
 *     the deployment guide's troubleshooting calls it);
 *   - 429, 5xx, a network failure, a timeout → SOURCE_UNAVAILABLE, transient, with the server's
 *     Retry-After when it gave one;
 *   - any other failure, a body that is not a JSON array, or one larger than `maxPageBytes` →
 *     SOURCE_INVALID_RESPONSE (not retried: asking again would get the same answer).
 *
 * postgrest-js reads a whole answer into memory before parsing it, so a broken or hostile source
 * could fill the process with one endless page. The fetch handed to it counts the body's bytes as
 * they arrive and cuts the answer (closing the connection) past `maxPageBytes`.
 */
import { PostgrestClient } from '@supabase/postgrest-js';
import { KeelError } from '../errors.js';
import type { Cursor } from './pg-sink.js';

/** A page request that has not answered in this long fails (and is retried). */
const PAGE_TIMEOUT_MS = 30_000;

/** A source's failure: whether asking again may succeed, and when the source asked to be asked. */
export class SourceError extends KeelError {
  constructor(
    code: 'SOURCE_UNAVAILABLE' | 'SOURCE_INVALID_RESPONSE' | 'SYNC_AUTH_FAILED',
    message: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }

  get transient(): boolean {
    return this.code === 'SOURCE_UNAVAILABLE';
  }
}

/** Where listings come from, a page at a time in (updated_at, id) order. */
export interface ListingSource {
  /** For logs and messages: the URL or table, never a credential. */
  readonly description: string;
  /** Up to `limit` rows after `after` (from the start when undefined), as the source sent them. */
  page(after: Cursor | undefined, limit: number, signal?: AbortSignal): Promise<unknown[]>;
  /** How many rows come after `after` (all when undefined). */
  count(after: Cursor | undefined, signal?: AbortSignal): Promise<number>;
  /** The keyset position of the row `offset` rows after `after` (0: the first); undefined past the end. */
  positionAt(after: Cursor | undefined, offset: number, signal?: AbortSignal): Promise<Cursor | undefined>;
  /** The rows of these property numbers (those the source has). */
  byKeys(keys: string[], signal?: AbortSignal): Promise<unknown[]>;
  /** Resolves when the credentials are accepted; throws SYNC_AUTH_FAILED when not. */
  validateAuth(): Promise<void>;
}

export interface RestSourceOptions {
  /** The REST API's base, e.g. https://project.supabase.co/rest/v1 */
  url: URL;
  table: string;
  headers: Record<string, string>;
  /** The settings the credentials came from, named in an authentication error. */
  credentialSettings: string[];
  /** Largest answer read (KEEL_SYNC_MAX_PAGE_BYTES); a larger one fails with SOURCE_INVALID_RESPONSE. */
  maxPageBytes: number;
}

/** The name of the setting bounding a page, for the error a larger page gets. */
const MAX_PAGE_SETTING = 'KEEL_SYNC_MAX_PAGE_BYTES';

export class RestListingSource implements ListingSource {
  readonly description: string;
  private readonly client: PostgrestClient;
  /** What the last request answered (status and headers), for errors postgrest-js flattens. */
  private lastResponse: Response | undefined;
  /** Whether the last answer was cut for being larger than maxPageBytes. */
  private lastTooLarge = false;

  constructor(private readonly options: RestSourceOptions) {
    this.description = `${options.url.origin}${options.url.pathname.replace(/\/$/, '')}/${options.table}`;
    this.client = new PostgrestClient(options.url.href.replace(/\/$/, ''), {
      headers: options.headers,
      retry: false,
      fetch: async (input, init) => {
        this.lastResponse = undefined;
        this.lastTooLarge = false;
        const response = await fetch(input, init);
        this.lastResponse = response;
        return this.bounded(response);
      },
    });
  }

  async page(after: Cursor | undefined, limit: number, signal?: AbortSignal): Promise<unknown[]> {
    const query = this.client
      .from(this.options.table)
      .select('*')
      .order('updated_at', { ascending: true })
      .order('id', { ascending: true })
      .limit(limit);
    const result = await withTimeout(after === undefined ? query : query.or(afterFilter(after)), signal);
    if (result.error === null && Array.isArray(result.data)) return result.data as unknown[];
    throw this.failure(result.status, result.error?.message ?? 'the answer is not a JSON array', signal);
  }

  async count(after: Cursor | undefined, signal?: AbortSignal): Promise<number> {
    const query = this.client.from(this.options.table).select('id', { count: 'exact', head: true });
    const result = await withTimeout(after === undefined ? query : query.or(afterFilter(after)), signal);
    if (result.error === null && typeof result.count === 'number') return result.count;
    throw this.failure(
      result.status,
      result.error?.message ?? 'the answer has no count (Content-Range)',
      signal,
    );
  }

  async positionAt(
    after: Cursor | undefined,
    offset: number,
    signal?: AbortSignal,
  ): Promise<Cursor | undefined> {
    const query = this.client
      .from(this.options.table)
      .select('updated_at,id')
      .order('updated_at', { ascending: true })
      .order('id', { ascending: true })
      .range(offset, offset);
    const result = await withTimeout(after === undefined ? query : query.or(afterFilter(after)), signal);
    if (result.error === null && Array.isArray(result.data)) {
      const row = result.data[0] as { updated_at?: unknown; id?: unknown } | undefined;
      if (row === undefined) return undefined;
      if (typeof row.updated_at === 'string' && typeof row.id === 'number')
        return { updatedAt: row.updated_at, id: row.id };
    }
    throw this.failure(result.status, result.error?.message ?? 'the answer is not a keyset position', signal);
  }

  async byKeys(keys: string[], signal?: AbortSignal): Promise<unknown[]> {
    const result = await withTimeout(
      this.client.from(this.options.table).select('*').in('property_number', keys),
      signal,
    );
    if (result.error === null && Array.isArray(result.data)) return result.data as unknown[];
    throw this.failure(result.status, result.error?.message ?? 'the answer is not a JSON array', signal);
  }

  async validateAuth(): Promise<void> {
    const result = await this.client
      .from(this.options.table)
      .select('id')
      .limit(1)
      .abortSignal(AbortSignal.timeout(PAGE_TIMEOUT_MS));
    if (result.error !== null) throw this.failure(result.status, result.error.message);
  }

  /** The response with a body that fails once more than maxPageBytes have arrived. */
  private bounded(response: Response): Response {
    const limit = this.options.maxPageBytes;
    const tooLarge = (): Error => {
      this.lastTooLarge = true;
      return new Error(`the answer is larger than ${limit} bytes`);
    };
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > limit) {
      void response.body?.cancel();
      throw tooLarge();
    }
    if (response.body === null) return response;
    let received = 0;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        received += chunk.byteLength;
        if (received > limit) controller.error(tooLarge());
        else controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(counter), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  private failure(status: number, message: string, signal?: AbortSignal): SourceError {
    if (signal?.aborted)
      return new SourceError('SOURCE_UNAVAILABLE', 'the read was cancelled', undefined, undefined);
    const where = this.description;
    if (this.lastTooLarge)
      return new SourceError(
        'SOURCE_INVALID_RESPONSE',
        `${where} sent an answer larger than ${MAX_PAGE_SETTING} (${this.options.maxPageBytes} bytes): lower SYNC_BATCH_SIZE or raise ${MAX_PAGE_SETTING}`,
        this.lastResponse?.status,
        undefined,
      );
    const response = this.lastResponse;
    const code = response?.status ?? status;
    if (code === 401 || code === 403) {
      const settings = this.options.credentialSettings.join(' and ') || 'SUPABASE_REST_HEADERS_APIKEY';
      return new SourceError(
        'SYNC_AUTH_FAILED',
        `${where} answered ${code} (${message}): check ${settings}${code === 403 ? ' and that its role may read the table' : ''}`,
        code,
        undefined,
      );
    }
    if (code === 0 || code === 429 || code >= 500)
      return new SourceError(
        'SOURCE_UNAVAILABLE',
        `${where} ${code === 0 ? `did not answer (${message})` : `answered ${code} (${message})`}`,
        code === 0 ? undefined : code,
        retryAfterMs(response?.headers.get('retry-after') ?? null),
      );
    return new SourceError(
      'SOURCE_INVALID_RESPONSE',
      `${where} answered ${code}: ${message}`,
      code,
      undefined,
    );
  }
}

/** A value in double quotes, as PostgREST asks of values holding `,` `.` `:` `(` `)`. */
function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** Retry-After (delta-seconds or an HTTP date) in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1_000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The keyset filter of the rows after `after`; the timestamp goes back exactly as the server sent it. */
function afterFilter(after: Cursor): string {
  const at = quoted(after.updatedAt);
  return `updated_at.gt.${at},and(updated_at.eq.${at},id.gt.${after.id})`;
}

/** The request, cancelled by `signal` or after PAGE_TIMEOUT_MS. */
function withTimeout<Query extends { abortSignal(signal: AbortSignal): Query }>(
  query: Query,
  signal?: AbortSignal,
): Query {
  const timeout = AbortSignal.timeout(PAGE_TIMEOUT_MS);
  return query.abortSignal(signal === undefined ? timeout : AbortSignal.any([signal, timeout]));
}

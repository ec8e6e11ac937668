/**
 * The sample listings origin's HTTP face: `GET /rest/v1/property_listings` answered as PostgREST
 * (and so Supabase's REST API) answers it — a JSON array, filters, `order`, `limit`/`offset` or a
 * `Range: a-b` header, `Content-Range: a-b/total` (the total with `Prefer: count=exact`, else `*`),
 * a silent cap on rows per answer as PostgREST's `db-max-rows` does, and its errors: 400 PGRST100
 * for a query it cannot read, 401 for a missing or wrong key, 403 for a key without the right.
 *
 * Faults for tests and demos, in `controls.faults` or through `POST /__faults`: the next `times`
 * requests answer `status` (429 with `Retry-After: retryAfter` seconds, or a 5xx), or hang for
 * `hangMs` before answering; faults queue in order.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { asRow, LISTING_FIELDS, type ListingCatalog, TIMESTAMP_FIELDS } from './catalog.js';
import {
  type Filter,
  matches,
  type ParsedQuery,
  parseQuery,
  QueryError,
  type Row,
} from './postgrest-query.js';

export interface ListingsFault {
  /** The status answered (429, 500, 503…); 200 with `hangMs` to only delay. */
  status: number;
  /** Requests it answers (default 1). */
  times?: number;
  /** Retry-After, in seconds, of a 429 or 503. */
  retryAfter?: number;
  /** Delay before answering. */
  hangMs?: number;
}

export interface ListingsControls {
  faults: ListingsFault[];
  /** Requests to the table so far. */
  requests: number;
}

export interface ListingsAuth {
  /** Keys accepted in `apikey` and as `Authorization: Bearer`. */
  keys: readonly string[];
  /** Accepted keys without the right to read the table (answered 403). */
  forbidden?: readonly string[];
}

export interface ListingsRoutesOptions {
  catalog: ListingCatalog;
  controls: ListingsControls;
  /** Without it, any request may read. */
  auth?: ListingsAuth;
  /** Most rows per answer (PostgREST's db-max-rows). */
  maxRows: number;
}

const COLUMNS: ReadonlySet<string> = new Set(LISTING_FIELDS);
const TABLE_PATH = '/rest/v1/property_listings';

export function listingsRoutes(app: FastifyInstance, options: ListingsRoutesOptions): void {
  const { catalog, controls } = options;
  app.post<{ Body: ListingsFault }>('/__faults', async (request) => {
    controls.faults.push(request.body);
    return { queued: controls.faults.length };
  });
  app.get(TABLE_PATH, async (request, reply) => {
    controls.requests++;
    const refused = authRefusal(request.headers, options.auth);
    if (refused !== undefined) return reply.code(refused.status).send(refused.body);
    const fault = nextFault(controls);
    if (fault?.hangMs !== undefined) await new Promise((resolve) => setTimeout(resolve, fault.hangMs));
    if (fault !== undefined && fault.status !== 200) {
      if (fault.retryAfter !== undefined) reply.header('retry-after', String(fault.retryAfter));
      return reply.code(fault.status).send({ code: 'FAULT', message: `injected ${fault.status}` });
    }
    let query: ParsedQuery;
    try {
      query = parseQuery(new URL(request.url, 'http://origin').searchParams, COLUMNS);
      applyRange(query, request.headers.range);
    } catch (error) {
      return badQuery(reply, error);
    }
    const limit = Math.min(query.limit ?? options.maxRows, options.maxRows);
    let page: Row[];
    let total: number | undefined;
    try {
      page = select(catalog, query, limit);
      if (/count=exact/.test(String(request.headers.prefer ?? '')))
        total = catalog
          .all()
          .filter((row) => query.filters.every((f) => matches(asRow(row), f, TIMESTAMP_FIELDS))).length;
    } catch (error) {
      return badQuery(reply, error);
    }
    const first = query.offset;
    const range = page.length === 0 ? '*' : `${first}-${first + page.length - 1}`;
    reply.header('content-range', `${range}/${total ?? '*'}`);
    return page.map((row) => project(row, query.select));
  });
}

function authRefusal(
  headers: Record<string, string | string[] | undefined>,
  auth: ListingsAuth | undefined,
): { status: number; body: unknown } | undefined {
  if (auth === undefined) return undefined;
  const apikey = headers.apikey;
  const bearer = /^Bearer (.+)$/i.exec(String(headers.authorization ?? ''))?.[1];
  const given = [apikey, bearer].filter((key): key is string => typeof key === 'string');
  if (given.length === 0 || given.some((key) => !auth.keys.includes(key)))
    return {
      status: 401,
      body: {
        message: 'Invalid API key',
        hint: 'Double check your Supabase `anon` or `service_role` API key.',
      },
    };
  if (given.some((key) => auth.forbidden?.includes(key)))
    return { status: 403, body: { code: '42501', message: 'permission denied for table property_listings' } };
  return undefined;
}

function nextFault(controls: ListingsControls): ListingsFault | undefined {
  const fault = controls.faults[0];
  if (fault === undefined) return undefined;
  const times = (fault.times ?? 1) - 1;
  if (times <= 0) controls.faults.shift();
  else controls.faults[0] = { ...fault, times };
  return fault;
}

/** `Range: a-b` (items) as an offset and limit, as PostgREST reads it. */
function applyRange(query: ParsedQuery, range: string | undefined): void {
  if (range === undefined) return;
  const parts = /^(\d+)-(\d*)$/.exec(range.trim());
  if (parts === null) throw new QueryError(`Range must be "first-last" items, got "${range}"`);
  query.offset = Number(parts[1]);
  if (parts[2] !== '') {
    const size = Number(parts[2]) - query.offset + 1;
    query.limit = Math.min(query.limit ?? size, size);
  }
}

function select(catalog: ListingCatalog, query: ParsedQuery, limit: number): Row[] {
  const rows = catalog.all();
  const keyset = isKeysetOrder(query) ? keysetStart(catalog, query.filters) : undefined;
  if (keyset === undefined && query.order.length > 0 && !isKeysetOrder(query)) {
    const ordered = [...rows]
      .map(asRow)
      .filter((row) => query.filters.every((f) => matches(row, f, TIMESTAMP_FIELDS)));
    ordered.sort((a, b) => compareBy(a, b, query));
    return ordered.slice(query.offset, query.offset + limit);
  }
  const page: Row[] = [];
  let skipped = 0;
  for (let i = keyset ?? 0; i < rows.length && page.length < limit; i++) {
    const row = asRow(rows[i] as (typeof rows)[number]);
    if (!query.filters.every((f) => matches(row, f, TIMESTAMP_FIELDS))) continue;
    if (skipped++ < query.offset) continue;
    page.push(row);
  }
  return page;
}

function isKeysetOrder(query: ParsedQuery): boolean {
  const [first, second] = query.order;
  return (
    query.order.length === 0 ||
    (first?.column === 'updated_at' &&
      !first.descending &&
      (second === undefined || (second.column === 'id' && !second.descending)))
  );
}

/**
 * Where a read in keyset order can start: after the position a top-level
 * `or=(updated_at.gt.T,and(updated_at.eq.T,id.gt.N))` (what a keyset-paged client sends) or an
 * `updated_at=gt.T` / `gte.T` names. Rows before it cannot match, so they are not scanned.
 */
function keysetStart(catalog: ListingCatalog, filters: Filter[]): number | undefined {
  for (const filter of filters) {
    if (filter.negated) continue;
    if (
      filter.kind === 'compare' &&
      filter.column === 'updated_at' &&
      (filter.op === 'gt' || filter.op === 'gte')
    )
      return catalog.indexAfter(
        filter.value as string,
        filter.op === 'gt' ? Number.MAX_SAFE_INTEGER : 0,
        filter.op === 'gte',
      );
    if (filter.kind !== 'or' || filter.filters.length !== 2) continue;
    const [after, tie] = filter.filters;
    if (after?.kind !== 'compare' || after.column !== 'updated_at' || after.op !== 'gt' || after.negated)
      continue;
    if (tie?.kind !== 'and' || tie.negated) continue;
    const eq = tie.filters.find((f) => f.kind === 'compare' && f.column === 'updated_at' && f.op === 'eq');
    const id = tie.filters.find((f) => f.kind === 'compare' && f.column === 'id' && f.op === 'gt');
    if (eq?.kind === 'compare' && id?.kind === 'compare' && eq.value === after.value)
      return catalog.indexAfter(after.value as string, Number(id.value));
  }
  return undefined;
}

function compareBy(a: Row, b: Row, query: ParsedQuery): number {
  for (const term of query.order) {
    const x = a[term.column] ?? null;
    const y = b[term.column] ?? null;
    if (x === null || y === null) {
      if (x !== y) return (x === null) === term.nullsFirst ? -1 : 1;
      continue;
    }
    const timestamp = TIMESTAMP_FIELDS.has(term.column);
    const order = timestamp ? Date.parse(String(x)) - Date.parse(String(y)) : x < y ? -1 : x > y ? 1 : 0;
    if (order !== 0) return term.descending ? -order : order;
  }
  return 0;
}

function project(row: Row, columns: string[] | undefined): Row {
  if (columns === undefined) return row;
  const projected: Row = {};
  for (const column of columns) projected[column] = row[column] ?? null;
  return projected;
}

function badQuery(reply: FastifyReply, error: unknown) {
  if (!(error instanceof QueryError)) throw error;
  return reply.code(400).send({ code: 'PGRST100', details: null, hint: null, message: error.message });
}

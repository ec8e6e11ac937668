/**
 * The part of PostgREST's query language the sample listings origin understands
 * (https://docs.postgrest.org/en/stable/references/api/tables_views.html), enough for what
 * `@supabase/postgrest-js` sends for a keyset-paged read and for an operator's ad-hoc curl:
 *
 *   column=op.value            op: eq, neq, gt, gte, lt, lte, in.(a,b), is.null|true|false;
 *                              `not.` before op negates
 *   or=(f,f,…)  and=(f,f,…)    f: column.op.value, or a nested or(…) / and(…)
 *   order=col[.asc|.desc][.nullsfirst|.nullslast],…
 *   limit=n  offset=n  select=col,col,… (or *)
 *
 * A value holding a reserved character (`,` `.` `:` `(` `)`) is written in double quotes, as
 * PostgREST asks (postgrest-js passes `or` strings through as written). Anything else — an
 * unknown operator, a column the table lacks, unbalanced parentheses — is refused with a
 * PostgREST-style 400 (code PGRST100), never guessed at.
 */

export type Operator = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'is';

export type Filter =
  | { kind: 'compare'; column: string; op: Operator; negated: boolean; value: string | string[] }
  | { kind: 'or' | 'and'; negated: boolean; filters: Filter[] };

export interface OrderTerm {
  column: string;
  descending: boolean;
  nullsFirst: boolean;
}

export interface ParsedQuery {
  filters: Filter[];
  order: OrderTerm[];
  limit: number | undefined;
  offset: number;
  select: string[] | undefined;
}

/** A query PostgREST would refuse: answered 400 with `{ code: 'PGRST100', message }`. */
export class QueryError extends Error {}

const OPERATORS = new Set<Operator>(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'is']);
const RESERVED = new Set(['select', 'order', 'limit', 'offset', 'or', 'and', 'not.or', 'not.and']);

/** Parses the query string's parameters against the table's `columns`. */
export function parseQuery(params: URLSearchParams, columns: ReadonlySet<string>): ParsedQuery {
  const known = (column: string): string => {
    if (!columns.has(column)) throw new QueryError(`column property_listings.${column} does not exist`);
    return column;
  };
  const filters: Filter[] = [];
  for (const [name, value] of params) {
    if (name === 'or' || name === 'and' || name === 'not.or' || name === 'not.and') {
      const negated = name.startsWith('not.');
      const kind = name.endsWith('or') ? 'or' : 'and';
      filters.push({ kind, negated, filters: parseGroup(value, known) });
    } else if (!RESERVED.has(name)) {
      filters.push(parseCondition(known(name), value));
    }
  }
  const limit = params.get('limit');
  const offset = params.get('offset');
  const select = params.get('select');
  return {
    filters,
    order: parseOrder(params.get('order'), known),
    limit: limit === null ? undefined : count(limit, 'limit'),
    offset: offset === null ? 0 : count(offset, 'offset'),
    select:
      select === null || select === '*' ? undefined : select.split(',').map((column) => known(column.trim())),
  };
}

function count(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new QueryError(`${what} must be a whole number, got "${text}"`);
  return Number(text);
}

function parseOrder(text: string | null, known: (column: string) => string): OrderTerm[] {
  if (text === null || text === '') return [];
  return text.split(',').map((term) => {
    const [column = '', ...modifiers] = term.trim().split('.');
    const descending = modifiers.includes('desc');
    for (const modifier of modifiers)
      if (!['asc', 'desc', 'nullsfirst', 'nullslast'].includes(modifier))
        throw new QueryError(`unknown order modifier "${modifier}" in "${term}"`);
    // PostgreSQL's default: nulls sort as larger than any value.
    const nullsFirst = modifiers.includes('nullsfirst') || (descending && !modifiers.includes('nullslast'));
    return { column: known(column), descending, nullsFirst };
  });
}

/** `op.value` or `not.op.value` for `column`. */
function parseCondition(column: string, text: string): Filter {
  const negated = text.startsWith('not.');
  const rest = negated ? text.slice(4) : text;
  const dot = rest.indexOf('.');
  const op = (dot < 0 ? rest : rest.slice(0, dot)) as Operator;
  if (!OPERATORS.has(op)) throw new QueryError(`unknown operator "${op}" in "${column}=${text}"`);
  const raw = dot < 0 ? '' : rest.slice(dot + 1);
  if (op === 'in') {
    if (!raw.startsWith('(') || !raw.endsWith(')'))
      throw new QueryError(`in needs a list in parentheses: "${text}"`);
    return { kind: 'compare', column, op, negated, value: splitTop(raw.slice(1, -1)).map(unquote) };
  }
  return { kind: 'compare', column, op, negated, value: unquote(raw) };
}

/** The inside of `(…)` of an or/and: its comma-separated conditions and groups. */
function parseGroup(text: string, known: (column: string) => string): Filter[] {
  if (!text.startsWith('(') || !text.endsWith(')')) throw new QueryError(`expected "(…)" in "${text}"`);
  return splitTop(text.slice(1, -1)).map((part) => {
    const group = /^(not\.)?(or|and)(\(.*\))$/s.exec(part);
    if (group !== null)
      return {
        kind: group[2] as 'or' | 'and',
        negated: group[1] !== undefined,
        filters: parseGroup(group[3] as string, known),
      };
    const dot = part.indexOf('.');
    if (dot < 0) throw new QueryError(`expected "column.operator.value", got "${part}"`);
    return parseCondition(known(part.slice(0, dot)), part.slice(dot + 1));
  });
}

/** Splits at commas outside parentheses and double quotes. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && c === ',') {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
    if (depth < 0) throw new QueryError(`unbalanced parentheses in "${text}"`);
  }
  if (depth !== 0 || quoted) throw new QueryError(`unbalanced parentheses or quotes in "${text}"`);
  parts.push(text.slice(start));
  return parts.filter((part) => part !== '');
}

function unquote(text: string): string {
  return text.length >= 2 && text.startsWith('"') && text.endsWith('"')
    ? text.slice(1, -1).replace(/\\(.)/g, '$1')
    : text;
}

export type Row = Record<string, string | number | null>;

/**
 * Orders two values of a column as PostgreSQL would: numbers as numbers, timestamps (of the
 * `timestamps` columns) as instants, text as text; null after everything.
 */
export function compareValues(
  a: string | number | null,
  b: string | number | null,
  timestamp: boolean,
): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  if (typeof a === 'number' || typeof b === 'number') return Number(a) - Number(b);
  if (timestamp) return Date.parse(a) - Date.parse(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether `row` passes `filter`; `timestamps` are the columns compared as instants. */
export function matches(row: Row, filter: Filter, timestamps: ReadonlySet<string>): boolean {
  let result: boolean;
  if (filter.kind === 'compare')
    result = compares(row[filter.column] ?? null, filter, timestamps.has(filter.column));
  else if (filter.kind === 'or') result = filter.filters.some((inner) => matches(row, inner, timestamps));
  else result = filter.filters.every((inner) => matches(row, inner, timestamps));
  return filter.negated ? !result : result;
}

function compares(
  actual: string | number | null,
  filter: Extract<Filter, { kind: 'compare' }>,
  timestamp: boolean,
): boolean {
  const { op, value } = filter;
  if (op === 'is') {
    if (value === 'null') return actual === null;
    if (value === 'true' || value === 'false') return String(actual) === value;
    throw new QueryError(`is takes null, true or false, not "${String(value)}"`);
  }
  if (actual === null) return false;
  if (op === 'in') return (value as string[]).some((item) => compareValues(actual, item, timestamp) === 0);
  const order = compareValues(actual, value as string, timestamp);
  if (Number.isNaN(order))
    throw new QueryError(`"${String(value)}" cannot be compared with ${filter.column}`);
  switch (op) {
    case 'eq':
      return order === 0;
    case 'neq':
      return order !== 0;
    case 'gt':
      return order > 0;
    case 'gte':
      return order >= 0;
    case 'lt':
      return order < 0;
    default:
      return order <= 0;
  }
}

/**
 * Comparing two answers to the same request — stable's and the candidate's (shadow traffic), or a
 * cached answer and the origin's fresh one (the cache consistency probe) — as a person would:
 * the status; the headers named for comparison (by default none: most differ harmlessly, `Date`,
 * `Server`, tracing ids); and the body, structurally when both are JSON (key order and whitespace
 * do not matter; fields named in `ignore` do not count, wherever they appear or at a dotted path
 * such as `items.updated_at`), byte for byte otherwise.
 *
 * The differences found are listed (at most MAX_DIFFERENCES, each with its path and both values)
 * for `keel rollout diff` and the audit; a match has none.
 */

/** Differences kept per comparison; the rest are counted. */
export const MAX_DIFFERENCES = 20;

export interface AnswerView {
  status: number;
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
}

export interface CompareOptions {
  /** Header names compared (lower case). */
  headers?: readonly string[];
  /** JSON field names (anywhere) or dotted paths (`items.updated_at`) left out of the comparison. */
  ignore?: readonly string[];
}

export interface Difference {
  /** `status`, `header:etag`, `body`, or a JSON path such as `body.items[2].price`. */
  path: string;
  expected: unknown;
  actual: unknown;
}

export interface ComparisonResult {
  matched: boolean;
  differences: Difference[];
  /** Differences beyond the ones listed. */
  more: number;
}

/** Compares `actual` with `expected` (the answer taken as the reference). */
export function compareAnswers(
  expected: AnswerView,
  actual: AnswerView,
  options: CompareOptions = {},
): ComparisonResult {
  const found = new Differences();
  if (expected.status !== actual.status) found.add('status', expected.status, actual.status);
  for (const name of options.headers ?? [])
    if (expected.headers[name] !== actual.headers[name])
      found.add(`header:${name}`, expected.headers[name], actual.headers[name]);
  compareBodies(expected.body, actual.body, new Set(options.ignore ?? []), found);
  return found.result();
}

class Differences {
  private readonly listed: Difference[] = [];
  private count = 0;

  add(path: string, expected: unknown, actual: unknown): void {
    this.count++;
    if (this.listed.length < MAX_DIFFERENCES) this.listed.push({ path, expected, actual });
  }

  result(): ComparisonResult {
    return { matched: this.count === 0, differences: this.listed, more: this.count - this.listed.length };
  }
}

function compareBodies(
  expected: Buffer,
  actual: Buffer,
  ignore: ReadonlySet<string>,
  found: Differences,
): void {
  if (expected.equals(actual)) return;
  const left = parseJson(expected);
  const right = parseJson(actual);
  if (left === NOT_JSON || right === NOT_JSON) {
    found.add('body', `${expected.length} bytes`, `${actual.length} bytes`);
    return;
  }
  compareValues(left, right, 'body', '', ignore, found);
}

const NOT_JSON = Symbol('not JSON');

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return NOT_JSON;
  }
}

/** `path` is for the report (`body.items[2].price`); `fieldPath` for `ignore` (`items.price`). */
function compareValues(
  expected: unknown,
  actual: unknown,
  path: string,
  fieldPath: string,
  ignore: ReadonlySet<string>,
  found: Differences,
): void {
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) found.add(`${path}.length`, expected.length, actual.length);
    const shared = Math.min(expected.length, actual.length);
    for (let i = 0; i < shared; i++)
      compareValues(expected[i], actual[i], `${path}[${i}]`, fieldPath, ignore, found);
    return;
  }
  if (isObject(expected) && isObject(actual)) {
    for (const key of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
      const nextField = fieldPath === '' ? key : `${fieldPath}.${key}`;
      if (ignore.has(key) || ignore.has(nextField)) continue;
      compareValues(expected[key], actual[key], `${path}.${key}`, nextField, ignore, found);
    }
    return;
  }
  if (!Object.is(expected, actual)) found.add(path, expected, actual);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

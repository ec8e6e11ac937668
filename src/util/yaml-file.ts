/**
 * Configuration files written in YAML and checked by a zod schema, failing with the file, the line,
 * the column and the field: `routes.yaml:14:10: routes[2].ttl: expected … (got …)`. The routes file
 * (src/server/routes-file.ts) and rollout plans (src/rollout/plan.ts) are read this way, so both
 * place and word their errors alike.
 *
 * - YAML syntax errors carry their own position. A schema error is placed at the YAML node of the
 *   field, or of its nearest parent that exists when the field is missing; an unknown field, or a
 *   record key the schema refuses, at the key itself.
 * - Messages read `expected … (got …)`, in the file's own terms rather than the schema library's
 *   (plainMessage); an unknown field names the likely one ("did you mean", src/util/closest.ts)
 *   and lists all of them: a schema says which fields a mapping has with strictMapping.
 * - YAML aliases are resolved up to MAX_ALIAS_COUNT nodes, so a small file that expands
 *   exponentially ("billion laughs") is refused instead of exhausting memory.
 * - Numbers are plain decimals, as in the environment (config.ts): YAML's other number forms
 *   (`0x1F`, `0o17`, `1e3`, `.inf`, `.nan`) are read as text, which no numeric field accepts.
 *
 * A file's own checks that the schema cannot make (two routes that clash, a metric nobody
 * declared) use the `fail` function parseYamlFile returns, which places them the same way.
 */
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Tags,
} from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { closest } from './closest.js';
import { formatDuration, parseDuration } from './duration.js';

/** Aliased nodes the YAML reader resolves before it gives up (the yaml package's own default). */
const MAX_ALIAS_COUNT = 100;

/** Throws a ConfigError at the node of `path` (its value, or its key with `at: 'key'`). */
export type Fail = (path: readonly PropertyKey[], message: string, at?: 'key' | 'value') => never;

/** What a kind of file is, for the messages about its top level. */
export interface YamlFileKind<T> {
  schema: z.ZodType<T>;
  /** The kind of file, as in `the YAML aliases here …, which a routes file does not need`. */
  name: string;
  /** What the top level must be: `a mapping with a "routes:" list`. */
  topLevel: string;
  /** What to write in an empty file: `list the routes under "routes:" (keel routes example)`. */
  whenEmpty: string;
}

/** Parses `text` as a file of `kind`; `source` names it in errors. */
export function parseYamlFile<T>(
  text: string,
  source: string,
  kind: YamlFileKind<T>,
): { data: T; fail: Fail } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, customTags: plainNumbersOnly });
  const fail: Fail = (path, message, at = 'value') => {
    throw new ConfigError(
      `${source}:${positionOf(doc, lineCounter, path, at)}`,
      `${fieldName(path)}: ${message}`,
    );
  };
  const syntaxError = doc.errors[0];
  if (syntaxError !== undefined) {
    const { line, col } = lineCounter.linePos(syntaxError.pos[0]);
    throw new ConfigError(
      `${source}:${line}:${col}`,
      `not valid YAML: ${syntaxError.message.split('\n')[0]}`,
    );
  }
  return { data: validate(doc, kind, fail), fail };
}

/** The core schema's tags less its number forms other than plain decimals (hex, octal, exponent, .inf/.nan). */
const plainNumbersOnly = (tags: Tags): Tags =>
  tags.filter(
    (tag) =>
      typeof tag === 'string' || !('test' in tag) || (tag.format === undefined && !tag.test?.test('.inf')),
  );

/** The document checked against the schema: a mapping, its aliases within bounds, its fields valid. */
function validate<T>(doc: Document, kind: YamlFileKind<T>, fail: Fail): T {
  if (doc.contents === null) fail([], `the file is empty; ${kind.whenEmpty}`);
  if (!isMap(doc.contents)) {
    const got = isSeq(doc.contents)
      ? 'a list'
      : isScalar(doc.contents)
        ? shown(doc.contents.value)
        : 'an alias';
    fail([], `expected ${kind.topLevel} (got ${got})`);
  }
  const parsed = kind.schema.safeParse(resolveAliases(doc, kind, fail), { error: plainMessage });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  if (issue.code === 'unrecognized_keys') fail([...issue.path, String(issue.keys[0])], issue.message, 'key');
  if (issue.code === 'invalid_key') fail(issue.path, issue.message, 'key');
  return fail(issue.path, issue.message);
}

/** The document as plain data, refusing aliases that do not resolve or expand past MAX_ALIAS_COUNT. */
function resolveAliases(doc: Document, kind: YamlFileKind<unknown>, fail: Fail): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    const first = firstAlias(doc.contents, []) ?? [];
    const excessive = error.message.startsWith('Excessive alias count');
    fail(
      first,
      excessive
        ? `the YAML aliases here expand to more than ${MAX_ALIAS_COUNT} nodes, which ${kind.name} does not need; write the values out`
        : `not valid YAML: ${error.message}`,
    );
  }
}

/** The path of the first alias (`*name`) in document order. */
function firstAlias(node: unknown, path: readonly PropertyKey[]): PropertyKey[] | undefined {
  if (isAlias(node)) return [...path];
  if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) {
      const found = firstAlias(item, [...path, index]);
      if (found !== undefined) return found;
    }
  }
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const found = firstAlias(pair.value, [...path, key]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * The schema's issues in a configuration file's words: `expected … (got …)`. Custom messages are
 * kept; a refused record key says what its own check said.
 */
export function plainMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${KINDS[issue.expected] ?? issue.expected} (got ${shown(issue.input)})`;
    case 'invalid_value':
      return `expected one of ${issue.values.join(', ')} (got ${shown(issue.input)})`;
    case 'too_small':
      return `expected ${issue.origin === 'number' ? '' : 'a length of '}at least ${issue.minimum} (got ${shown(issue.input)})`;
    case 'too_big':
      return `expected ${issue.origin === 'number' ? '' : 'a length of '}at most ${issue.maximum} (got ${shown(issue.input)})`;
    case 'invalid_key':
      return issue.issues[0]?.message;
    default:
      return undefined;
  }
}

const KINDS: Readonly<Record<string, string>> = {
  object: 'a mapping',
  array: 'a list',
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
};

/** A value as the file wrote it, for messages. */
export function shown(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

/**
 * A mapping with exactly these fields; an unknown one is refused with the likely field and the
 * list of them, `what` naming the mapping: `unknown field (did you mean "ttl"?); the fields of a
 * route are name, path, …`.
 */
export function strictMapping<Shape extends z.core.$ZodLooseShape>(what: string, shape: Shape) {
  const fields = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      const likely = closest(String(issue.keys[0]), fields);
      const guess = likely === undefined ? '' : ` (did you mean "${likely}"?)`;
      return `unknown field${guess}; the fields of ${what} are ${fields.join(', ')}`;
    },
  });
}

/** Milliseconds of a YAML value written as a duration, or undefined. */
export const durationMs = (value: unknown): number | undefined =>
  typeof value === 'number' || typeof value === 'string' ? parseDuration(value) : undefined;

/** A duration field from `min` to `max` ms, written like `example` or as a number of ms; its value is ms. */
export function durationWithin(min: number, max: number, example: string) {
  return z.unknown().transform((value, context) => {
    const ms = durationMs(value);
    if (ms === undefined || ms < min || ms > max) {
      const range =
        min > 0 ? `from ${formatDuration(min)} to ${formatDuration(max)}` : `up to ${formatDuration(max)}`;
      context.addIssue({
        code: 'custom',
        message: `expected a duration ${range}, like "${example}" or a number of ms (got ${shown(value)})`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

/** `routes[2].ttl` for a path `['routes', 2, 'ttl']`. */
function fieldName(path: readonly PropertyKey[]): string {
  return (
    path
      .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
      .join('') || '(file)'
  );
}

/** `line:column` of the deepest YAML node along `path` that exists: its value, or its key with `at: 'key'`. */
function positionOf(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
  at: 'key' | 'value',
): string {
  for (let length = path.length; length >= 0; length--) {
    const node =
      length === 0 ? doc.contents : nodeAt(doc, path.slice(0, length), length === path.length ? at : 'value');
    const range = (node as Node | null | undefined)?.range;
    if (range !== undefined && range !== null) {
      const { line, col } = lineCounter.linePos(range[0]);
      return `${line}:${col}`;
    }
  }
  return '1:1';
}

function nodeAt(doc: Document, path: readonly PropertyKey[], at: 'key' | 'value'): unknown {
  if (at === 'value') return doc.getIn(path as (string | number)[], true);
  const parent = doc.getIn(path.slice(0, -1) as (string | number)[], true);
  const key = path[path.length - 1];
  return isMap(parent)
    ? parent.items.find((pair) => isScalar(pair.key) && pair.key.value === key)?.key
    : undefined;
}

/**
 * The request target as the gateway keys it and forwards it: one spelling per URL, changed only
 * where RFC 3986 proves two spellings equivalent, so that two URLs an origin could read
 * differently never share a cache entry, and the origin always receives the very URL that was
 * keyed (whatever it makes of it, the stored answer is its answer to that URL).
 *
 * Normalised (RFC 3986 §6.2.2, which holds for every http(s) URL):
 *   - percent-encodings of unreserved characters are decoded (`%7E` → `~`, `%32` → `2`), and the
 *     hex digits of the others upper-cased (`%2f` → `%2F`);
 *   - dot segments are removed from the path (`/a/./b/../c` → `/a/c`);
 *   - the absolute form of a target (`http://host/path`) is reduced to its path and query.
 * Kept as sent: everything else, notably `+` against `%20`, `;` in a query, `?flag` against
 * `?flag=`, invalid UTF-8 (`%FF` and `%FE` stay two URLs), empty query parameters, the order of
 * parameters. A route may ask for its parameters sorted by name (`sortQuery`): the sort is stable,
 * so repeated names keep their order (`a=2&a=1` is not `a=1&a=2`).
 *
 * `pathAlias` is coarser: the spellings the routes table treats as one path (duplicate slashes, a
 * trailing slash). They stay separate entries (an origin may answer `/a/` with a redirect), but
 * share the path tag by which a write invalidates them all.
 */

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const PERCENT_ENCODED = /%([0-9A-Fa-f]{2})/g;

export interface RequestTarget {
  /** The normalised path. */
  path: string;
  /** The normalised query with its `?`, or '' for none. */
  search: string;
}

/** The target of a request line, normalised; undefined when it is not a path (`*`, a bad URL). */
export function parseTarget(url: string): RequestTarget | undefined {
  let target = url;
  if (!target.startsWith('/')) {
    const absolute = /^https?:\/\/[^/?#]*/i.exec(target);
    if (absolute === null) return undefined;
    target = target.slice(absolute[0].length) || '/';
    if (!target.startsWith('/')) target = `/${target}`;
  }
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const at = target.indexOf('?');
  const path = at < 0 ? target : target.slice(0, at);
  const search = at < 0 ? '' : target.slice(at);
  return { path: removeDotSegments(normalizeEncoding(path)), search: normalizeEncoding(search) };
}

/** The query with its parameters sorted by name, repeated names in their original order. */
export function sortedSearch(search: string): string {
  if (search.length <= 1) return search;
  const parameters = search.slice(1).split('&');
  const named = parameters.map((parameter, index) => ({ parameter, index, name: nameOf(parameter) }));
  named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.index - b.index));
  return `?${named.map(({ parameter }) => parameter).join('&')}`;
}

/** The path every spelling the routes treat as one shares: no duplicate or trailing slashes. */
export function pathAlias(path: string): string {
  const collapsed = path.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 && collapsed.endsWith('/') ? collapsed.slice(0, -1) : collapsed;
}

function nameOf(parameter: string): string {
  const at = parameter.indexOf('=');
  return at < 0 ? parameter : parameter.slice(0, at);
}

/** §6.2.2.1–2: unreserved characters decoded, other percent-encodings in upper case. */
function normalizeEncoding(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(PERCENT_ENCODED, (_, hex: string) => {
    const character = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(character) ? character : `%${hex.toUpperCase()}`;
  });
}

/** RFC 3986 §5.2.4, for an absolute path. */
function removeDotSegments(path: string): string {
  if (!path.includes('.')) return path;
  const input = path.split('/').slice(1);
  const output: string[] = [];
  for (const [index, segment] of input.entries()) {
    const last = index === input.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') output.pop();
      if (last) output.push('');
    } else {
      output.push(segment);
    }
  }
  return `/${output.join('/')}`;
}

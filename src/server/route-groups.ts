/**
 * Route groups for staged cache enablement: `read-only` routes, whose cached answers no write
 * route of the gateway invalidates, and `write-affected` routes, some of whose tags a write route
 * invalidates, or whose path a write route shares (a write invalidates its own path's answers). A staged deployment enables the first before the second, since a cached answer of a
 * write-affected route is only as fresh as its invalidation.
 *
 * Tags are templates (`product:{id}`), so whether a write's `invalidates` can reach a read's `tags`
 * is decided on the templates: their literal text before the first parameter and after the last
 * must agree (one a prefix of the other, and one a suffix of the other). That can call two
 * templates related when no single tag fits both, never the reverse: a doubtful route goes with
 * the write-affected ones, enabled later.
 */
import type { RouteRule } from './routes-file.js';

export type RouteGroup = 'read-only' | 'write-affected';
export const ROUTE_GROUPS: readonly RouteGroup[] = ['read-only', 'write-affected'];

export function isRouteGroup(name: string): name is RouteGroup {
  return (ROUTE_GROUPS as readonly string[]).includes(name);
}

const PARAMETER = /\{[A-Za-z_][A-Za-z0-9_]*\}/;

/** The group of every read route, by name. */
export function routeGroups(routes: readonly RouteRule[]): Map<string, RouteGroup> {
  const writes = routes.filter((route) => route.kind === 'write');
  const invalidated = writes.flatMap((route) => route.invalidateSources);
  const groups = new Map<string, RouteGroup>();
  for (const route of routes) {
    if (route.kind !== 'read') continue;
    const affected =
      route.tagSources.some((tag) => invalidated.some((other) => mayMeet(tag, other))) ||
      writes.some((write) => pathsMayMeet(route.path, write.path));
    groups.set(route.name, affected ? 'write-affected' : 'read-only');
  }
  return groups;
}

/**
 * Whether two path patterns may match one same path: a write invalidates the cached answers of its
 * own path, so a read route sharing a path with a write route is affected by it. Segment by
 * segment, static text must be equal unless either side is a parameter; `*` matches the rest.
 */
export function pathsMayMeet(a: string, b: string): boolean {
  const left = a.split('/').filter((segment) => segment !== '');
  const right = b.split('/').filter((segment) => segment !== '');
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i];
    const y = right[i];
    if (x === '*' || y === '*') return true;
    if (x === undefined || y === undefined) return false;
    if (x !== y && !x.startsWith(':') && !y.startsWith(':')) return false;
  }
  return true;
}

/** Whether templates `a` and `b` may produce one same tag. */
export function mayMeet(a: string, b: string): boolean {
  const [aHead, aTail] = ends(a);
  const [bHead, bTail] = ends(b);
  if (aTail === undefined && bTail === undefined) return a === b;
  const headsAgree = aHead.startsWith(bHead) || bHead.startsWith(aHead);
  const tailsAgree = (aTail ?? aHead).endsWith(bTail ?? bHead) || (bTail ?? bHead).endsWith(aTail ?? aHead);
  return headsAgree && tailsAgree;
}

/** The literal text before the first parameter and after the last (undefined: no parameter). */
function ends(template: string): [string, string | undefined] {
  const first = template.search(PARAMETER);
  if (first === -1) return [template, undefined];
  const parts = template.split(PARAMETER);
  return [template.slice(0, first), parts[parts.length - 1] ?? ''];
}

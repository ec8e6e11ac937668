/**
 * Route groups for staged cache enablement: `read-only` routes, whose cached answers no write
 * route of the gateway invalidates, and `write-affected` routes, some of whose tags a write route
 * invalidates. A staged deployment enables the first before the second, since a cached answer of a
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

const PARAMETER = /\{[A-Za-z_][A-Za-z0-9_]*\}/;

/** The group of every read route, by name. */
export function routeGroups(routes: readonly RouteRule[]): Map<string, RouteGroup> {
  const invalidated = routes
    .filter((route) => route.kind === 'write')
    .flatMap((route) => route.invalidateSources);
  const groups = new Map<string, RouteGroup>();
  for (const route of routes) {
    if (route.kind !== 'read') continue;
    const affected = route.tagSources.some((tag) => invalidated.some((other) => mayMeet(tag, other)));
    groups.set(route.name, affected ? 'write-affected' : 'read-only');
  }
  return groups;
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

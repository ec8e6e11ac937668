/**
 * RouteTable: finds the route rule of a request (method + path) and its path parameters, with
 * find-my-way (Fastify's router: a radix tree, so a lookup costs the path's length, not the number
 * of routes). Static segments win over parameters, as in Fastify.
 *
 * The rules can be replaced while the gateway runs (`replace`, on SIGHUP): a new router is built
 * aside and swapped in at once, so a request sees either the old rules or the new, never a mix.
 * Enablement changed at run time (the admin API, a rollout) is kept for the routes that keep their
 * name; a new route starts at the file's `enabled`.
 */
import FindMyWay from 'find-my-way';
import type { RouteRule } from './routes-file.js';

export interface RouteMatch {
  route: RouteRule;
  params: Record<string, string>;
}

type Router = ReturnType<typeof FindMyWay>;

export class RouteTable {
  private router: Router;
  private rules: readonly RouteRule[];
  /** Enablement set at run time, by route name (the rollout's switch). */
  private readonly enabled = new Map<string, number>();

  constructor(routes: readonly RouteRule[]) {
    this.rules = routes;
    this.router = routerOf(routes);
  }

  get routes(): readonly RouteRule[] {
    return this.rules;
  }

  /** Swaps in new rules; run-time enablement stays with the routes that keep their name. */
  replace(routes: readonly RouteRule[]): void {
    const router = routerOf(routes);
    const names = new Set(routes.map((route) => route.name));
    for (const name of [...this.enabled.keys()]) if (!names.has(name)) this.enabled.delete(name);
    this.rules = routes;
    this.router = router;
  }

  match(method: string, path: string): RouteMatch | undefined {
    const found = this.router.find(method as FindMyWay.HTTPMethod, path);
    if (found === null) return undefined;
    return { route: found.store as RouteRule, params: found.params as Record<string, string> };
  }

  route(name: string): RouteRule | undefined {
    return this.rules.find((route) => route.name === name);
  }

  enabledPercent(route: RouteRule): number {
    return this.enabled.get(route.name) ?? route.enabledPercent;
  }

  setEnabledPercent(route: RouteRule, percent: number): void {
    this.enabled.set(route.name, percent);
  }
}

function routerOf(routes: readonly RouteRule[]): Router {
  const router = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true });
  for (const route of routes) router.on(route.methods as FindMyWay.HTTPMethod[], route.path, () => {}, route);
  return router;
}

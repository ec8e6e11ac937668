/**
 * RouteTable: finds the route rule of a request (method + path) and its path parameters, with
 * find-my-way (Fastify's router: a radix tree, so a lookup costs the path's length, not the number
 * of routes). Static segments win over parameters, as in Fastify.
 */
import FindMyWay from 'find-my-way';
import type { RouteRule } from './routes-file.js';

export interface RouteMatch {
  route: RouteRule;
  params: Record<string, string>;
}

export class RouteTable {
  private readonly router = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true });
  /** Enablement by route name, changeable at run time (the rollout's switch). */
  private readonly enabled = new Map<string, number>();

  constructor(readonly routes: readonly RouteRule[]) {
    for (const route of routes) {
      this.router.on(route.methods as FindMyWay.HTTPMethod[], route.path, () => {}, route);
      this.enabled.set(route.name, route.enabledPercent);
    }
  }

  match(method: string, path: string): RouteMatch | undefined {
    const found = this.router.find(method as FindMyWay.HTTPMethod, path);
    if (found === null) return undefined;
    return { route: found.store as RouteRule, params: found.params as Record<string, string> };
  }

  route(name: string): RouteRule | undefined {
    return this.routes.find((route) => route.name === name);
  }

  enabledPercent(route: RouteRule): number {
    return this.enabled.get(route.name) ?? route.enabledPercent;
  }

  setEnabledPercent(route: RouteRule, percent: number): void {
    this.enabled.set(route.name, percent);
  }
}

/**
 * RouteTable: finds the route rule of a request (method + path) and its path parameters, with
 * find-my-way (Fastify's router: a radix tree, so a lookup costs the path's length, not the number
 * of routes). Static segments win over parameters, as in Fastify.
 *
 * The rules can be replaced while the gateway runs (`replace`, on SIGHUP): a new router is built
 * aside and swapped in at once, so a request sees either the old rules or the new, never a mix.
 *
 * A read route's enablement (the share of its requests served through the cache) is a rollout
 * switch shared by every instance: `cache:<route name>` (set by the admin API, `keel routes
 * enable`) or `cache:<group>` (`read-only`, `write-affected`: route-groups.ts, moved by the
 * cache-enable plan). Of the two, the one set last wins; a route neither was ever set for has the
 * routes file's `enabled`. Switches outlive restarts and reloads: they are kept by name.
 *
 * A route with a candidate origin has two more: `traffic:<route>`, the share of its clients sent
 * to the candidate, and `shadow:<route>`, the share of its requests also sent there to be compared
 * (both 0 until set).
 */
import FindMyWay from 'find-my-way';
import type { SwitchBoard, SwitchKey, SwitchState } from '../rollout/index.js';
import { isRouteGroup, type RouteGroup, routeGroups } from './route-groups.js';
import type { RouteRule } from './routes-file.js';

/**
 * Where the gateway records a route's figures for the rollout guards (rollout/figures.ts): the two
 * sides of its cache switch (bypassed, cached), and its two origins (stable, candidate: the
 * traffic split and the shadow copies alike). Each is the key of the route's own switch.
 */
export const cacheFiguresTarget = (route: string): SwitchKey => `cache:${route}`;
export const originFiguresTarget = (route: string): SwitchKey => `traffic:${route}`;

export interface RouteMatch {
  route: RouteRule;
  params: Record<string, string>;
}

type Router = ReturnType<typeof FindMyWay>;

export class RouteTable {
  private router: Router;
  private rules: readonly RouteRule[];
  /** Each read route's group and its two switch keys, made once per rules (not per request). */
  private cacheSwitches: Map<string, CacheSwitches>;
  /** The traffic and shadow switch keys of each route with a candidate origin, made likewise. */
  private candidateSwitches: Map<string, CandidateSwitches>;

  constructor(
    routes: readonly RouteRule[],
    private readonly switches?: Pick<SwitchBoard, 'state'>,
  ) {
    this.rules = routes;
    this.router = routerOf(routes);
    this.cacheSwitches = cacheSwitchesOf(routes);
    this.candidateSwitches = candidateSwitchesOf(routes);
  }

  get routes(): readonly RouteRule[] {
    return this.rules;
  }

  /** Swaps in new rules; switches stay with the routes that keep their name. */
  replace(routes: readonly RouteRule[]): void {
    const router = routerOf(routes);
    const cacheSwitches = cacheSwitchesOf(routes);
    const candidateSwitches = candidateSwitchesOf(routes);
    this.rules = routes;
    this.router = router;
    this.cacheSwitches = cacheSwitches;
    this.candidateSwitches = candidateSwitches;
  }

  match(method: string, path: string): RouteMatch | undefined {
    const found = this.router.find(method as FindMyWay.HTTPMethod, path);
    if (found === null) return undefined;
    return { route: found.store as RouteRule, params: found.params as Record<string, string> };
  }

  route(name: string): RouteRule | undefined {
    return this.rules.find((route) => route.name === name);
  }

  /** The read route's group, or undefined for a write route. */
  group(route: RouteRule): RouteGroup | undefined {
    return this.cacheSwitches.get(route.name)?.group;
  }

  /** The share (0–100) of the route's requests served through the cache. */
  enabledPercent(route: RouteRule): number {
    const keys = this.cacheSwitches.get(route.name);
    if (keys === undefined || this.switches === undefined) return route.enabledPercent;
    return (
      newest(this.switches.state(keys.own), this.switches.state(keys.shared))?.weight ?? route.enabledPercent
    );
  }

  /** The share (0–100) of the route's clients its candidate origin answers; 0 without one. */
  trafficPercent(route: RouteRule): number {
    return this.weightOf(this.candidateSwitches.get(route.name)?.traffic);
  }

  /** The share (0–100) of the route's requests copied to its candidate origin; 0 without one. */
  shadowPercent(route: RouteRule): number {
    return this.weightOf(this.candidateSwitches.get(route.name)?.shadow);
  }

  /**
   * The key of the route's traffic switch: the bucketing group of its split, and where its two
   * origins' figures are recorded (originFiguresTarget). Made once per rules; a route of rules
   * replaced meanwhile (a request in flight across a reload) gets it made anew.
   */
  trafficKey(route: RouteRule): string {
    return this.candidateSwitches.get(route.name)?.traffic ?? originFiguresTarget(route.name);
  }

  /**
   * The key of the read route's own cache switch, where its two sides' figures are recorded
   * (cacheFiguresTarget); made like trafficKey.
   */
  cacheKey(route: RouteRule): string {
    return this.cacheSwitches.get(route.name)?.own ?? cacheFiguresTarget(route.name);
  }

  private weightOf(key: SwitchKey | undefined): number {
    return key === undefined ? 0 : (this.switches?.state(key)?.weight ?? 0);
  }

  /** The routes a switch target names: a route, or the routes of a group. */
  routesOf(target: string): RouteRule[] {
    if (isRouteGroup(target))
      return this.rules.filter((route) => this.cacheSwitches.get(route.name)?.group === target);
    const route = this.route(target);
    return route === undefined ? [] : [route];
  }
}

interface CacheSwitches {
  group: RouteGroup;
  own: SwitchKey;
  shared: SwitchKey;
}

function cacheSwitchesOf(routes: readonly RouteRule[]): Map<string, CacheSwitches> {
  const switches = new Map<string, CacheSwitches>();
  for (const [name, group] of routeGroups(routes))
    switches.set(name, { group, own: cacheFiguresTarget(name), shared: `cache:${group}` });
  return switches;
}

interface CandidateSwitches {
  traffic: SwitchKey;
  shadow: SwitchKey;
}

function candidateSwitchesOf(routes: readonly RouteRule[]): Map<string, CandidateSwitches> {
  const switches = new Map<string, CandidateSwitches>();
  for (const route of routes)
    if (route.candidate !== undefined)
      switches.set(route.name, {
        traffic: originFiguresTarget(route.name),
        shadow: `shadow:${route.name}`,
      });
  return switches;
}

function newest(a: SwitchState | undefined, b: SwitchState | undefined): SwitchState | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return b.updatedAt > a.updatedAt ? b : a;
}

function routerOf(routes: readonly RouteRule[]): Router {
  const router = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true });
  for (const route of routes) router.on(route.methods as FindMyWay.HTTPMethod[], route.path, () => {}, route);
  return router;
}

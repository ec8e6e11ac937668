/**
 * Route groups for staged cache enablement: a read route is write-affected when a write route
 * invalidates a tag it may carry, or shares its path (a write invalidates its own path's answers);
 * otherwise read-only. The group names cannot name a route.
 */
import { describe, expect, it } from 'vitest';
import { mayMeet, pathsMayMeet, routeGroups } from '../../../src/server/route-groups.js';
import { parseRoutes } from '../../../src/server/routes-file.js';

describe('route groups', () => {
  it('puts reads with tags a write invalidates, or a path a write shares, in write-affected', () => {
    const routes = parseRoutes(
      `routes:
  - { name: catalog, path: /catalog/:id, tags: ["catalog"] }
  - { name: product, path: /products/:id, tags: ["product:{id}"] }
  - { name: customer, path: /customers/:id }
  - { name: search, path: /search }
  - { path: /products/:id/price, methods: [PUT], invalidates: ["product:{id}"] }
  - { path: /customers/:id, methods: [PUT] }
`,
      'routes.yaml',
    );
    expect(Object.fromEntries(routeGroups(routes))).toEqual({
      catalog: 'read-only',
      product: 'write-affected',
      customer: 'write-affected',
      search: 'read-only',
    });
  });

  it('compares tag templates and path patterns conservatively', () => {
    expect(mayMeet('product:{id}', 'product:{sku}')).toBe(true);
    expect(mayMeet('product:1', 'product:{id}')).toBe(true);
    expect(mayMeet('products', 'product:{id}')).toBe(false);
    expect(pathsMayMeet('/items/:id', '/items/7')).toBe(true);
    expect(pathsMayMeet('/items/:id', '/items/:id/price')).toBe(false);
    expect(pathsMayMeet('/files/*', '/files/a/b')).toBe(true);
    expect(pathsMayMeet('/a/b', '/a/c')).toBe(false);
  });

  it('refuses a route named like a group', () => {
    expect(() => parseRoutes('routes:\n  - { name: read-only, path: /a }\n', 'r.yaml')).toThrow(
      /r\.yaml:2:\d+: routes\[0\]\.name: "read-only" is the name of a route group/,
    );
  });
});

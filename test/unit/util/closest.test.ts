import { describe, expect, it } from 'vitest';
import { unknownVariables } from '../../../src/config.js';
import { parseRoutes } from '../../../src/server/routes-file.js';
import { closest } from '../../../src/util/closest.js';

describe('did you mean', () => {
  it('finds the known name a typo is close to, and nothing for a name far from all', () => {
    expect(closest('tll', ['ttl', 'tags', 'timeout'])).toBe('ttl');
    expect(closest('cacheAuthentcated', ['cacheAuthenticated', 'cacheableStatuses'])).toBe(
      'cacheAuthenticated',
    );
    expect(closest('colour', ['ttl', 'tags'])).toBeUndefined();
  });

  it('names unknown KEEL_ variables, with the likely setting', () => {
    expect(unknownVariables({ KEEL_ORIGN: 'x', KEEL_PORT: '1', PATH: '/bin', KEEL_ZZZZ: '1' })).toEqual([
      'KEEL_ORIGN (did you mean KEEL_ORIGIN?)',
      'KEEL_ZZZZ',
    ]);
  });

  it("suggests a routes file's field", () => {
    expect(() => parseRoutes('routes:\n  - path: /a\n    tll: 5m\n', 'r.yaml')).toThrow(
      /r\.yaml:3:5: routes\[0\]\.tll: unknown field \(did you mean "ttl"\?\)/,
    );
  });
});

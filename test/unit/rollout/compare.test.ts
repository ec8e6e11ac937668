/**
 * Answer comparison as shadow traffic and the consistency probe use it: JSON compared by structure
 * (order and whitespace do not matter), ignored fields by name or dotted path, the status and the
 * named headers, byte equality for anything else, and a bounded list of differences with paths.
 */
import { describe, expect, it } from 'vitest';
import { compareAnswers, MAX_DIFFERENCES } from '../../../src/rollout/compare.js';

const answer = (body: unknown, status = 200, headers: Record<string, string> = {}) => ({
  status,
  headers,
  body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
});

describe('compareAnswers', () => {
  it('matches JSON that differs only in key order and whitespace', () => {
    const result = compareAnswers(answer('{"a": 1, "b": [1, 2]}'), answer('{"b":[1,2],"a":1}'));
    expect(result).toEqual({ matched: true, differences: [], more: 0 });
  });

  it('reports each difference with its path, and leaves ignored fields out', () => {
    const stable = answer({
      id: 7,
      price: '9.99',
      updated_at: 'x',
      items: [
        { sku: 'a', at: 1 },
        { sku: 'b', at: 2 },
      ],
    });
    const candidate = answer({
      id: 7,
      price: '10.00',
      updated_at: 'y',
      items: [
        { sku: 'a', at: 5 },
        { sku: 'c', at: 6 },
      ],
    });
    const result = compareAnswers(stable, candidate, { ignore: ['updated_at', 'items.at'] });
    expect(result.matched).toBe(false);
    expect(result.differences).toEqual([
      { path: 'body.price', expected: '9.99', actual: '10.00' },
      { path: 'body.items[1].sku', expected: 'b', actual: 'c' },
    ]);
  });

  it('compares the status, the named headers, array lengths and missing fields', () => {
    const result = compareAnswers(
      answer({ a: [1, 2, 3] }, 200, { etag: '"1"', date: 'then' }),
      answer({ a: [1, 2], b: null }, 503, { etag: '"2"', date: 'now' }),
      { headers: ['etag'] },
    );
    expect(result.differences.map((d) => d.path)).toEqual([
      'status',
      'header:etag',
      'body.a.length',
      'body.b',
    ]);
  });

  it('compares bodies that are not JSON byte for byte, and bounds the list', () => {
    expect(compareAnswers(answer('<p>a</p>'), answer('<p>a</p>')).matched).toBe(true);
    expect(compareAnswers(answer('<p>a</p>'), answer('<p>b</p>')).differences).toEqual([
      { path: 'body', expected: '8 bytes', actual: '8 bytes' },
    ]);
    const many = compareAnswers(
      answer(Array.from({ length: 50 }, (_, i) => i)),
      answer(Array.from({ length: 50 }, (_, i) => -i - 1)),
    );
    expect(many.differences).toHaveLength(MAX_DIFFERENCES);
    expect(many.more).toBe(50 - MAX_DIFFERENCES);
  });
});

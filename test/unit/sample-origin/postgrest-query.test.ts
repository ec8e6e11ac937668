import { describe, expect, it } from 'vitest';
import { matches, parseQuery, QueryError } from '../../../src/sample-origin/listings/postgrest-query.js';

const COLUMNS = new Set(['id', 'updated_at', 'city', 'price', 'status']);
const TIMESTAMPS = new Set(['updated_at']);
const parse = (query: string) => parseQuery(new URLSearchParams(query), COLUMNS);
const row = { id: 7, updated_at: '2026-01-02T03:04:05.678Z', city: '港区', price: 5_000_000, status: 'sold' };

describe('the PostgREST query subset of the sample listings origin', () => {
  it('reads the keyset filter postgrest-js sends, with quoted timestamps', () => {
    const query = parse(
      'select=*&order=updated_at.asc,id.asc&limit=100&or=(updated_at.gt."2026-01-02T03:04:05.678Z",and(updated_at.eq."2026-01-02T03:04:05.678Z",id.gt.5))',
    );
    expect(query.limit).toBe(100);
    expect(query.order.map((term) => term.column)).toEqual(['updated_at', 'id']);
    expect(query.filters.every((filter) => matches(row, filter, TIMESTAMPS))).toBe(true);
    const later = parse(
      'or=(updated_at.gt."2026-01-02T03:04:05.678Z",and(updated_at.eq."2026-01-02T03:04:05.678Z",id.gt.7))',
    );
    expect(later.filters.every((filter) => matches(row, filter, TIMESTAMPS))).toBe(false);
  });

  it('compares timestamps as instants, whatever their offset', () => {
    const query = parse('updated_at=lt.2026-01-02T12:04:05%2B09:00');
    expect(matches(row, query.filters[0] as never, TIMESTAMPS)).toBe(false);
    expect(
      matches(row, parse('updated_at=lte.2026-01-02T12:04:05.678%2B09:00').filters[0] as never, TIMESTAMPS),
    ).toBe(true);
  });

  it('reads eq, neq, in, is and not', () => {
    const pass = (text: string) => parse(text).filters.every((filter) => matches(row, filter, TIMESTAMPS));
    expect(pass('city=eq.港区')).toBe(true);
    expect(pass('status=in.(available,sold)')).toBe(true);
    expect(pass('status=not.in.(available,sold)')).toBe(false);
    expect(pass('price=gte.5000000&price=lt.5000001')).toBe(true);
    expect(pass('city=neq.港区')).toBe(false);
    expect(pass('city=is.null')).toBe(false);
    expect(pass('not.or=(city.eq.港区,price.gt.1)')).toBe(false);
  });

  it('refuses what PostgREST would refuse', () => {
    expect(() => parse('nope=eq.1')).toThrow(QueryError);
    expect(() => parse('city=like.x')).toThrow(/unknown operator/);
    expect(() => parse('or=(city.eq.a')).toThrow(QueryError);
    expect(() => parse('order=city.sideways')).toThrow(/order modifier/);
    expect(() => parse('limit=ten')).toThrow(/limit/);
  });
});

import { describe, expect, it } from 'vitest';
import { InvalidationIndex } from '../../../src/cache/invalidation.js';

describe('InvalidationIndex', () => {
  it('finds keys by tag and forgets them when unlinked', () => {
    const index = new InvalidationIndex();
    index.link('p1', ['sale', 'tea'], []);
    index.link('p2', ['tea'], []);
    index.unlink('p1', ['sale', 'tea'], []);
    expect(index.takeTagged(['tea', 'sale']).map((keys) => [...keys])).toEqual([['p2']]);
    expect(index.sizes).toEqual({ tags: 0, dependencies: 0 });
  });

  it('hands over the sets of the tags taken; later writes with those tags start new ones', () => {
    const index = new InvalidationIndex();
    index.link('p1', ['tea'], []);
    const [taken] = index.takeTagged(['tea']);
    index.link('p2', ['tea'], []);
    index.unlink('p1', ['tea'], []);
    expect([...(taken as Set<string>)]).toEqual(['p1']);
    expect(index.takeTagged(['tea']).map((keys) => [...keys])).toEqual([['p2']]);
    expect(index.takeTagged(['tea'])).toEqual([]);
  });

  it('closes over dependents transitively and stops at cycles', () => {
    const index = new InvalidationIndex();
    index.link('list', [], ['p1']);
    index.link('page', [], ['list']);
    index.link('p1', [], ['page']); // cycle
    index.link('unrelated', [], ['p2']);
    expect([...index.closure(['p1'])].sort()).toEqual(['list', 'p1', 'page']);
    expect([...index.closure(['p2'])].sort()).toEqual(['p2', 'unrelated']);
    expect([...index.closure(['p2'], false)]).toEqual(['unrelated']);
    expect([...index.dependentsOf('list')]).toEqual(['page']);
  });

  it('walks lazily: keys may be unlinked as they come, and a large closure is never copied at once', () => {
    const index = new InvalidationIndex();
    for (let i = 0; i < 10_000; i++) index.link(`d${i}`, [], ['root']);
    index.link('deeper', [], ['d9999']);
    const walked: string[] = [];
    for (const key of index.closure(['root'])) {
      walked.push(key);
      if (key !== 'root') index.unlink(key, [], [key === 'deeper' ? 'd9999' : 'root']);
    }
    expect(walked).toHaveLength(10_002);
    expect(walked.slice(0, 2)).toEqual(['root', 'd0']);
    expect(walked.at(-1)).toBe('deeper');
    expect(index.sizes).toEqual({ tags: 0, dependencies: 0 });
  });
});

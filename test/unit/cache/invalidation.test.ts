import { describe, expect, it } from 'vitest';
import { InvalidationIndex } from '../../../src/cache/invalidation.js';

describe('InvalidationIndex', () => {
  it('finds keys by tag and forgets them when unlinked', () => {
    const index = new InvalidationIndex();
    index.link('p1', ['sale', 'tea'], []);
    index.link('p2', ['tea'], []);
    expect([...index.keysWithTags(['tea'])].sort()).toEqual(['p1', 'p2']);
    index.unlink('p1', ['sale', 'tea'], []);
    expect([...index.keysWithTags(['tea', 'sale'])]).toEqual(['p2']);
    index.unlink('p2', ['tea'], []);
    expect(index.sizes).toEqual({ tags: 0, dependencies: 0 });
  });

  it('closes over dependents transitively and stops at cycles', () => {
    const index = new InvalidationIndex();
    index.link('list', [], ['p1']);
    index.link('page', [], ['list']);
    index.link('p1', [], ['page']); // cycle
    index.link('unrelated', [], ['p2']);
    expect([...index.closure(['p1'])].sort()).toEqual(['list', 'p1', 'page']);
    expect([...index.closure(['p2'])].sort()).toEqual(['p2', 'unrelated']);
    expect([...index.dependentsOf('list')]).toEqual(['page']);
  });
});

import { describe, expect, it } from 'vitest';
import { ChangeClock } from '../../../../src/cache/change-clock.js';
import { hashString } from '../../../../src/cache/memory/index.js';
import { redactUrl } from '../../../../src/cache/redis/connection.js';
import { InvalidationJournal } from '../../../../src/cache/redis/invalidation-journal.js';
import { KeyLayout } from '../../../../src/cache/redis/key-layout.js';
import { RECENT_CHANGES_MS, RecentChanges } from '../../../../src/cache/redis/recent-changes.js';

describe('InvalidationJournal', () => {
  it('remembers keys, tags and patterns once each, and hands them over on drain', () => {
    const journal = new InvalidationJournal(100);
    expect(journal.isEmpty).toBe(true);
    journal.addKeys(['a', 'b', 'a']);
    journal.addTags(['t']);
    journal.addPattern('user:*');
    expect(journal.size).toBe(4);
    expect(journal.drain()).toEqual({ keys: ['a', 'b'], tags: ['t'], patterns: ['user:*'], flushAll: false });
    expect(journal.isEmpty).toBe(true);
  });

  it('degrades to "flush everything" past its capacity, and merge puts a failed replay back', () => {
    const journal = new InvalidationJournal(3);
    journal.addKeys(['a', 'b', 'c', 'd']);
    const snapshot = journal.drain();
    expect(snapshot).toEqual({ keys: [], tags: [], patterns: [], flushAll: true });
    journal.addKeys(['e']);
    journal.merge(snapshot);
    expect(journal.drain().flushAll).toBe(true);
  });
});

describe('RecentChanges', () => {
  it('journals the changes of the last RECENT_CHANGES_MS, by kind, and forgets older ones', () => {
    let now = 1_000_000;
    const recent = new RecentChanges(100, () => now);
    recent.add('keys', ['old']);
    now += RECENT_CHANGES_MS + 1;
    recent.add('keys', ['a', 'b']);
    recent.add('tags', ['sale']);
    recent.add('pattern', ['user:*']);
    const journal = new InvalidationJournal(100);
    recent.copyInto(journal);
    expect(journal.drain()).toEqual({
      keys: ['a', 'b'],
      tags: ['sale'],
      patterns: ['user:*'],
      flushAll: false,
    });
    now += RECENT_CHANGES_MS + 1;
    recent.copyInto(journal);
    expect(journal.isEmpty).toBe(true);
  });

  it('replays a flush, and remembers an overflowing window as one, until the window has passed', () => {
    let now = 0;
    const recent = new RecentChanges(3, () => now);
    const journal = new InvalidationJournal(100);
    recent.add('flush', []);
    recent.copyInto(journal);
    expect(journal.drain().flushAll).toBe(true);
    recent.add('keys', ['a', 'b']);
    recent.add('keys', ['c', 'd']);
    recent.copyInto(journal);
    expect(journal.drain().flushAll).toBe(true);
    now += RECENT_CHANGES_MS + 1;
    recent.add('keys', ['e']);
    recent.copyInto(journal);
    expect(journal.drain()).toEqual({ keys: ['e'], tags: [], patterns: [], flushAll: false });
  });
});

describe('ChangeClock', () => {
  it('tells whether a key, or everything, changed since a reading', () => {
    const clock = new ChangeClock();
    const before = clock.now();
    clock.keyChanged(hashString('a'));
    expect(clock.changedSince(hashString('a'), before)).toBe(true);
    expect(clock.changedSince(hashString('b'), before)).toBe(false);
    const later = clock.now();
    expect(clock.changedSince(hashString('a'), later)).toBe(false);
    clock.everythingChanged();
    expect(clock.changedSince(hashString('b'), later)).toBe(true);
  });

  it('never forgets a change, however many other keys change after it', () => {
    const clock = new ChangeClock();
    const before = clock.now();
    clock.keyChanged(hashString('watched'));
    for (let i = 0; i < 20_000; i++) clock.keyChanged(hashString(`k${i}`));
    expect(clock.changedSince(hashString('watched'), before)).toBe(true);
    // Keys sharing a slot share a stamp: an untouched key may read as changed, never the reverse.
    const after = clock.now();
    for (let i = 0; i < 1_000; i++) expect(clock.changedSince(hashString(`k${i}`), after)).toBe(false);
  });
});

describe('KeyLayout', () => {
  it('keeps every kind of key under the namespace, with a separator no namespace can contain', () => {
    const layout = new KeyLayout('app:', 'shop');
    expect(layout.value('p:1')).toBe('app:shop#v:p:1');
    expect(layout.keyOf('app:shop#v:p:1')).toBe('p:1');
    expect(layout.tag('sale')).toBe('app:shop#t:sale');
    expect(layout.dependents('p:1')).toBe('app:shop#d:p:1');
    expect(layout.lock('p:1')).toBe('app:shop#l:p:1');
    expect(layout.channel).toBe('app:shop#bus');
    expect(layout.valuePattern('user:*')).toBe('app:shop#v:user:*');
    expect(layout.everything()).toBe('app:shop#*');
    // a neighbouring namespace's keys never match this one's patterns
    expect(new KeyLayout('', 'shop:eu').value('x').startsWith('shop#')).toBe(false);
  });
});

describe('redactUrl', () => {
  it('hides passwords and keeps the rest', () => {
    expect(redactUrl('redis://user:secret@host:6379/0')).toBe('redis://user:***@host:6379/0');
    expect(redactUrl('rediss://:secret@host')).toBe('rediss://***@host');
    expect(redactUrl('redis://host:6379')).toBe('redis://host:6379');
  });
});

/**
 * Where Keel keeps things in Redis, for one namespace.
 *
 *   <prefix><namespace>#v:<key>     the value: the codec's envelope, with PX = TTL + grace
 *   <prefix><namespace>#t:<tag>     tag index: sorted set of keys written with the tag, scored by
 *                                   their expiry (ms), so expired members can be pruned
 *   <prefix><namespace>#d:<key>     dependency index: keys that depend on <key>, same shape
 *   <prefix><namespace>#l:<key>     stampede lock: a random token, with PX = the lock's lifetime
 *   <prefix><namespace>#bus         pub/sub channel of the invalidation bus
 *   <prefix><namespace>#drains      drain directory: sorted set of the drains under way, every
 *                                   score 0 so members sort by name: <kind>\n<name>\n<drain id>
 *   <prefix><namespace>#x:{<slot tag>}<kind>:<id>:<name>
 *                                   draining key: an index being drained, in the index's slot
 *   <prefix><namespace>#x:lease:<id>  lease of a drain: the token of the instance draining it
 * (index-drain.ts tells how drains use them; kind is `t` for a tag's index, `d` for a key's
 * dependents.)
 *
 * `#` may appear in neither a namespace nor a prefix (their schemas forbid it), so no namespace's
 * keys can start like another's: "shop#v:…" is never a prefix of "shop:eu#v:…". No {hash tag} is
 * added: in Redis Cluster a namespace's keys spread over every slot. Patterns are matched with
 * SCAN MATCH against `<prefix><namespace>#v:` followed by the caller's glob, so a pattern can only
 * reach this namespace's values.
 */
import type { Drain, IndexKind } from './index-drain.js';
import { sameSlotTag } from './slot-tag.js';

export class KeyLayout {
  readonly channel: string;
  readonly drainDirectory: string;
  private readonly valuePrefix: string;
  private readonly drainPrefix: string;
  private readonly tagPrefix: string;
  private readonly dependencyPrefix: string;
  private readonly lockPrefix: string;

  constructor(prefix: string, namespace: string) {
    const base = `${prefix}${namespace}#`;
    this.valuePrefix = `${base}v:`;
    this.tagPrefix = `${base}t:`;
    this.dependencyPrefix = `${base}d:`;
    this.lockPrefix = `${base}l:`;
    this.channel = `${base}bus`;
    this.drainDirectory = `${base}drains`;
    this.drainPrefix = `${base}x:`;
  }

  value(key: string): string {
    return this.valuePrefix + key;
  }

  /** The cache key of a Redis value key. */
  keyOf(valueKey: string): string {
    return valueKey.slice(this.valuePrefix.length);
  }

  tag(tag: string): string {
    return this.tagPrefix + tag;
  }

  dependents(key: string): string {
    return this.dependencyPrefix + key;
  }

  lock(key: string): string {
    return this.lockPrefix + key;
  }

  /** The index of `kind` named `name`: a tag's keys, or the keys that depend on a key. */
  index(kind: IndexKind, name: string): string {
    return kind === 't' ? this.tag(name) : this.dependents(name);
  }

  /** Where `drain` moves its index: a key in the index's slot (slot-tag.ts). */
  draining({ kind, name, id }: Drain): string {
    return `${this.drainPrefix}{${sameSlotTag(this.index(kind, name))}}${kind}:${id}:${name}`;
  }

  drainLease(id: string): string {
    return `${this.drainPrefix}lease:${id}`;
  }

  /** The drain's member of the drain directory. */
  drainMember({ kind, name, id }: Drain): string {
    return `${kind}\n${name}\n${id}`;
  }

  /** The start of the directory members of every drain of one index (`drainMember` before the id). */
  drainMemberPrefix(kind: IndexKind, name: string): string {
    return `${kind}\n${name}\n`;
  }

  /** The drain a directory member names, undefined for anything Keel did not write. */
  drainOf(member: string): Drain | undefined {
    const kind = member[0];
    const idStart = member.lastIndexOf('\n') + 1;
    if ((kind !== 't' && kind !== 'd') || member[1] !== '\n' || idStart < 3) return undefined;
    return { kind, name: member.slice(2, idStart - 1), id: member.slice(idStart) };
  }

  /** The SCAN MATCH pattern for a caller's glob (prefix and namespace hold no glob characters). */
  valuePattern(glob: string): string {
    return this.valuePrefix + glob;
  }

  /** The SCAN MATCH pattern of everything this namespace stores. */
  everything(): string {
    return `${this.valuePrefix.slice(0, -2)}*`;
  }
}

/**
 * Where Keel keeps things in Redis, for one namespace.
 *
 *   <prefix><namespace>#v:<key>     the value: the codec's envelope, with PX = TTL + grace
 *   <prefix><namespace>#t:<tag>     tag index: sorted set of keys written with the tag, scored by
 *                                   their expiry (ms), so expired members can be pruned
 *   <prefix><namespace>#d:<key>     dependency index: keys that depend on <key>, same shape
 *   <prefix><namespace>#l:<key>     stampede lock: a random token, with PX = the lock's lifetime
 *   <prefix><namespace>#bus         pub/sub channel of the invalidation bus
 *
 * `#` may appear in neither a namespace nor a prefix (their schemas forbid it), so no namespace's
 * keys can start like another's: "shop#v:…" is never a prefix of "shop:eu#v:…". No {hash tag} is
 * added: in Redis Cluster a namespace's keys spread over every slot. Patterns are matched with
 * SCAN MATCH against `<prefix><namespace>#v:` followed by the caller's glob, so a pattern can only
 * reach this namespace's values.
 */
export class KeyLayout {
  readonly channel: string;
  private readonly valuePrefix: string;
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

  /** The SCAN MATCH pattern for a caller's glob (prefix and namespace hold no glob characters). */
  valuePattern(glob: string): string {
    return this.valuePrefix + glob;
  }

  /** The SCAN MATCH pattern of everything this namespace stores. */
  everything(): string {
    return `${this.valuePrefix.slice(0, -2)}*`;
  }
}

/**
 * The Lua scripts of the Redis tier. Each touches exactly the keys it declares, one key each, so
 * every script runs unchanged on Redis Cluster (a script's keys must share a slot).
 *
 * Index sets (tags, dependencies) are sorted sets whose members are cache keys scored by the time
 * their value expires, in ms (INDEX_NEVER for values without expiry). Adding prunes the members
 * that have expired and sets the set's own expiry to that of its longest-lived member, so an index
 * never outlives what it indexes and never grows beyond the live entries it names.
 *
 * Each script's first command on an index is one that fails on a key of another type, so a
 * wrong-typed index makes the script fail before it has changed anything; the store then deletes
 * the key and runs the script again (redis-store.ts, `repairing`).
 */

/** Score of a member whose value never expires (year 2255: beyond any real TTL). */
export const INDEX_NEVER = 9_000_000_000_000;

/**
 * KEYS[1] index; ARGV[1] member, ARGV[2] its expiry (ms), ARGV[3] now (ms).
 * Adds the member, prunes expired members, makes the set expire with its last member.
 */
export const INDEX_ADD = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] == nil then return 0 end
if tonumber(last[2]) >= ${INDEX_NEVER} then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIREAT', KEYS[1], last[2])
end
return 1
`;

/**
 * KEYS[1] index; ARGV[1] now (ms). Returns the members that have not expired and deletes the set,
 * in one step: a writer adding to the index afterwards starts a new set, so no member can be lost
 * between reading the set and deleting it.
 */
export const INDEX_TAKE = `
local members = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
redis.call('DEL', KEYS[1])
return members
`;

/** KEYS[1] lock; ARGV[1] token. Deletes the lock only if this token still holds it. */
export const LOCK_RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;
